"""Cluster membership under load (`add-primary`, `remove-primary`), against a real Cluster
(`-m docker`): a primary with its replica joins (or leaves) while the clients write, slots
move to it (or away), and at the fault's stop everything goes back. Each run is kept up
to look at the Cluster afterwards: the same three primaries owning the same slots as
`redis-cli --cluster create` gave them, the spares out of every node's table, no write
lost."""

from __future__ import annotations

import pytest

from harness.history import NEMESIS, read_history
from harness.nemesis.reshard import cluster_nodes
from harness.rundir import RunDir

from .conftest import kept_run

pytestmark = pytest.mark.docker

#: Where `redis-cli --cluster create` puts the slots of a 3+3 cluster made of n1..n6.
CREATED = {"n1": set(range(0, 5461)), "n2": set(range(5461, 10923)), "n3": set(range(10923, 16384))}


def _ops(history, f):
    return [o["value"] for o in history if o["process"] == NEMESIS and o["f"] == f and o["type"] == "info"]


def _assert_back_as_created(topo):
    assert [n.name for n in topo.outside] == ["n7", "n8"]
    assert topo.problems() == []
    for node in topo.nodes:
        table = cluster_nodes(topo.call(node, "CLUSTER", "NODES"))
        assert sorted(n["addr"] for n in table) == sorted(n.addr for n in topo.nodes), node.name
        owned = {topo.node(n["addr"]).name: n["slots"] for n in table if n["slots"]}
        assert owned == CREATED, (node.name, {k: len(v) for k, v in owned.items()})
        mine = next(n for n in table if "myself" in n["flags"])
        assert not mine["migrating"] and not mine["importing"], node.name


@pytest.mark.parametrize("fault,seed", [("add-primary", 21), ("remove-primary", 22)])
def test_membership_change_under_load_ends_where_it_began(tmp_path, fault, seed):
    from harness.spec import TestSpec
    spec = TestSpec(topology="cluster", workload="set", nemesis=[fault], nemesis_interval=8,
                    time_limit=16, concurrency=6, seed=seed, results_dir=str(tmp_path))
    with kept_run(spec) as (outcome, topo):
        history = read_history(RunDir(outcome.run_dir).history_path)
        starts, stops = _ops(history, "start-membership"), _ops(history, "stop-membership")
        assert starts and len(stops) == len(starts), (starts, stops)
        change = "add" if fault == "add-primary" else "remove"
        assert all(s["change"] == change and s["slots"] >= (1000 if change == "add" else 5000) for s in starts)
        # Slots moved while the clients ran, and each one went back at the stop (the
        # Cluster's final table is checked below).
        assert all(s["error"] is None and s["moved"] >= 1 and s["returned"] >= s["moved"] for s in stops), stops
        # The primary and its replica were out of the cluster at some point: the new ones
        # after giving the slots back, the removed ones once they had given all theirs.
        assert all(isinstance(s.get("left"), int) and s["slots_back"] is True for s in stops), stops
        if change == "add":
            assert all(s["primary"] == "n7" and s["replica"] == "n8" for s in starts)
            assert all(s["keys"] >= 1 for s in stops), stops      # the keyed slots go first
        redirects = outcome.results["stats"].get("redirects") or {}
        assert redirects.get("moved", 0) >= 1, redirects
        set_ = outcome.results["checkers"]["set"]
        assert set_["valid"] is True and set_["details"]["lost_count"] == 0, set_["details"]
        assert outcome.results["healed"] is True
        _assert_back_as_created(topo)
