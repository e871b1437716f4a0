"""The lock workload's options are refused before anything starts, and the client stalls
that `pause-client` arms are taken, timed and undone (no Redis needed for either)."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest
from click.testing import CliRunner

import cli
from harness.clients import ClientPauses
from harness.history import read_history
from harness.history_writer import HistoryWriter
from harness.nemesis import NEMESES, NemesisContext
from harness.topology import TOPOLOGIES


@pytest.mark.parametrize("args, message", [
    (["--lock-impl", "zookeeper"], "--lock-impl 'zookeeper': choose from redis-py, redlock, fenced"),
    (["--lock-impl", "redlock"], "--lock-impl redlock runs on --topology independent, not sentinel"),
    (["--lock-impl", "redlock", "-t", "cluster"], "not cluster"),
    (["--fencing"], "--fencing needs a lock that gives fencing tokens (--lock-impl fenced): redis-py gives none"),
    (["--fencing", "--lock-impl", "redlock", "-t", "independent"], "redlock gives none"),
])
def test_bad_lock_options_exit_2_before_any_side_effect(tmp_path, args, message):
    res = CliRunner().invoke(cli.main, ["run", "-w", "lock", *args, "--results-dir", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()


def test_the_independent_topology_and_the_lock_faults_are_registered():
    assert "independent" in TOPOLOGIES
    assert NEMESES["pause-client"].kind == "pause-client"
    assert NEMESES["clock-jump"].kind == "clock"


def test_an_unarmed_pause_point_returns_at_once_and_an_armed_one_stalls():
    pauses = ClientPauses()

    async def main():
        t = time.monotonic()
        assert await pauses.pause_point(3, 0.2) == 0.0
        assert time.monotonic() - t < 0.05
        pauses.arm(0.1)
        stalled = await pauses.pause_point(3, 0.2)          # hint + extra
        assert 0.29 < stalled < 0.6
        assert await pauses.pause_point(4, 0.2) == 0.0      # one arm, one stall

    asyncio.run(main())
    assert [e["process"] for e in pauses.taken] == [3]
    assert pauses.taken[0]["planned_s"] == 0.3 and pauses.taken[0]["end"] is not None


def test_release_ends_a_stall_early():
    pauses = ClientPauses()
    pauses.arm(30.0)
    threading.Timer(0.2, pauses.release).start()
    t = time.monotonic()
    asyncio.run(pauses.pause_point(1, 0.0))
    assert time.monotonic() - t < 2.0


def test_pause_client_fault_waits_for_a_taker_and_outlasts_the_lease(tmp_path):
    history = HistoryWriter(tmp_path / "history.jsonl")
    ctx = NemesisContext(None, history, random.Random(1))
    fault = NEMESES["pause-client"](ctx, "pause-client")

    def client():
        async def loop():
            while not ctx.pauses.taken:
                await ctx.pauses.pause_point(7, 0.3)        # 0.3 s of lease left
                await asyncio.sleep(0.01)
        asyncio.run(loop())

    threading.Timer(0.3, lambda: threading.Thread(target=client).start()).start()
    started = ctx.act("start-pause-client", fault.start)
    assert started["taken"] is True and started["process"] == 7
    assert started["pause_s"] == round(0.3 + started["extra_s"], 3) and started["extra_s"] >= 1.0
    t = time.monotonic()
    ctx.act("stop-pause-client", fault.stop)                # returns once the stall is over
    entry = ctx.pauses.taken[0]
    assert entry["end"] is not None and (entry["end"] - entry["start"]) / 1e9 >= 0.3 + 1.0 - 0.05
    assert time.monotonic() - t <= started["pause_s"] + 1
    windows = fault.findings()["client_pause"]
    assert windows == [{"node": "process 7", "start": entry["start"], "end": entry["end"]}]
    history.close()
    kinds = [(o["f"], o["type"]) for o in read_history(tmp_path / "history.jsonl")]
    assert kinds == [("start-pause-client", "invoke"), ("start-pause-client", "info"),
                     ("stop-pause-client", "invoke"), ("stop-pause-client", "info")]


def test_the_harness_gives_up_on_an_unreachable_node_at_once():
    """redis-py's default is 10 retries with backoff: one look at a node cut off from the
    harness (the clock fault measuring a partitioned node) took over 10 s."""
    import redis

    from harness.topology import Node
    from harness.topology.replicated import ReplicatedTopology

    r = ReplicatedTopology("splitbrain-test").redis(Node("n1", "127.0.0.1", None), port=1, timeout=0.3)
    t = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        r.ping()
    assert time.monotonic() - t < 0.5
