"""Exit codes and --fail-on over runs (rows as `rundir.load_run` makes them)."""

from __future__ import annotations

import pytest

from harness.errors import UsageError
from harness.outcome import check_fail_on, exit_code_for, run_row


def row(valid, lost=0, harness_failed=False, measured=True):
    figures = {"set.lost": lost if measured else None, "run.p50_ms": 1.0}
    return {"valid": valid, "harness_failed": harness_failed, "figures": figures}


def test_anomaly_never_and_a_figure():
    ok, bad, unk = row("true"), row("false", lost=3), row("unknown", measured=False)
    harness = {"valid": "error", "harness_failed": True, "figures": {}}
    assert exit_code_for("anomaly", [ok, ok]) == 0
    assert exit_code_for("anomaly", [ok, bad]) == 1
    assert exit_code_for("anomaly", [ok, unk]) == 4
    assert exit_code_for("anomaly", [ok, harness]) == 3
    assert exit_code_for("anomaly", [bad, harness]) == 1
    assert exit_code_for("lost", [ok, row("false", lost=0)]) == 0   # invalid, but nothing lost
    assert exit_code_for("lost", [ok, bad]) == 1
    assert exit_code_for("lost", [unk]) == 4                       # a lost count nobody measured
    assert exit_code_for("lost", [ok, harness]) == 3
    assert exit_code_for("never", [bad, unk]) == 0
    assert exit_code_for("never", [bad, harness]) == 3
    # the run's own figures never count as a checker's
    assert exit_code_for("p50_ms", [row("true")]) == 0


def test_run_row_from_results():
    assert run_row(None)["harness_failed"]
    interrupted = run_row({"valid": "unknown", "error": "interrupted by SIGINT", "checkers": {}})
    assert not interrupted["harness_failed"] and exit_code_for("anomaly", [interrupted]) == 4
    assert run_row({"valid": "unknown", "error": "sentinel topology not healthy", "checkers": {}})["harness_failed"]
    lost = {"checker": "set", "valid": False, "summary": "lost 2", "figures": [{"name": "lost", "value": 2}]}
    r = run_row({"valid": False, "checkers": {"set": lost}, "error": "did not converge"})
    assert r["figures"]["set.lost"] == 2 and not r["harness_failed"]
    assert exit_code_for("lost", [r]) == 1 and exit_code_for("anomaly", [r]) == 1


def test_fail_on_names_a_figure_of_the_checkers():
    assert check_fail_on("anomaly", []) == "anomaly"
    assert check_fail_on("lost", ["attempted", "lost"]) == "lost"
    with pytest.raises(UsageError, match="choose anomaly, never or a figure"):
        check_fail_on("lots", ["lost"])
