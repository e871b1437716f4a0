"""The counter workload end to end on real topologies: no false positive without faults,
lost increments in Sentinel Case II."""

from pathlib import Path

import pytest

from .conftest import figure, final_reads, run_workload

pytestmark = pytest.mark.docker


def _run(tmp_path: Path, *args: str):
    return run_workload(tmp_path, "counter", "counter", *args)


def _report_has_counter_section(run: Path) -> None:
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="checker-counter"' in page and "Counters after the run" in page
    assert "shown generically" not in page


def test_counter_without_faults_is_valid(tmp_path):
    res, run, results, c = _run(tmp_path, "-t", "replicated", "--time-limit", "8", "--seed", "3")
    assert res.returncode == 0, res.stdout + res.stderr
    d = c["details"]
    assert results["valid"] is True and c["valid"] is True
    assert d["read_count"] > 0 and d["acknowledged_count"] > 0 and d["lost"] == 0
    assert d["reads_out_of_bounds_count"] == 0 and figure(c, "lost") == 0
    final = final_reads(run)
    assert d["acknowledged_sum"] <= sum(final["primary"]["counters"].values()) <= d["attempted_sum"]
    assert set(final["nodes"]) == {"n1", "n2", "n3"}
    assert "counter: no acknowledged increment lost" in res.stdout
    _report_has_counter_section(run)


def test_counter_sentinel_case_ii_loses_increments(tmp_path):
    res, run, results, c = _run(tmp_path, "-t", "sentinel", "-n", "isolate-primary-with-clients",
                                "--nemesis-interval", "4", "--time-limit", "12", "--seed", "1")
    assert res.returncode == 1, res.stdout + res.stderr
    d = c["details"]
    assert results["valid"] is False and c["valid"] is False
    assert d["lost"] > 0 and figure(c, "lost") == d["lost"] and 0 < d["lost_rate"] <= 1
    assert results["healed"] is True
    assert f"counter: lost {d['lost']:,} of {d['acknowledged_sum']:,} acknowledged increments" in res.stdout
    _report_has_counter_section(run)
