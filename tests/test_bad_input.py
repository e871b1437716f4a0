"""Every input answered as the README promises (issue 15): bad usage is exit 2 and one line
saying what is wrong and where, never a traceback, decided before anything is started or
written; a damaged run directory gives a clear line or a page that says what is wrong.

Hypothesis makes the malformed option values, settings, names, strings and run
directories; the targeted tests pin the issue's examples. Nothing here needs Docker: the
engine check every command makes before its first side effect is a stub that refuses, so
a command whose input is acceptable stops there (exit 3), having created nothing.
SB_FUZZ=N runs N examples per property instead of the few that keep this file quick.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import cli
from cli import main
from harness import compare as compare_mod, runner as runner_mod
from harness.compare.vary import apply_cell, build_cells
from harness.errors import EnvironmentProblem, UsageError
from harness.junit import write_compare_junit, write_junit, xml_text
from harness.roles import CheckResult, Figure, JUnitCase
from harness.runner import make_run_dir
from harness.serve import RunIndex, allowed_host, index_page, make_server
from harness.spec import TestSpec, parse_settings

from .conftest import compress


def fuzz(examples: int):
    """Hypothesis settings: `examples` per test (SB_FUZZ=N for a longer hunt)."""
    return settings(max_examples=int(os.environ.get("SB_FUZZ", examples)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


NO_ENGINE = "no Docker engine reachable (test stub)"
CONTROL = "".join(map(chr, [*range(0, 9), *range(10, 32), 127]))


@pytest.fixture(autouse=True)
def no_engine(monkeypatch):
    """Every engine check refuses: a command that gets past validation stops there."""
    def refuse():
        raise EnvironmentProblem(NO_ENGINE)
    for mod in (runner_mod, compare_mod, cli):
        monkeypatch.setattr(mod, "docker_client", refuse)


def invoke(args: list[str], cwd: Path):
    """The CLI in-process with cwd as the working directory."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)


def answered(r, codes=(0, 1, 2, 3, 4)) -> str:
    """The contract: an exit code, no traceback; exit 2 and 3 are one line on stderr."""
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(r.exception)))
    assert r.exit_code in codes, (r.exit_code, r.output)
    assert "Traceback" not in r.output
    if r.exit_code in (2, 3):
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        return lines[0]
    return ""


def files_under(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def fresh(tmp_path: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=tmp_path))


# ====================================================================== numeric options
#: (low, high, integer, low excluded, 0 accepted too): what each option takes, written out
#: here independently of harness.spec.
S30D = 30 * 86_400
NUMERIC = {
    ("run", "--time-limit"): (0, S30D, False, True, False),
    ("run", "--nemesis-interval"): (0, S30D, False, True, False),
    ("run", "--client-timeout"): (0, 3600, False, True, False),
    ("run", "--rate"): (0.001, 1e9, False, False, True),
    ("run", "--concurrency"): (1, 10_000, True, False, False),
    ("run", "--keys"): (1, 1_000_000, True, False, False),
    ("run", "--seed"): (-(2 ** 63), 2 ** 63 - 1, True, False, False),
    ("compare", "--time-limit"): (0, S30D, False, True, False),
    ("compare", "--client-timeout"): (0, 3600, False, True, False),
    ("compare", "--repeat"): (1, 1000, True, False, False),
    ("check", "--time-limit"): (0, S30D, False, True, False),
    ("up", "--timeout"): (0, 86_400, False, True, False),
    ("serve", "--port"): (0, 65535, True, False, False),
}


def acceptable(text: str, low, high, integer, above, zero) -> bool:
    try:
        v = int(text, 10) if integer else float(text)
    except ValueError:
        return False
    if not integer and not math.isfinite(v):
        return False
    return (zero and v == 0) or ((v > low if above else v >= low) and v <= high)


