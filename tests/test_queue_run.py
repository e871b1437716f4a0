"""The queue workload end to end on real topologies: no anomaly without faults, lost
messages and redeliveries after an acknowledged XACK in Sentinel Case II."""

from pathlib import Path

import pytest

from .conftest import figure, final_reads, isolated_ip, run_workload

pytestmark = pytest.mark.docker


def _run(tmp_path: Path, *args: str):
    return run_workload(tmp_path, "queue", "queue", *args)


def test_queue_without_faults_delivers_everything_once_acknowledged(tmp_path):
    res, run, results, q = _run(tmp_path, "-t", "cluster", "--time-limit", "8", "--keys", "4", "--seed", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    d = q["details"]
    assert results["valid"] is True and q["valid"] is True
    assert d["enqueued"] > 100 and d["ack_count"] > 100 and d["delivered"] > 100
    for name in ("lost", "stranded", "unexpected", "duplicated", "redelivered_after_ack"):
        assert figure(q, name) == 0, name
    final = final_reads(run)
    streams = final["primary"]["streams"]
    assert set(streams) == {"q0", "q1", "q2", "q3"} and all(s["group"] for s in streams.values())
    # Consumers fall behind (two ops per message, one per enqueue): the drain finds a backlog.
    assert sum(len(s["delivered"]) for s in streams.values()) > 0
    assert sum(len(s["entries"]) for s in streams.values()) == d["enqueued"]
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="checker-queue"' in page and "shown generically" not in page


def test_queue_sentinel_case_ii_loses_messages_and_redelivers_acknowledged_ones(tmp_path):
    res, run, results, q = _run(tmp_path, "-t", "sentinel", "-n", "isolate-primary-with-clients",
                                "--nemesis-interval", "4", "--time-limit", "12", "--keys", "3",
                                "--seed", "1")
    assert res.returncode == 1, res.stdout + res.stderr
    d = q["details"]
    assert results["valid"] is False and q["valid"] is False and results["healed"] is True
    # Enqueued on the old primary after Sentinel promoted n2, still waiting when it was
    # demoted: gone from the stream, never delivered.
    assert d["lost"] > 0 and figure(q, "lost") == d["lost"]
    old_primary = isolated_ip(run)
    assert all(m["node"] == f"{old_primary}:6379" for m in d["lost_messages"])
    # Delivered and acknowledged on the old primary, still owed by the new one's group.
    assert d["redelivered_after_ack"] > 0
    r = d["redeliveries_after_ack"][0]
    assert r["acked_at"] is not None and r["ack_node"] is not None
    assert f"lost {d['lost']:,} of {d['enqueued']:,}" in res.stdout
