"""Cluster resharding under load (`--nemesis reshard`), against a real Cluster (`-m docker`).

One short run moves slots holding the workload's keys while clients write, and shows the
clients following ASK and MOVED without losing an acknowledged write. Then the undo: a
migration left half done, in the two ways a failure leaves it, is finished by `heal`.
"""

from __future__ import annotations

import random

import pytest
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from harness.history import NEMESIS, read_history
from harness.nemesis import NemesisContext
from harness.nemesis.reshard import ReshardFault, cluster_nodes
from harness.rundir import RunDir
from .conftest import kept_run, running_topology

pytestmark = pytest.mark.docker


def test_reshard_under_load_follows_ask_and_moved_and_loses_nothing(tmp_path):
    from harness.runner import Run
    from harness.spec import TestSpec
    spec = TestSpec(topology="cluster", workload="set", nemesis=["reshard"], nemesis_interval=4,
                    time_limit=16, concurrency=6, seed=5, results_dir=str(tmp_path))
    outcome = Run(spec).execute()
    results = outcome.results
    history = read_history(RunDir(outcome.run_dir).history_path)
    starts = [o["value"] for o in history if o["process"] == NEMESIS and o["f"] == "start-reshard"
              and o["type"] == "info"]
    stops = [o["value"] for o in history if o["process"] == NEMESIS and o["f"] == "stop-reshard"
             and o["type"] == "info"]
    assert starts and all(s["keyed_slots"] >= 1 and s["slots"] > s["keyed_slots"] for s in starts), starts
    assert stops and all(s["error"] is None and s["keys"] >= 1 for s in stops), stops
    # The schedule's stop ends a move after the slot in hand: some or all slots moved.
    assert all(1 <= stop["moved"] <= start["slots"] for start, stop in zip(starts, stops))
    # The clients met the slots on the move: sent on by ASK while a key had left and its
    # slot had not been handed over yet, and by MOVED after.
    redirects = results["stats"].get("redirects") or {}
    assert redirects.get("ask", 0) >= 1 and redirects.get("moved", 0) >= 1, redirects
    redirected = [o for o in history if o.get("redirects")]
    assert sum(len(o["redirects"]) for o in redirected) == sum(redirects.values())
    assert all(o["type"] != "invoke" for o in redirected)
    # Moving slots with MIGRATE loses nothing: every acknowledged add is in the final read.
    assert results["valid"] is True, results["checkers"]["set"]["summary"]
    assert results["healed"] is True and results.get("converged", True) is True
    assert not [o for o in history if o["process"] == NEMESIS and o["f"] == "reshard-fixed"]
    assert not any("fixed" in s for s in stops)
    assert results["windows"]["reshard"] and results["windows"]["reshard"][0]["keys"] >= 1


@pytest.fixture
def cluster():
    with running_topology("cluster") as topo:
        yield topo


class _NoHistory:
    def now(self) -> int:
        return 0

    def append(self, op):
        return op


def _owner_and_keys(topo, slot):
    """(the slot's owner id on every primary, {primary addr: keys of the slot it holds})."""
    layout = cluster_nodes(topo.call(topo.nodes[0], "CLUSTER", "NODES"))
    masters = [n for n in layout if "master" in n["flags"]]
    owners = set()
    for m in masters:
        view = cluster_nodes(topo.call(topo.node(m["addr"]), "CLUSTER", "NODES"))
        owners |= {n["id"] for n in view if slot in n["slots"]}
        assert not any(n["migrating"] or n["importing"] for n in view if n["id"] == m["id"])
    keys = {m["addr"]: topo.call(topo.node(m["addr"]), "CLUSTER", "GETKEYSINSLOT", slot, 100) for m in masters}
    return owners, {a: k for a, k in keys.items() if k}