def command(cmd: str, option: str, value: str, d: Path) -> list[str]:
    opt = f"{option}={value}"
    if cmd in ("run", "compare"):
        return [cmd, opt, "--results-dir", d / "results"]
    if cmd == "check":
        h = d / "h.jsonl"
        h.write_text('{"process": 0, "type": "invoke", "f": "read", "key": "k", "value": null}\n'
                     '{"process": 0, "type": "ok", "f": "read", "key": "k", "value": null}\n')
        return ["check", h, opt]
    if cmd == "up":
        return ["up", "sentinel", opt]
    return ["serve", d, opt]


class _Server:
    """`serve` that returns at once (a valid --port must not block the test)."""
    server_address = ("127.0.0.1", 1)

    def serve_forever(self):
        raise KeyboardInterrupt

    def server_close(self):
        pass


NUMBERISH = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "0", "-0",
                     "-1", "0.0", "1e3", "65535", "65536", "70000", "", " ", "1_000", "0x10", "\u0661\u0662",
                     "10000000000000000000000", "9e18", "1.5", "+5", "0.0005", "2592000", "2592000.5"]),
    st.integers(-10 ** 20, 10 ** 20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6))


@fuzz(100)
@given(which=st.sampled_from(sorted(NUMERIC)), value=NUMBERISH)
def test_every_numeric_option_is_checked_before_anything_happens(tmp_path, monkeypatch, which, value):
    monkeypatch.setattr(cli, "make_server", lambda *a: _Server())
    d = fresh(tmp_path)
    before = files_under(d)
    cmd, option = which
    r = invoke(command(cmd, option, value, d), d)
    line = answered(r)
    ok = acceptable(value, *NUMERIC[which])
    if ok:
        assert r.exit_code != 2 or "--fail-on" in line, line
    else:
        assert r.exit_code == 2 and option in line, (value, line)
    if cmd in ("run", "compare", "up"):
        assert r.exit_code == 2 if not ok else NO_ENGINE in line
    assert [f for f in files_under(d) if f != "h.jsonl"] == [f for f in before if f != "h.jsonl"]


@pytest.mark.parametrize("args", [
    ["check", "{h}", "--time-limit", "nan"], ["check", "{h}", "--time-limit", "-5"],
    ["run", "--client-timeout", "0"], ["run", "--client-timeout", "-1"], ["run", "--client-timeout", "nan"],
    ["run", "--rate", "nan"], ["run", "--time-limit", "nan"], ["run", "--time-limit", "inf"],
    ["run", "--nemesis-interval", "0"], ["serve", "{d}", "--port", "70000"],
    ["compare", "--vary", "time-limit=nan"], ["compare", "--vary", "default|nemesis-interval=0"],
])
def test_issue_examples_of_numbers(tmp_path, args):
    h = tmp_path / "h.jsonl"
    h.write_text('{"process": 0, "type": "invoke", "f": "read", "key": "k", "value": null}\n')
    args = [a.format(h=h, d=tmp_path) for a in args]
    if args[0] in ("run", "compare"):
        args += ["--results-dir", tmp_path / "results"]
    line = answered(invoke(args, tmp_path), codes=(2,))
    assert "must be" in line and ("--" in line)
    assert not (tmp_path / "results").exists()


def test_numbers_in_a_spec_are_checked_wherever_it_comes_from():
    for kw in ({"time_limit": float("nan")}, {"rate": 1e-300}, {"concurrency": True},
               {"keys": 2.0}, {"client_timeout": "0.5"}, {"converge_timeout": 10 ** 400},
               {"check_time_limit": -1}, {"wait": (1, -1)}, {"seed": 1.5}):
        with pytest.raises(UsageError, match="must be"):
            TestSpec(**kw)
    assert TestSpec(time_limit=5, rate=0).time_limit == 5.0


# ====================================================================== names
@fuzz(100)
@given(name=st.one_of(st.sampled_from(["..", ".", "../x", "a/b", "/tmp/x", ".hidden", "latest", "compare",
                                       "ok-name", "a..b", "x" * 121, "a\\b", "a\nb", ""]),
                      st.text(max_size=12)))
