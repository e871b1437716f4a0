"""report.html from synthetic run directories (tests/report_synth.py)."""

from __future__ import annotations

import json
import re

import pytest

from markupsafe import escape

from harness.checkers import CHECKERS
from harness.history import pair_ops, read_history
from harness.report import build_report, charts, json_for_script
from harness.report.charts import latency_quantiles, timeline_rows
from harness.report.faults import windows_and_events
from harness.roles import Checker, CheckResult, Figure

from .report_synth import XSS, make_run


@pytest.fixture(scope="module")
def invalid_run(tmp_path_factory):
    d = make_run(tmp_path_factory.mktemp("run") / "invalid")
    return d, build_report(d).read_text(encoding="utf-8")


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def _text(page: str) -> str:
    """The page without its <script> elements (what the HTML shows before JS runs)."""
    return re.sub(r"<script\b.*?</script>", "", page, flags=re.S)


def test_writes_report_html(invalid_run):
    d, page = invalid_run
    assert (d / "report.html").exists()
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")


def test_invalid_verdict_banner(invalid_run):
    _, page = invalid_run
    assert 'class="verdict invalid"' in page
    assert '<div class="vtext">INVALID</div>' in page


def test_parameters_and_rerun_command(invalid_run):
    d, page = invalid_run
    text = _text(page)
    for s in ("sentinel", "isolate-primary-with-clients", "min-replicas-to-write 1", "7.0.15",
              "1:100", "down-after-milliseconds 5000"):
        assert s in text, s
    # argv is quoted for a shell, then HTML-escaped
    assert "splitbrain run --topology sentinel --workload set --seed 42 --name" in text
    assert "&lt;fine&gt;" in text and "<fine>" not in text


def test_lost_writes_listed_with_time_and_node(invalid_run):
    d, page = invalid_run
    res = json.loads((d / "results.json").read_text())
    lost = res["checkers"]["set"]["details"]["lost"]
    assert lost, "the synthetic run should lose writes"
    text = _text(page)
    section = text[text.index('id="checker-set"'):text.index('id="checker-linearizable"')]
    assert f"Lost writes ({len(lost):,})" in section
    numeric = [x for x in lost if isinstance(x["element"], int)]
    for x in numeric[:5]:
        assert f"<td>{x['element']:,}</td>" in section
        assert f"{x['acknowledged_at'] / 1e9:.3f}s" in section
    assert "10.213.4.11:6379" in section
    assert "<td>partition</td>" in section           # the fault in force when acknowledged
    assert "Lost writes by fault window" in section
    # lost writes are also handed to the timeline, as marks at their acknowledgement time
    marks = [m for m in _data(page)["marks"] if m["name"] == "lost write"]
    assert len(marks) == len(lost)
    assert all(m["p"] is not None and m["text"].startswith("LOST") for m in marks)
    assert sorted(m["t"] for m in marks) == sorted(round(x["acknowledged_at"] / 1e9, 4) for x in lost)


def test_linearizable_counterexample(invalid_run):
    d, page = invalid_run
    res = json.loads((d / "results.json").read_text())
    fail = res["checkers"]["linearizable"]["details"]["failures"][0]
    text = _text(page)
    section = text[text.index('id="checker-linearizable"'):text.index('id="checker-stale-reads"')]
    assert "Counterexample on key <code>r1</code>" in section
    assert "not-linearizable" in section
    assert "Keys not linearizable (1)" in section and "<code>r1</code>" in section
    assert str(escape(fail["unplaceable"][0]["reason"])) in section
    assert 'class="chart op-window" id="chart-1"' in section
    [chart] = _data(page)["charts"]
    assert chart["kind"] == "op-window" and chart["id"] == "chart-1"
    classes = {b["cls"] for b in chart["bars"]}
    assert "flagged" in classes
    assert chart["classes"]["flagged"] == "cannot be placed"
    assert set(fail["window"]) <= set(chart["indices"])
    assert fail["unplaceable"][0]["index"] in chart["indices"]
    numbered = [b for b in chart["bars"] if b["cls"] == "numbered"]
    assert numbered and len(numbered) <= len(fail["prefix"])
    assert all(b["label"].startswith("#") for b in numbered)


def test_unknown_checker_shown_generically(invalid_run):
    _, page = invalid_run
    text = _text(page)
    assert 'id="checker-stale-reads"' in text
    assert "max_staleness_ms" in text and "12.5" in text


