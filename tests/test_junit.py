"""junit.xml: one testcase per checker (run) or per cell (compare), with readable messages."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from harness.junit import anomaly_summary, cell_summary, write_compare_junit, write_junit

XSS = "<script>alert(1)</script>"


def _run_dir(tmp_path, name="sentinel-set-x"):
    d = tmp_path / name / "20261122T100000.000Z"
    d.mkdir(parents=True)
    (d / "test.json").write_text(json.dumps({"name": name, "topology": "sentinel", "seed": 3,
                                             "redis_conf": {"k": XSS}, "started": "2026-11-22T10:00:00+00:00"}))
    return d


def _cases(path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return root, root.find("testsuite"), root.find("testsuite").findall("testcase")


def test_lost_writes_are_a_failure_with_the_summary(tmp_path):
    d = _run_dir(tmp_path)
    results = {"valid": False, "stats": {"duration_s": 30.1},
               "checkers": {"set": {"valid": False, "attempt_count": 3500, "acknowledged_count": 3400,
                                    "lost_count": 12, "lost_rate": 12 / 3400, "lost": [{"element": XSS}]},
                            "linearizable": {"valid": True, "time_s": 0.5}}}
    write_junit(d, results)
    root, suite, cases = _cases(d / "junit.xml")
    assert [c.get("name") for c in cases] == ["set", "linearizable"]
    f = cases[0].find("failure")
    assert f.get("message") == "lost 12 of 3400 acknowledged writes (0.35%)"
    assert XSS in f.text                           # the element survives, as text
    assert "<script>" not in (d / "junit.xml").read_text()   # ... escaped in the file
    assert cases[1].find("failure") is None and cases[1].find("error") is None
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and root.get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["seed"] == "3" and props["topology"] == "sentinel"


def test_unknown_is_an_error_with_the_reason(tmp_path):
    d = _run_dir(tmp_path)
    write_junit(d, {"valid": "unknown", "checkers": {
        "set": {"valid": "unknown", "error": "no final read of the sets: nothing to compare"},
        "linearizable": {"valid": "unknown", "unknown_keys": ["r1", "r2"]}}})
    _, suite, cases = _cases(d / "junit.xml")
    assert "no final read" in cases[0].find("error").get("message")
    assert "r1, r2" in cases[1].find("error").get("message")
    assert suite.get("errors") == "2"


def test_harness_failure_and_not_converged(tmp_path):
    d = _run_dir(tmp_path)
    write_junit(d, {"valid": "unknown", "checkers": {}, "error": "interrupted by SIGINT"})
    _, _, cases = _cases(d / "junit.xml")
    assert cases[0].get("name") == "run" and cases[0].find("error").get("message") == "interrupted by SIGINT"
    write_junit(d, {"valid": True, "converged": False, "error": "never healthy",
                    "checkers": {"set": {"valid": True}}})
    _, _, cases = _cases(d / "junit.xml")
    assert [c.get("name") for c in cases] == ["set", "converge and heal"]
    assert "never healthy" in cases[1].find("error").get("message")


def test_summaries():
    assert anomaly_summary("set", {"lost_count": 0, "acknowledged_count": 5, "duplicate_count": 2}) == \
        "2 duplicated elements"
    assert "2 keys" in anomaly_summary("linearizable", {"failed_keys": 2, "failures": [{"key": "r1"}, {"key": "r2"}]})
    assert anomaly_summary("other", {"valid": False}) == "other checker found anomalies"
    kind, msg = cell_summary([{"valid": "false", "lost": 5, "acknowledged": 100},
                              {"valid": "true", "lost": 0, "acknowledged": 100}])
    assert kind == "failure" and msg == "1 of 2 runs invalid: lost 5 of 200 acknowledged writes (2.50%) in 1 of 2 runs"
    assert cell_summary([{"valid": "true", "lost": 0, "acknowledged": 9}])[0] is None
    assert cell_summary([{"valid": "error", "harness_failed": True, "error": "boom"}])[0] == "error"


def test_compare_junit_one_case_per_cell(tmp_path):
    cells = [{"cell": "c1-default", "setting": "default",
              "rows": [{"valid": "false", "lost": 3, "acknowledged": 10, "seed": 1, "test": {"time_limit": 30}}]},
             {"cell": "c2", "setting": f"notify={XSS}",
              "rows": [{"valid": "true", "lost": 0, "acknowledged": 10, "seed": 1, "test": {"time_limit": 30}}]}]
    write_compare_junit(tmp_path / "junit.xml", cells)
    root, suite, cases = _cases(tmp_path / "junit.xml")
    assert [c.get("name") for c in cases] == ["c1-default: default", f"c2: notify={XSS}"]
    assert cases[0].find("failure") is not None and cases[1].find("failure") is None
    assert suite.get("time") == "60.000" and root.get("tests") == "2"
