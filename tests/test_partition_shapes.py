"""`partition.grudges_for`: who drops whom, for every shape, on a fake topology."""

import random
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.nemesis.partition import SHAPES, grudges_for

GATEWAY = "10.9.0.1"


class FakeTopo:
    gateway = GATEWAY

    def __init__(self, n, primary=0):
        self.nodes = [SimpleNamespace(name=f"n{i + 1}", ip=f"10.9.0.{i + 2}") for i in range(n)]
        self.primary = self.nodes[primary]

    def pick_primary(self, rng):
        return self.primary

    def primaries(self):
        return [self.primary]


def cut_off(shape, n, seed=0, primary=0):
    """(topology, node name → names of the nodes it drops, names that drop the gateway, desc)."""
    topo = FakeTopo(n, primary)
    grudge, desc = grudges_for(shape, topo, random.Random(seed))
    name_of = {node.ip: node.name for node in topo.nodes}
    assert set(grudge) == set(name_of.values())
    assert all(a in name_of or a == GATEWAY for drops in grudge.values() for a in drops)
    drops = {x: {name_of[a] for a in addrs if a != GATEWAY} for x, addrs in grudge.items()}
    no_gateway = {x for x, addrs in grudge.items() if GATEWAY in addrs}
    assert desc["drops"] == {x: sorted(a) for x, a in grudge.items() if a}
    return topo, drops, no_gateway, desc


def reachable(drops, x):
    return set(drops) - drops[x]


nodes_seed = dict(n=st.integers(3, 7), seed=st.integers(0, 2**32))


@given(shape=st.sampled_from(SHAPES), **nodes_seed)
def test_grudges_are_symmetric_between_nodes(shape, n, seed):
    _, drops, _, _ = cut_off(shape, n, seed)
    for x in drops:
        assert x not in drops[x]
        for y in drops[x]:
            assert x in drops[y]


@given(data=st.data(), **nodes_seed)
def test_isolate_primary_keeps_the_clients_with_the_majority(data, n, seed):
    primary = data.draw(st.integers(0, n - 1))
    topo, drops, no_gateway, desc = cut_off("isolate-primary", n, seed, primary)
    p = topo.primary.name
    rest = {node.name for node in topo.nodes} - {p}
    assert drops[p] == rest
    assert all(drops[x] == {p} for x in rest)
    assert no_gateway == {p}
    assert sorted(desc["clients_with"]) == sorted(rest)


@given(data=st.data(), **nodes_seed)
def test_isolate_primary_with_clients_leaves_the_majority_without_them(data, n, seed):
    primary = data.draw(st.integers(0, n - 1))
    topo, drops, no_gateway, desc = cut_off("isolate-primary-with-clients", n, seed, primary)
    p = topo.primary.name
    rest = {node.name for node in topo.nodes} - {p}
    assert drops[p] == rest
    assert all(drops[x] == {p} for x in rest)
    assert no_gateway == rest
    assert desc["clients_with"] == [p]


@given(**nodes_seed)
def test_isolate_node_cuts_one_node_off(n, seed):
    _, drops, no_gateway, desc = cut_off("isolate-node", n, seed)
    (target,) = [x for x in drops if len(drops[x]) == n - 1]
    assert all(drops[x] == {target} for x in drops if x != target)
    assert no_gateway == {target}
    assert desc["groups"][0] == [target]


@given(data=st.data(), **nodes_seed)
def test_isolate_replica_cuts_a_replica_off_but_not_from_the_clients(data, n, seed):
    primary = data.draw(st.integers(0, n - 1))
    topo, drops, no_gateway, desc = cut_off("isolate-replica", n, seed, primary)
    (target,) = [x for x in drops if len(drops[x]) == n - 1]
    assert target != topo.primary.name
    assert all(drops[x] == {target} for x in drops if x != target)
    assert no_gateway == set()
    assert desc["groups"][0] == [target] and sorted(desc["clients_with"]) == sorted(drops)


@given(**nodes_seed)
def test_random_halves_drop_exactly_each_other(n, seed):
    _, drops, no_gateway, desc = cut_off("random-halves", n, seed)
    a, b = map(set, desc["groups"])
    assert a | b == set(drops) and not a & b
    assert sorted([len(a), len(b)]) == [n // 2, n - n // 2]
    assert all(drops[x] == b for x in a) and all(drops[x] == a for x in b)
    assert no_gateway == set()


def assert_bridge(drops, no_gateway, desc):
    (bridge,) = [x for x in drops if not drops[x]]
    a, b = map(set, desc["groups"])
    assert desc["bridge"] == bridge and desc["shape"] == "bridge"
    assert a and b and not a & b and a | b | {bridge} == set(drops)
    assert all(drops[x] == b for x in a) and all(drops[x] == a for x in b)
    assert no_gateway == set()


@given(**nodes_seed)
def test_bridge_has_one_node_that_drops_nobody(n, seed):
    _, drops, no_gateway, desc = cut_off("bridge", n, seed)
    assert_bridge(drops, no_gateway, desc)


@pytest.mark.parametrize("seed", range(5))
def test_majorities_ring_on_three_nodes_is_a_bridge(seed):
    _, drops, no_gateway, desc = cut_off("majorities-ring", 3, seed)
    assert_bridge(drops, no_gateway, desc)
    assert desc["requested"] == "majorities-ring"


@pytest.mark.parametrize("seed", range(5))
def test_majorities_ring_on_five_nodes_sees_itself_and_its_two_neighbours(seed):
    _, drops, no_gateway, desc = cut_off("majorities-ring", 5, seed)
    ring = desc["ring"]
    assert sorted(ring) == sorted(drops)
    for i, x in enumerate(ring):
        assert reachable(drops, x) == {ring[i - 1], x, ring[(i + 1) % 5]}
    assert no_gateway == set()


@given(n=st.integers(4, 7), seed=st.integers(0, 2**32))
def test_majorities_ring_every_node_sees_its_own_majority(n, seed):
    _, drops, _, _ = cut_off("majorities-ring", n, seed)
    seen = [frozenset(reachable(drops, x)) for x in drops]
    assert all(len(s) > n / 2 for s in seen)          # a majority ...
    assert all(len(s) < n for s in seen)              # ... but never everyone
    assert len(set(seen)) == n                        # no two nodes see the same one


def test_same_rng_same_partition():
    assert cut_off("random-halves", 6, seed=42)[1:] == cut_off("random-halves", 6, seed=42)[1:]


def test_unknown_shape():
    with pytest.raises(ValueError, match="unknown partition shape"):
        grudges_for("triangle", FakeTopo(3), random.Random(0))