def test_fault_windows_in_page(invalid_run):
    _, page = invalid_run
    data = _data(page)
    names = [w["name"] for w in data["windows"]]
    assert names.count("partition") == 1 and "clock" in names and "sentinel_tilt" in names
    kill = [w for w in data["windows"] if w["name"] == "kill"][0]
    assert kill["open"] and kill["end"] == data["t_end"]
    assert {e["name"] for e in data["events"]} == {"failover", "clock-measure"}
    part = [w for w in data["windows"] if w["name"] == "partition"][0]
    assert "isolate-primary" in part["detail"] and "n2 n3" in part["detail"]


def test_xss_value_is_escaped_everywhere(invalid_run):
    _, page = invalid_run
    assert XSS not in page
    assert "<script>alert" not in page
    # shown as text in the tables (lost element, unknown checker's field)
    assert str(escape(XSS)) in _text(page)
    # and survives, intact, in the data the charts read
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    raw = m.group(1)
    assert "<" not in raw and ">" not in raw and "&" not in raw
    assert XSS in json.loads(raw)["ops"]["v"]


def test_script_elements_are_only_ours(invalid_run):
    _, page = invalid_run
    openings = re.findall(r"<script\b[^>]*>", page)
    assert openings[0] == '<script type="application/json" id="report-data">'
    assert all(o == "<script>" for o in openings[1:])
    assert len(openings) == 3  # data, Plotly, the page's script


def test_json_for_script_escapes():
    s = json_for_script({"v": "</script><b>&\u2028"})
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s
    assert json.loads(s) == {"v": "</script><b>&\u2028"}
    assert json_for_script([float("nan"), 1.5]) == "[null,1.5]"


def test_self_contained(invalid_run):
    _, page = invalid_run
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="?https?:', page)
    assert "cdn.plot.ly" not in page.split("<script>", 1)[0]
    assert "Plotly" in page


def test_quantiles_table(invalid_run):
    d, page = invalid_run
    ops = pair_ops(read_history(d / "history.jsonl"))
    q = latency_quantiles(ops)
    row = next(r for r in q if r["f"] == "add" and r["type"] == "ok")
    assert row["p50"] <= row["p90"] <= row["p99"] <= row["max"]
    assert row["count"] == sum(1 for o in ops if o.f == "add" and o.type == "ok")
    assert f"<td>{row['p99']:.2f}</td>" in _text(page)
    assert "p99 ms" in page
    # the run's one quantile (stats.quantile): the same p99 as results.json's stats
    stats = json.loads((d / "results.json").read_text())["stats"]
    all_ok = sorted((o.end - o.start) / 1e6 for o in ops if o.type == "ok")
    from harness.stats import quantile
    assert stats["latency_ms"]["p99"] == round(quantile(all_ok, 0.99), 3)


def test_missing_results_gives_unknown(tmp_path):
    d = make_run(tmp_path / "run", n_ops=300, results=False)
    page = build_report(d).read_text(encoding="utf-8")
    assert 'class="verdict unknown"' in page
    assert "UNKNOWN" in page
    assert "results.json is missing" in page
    assert XSS not in page
    assert _data(page)["ops"]["s"]  # the timeline is still drawn from the history


def test_partial_results_and_error(tmp_path):
    d = make_run(tmp_path / "run", n_ops=300)
    (d / "results.json").write_text(json.dumps({"error": "Ctrl-C <at> 12s", "checkers": {
        "set": {"valid": "unknown"}, "odd": "not a dict"}}))
    page = build_report(d).read_text(encoding="utf-8")
    assert 'class="verdict unknown"' in page
    assert "Ctrl-C &lt;at&gt; 12s" in page


def test_valid_run(tmp_path):
    d = make_run(tmp_path / "run", n_ops=300, linearizable_failure=False, valid=True)
    res = json.loads((d / "results.json").read_text())
    res["checkers"]["set"]["valid"] = True
    res["checkers"]["set"]["details"].update(lost=[], lost_count=0)
    (d / "results.json").write_text(json.dumps(res))
    page = build_report(d).read_text(encoding="utf-8")
    assert 'class="verdict valid"' in page and '<div class="vtext">VALID</div>' in page


def test_truncated_history_and_missing_test_json(tmp_path):
    d = make_run(tmp_path / "run", n_ops=300)
    (d / "test.json").unlink()
    with open(d / "history.jsonl", "a") as fh:
        fh.write('{"index": 99999, "time": 1, "process": 3, "ty')  # a crash mid-line
    page = build_report(d).read_text(encoding="utf-8")
    assert "test.json is missing" in page
    # A last line cut by a crash is dropped by the reader: no warning, the rest is shown.
    assert "the history is malformed" not in page
    assert 'class="verdict invalid"' in page


