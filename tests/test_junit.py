"""junit.xml: the checkers' own testcases (run) or one testcase per cell (compare), with
readable messages, well-formed whatever the strings hold."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from harness.junit import cell_summary, write_compare_junit, write_junit, xml_text
from harness.roles import CheckResult, Figure, JUnitCase

XSS = "<script>alert(1)</script>"
CONTROL = "bell\x07 nul\x00 esc\x1b tab\t ok"


def _run_dir(tmp_path, name="sentinel-set-x"):
    d = tmp_path / name / "20261122T100000.000Z"
    d.mkdir(parents=True)
    (d / "test.json").write_text(json.dumps({"name": name, "topology": "sentinel", "seed": 3,
                                             "redis_conf": {"k": XSS + CONTROL},
                                             "started": "2026-11-22T10:00:00+00:00"}))
    return d


def _cases(path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return root, root.find("testsuite"), root.find("testsuite").findall("testcase")


def _results(**checkers):
    return {name: r.to_json() for name, r in checkers.items()}


def test_an_anomaly_is_a_failure_with_the_checkers_summary(tmp_path):
    d = _run_dir(tmp_path)
    found = CheckResult("adds", False, "lost 12 of 3400 acknowledged writes (0.35%)",
                        [Figure("lost", 12, "lost", "int")], {"lost": [{"element": XSS}]})
    fine = CheckResult("order", True, "in order", details={"time_s": 0.5})
    write_junit(d, {"valid": False, "stats": {"duration_s": 30.1},
                    "checkers": _results(adds=found, order=fine)})
    root, suite, cases = _cases(d / "junit.xml")
    assert [c.get("name") for c in cases] == ["adds", "order"]
    f = cases[0].find("failure")
    assert f.get("message") == "lost 12 of 3400 acknowledged writes (0.35%)"
    assert XSS in f.text                           # the details survive, as text
    assert "<script>" not in (d / "junit.xml").read_text()   # ... escaped in the file
    assert cases[1].find("failure") is None and cases[1].find("error") is None
    assert cases[1].get("time") == "0.500"
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and root.get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["seed"] == "3" and props["topology"] == "sentinel"


def test_a_checkers_own_cases(tmp_path):
    d = _run_dir(tmp_path)
    r = CheckResult("multi", False, "one of two", junit=[
        JUnitCase("multi: part one", "passed"),
        JUnitCase("multi: part two", "failure", "part two broke", "the whole story"),
        JUnitCase("multi: part three", "error", "could not tell")])
    write_junit(d, {"valid": False, "checkers": _results(multi=r)})
    _, suite, cases = _cases(d / "junit.xml")
    assert [c.get("name") for c in cases] == ["multi: part one", "multi: part two", "multi: part three"]
    assert cases[1].find("failure").get("message") == "part two broke"
    assert "the whole story" in cases[1].find("failure").text
    assert "could not tell" in cases[2].find("error").get("message")
    assert suite.get("failures") == "1" and suite.get("errors") == "1"


def test_unknown_is_an_error_with_the_reason(tmp_path):
    d = _run_dir(tmp_path)
    write_junit(d, {"valid": "unknown", "checkers": _results(
        adds=CheckResult("adds", "unknown", "no final read of the sets: nothing to compare"),
        order=CheckResult("order", "unknown", "undecided for keys r1, r2"),
        crashed=CheckResult.crashed("crashed", "ValueError: boom"))})
    _, suite, cases = _cases(d / "junit.xml")
    assert "no final read" in cases[0].find("error").get("message")
    assert "r1, r2" in cases[1].find("error").get("message")
    assert "ValueError: boom" in cases[2].find("error").get("message")
    assert suite.get("errors") == "3"


def test_harness_failure_and_not_converged(tmp_path):
    d = _run_dir(tmp_path)
    write_junit(d, {"valid": "unknown", "checkers": {}, "error": "interrupted by SIGINT"})
    _, _, cases = _cases(d / "junit.xml")
    assert cases[0].get("name") == "run" and cases[0].find("error").get("message") == "interrupted by SIGINT"
    write_junit(d, {"valid": True, "converged": False, "error": "never healthy",
                    "checkers": _results(adds=CheckResult("adds", True, "fine"))})
    _, _, cases = _cases(d / "junit.xml")
    assert [c.get("name") for c in cases] == ["adds", "converge and heal"]
    assert "never healthy" in cases[1].find("error").get("message")
    write_junit(d, {"valid": True, "healed": False, "heal_problems": ["n1 still paused"],
                    "checkers": _results(adds=CheckResult("adds", True, "fine"))})
    _, _, cases = _cases(d / "junit.xml")
    assert "n1 still paused" in cases[1].find("error").get("message")
    write_junit(d, None)
    _, _, cases = _cases(d / "junit.xml")
    assert cases[0].find("error") is not None


def test_control_characters_still_give_well_formed_xml(tmp_path):
    d = _run_dir(tmp_path)
    bad = CheckResult("odd\x01name", False, f"found {CONTROL}", details={"value": CONTROL + "\ud800"},
                      junit=[JUnitCase(f"case {CONTROL}", "failure", f"msg {CONTROL}", f"detail {CONTROL}")])
    write_junit(d, {"valid": False, "error": CONTROL, "checkers": {"odd\x01name": bad.to_json()}})
    root, suite, cases = _cases(d / "junit.xml")   # parses: well-formed
    f = cases[0].find("failure")
    assert f.get("message") == "msg bell\\x07 nul\\x00 esc\\x1b tab\t ok"
    assert cases[0].get("name") == "case bell\\x07 nul\\x00 esc\\x1b tab\t ok"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert "bell" in props["redis_conf"]
    assert xml_text("a\x0bb\ufffe\nc") == "a\\x0bb\\ufffe\nc"
    cells = [{"cell": "c\x02", "setting": CONTROL, "rows": [
        {"valid": "false", "seed": 1, "summaries": {"x": CONTROL}, "run_dir": "r\x03", "test": {}}]}]
    write_compare_junit(tmp_path / "c.xml", cells)
    ET.parse(tmp_path / "c.xml")


def _row(valid, seed=1, summaries=None, **kw):
    return {"valid": valid, "seed": seed, "summaries": summaries or {}, "run_dir": f"runs/{seed}",
            "test": {"time_limit": 30}, **kw}


def test_cell_summary():
    kind, msg = cell_summary([_row("false", 1, {"adds": "lost 5 of 100"}), _row("true", 2)])
    assert kind == "failure" and msg == "1 of 2 runs invalid (seed 1: adds: lost 5 of 100)"
    assert cell_summary([_row("true")]) == (None, "1 of 1 runs valid")
    assert cell_summary([_row("error", harness_failed=True, error="boom")]) == \
        ("error", "1 of 1 runs failed in the harness: boom")
    assert cell_summary([_row("unknown"), _row("true")])[0] == "error"


def test_compare_junit_one_case_per_cell(tmp_path):
    cells = [{"cell": "c1-default", "setting": "default",
              "rows": [_row("false", 1, {"adds": "lost 3 of 10", "order": "in order"}),
                       _row("true", 2, {"adds": "lost 0 of 10"})]},
             {"cell": "c2", "setting": f"notify={XSS}", "rows": [_row("true", 1)]}]
    write_compare_junit(tmp_path / "junit.xml", cells)
    root, suite, cases = _cases(tmp_path / "junit.xml")
    assert [c.get("name") for c in cases] == ["c1-default: default", f"c2: notify={XSS}"]
    failure = cases[0].find("failure")
    assert failure is not None and cases[1].find("failure") is None
    # one line per run, with its checkers' summaries
    assert "seed 1: INVALID; adds: lost 3 of 10; order: in order; runs/1" in failure.text
    assert "seed 2: valid; adds: lost 0 of 10; runs/2" in failure.text
    assert suite.get("time") == "90.000" and root.get("tests") == "2"