def test_heal_finishes_half_moved_slots(cluster):
    """A move cut short keeps the slot MIGRATING on its owner: heal resumes it to the
    target. A move whose owner lost that state (as a promoted replica does) has keys on a
    primary that does not own the slot: heal carries the move on to that primary, and a
    key the owner made anew meanwhile is a second version, dropped and recorded."""
    rc = RedisCluster(startup_nodes=[ClusterNode(n.ip, 6379) for n in cluster.nodes], socket_timeout=2)
    fault = ReshardFault(NemesisContext(cluster, _NoHistory(), random.Random(3)), "reshard")
    layout = cluster_nodes(cluster.call(cluster.nodes[0], "CLUSTER", "NODES"))
    src, dst = sorted((n for n in layout if "master" in n["flags"]), key=lambda n: n["addr"])[:2]
    keys = [k for k in (f"k{i}" for i in range(5000)) if key_slot(k.encode()) in src["slots"]]
    by_slot: dict[int, list[str]] = {}
    for k in keys:
        by_slot.setdefault(key_slot(k.encode()), []).append(k)
    (resume_slot, resume_keys), (back_slot, back_keys) = [
        (s, ks) for s, ks in sorted(by_slot.items()) if len(ks) >= 2][:2]
    for k in resume_keys + back_keys:
        rc.sadd(k, "before")

    # 1. Cut short after moving one of the slot's keys: the owner still says MIGRATING.
    fault._begin(resume_slot, src, dst)
    host, _, port = dst["addr"].rpartition(":")
    cluster.call(cluster.node(src["addr"]), "MIGRATE", host, port, resume_keys[0], 0, 5000)
    # 2. All keys moved, then the owner forgets it was migrating (a failover's new primary
    # starts without that state): the keys sit on a primary that does not own the slot.
    fault._begin(back_slot, src, dst)
    fault._move_keys(back_slot, src, dst)
    cluster.call(cluster.node(src["addr"]), "CLUSTER", "SETSLOT", back_slot, "STABLE")
    # Without its MIGRATING state the owner serves the missing key itself: a client's
    # write makes a second version of it there.
    cluster.call(cluster.node(src["addr"]), "SADD", back_keys[0], "after")

    assert sorted(fault.fix_slots()) == sorted([resume_slot, back_slot])
    owners, holders = _owner_and_keys(cluster, resume_slot)
    assert owners == {dst["id"]} and set(holders) == {dst["addr"]}
    assert sorted(holders[dst["addr"]]) == sorted(resume_keys)
    owners, holders = _owner_and_keys(cluster, back_slot)
    assert owners == {dst["id"]} and set(holders) == {dst["addr"]}
    assert sorted(holders[dst["addr"]]) == sorted(back_keys)
    assert fault.diverged == [{"slot": back_slot, "key": back_keys[0], "dropped_on": src["addr"],
                               "kept_on": dst["addr"], "dropped_bytes": fault.diverged[0]["dropped_bytes"]}]
    assert fault.fix_slots() == []          # nothing left to fix: heal is idempotent
    rc.nodes_manager.initialize()
    for k in resume_keys + back_keys:
        assert rc.smembers(k) == {b"before"}, k
    rc.close()


def test_a_primary_killed_mid_move_is_failed_over_and_heal_leaves_every_slot_stable(tmp_path):
    """`reshard-kill`: the source or the target dies with a slot's keys already moved and
    the slot not handed over. The run must end healed, with no slot left migrating or
    importing; what the clients lost is the checker's to say (not asserted here)."""
    from harness.spec import TestSpec
    spec = TestSpec(topology="cluster", workload="set", nemesis=["reshard-kill"], nemesis_interval=6,
                    time_limit=14, concurrency=6, seed=11, results_dir=str(tmp_path))
    with kept_run(spec) as (outcome, topo):
        history = read_history(RunDir(outcome.run_dir).history_path)
        stops = [o["value"] for o in history if o["process"] == NEMESIS and o["f"] == "stop-reshard"
                 and o["type"] == "info"]
        assert stops and all(s.get("restarted") and all(s["restarted"].values()) for s in stops), stops
        # The kill left a slot half-moved (MIGRATING to a dead target, or IMPORTING on the
        # target while the source's replica took over without that state): each stop
        # finished it, as an operator's `redis-cli --cluster fix` would.
        assert all(s.get("fixed") and "fix_error" not in s for s in stops), stops
        starts = [o["value"] for o in history if o["process"] == NEMESIS and o["f"] == "start-reshard"
                  and o["type"] == "info"]
        assert starts and all(s["kill"] in ("source", "target") for s in starts), starts
        assert outcome.results["healed"] is True and outcome.results.get("converged", True) is True
        assert topo.problems() == []
        for node in topo.nodes:
            for n in cluster_nodes(topo.call(node, "CLUSTER", "NODES")):
                if "myself" in n["flags"]:
                    assert not n["migrating"] and not n["importing"], (node.name, n)