def test_empty_run_dir(tmp_path):
    page = build_report(tmp_path).read_text(encoding="utf-8")
    assert "UNKNOWN" in page and "history.jsonl.zst is missing" in page


def test_fault_windows_generic():
    """Windows from history.fault_windows (Jepsen-style invoke + info), in seconds; a stop
    with no start and any other nemesis op are events; results' windows are added."""
    def nem(t, f, typ="info", **kw):
        return {"process": "nemesis", "type": typ, "f": f, "time": int(t * 1e9), **kw}
    history = [
        nem(0.9, "start-pause", "invoke"), nem(1.0, "start-pause", value={"nodes": ["n1"]}),
        nem(1.5, "stop-kill", "invoke"), nem(1.5, "stop-kill"),
        nem(1.9, "stop-pause", "invoke"), nem(2.0, "stop-pause"),
        nem(2.5, "failover", "invoke"), nem(2.6, "failover", value={"new_primary": "n2"}),
        nem(2.9, "start-partition", "invoke"),
        nem(3.0, "start-partition", value={"shape": "bridge", "groups": [["n1", "n2"], ["n2", "n3"]]}),
        {"process": 0, "type": "invoke", "f": "add", "value": 1, "time": int(10e9)},
    ]
    windows, events = windows_and_events(history, {"tilt": [{"node": "n1", "start": 0, "end": 5e8}]}, 10.0)
    assert [(w["name"], w["start"], w["end"], w["open"]) for w in windows] == [
        ("tilt", 0.0, 0.5, False), ("pause", 1.0, 1.9, False), ("partition", 3.0, 10.0, True)]
    assert [(e["name"], e["time"]) for e in events] == [("stop-kill", 1.5), ("failover", 2.6)]
    assert windows[2]["detail"] == "bridge, n1 n2 | n2 n3"


def test_large_history_is_sampled(tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "MAX_CHART_OPS", 500)
    d = make_run(tmp_path / "run", n_ops=2000)
    page = build_report(d).read_text(encoding="utf-8")
    data = _data(page)
    assert data["sampled"]
    ops = pair_ops(read_history(d / "history.jsonl"))
    assert len(data["ops"]["s"]) <= 600
    not_ok = sum(1 for o in ops if o.type != "ok")
    assert sum(1 for t in data["ops"]["t"] if t != 0) == not_ok
    assert "The charts show" in page


def test_timeline_rows_pack_replaced_processes(monkeypatch):
    from harness.history import Operation

    def op(p, s, e, t="ok"):
        return Operation(p, "add", "k", t, 1, 1, s, e, 0, 1)

    few = [op(0, 0, 5), op(1, 1, 2), op(1, 3, 4)]
    assert timeline_rows(few) == ({"0": 0, "1": 1}, ["0", "1"], "process")
    monkeypatch.setattr(charts, "MAX_PROCESS_ROWS", 2)
    # process 0 dies (info) at 5, 2 takes over; 1 dies at 4, 3 takes over; 4 runs alongside
    many = [op(0, 0, 5, "info"), op(1, 1, 4, "info"), op(2, 6, 9), op(3, 4.5, 8), op(4, 0, 9)]
    rows, labels, title = timeline_rows(many)
    assert rows["0"] == rows["2"] and rows["1"] == rows["3"]
    assert len(labels) == 3 and "lane" in title


# ----------------------------------------------------------------- checkers' own sections

class EchoChecker(Checker):
    """A checker known only to this test file, with a template and a view of its own."""

    name = "echo"
    template = ('<p class="echo">{{ result.figure("echoes") }} echoes; '
                '{{ view.loudest }} loudest</p>{{ h.chart(view.charts[0]) }}')

    def check(self, history, final, spec):
        raise NotImplementedError

    def view(self, result, run):
        first = run.ops[0]
        chart = run.op_window([first.invoke_index], key=first.key)
        return {"loudest": result.details["loudest"], "charts": [chart],
                "marks": [{"t": 1.25, "p": first.process, "name": "echo", "text": "an <echo>"}]}


def _with_checker(tmp_path, name, result):
    d = make_run(tmp_path / "run", n_ops=300)
    res = json.loads((d / "results.json").read_text())
    res["checkers"][name] = result.to_json()
    (d / "results.json").write_text(json.dumps(res))
    return d