def test_run_names_stay_inside_the_results_directory(tmp_path, name):
    d = fresh(tmp_path)
    r = invoke(["run", "--name", name, "--results-dir", d / "results"], d)
    line = answered(r, codes=(2, 3))
    if r.exit_code == 3:    # accepted (empty means the default name): one plain directory name
        assert NO_ENGINE in line
        assert name == "" or ("/" not in name and "\\" not in name and not name.startswith(".")
                              and name not in ("latest", "compare"))
    assert files_under(d) == []


def test_a_refused_run_leaves_no_directory_and_latest_alone(tmp_path):
    results = tmp_path / "results"
    (results / "old" / "1").mkdir(parents=True)
    (results / "latest").symlink_to("old/1")
    for bad in (["--nemesis-interval", "0"], ["--name", ".."], ["--nemesis", "meteor"], ["-w", "nosuch"]):
        answered(invoke(["run", *bad, "--results-dir", results], tmp_path), codes=(2,))
    # and one that passes validation stops at the engine check, before its run directory
    answered(invoke(["run", "--results-dir", results], tmp_path), codes=(3,))
    assert files_under(tmp_path) == ["results", "results/latest", "results/old", "results/old/1"]
    assert os.readlink(results / "latest") == "old/1"


def test_run_directory_never_leaves_the_results_directory(tmp_path):
    spec = TestSpec(name="ok", results_dir=str(tmp_path / "results"))
    run_dir = make_run_dir(spec)
    assert run_dir.resolve().is_relative_to((tmp_path / "results").resolve())
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "results" / "escape").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="leads outside"):
        make_run_dir(TestSpec(name="escape", results_dir=str(tmp_path / "results")))
    assert list((tmp_path / "elsewhere").iterdir()) == []


# ====================================================================== settings
SETTING_TEXT = st.text(alphabet=st.sampled_from("ab=,|+.: \t\n\r\x00\x07\x1b\x7f\u2028é"), max_size=14)


@fuzz(100)
@given(text=SETTING_TEXT, kind=st.sampled_from(["redis.k=", "sentinel.k=", "k=", "default|appendonly=", ""]))
def test_vary_values_cannot_inject_a_line(tmp_path, text, kind):
    vary = kind + text
    try:
        cells = build_cells([vary])
        specs = [apply_cell(TestSpec(), c) for c in cells]
    except UsageError as e:
        assert "\n" not in str(e) and "\r" not in str(e)
        return
    for s in specs:
        for v in [*s.redis_conf.values(), *s.sentinel_conf.values()]:
            assert not any(c in v for c in CONTROL), repr(v)
    d = fresh(tmp_path)
    r = invoke(["compare", "--vary", vary, "--results-dir", d / "results"], d)
    answered(r, codes=(2, 3))
    assert files_under(d) == []


@fuzz(100)
@given(text=SETTING_TEXT, option=st.sampled_from(["--redis-conf", "--sentinel-conf"]))
def test_run_settings_cannot_inject_a_line(tmp_path, text, option):
    d = fresh(tmp_path)
    r = invoke(["run", option, text, "--results-dir", d / "results"], d)
    answered(r, codes=(2, 3))
    if r.exit_code == 3:
        _, _, value = text.partition("=")
        assert not any(c in value for c in CONTROL)
    assert files_under(d) == []


def test_the_issue_vary_example_is_refused_like_redis_conf(tmp_path):
    line = answered(invoke(["compare", "--vary", "redis.k=a\nb,c", "--results-dir", tmp_path / "r"], tmp_path),
                    codes=(2,))
    assert "newline" in line and "redis.k" in line
    with pytest.raises(UsageError, match="newline"):
        parse_settings(["k=a\nb"], "--redis-conf")
    assert files_under(tmp_path) == []


def test_click_usage_errors_are_one_line(tmp_path):
    for args in (["run", "--bogus"], ["--bogus"], ["run", "--concurrency"], ["nosuch"]):
        line = answered(invoke(args, tmp_path), codes=(2,))
        assert "see --help" in line


