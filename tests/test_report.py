"""report.html from synthetic run directories (tests/report_synth.py)."""

from __future__ import annotations

import json
import re

import pytest

from harness import report
from harness.report import build_report, fault_windows, json_for_script, latency_quantiles, ops_frame
from harness.history import pair_ops, read_history

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
    lost = res["checkers"]["set"]["lost"]
    assert lost, "the synthetic run should lose writes"
    text = _text(page)
    assert f"Lost writes ({len(lost):,})" in text
    numeric = [x for x in lost if isinstance(x["element"], int)]
    for x in numeric[:5]:
        assert f"<td>{x['element']:,}</td>" in text
        assert f"{x['acknowledged_at'] / 1e9:.3f}s" in text
    assert "10.213.4.11:6379" in text
    # lost writes are also handed to the timeline, at their acknowledgement time
    data = _data(page)
    assert len(data["lost"]) == len(lost)
    assert all(l["p"] is not None for l in data["lost"])


def test_linearizable_counterexample(invalid_run):
    d, page = invalid_run
    res = json.loads((d / "results.json").read_text())
    fail = res["checkers"]["linearizable"]["failures"][0]
    text = _text(page)
    assert "Counterexample on key <code>r1</code>" in text
    assert "not-linearizable" in text
    assert report.esc(fail["unplaceable"][0]["reason"]) in text
    assert 'id="porcupine-0"' in text
    view = _data(page)["porcupine"][0]
    classes = {b["cls"] for b in view["bars"]}
    assert "unplaceable" in classes
    assert set(fail["window"]) <= set(view["indices"])
    assert fail["unplaceable"][0]["index"] in view["indices"]
    prefix_bars = [b for b in view["bars"] if b["cls"] == "prefix"]
    assert prefix_bars and len(prefix_bars) <= len(fail["prefix"])
    assert all(b["label"].startswith("#") for b in prefix_bars)


def test_unknown_checker_shown_generically(invalid_run):
    _, page = invalid_run
    text = _text(page)
    assert 'id="checker-stale-reads"' in text
    assert "max_staleness_ms" in text and "12.5" in text


def test_fault_windows_in_page(invalid_run):
    _, page = invalid_run
    data = _data(page)
    names = [w["name"] for w in data["windows"]]
    assert names.count("partition") == 1 and "clock" in names and "tilt" in names
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
    assert report.esc(XSS) in _text(page)
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
    q = latency_quantiles(ops_frame(ops))
    assert {"p50", "p90", "p99", "max", "count"} <= set(q.columns)
    row = q[(q.f == "add") & (q.type == "ok")].iloc[0]
    assert row.p50 <= row.p90 <= row.p99 <= row["max"]
    assert f"{row.p99:.2f}" in _text(page)
    assert "p99 ms" in page


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
    res["checkers"]["set"].update(lost=[], lost_count=0, valid=True)
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
    assert "UNKNOWN" in page and "history.jsonl is missing" in page


def test_fault_windows_generic():
    nem = [
        {"process": "nemesis", "type": "info", "f": "start-pause", "time": 1_000_000_000,
         "value": {"nodes": ["n1"]}},
        {"process": "nemesis", "type": "info", "f": "stop-kill", "time": 1_500_000_000},
        {"process": "nemesis", "type": "info", "f": "stop-pause", "time": 2_000_000_000},
        {"process": "nemesis", "type": "info", "f": "start-partition", "time": 3_000_000_000,
         "value": {"shape": "bridge", "groups": [["n1", "n2"], ["n2", "n3"]]}},
    ]
    windows, events = fault_windows(nem, {"tilt": [{"node": "n1", "start": 0, "end": 5e8}]}, 10.0)
    assert [(w["name"], w["start"], w["end"], w["open"]) for w in windows] == [
        ("tilt", 0.0, 0.5, False), ("pause", 1.0, 2.0, False), ("partition", 3.0, 10.0, True)]
    assert [e["name"] for e in events] == ["stop-kill"]
    assert windows[2]["detail"] == "bridge, n1 n2 | n2 n3"


def test_large_history_is_sampled(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "MAX_CHART_OPS", 500)
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
    from harness.report import timeline_rows

    def op(p, s, e, t="ok"):
        return Operation(p, "add", "k", t, 1, 1, s, e, 0, 1)

    few = [op(0, 0, 5), op(1, 1, 2), op(1, 3, 4)]
    assert timeline_rows(few) == ({"0": 0, "1": 1}, ["0", "1"], "process")
    monkeypatch.setattr(report, "MAX_PROCESS_ROWS", 2)
    # process 0 dies (info) at 5, 2 takes over; 1 dies at 4, 3 takes over; 4 runs alongside
    many = [op(0, 0, 5, "info"), op(1, 1, 4, "info"), op(2, 6, 9), op(3, 4.5, 8), op(4, 0, 9)]
    rows, labels, title = timeline_rows(many)
    assert rows["0"] == rows["2"] and rows["1"] == rows["3"]
    assert len(labels) == 3 and "lane" in title
