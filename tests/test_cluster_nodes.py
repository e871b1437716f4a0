"""`cluster.parse_cluster_nodes`: CLUSTER NODES (raw text or redis-py's dict) → the shape."""

from redis._parsers.helpers import parse_cluster_nodes as redis_py_parse

from harness.nemesis.reshard import cluster_nodes
from harness.topology.cluster import parse_cluster_nodes

A, B, C = "a" * 40, "b" * 40, "c" * 40           # primaries
RA, RB, RC = "1" * 40, "2" * 40, "3" * 40        # their replicas


def line(node_id, addr, flags, master="-", slots=""):
    """One CLUSTER NODES line: <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slots>."""
    return f"{node_id} {addr}@1{addr.split(':')[1]} {flags} {master} 0 1700000000000 1 connected {slots}".rstrip()


HEALTHY = "\n".join([
    line(A, "10.0.0.2:6379", "myself,master", slots="0-5460"),
    line(B, "10.0.0.3:6379", "master", slots="5461-10922"),
    line(C, "10.0.0.4:6379", "master", slots="10923-16383"),
    line(RA, "10.0.0.5:6379", "slave", A),
    line(RB, "10.0.0.6:6379", "slave", B),
    line(RC, "10.0.0.7:6379", "slave", C),
]) + "\n"

SHAPE = ({A: "10.0.0.2:6379", B: "10.0.0.3:6379", C: "10.0.0.4:6379"},
         {A: ["10.0.0.5:6379"], B: ["10.0.0.6:6379"], C: ["10.0.0.7:6379"]})


def test_raw_text():
    assert parse_cluster_nodes(HEALTHY) == SHAPE


def test_redis_py_dict_form():
    parsed = redis_py_parse(HEALTHY)                 # what redis-py's cluster_nodes() returns
    assert parse_cluster_nodes(parsed) == SHAPE


def test_dict_keyed_with_bus_port():
    parsed = {
        "10.0.0.2:6379@16379": {"node_id": A, "flags": "myself,master", "master_id": "-",
                                "last_ping_sent": "0", "epoch": "1", "slots": [["0", "16383"]]},
        "10.0.0.5:6379@16379": {"node_id": RA, "flags": "slave", "master_id": A,
                                "last_ping_sent": "0", "epoch": "1", "slots": []},
    }
    assert parse_cluster_nodes(parsed) == ({A: "10.0.0.2:6379"}, {A: ["10.0.0.5:6379"]})


def test_hostname_after_the_bus_port_is_dropped():
    text = f"{A} 10.0.0.2:6379@16379,n1 myself,master - 0 0 1 connected 0-16383"
    assert parse_cluster_nodes(text) == ({A: "10.0.0.2:6379"}, {})


def test_two_replicas_of_one_primary():
    text = "\n".join([line(A, "10.0.0.2:6379", "master", slots="0-16383"),
                      line(RA, "10.0.0.5:6379", "slave", A),
                      line(RB, "10.0.0.6:6379", "myself,slave", A)])
    assert parse_cluster_nodes(text) == ({A: "10.0.0.2:6379"}, {A: ["10.0.0.5:6379", "10.0.0.6:6379"]})


def test_failed_suspected_and_addressless_nodes_are_left_out():
    # A failed over to RA; B is suspected by this node; RB has no address; C's replica failed.
    text = "\n".join([
        line(A, "10.0.0.2:6379", "master,fail"),
        line(RA, "10.0.0.5:6379", "myself,master", slots="0-5460"),
        line(B, "10.0.0.3:6379", "master,fail?", slots="5461-10922"),
        f"{RB} :0@0 slave,noaddr {B} 0 1700000000000 1 disconnected",
        line(C, "10.0.0.4:6379", "master", slots="10923-16383"),
        line(RC, "10.0.0.7:6379", "slave,fail", C),
        line("4" * 40, "10.0.0.8:6379", "slave,fail?", C),
    ])
    assert parse_cluster_nodes(text) == ({RA: "10.0.0.5:6379", C: "10.0.0.4:6379"}, {})
    assert parse_cluster_nodes(redis_py_parse(text)) == ({RA: "10.0.0.5:6379", C: "10.0.0.4:6379"}, {})


def test_replica_that_may_not_fail_over_is_still_a_replica():
    # `nofailover`: a replica with cluster-replica-no-failover set; it is neither failed nor suspected.
    text = "\n".join([line(A, "10.0.0.2:6379", "myself,master", slots="0-16383"),
                      line(RA, "10.0.0.5:6379", "slave,nofailover", A)])
    assert parse_cluster_nodes(text) == ({A: "10.0.0.2:6379"}, {A: ["10.0.0.5:6379"]})


def test_empty_and_short_lines_are_ignored():
    assert parse_cluster_nodes("") == ({}, {})
    assert parse_cluster_nodes({}) == ({}, {})
    text = "\n\n" + f"{B} 10.0.0.3:6379@16379\n" + "   \n" + HEALTHY + "\n  \n"
    assert parse_cluster_nodes(text) == SHAPE


def test_slots_and_migrations_for_resharding():
    """The reshard fault's reading: slot ranges, single slots, and the migrating (->-) and
    importing (-<-) markers a half-moved slot leaves on its two sides."""
    text = "\n".join([
        line(A, "10.0.0.2:6379", "myself,master", slots="0-5460 [93->-" + B + "]"),
        line(B, "10.0.0.3:6379", "master", slots="5461-10921 10922 [93-<-" + A + "]"),
        line(RA, "10.0.0.5:6379", "slave", A),
    ])
    a, b, ra = cluster_nodes(text)
    assert a["id"] == A and a["addr"] == "10.0.0.2:6379" and "master" in a["flags"]
    assert len(a["slots"]) == 5461 and 93 in a["slots"] and a["migrating"] == {93: B} and not a["importing"]
    assert b["slots"] == set(range(5461, 10923)) and b["importing"] == {93: A} and not b["migrating"]
    assert ra["master"] == A and not ra["slots"]