# ====================================================================== run directories
def good_run(d: Path, name: str = "good") -> Path:
    """A small finished set run: test.json, history.jsonl, final.json, results.json."""
    d.mkdir(parents=True)
    test = TestSpec(name=name, nemesis=["isolate-primary"], time_limit=2, seed=1).to_json()
    test.update(started="2026-11-22T10:00:00+00:00", host="h", project="p")
    ops, t = [], 0
    for i in range(30):
        t += 20_000_000
        p = i % 3
        ops.append({"process": p, "type": "invoke", "f": "add", "key": "s0", "value": i, "time": t})
        ops.append({"process": p, "type": "ok", "f": "add", "key": "s0", "value": i, "time": t + 1_000_000,
                    "node": "10.0.0.1:6379"})
        if i == 10:
            ops.append({"process": "nemesis", "type": "info", "f": "start-partition", "value": {"shape": "x"},
                        "time": t + 5})
        if i == 20:
            ops.append({"process": "nemesis", "type": "info", "f": "stop-partition", "value": None, "time": t + 5})
    for i, op in enumerate(ops):
        op["index"] = i
    (d / "test.json").write_text(json.dumps(test))
    (d / "history.jsonl").write_text("".join(json.dumps(o) + "\n" for o in ops))
    (d / "final.json").write_text(json.dumps({"primary": {"sets": {"s0": list(range(30))}}}))
    result = CheckResult("set", True, "lost 0 of 30", [Figure("lost", 0, "lost", "int"),
                                                        Figure("lost_rate", 0.0, "lost rate", "pct")])
    (d / "results.json").write_text(json.dumps({"valid": True, "checkers": {"set": result.to_json()},
                                                "stats": {"ops": 30, "duration_s": 0.6}}))
    return d


ODD_NUMBERS = st.sampled_from([9e18, -9e18, 1e300, 10 ** 30, 10 ** 400, 2 ** 63, 1.5, -1, 0])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | ODD_NUMBERS
    | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
#: What a damaged field may hold: the awkward values first (hypothesis tries them early).
#: Copied on each draw: `sampled_from` hands out the same [] or {}, which nested in
#: itself would make a document json.dumps cannot write.
ODD_VALUES = st.one_of(st.sampled_from([None, True, [], {}, [1], {"a": 1}, "", "x", -1, 9e18, 1e300, 10 ** 400]),
                       JSON_VALUES).map(copy.deepcopy)
JUNK = st.sampled_from(["", "{", "not json", "[]", "null", "5", "[" * 5000 + "]" * 5000, "\x00\xff",
                        '{"a": NaN}', '"\\ud800"'])


@st.composite
def damaged_run(draw, root: Path):
    d = good_run(root / "runs" / "damaged" / "1", name="damaged")
    for name in ("test.json", "results.json", "final.json"):
        how = draw(st.sampled_from(["keep", "missing", "junk", "field", "field", "field"]))
        path = d / name
        if how == "missing":
            path.unlink()
        elif how == "junk":
            path.write_text(draw(JUNK))
        elif how == "field":
            doc = json.loads(path.read_text())
            key = draw(st.sampled_from(sorted(doc) + ["checkers", "stats", "valid", "windows"]))
            doc[key] = draw(ODD_VALUES)
            if name == "results.json" and isinstance(doc.get("checkers"), dict) and draw(st.booleans()):
                doc["checkers"]["set"] = {draw(st.sampled_from(["valid", "figures", "junit", "summary",
                                                                "details", "checker"])): draw(ODD_VALUES)}
            path.write_text(json.dumps(doc))
    lines = (d / "history.jsonl").read_text().splitlines()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = json.loads(lines[i])
        op[draw(st.sampled_from(["time", "process", "f", "type", "value", "key", "index", "node"]))] = \
            draw(ODD_VALUES)
        lines[i] = json.dumps(op)
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(JUNK | st.text(max_size=20)))
    (d / "history.jsonl").write_text("\n".join(lines) + "\n")
    codec = draw(st.sampled_from([None, None, "zst", "gz"]))     # as a run writes them now
    for name in ("history.jsonl", "final.json") if codec else ():
        if (d / name).exists():
            data = compress((d / name).read_bytes(), codec, pieces=draw(st.integers(1, 4)))
            how = draw(st.sampled_from(["keep", "keep", "cut", "garbage"]))
            if how == "cut":
                data = data[:draw(st.integers(0, len(data)))]
            elif how == "garbage":
                at = draw(st.integers(0, len(data)))
                data = data[:at] + b"garbage" + data[at + 7:]
            (d / f"{name}.{codec}").write_bytes(data)
            (d / name).unlink()
    return d


