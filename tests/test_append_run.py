"""The append workload (MULTI/EXEC list-append) end to end on real topologies: strict
serializable without faults (on Cluster: every transaction in one hash slot), and in
Sentinel Case II acknowledged appends lost, reads of the two primaries' lists
contradicting each other, and dependency cycles."""

from pathlib import Path

import pytest

from .conftest import figure, final_reads, isolated_ip, run_workload

pytestmark = pytest.mark.docker


def _run(tmp_path: Path, *args: str):
    return run_workload(tmp_path, "append", "list-append", *args)


def test_append_on_cluster_without_faults_is_strict_serializable(tmp_path):
    res, run, results, la = _run(tmp_path, "-t", "cluster", "--time-limit", "8", "--seed", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    d = la["details"]
    assert results["valid"] is True and la["valid"] is True
    assert d["anomaly_types"] == [] and d["strongest_model"] == "strict-serializable"
    assert d["ok_count"] > 500 and d["fail_count"] == 0
    # Every key ever appended to was read back (and the fresh keys not used yet, empty),
    # and the reads gave the dependency graph edges.
    final = final_reads(run)
    lists = final["primary"]["lists"]
    assert len([k for k, v in lists.items() if v]) == d["key_count"] <= len(lists)
    assert d["graph"]["edges"] > d["ok_count"]
    assert sum(map(len, final["primary"]["lists"].values())) > 500
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="checker-list-append"' in page and "shown generically" not in page


def test_append_sentinel_case_ii_loses_appends_and_orders_contradict(tmp_path):
    res, run, results, la = _run(tmp_path, "-t", "sentinel", "-n", "isolate-primary-with-clients",
                                 "--nemesis-interval", "5", "--time-limit", "18", "--seed", "1")
    assert res.returncode == 1, res.stdout + res.stderr
    d = la["details"]
    assert results["valid"] is False and la["valid"] is False and results["healed"] is True
    # Appended on the isolated old primary, acknowledged, then gone when it was demoted.
    assert d["lost_appends"] > 0 and figure(la, "lost_appends") == d["lost_appends"]
    old_primary = isolated_ip(run)
    assert all(x["node"] == f"{old_primary}:6379" for x in d["anomalies"]["lost-append"]["examples"])
    # Two partitions (5-10 s, 15-18 s): between them clients append on the new primary,
    # whose lists diverge from what the old one was read to hold: reads that are not
    # prefixes of one history.
    assert d["incompatible_orders"] > 0
    assert {"lost-append", "incompatible-order"} <= set(d["prohibited"])
    assert all(v is False for v in d["models"].values())   # no model lets acknowledged appends vanish
    assert f"lost-append ×{d['lost_appends']:,}" in res.stdout
