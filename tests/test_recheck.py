"""`splitbrain check RUN_DIR`: a finished run re-checked with its own workload's checkers
and final reads (Jepsen's `analyze`), rewriting results.json, the report and junit.xml,
and keeping what only the run could observe."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from .conftest import run_cli
from .report_synth import make_run


def test_recheck_rewrites_results_report_and_junit(tmp_path):
    run = make_run(tmp_path / "run", n_ops=600)
    before = json.loads((run / "results.json").read_text())
    final = json.loads((run / "final.json").read_text())
    # what the set checker must find, by construction: one element never attempted
    assert 999999 in final["primary"]["sets"]["s0"]
    assert not (run / "report.html").exists() and not (run / "junit.xml").exists()
    res = run_cli("check", str(run))
    assert res.returncode == 1, res.stdout + res.stderr
    after = json.loads((run / "results.json").read_text())
    # the workload (set) has one checker: the test's extra results are replaced by its verdict
    assert list(after["checkers"]) == ["set"]
    s = after["checkers"]["set"]
    assert s["valid"] is False and s["details"]["unexpected"] == [999999]
    assert s["details"]["lost_count"] == before["checkers"]["set"]["details"]["lost_count"]
    assert after["valid"] is False
    assert after["healed"] is True and after["windows"] == before["windows"]   # kept
    assert f"set: {s['summary']}" in res.stdout and "verdict: INVALID" in res.stdout
    assert (run / "report.html").exists()
    cases = [c.get("name") for c in ET.parse(run / "junit.xml").getroot().iter("testcase")]
    assert cases == ["set"]


def test_recheck_of_a_run_without_final_reads_is_unknown(tmp_path):
    run = make_run(tmp_path / "run", n_ops=200)
    (run / "final.json").unlink()
    res = run_cli("check", str(run))
    assert res.returncode == 4, res.stdout + res.stderr
    after = json.loads((run / "results.json").read_text())
    assert after["valid"] == "unknown" and after["checkers"]["set"]["valid"] == "unknown"


def test_recheck_replaces_damaged_entries_and_reads_no_number_as_a_verdict(tmp_path):
    from harness.roles import CheckResult
    assert CheckResult.from_json("set", {"valid": 1}).valid == "unknown"
    assert CheckResult.from_json("set", {"valid": 0.0}).valid == "unknown"
    assert CheckResult.from_json("set", {"valid": False}).valid is False
    run = make_run(tmp_path / "run", n_ops=200)
    results = json.loads((run / "results.json").read_text())
    results["stats"] = "not an object"
    results["checkers"] = {"set": {"valid": 1, "summary": 7}}
    (run / "results.json").write_text(json.dumps(results))
    res = run_cli("check", str(run))
    assert res.returncode == 1, res.stdout + res.stderr
    after = json.loads((run / "results.json").read_text())
    assert isinstance(after["stats"], dict) and after["stats"]["ops"] > 0
    assert after["checkers"]["set"]["valid"] is False