def test_registered_checker_renders_its_own_template(tmp_path, monkeypatch):
    monkeypatch.setitem(CHECKERS, "echo", EchoChecker)
    d = _with_checker(tmp_path, "echo", CheckResult(
        "echo", True, "all echoes came back", [Figure("echoes", 7, "echoes", "int")],
        {"loudest": XSS}))
    page = build_report(d).read_text(encoding="utf-8")
    text = _text(page)
    section = text[text.index('id="checker-echo"'):]
    assert '<p class="echo">7 echoes; &lt;script&gt;alert(1)&lt;/script&gt; loudest</p>' in section
    assert "all echoes came back" in section
    data = _data(page)
    # its chart and marks reach the page's script generically
    assert [c["kind"] for c in data["charts"]] == ["op-window", "op-window"]
    assert data["charts"][1]["id"] in section
    assert {"t": 1.25, "name": "echo", "text": "an <echo>"}.items() <= \
        next(m for m in data["marks"] if m["name"] == "echo").items()


def test_unregistered_checker_gets_the_generic_section(tmp_path):
    assert "mystery" not in CHECKERS
    d = _with_checker(tmp_path, "mystery", CheckResult(
        "mystery", False, f"found 3 {XSS}", [Figure("found", 3, "things found", "int")],
        {"where": ["a", XSS], "items": [{"at": i, "what": XSS} for i in range(12)]}))
    page = build_report(d).read_text(encoding="utf-8")
    assert XSS not in page
    text = _text(page)
    section = text[text.index('id="checker-mystery"'):text.index('id="faults"')]
    assert 'class="badge invalid"' in section and "found 3 &lt;script&gt;" in section
    assert '<div class="v">3</div><div class="l">things found</div>' in section
    assert "<h4>items (12)</h4>" in section and "<th>what</th>" in section


def test_a_failing_view_falls_back_to_the_generic_section(tmp_path, monkeypatch):
    class Broken(EchoChecker):
        def view(self, result, run):
            raise KeyError("boom")
    monkeypatch.setitem(CHECKERS, "echo", Broken)
    d = _with_checker(tmp_path, "echo", CheckResult("echo", True, "fine", [], {"loudest": 1}))
    text = _text(build_report(d).read_text(encoding="utf-8"))
    section = text[text.index('id="checker-echo"'):]
    assert "view failed (KeyError" in section and "loudest" in section
    assert 'class="echo"' not in section

    class NeedsArguments(EchoChecker):
        def __init__(self, model):
            self.model = model
    monkeypatch.setitem(CHECKERS, "echo", NeedsArguments)
    text = _text(build_report(d).read_text(encoding="utf-8"))
    assert "could not be built with no arguments (TypeError" in text


def test_fault_at_names_a_fault_coming_into_force():
    from harness.report.faults import fault_text, windows_and_events
    history = [
        {"process": "nemesis", "type": "invoke", "f": "start-partition", "value": None, "time": 4_000_000_000},
        {"process": "nemesis", "type": "info", "f": "start-partition", "value": {"shape": "s"}, "time": 4_250_000_000},
        {"process": "nemesis", "type": "invoke", "f": "stop-partition", "value": None, "time": 8_000_000_000},
        {"process": "nemesis", "type": "info", "f": "stop-partition", "value": {}, "time": 8_200_000_000},
    ]
    windows, _ = windows_and_events(history, None, 10.0)
    assert [(w["name"], w["invoked"], w["start"], w["end"]) for w in windows] == [("partition", 4.0, 4.25, 8.0)]
    assert fault_text(3.9, windows) == "no fault yet"
    assert fault_text(4.1, windows) == "partition (coming into force)"
    assert fault_text(5.0, windows) == "partition"
    assert fault_text(8.1, windows).startswith("after partition")


def test_redirects_card_only_when_the_clients_followed_some(tmp_path):
    d = make_run(tmp_path / "run", n_ops=300, linearizable_failure=False)
    page = build_report(d).read_text(encoding="utf-8")
    assert "MOVED / ASK followed" not in _text(page)
    res = json.loads((d / "results.json").read_text())
    res["stats"]["redirects"] = {"moved": 12, "ask": 345}
    (d / "results.json").write_text(json.dumps(res))
    page = _text(build_report(d).read_text(encoding="utf-8"))
    assert re.search(r"12 / 345.{0,200}MOVED / ASK followed|MOVED / ASK followed.{0,200}12 / 345", page, re.S)
