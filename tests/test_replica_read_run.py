"""The replica-read workload end to end: reads reach replicas only, and a replica cut off
from replication serves values as stale as the partition is long."""

from pathlib import Path

import pytest

from .conftest import final_reads, isolated_ip, run_workload

pytestmark = pytest.mark.docker


def _run(tmp_path: Path, *args: str):
    return run_workload(tmp_path, "replica-read", "staleness", *args)


def test_replica_reads_without_faults_come_from_replicas(tmp_path):
    res, run, results, s = _run(tmp_path, "-t", "sentinel", "--time-limit", "8", "--seed", "4")
    assert res.returncode == 0, res.stdout + res.stderr
    assert results["valid"] is True and s["valid"] is True
    d = s["details"]
    primary = final_reads(run)["primary"]["node"]
    assert d["read_count"] > 100 and primary not in d["per_node"]
    assert d["impossible_count"] == 0
    assert "staleness:" in res.stdout and "no impossible read" in res.stdout


def test_isolated_replica_falls_behind_for_as_long_as_the_partition(tmp_path):
    res, run, results, s = _run(tmp_path, "-t", "replicated", "-n", "isolate-replica",
                                "--nemesis-interval", "4", "--time-limit", "12", "--seed", "5")
    assert res.returncode == 0, res.stdout + res.stderr
    d = s["details"]
    cut = f"{isolated_ip(run)}:6379"
    others = [n for n in d["per_node"] if n != cut]
    assert others, d["per_node"]
    behind = d["per_node"][cut]
    # 4 s without replication, read throughout: the last reads return values overwritten
    # more than 3 s before, hundreds of writes back; the other replica keeps up.
    assert behind["stale_ms_max"] > 3000 and behind["writes_behind_max"] > 100
    assert all(d["per_node"][n]["stale_ms_max"] < behind["stale_ms_max"] / 4 for n in others)
    inside = [v for k, v in d["by_window"].items() if k.startswith("partition")]
    assert inside and inside[0]["stale_ms_max"] > 3000
    assert d["impossible_count"] == 0 and s["valid"] is True
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="checker-staleness"' in page and '"kind": "xy"' in page.replace('"kind":"xy"', '"kind": "xy"')