@fuzz(60)
@given(data=st.data())
def test_damaged_run_directories_are_answered(tmp_path, data):
    root = fresh(tmp_path)
    good = good_run(root / "runs" / "good" / "1")
    d = data.draw(damaged_run(root))
    t0 = time.monotonic()
    line = answered(invoke(["report", d], root), codes=(0, 2))
    if r_ok := not line:
        page = (d / "report.html").read_text()
        assert page.rstrip().endswith("</html>") and len(page) < 5_000_000
    if (d / "junit.xml").exists():
        ET.parse(d / "junit.xml")
    assert time.monotonic() - t0 < 20, "a damaged run must still render quickly"
    assert r_ok or "test.json" in line or "history" in line
    answered(invoke(["compare", "--from", root / "runs", "--fail-on", "never"], root), codes=(0, 2, 3))
    page = index_page(root / "runs", RunIndex(root / "runs").rows())
    assert "good/1" in page and "damaged" in page     # the bad run never costs the others
    answered(invoke(["report", good], root), codes=(0,))
    answered(invoke(["check", d], root), codes=(0, 1, 2, 4))   # a verdict, or what is wrong


@pytest.mark.parametrize("t", [9e18, 1e300, -9e18, 10 ** 30, 10 ** 400])
def test_an_absurd_time_is_left_out_of_the_charts(tmp_path, t):
    d = good_run(tmp_path / "r")
    lines = (d / "history.jsonl").read_text().splitlines()
    op = json.loads(lines[-1])
    op["time"] = t
    lines[-1] = json.dumps(op)
    (d / "history.jsonl").write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    answered(invoke(["report", d], tmp_path), codes=(0,))
    assert time.monotonic() - t0 < 10
    page = (d / "report.html").read_text()
    assert len(page) < 3_000_000 and "beyond the run&#39;s plausible end" in page


@pytest.mark.parametrize("file, content, words", [
    ("test.json", "[1, 2]", "test.json: not a JSON object"),
    ("test.json", "{", "test.json: not a JSON object"),
    ("test.json", '{"workload": "set", "time_limit": "x"}', "--time-limit"),
    ("test.json", '{"workload": "set", "nemesis": 5}', "--nemesis"),
    ("test.json", '{"workload": "set", "redis_conf": {"k": "a\\nb"}}', "newline"),
    ("test.json", '{"workload": "set", "concurrency": true}', "--concurrency"),
])
def test_check_of_a_damaged_test_json_is_one_line(tmp_path, file, content, words):
    d = good_run(tmp_path / "r")
    (d / file).write_text(content)
    line = answered(invoke(["check", d], tmp_path), codes=(2,))
    assert words in line and "test.json" in line


def test_report_on_wrongly_typed_results_says_what_is_wrong(tmp_path):
    d = good_run(tmp_path / "r")
    (d / "results.json").write_text(json.dumps({"valid": 1, "checkers": {"set": {"figures": 5, "valid": 1}},
                                                "stats": {"latency_ms": [], "duration_s": "x"}}))
    answered(invoke(["report", d], tmp_path), codes=(0,))
    page = (d / "report.html").read_text()
    assert "UNKNOWN" in page and "unreadable result" in page      # 1 is not a verdict
    (d / "results.json").write_text("[" * 5000 + "]" * 5000)
    answered(invoke(["report", d], tmp_path), codes=(0,))
    assert "results.json could not be read" in (d / "report.html").read_text()


def test_compare_from_a_damaged_directory(tmp_path):
    good_run(tmp_path / "c" / "a" / "1")
    (tmp_path / "c" / "compare.json").write_text(json.dumps(
        {"cells": [5, {"key": 1}], "failures": ["x", {"run_dir": 3}], "command": ["x"]}))
    answered(invoke(["compare", "--from", tmp_path / "c", "--fail-on", "never"], tmp_path), codes=(0,))
    (tmp_path / "c" / "compare.json").write_text("[]")
    answered(invoke(["compare", "--from", tmp_path / "c"], tmp_path), codes=(0,))


# ====================================================================== junit
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30)


@fuzz(100)
@given(name=ANY_TEXT, summary=ANY_TEXT, message=ANY_TEXT, detail=ANY_TEXT, error=ANY_TEXT, value=ANY_TEXT)
def test_junit_is_well_formed_whatever_the_strings(tmp_path, name, summary, message, detail, error, value):
    d = fresh(tmp_path)
    (d / "test.json").write_text(json.dumps({"name": value, "redis_conf": {value: value}, "started": value}))
    result = CheckResult(name, False, summary, details={"x": value},
                         junit=[JUnitCase(message, "failure", message, detail), JUnitCase(name, "error", error)])
    write_junit(d, {"valid": False, "error": error, "converged": False, "checkers": {name: result.to_json()}})
    root = ET.parse(d / "junit.xml").getroot()
    failure = root.find("testsuite/testcase/failure")
    assert failure.get("message") == xml_text(message or summary or f"{name} found anomalies")
    cells = [{"cell": name, "setting": value, "rows": [{"valid": "false", "seed": 1, "summaries": {name: summary},
                                                         "run_dir": value, "error": error, "test": {}}]}]
    ET.parse(write_compare_junit(d / "compare-junit.xml", cells))


# ====================================================================== serve
@pytest.fixture()
def served(tmp_path):
    root = tmp_path / "results"
    good_run(root / "good" / "1")
    bad = good_run(root / "bad" / "1", name="bad")
    (bad / "test.json").write_text("[" * 5000)
    (bad / "results.json").write_text('{"valid": {"x": 1}, "checkers": 5, "stats": {"latency_ms": 3}}')
    server = make_server(root, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()


def fetch(addr, host: str | None):
    req = urllib.request.Request(f"http://{addr[0]}:{addr[1]}/")
    if host is not None:
        req.add_unredirected_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_lists_every_run_when_one_is_damaged(served):
    status, page = fetch(served, None)
    assert status == 200
    assert "/good/1/results.json" in page and "/bad/1/results.json" in page
    assert "test.json is unreadable" in page and "UNKNOWN" in page and "VALID" in page


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:{port}", True), ("localhost:{port}", True), ("LocalHost:{port}", True), ("[::1]:{port}", True),
    ("localhost", True), ("evil.example:{port}", False), ("127.0.0.1.nip.io:{port}", False),
    ("localhost:1", False), ("", False), ("localhost:{port}@evil", False),
])
def test_serve_answers_only_its_own_host_names(served, host, ok):
    status, body = fetch(served, host.format(port=served[1]))
    assert (status == 200) == ok, (status, body)
    if not ok:
        assert status == 403 and "DNS rebinding" in body


def test_allowed_host_when_bound_to_every_interface():
    assert allowed_host("192.168.1.5:8765", ("0.0.0.0", 8765), "0.0.0.0")
    assert allowed_host("myhost:8765", ("0.0.0.0", 8765), "myhost")
    assert not allowed_host("evil.example:8765", ("0.0.0.0", 8765), "0.0.0.0")
    assert not allowed_host("192.168.1.5:8765", ("127.0.0.1", 8765), "127.0.0.1")


def test_serve_refuses_bad_port_and_host_in_one_line(tmp_path):
    for args in (["--port", "70000"], ["--port", "-1"], ["--port", "x"], ["--host", "a b"], ["--host", "\x01"]):
        line = answered(invoke(["serve", tmp_path, *args], tmp_path), codes=(2,))
        assert args[0] in line
