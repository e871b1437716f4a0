"""Real topologies in Docker: up, health from the host, down leaves nothing; bad input."""

import re
import signal
import subprocess
import time

import pytest
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from harness.topology import attach, list_projects

from .conftest import SPLITBRAIN, project_objects, run_cli, running_topology

pytestmark = pytest.mark.docker


@pytest.fixture
def topology(request):
    with running_topology(request.param) as topo:
        yield topo


@pytest.mark.parametrize("topology", ["sentinel"], indirect=True)
def test_sentinel_discovery_and_health(topology):
    assert topology.problems() == []
    sentinel = Sentinel([(n.ip, 26379) for n in topology.nodes], socket_timeout=1)
    ip, port = sentinel.discover_master("mymaster")
    assert ip == topology.nodes[0].ip and port == 6379
    assert len(sentinel.discover_slaves("mymaster")) == 2
    primary = sentinel.master_for("mymaster", socket_timeout=1)
    primary.set("k", "v")
    assert primary.wait(2, 1000) == 2


@pytest.mark.parametrize("topology", ["cluster"], indirect=True)
def test_cluster_routes_writes(topology):
    rc = RedisCluster(startup_nodes=[ClusterNode(n.ip, 6379) for n in topology.nodes], socket_timeout=1)
    for i in range(20):
        rc.set(f"key{i}", i)  # keys over several slots, routed to three primaries
    assert int(rc.get("key7")) == 7
    masters, replicas = topology.shape()
    assert len(masters) == 3 and all(len(replicas[m]) == 1 for m in masters)
    rc.close()


@pytest.mark.parametrize("topology", ["replicated"], indirect=True)
def test_replicated_links_up(topology):
    for n in topology.nodes[1:]:
        info = topology.info(n)
        assert info["role"] == "slave" and info["master_link_status"] == "up"


def test_up_status_down_cli():
    res = run_cli("up", "replicated", "--redis-conf", "appendonly=yes")
    assert res.returncode == 0, res.stderr
    project = re.search(r"(splitbrain-replicated-\w+)", res.stdout).group(1)
    try:
        assert "health: ok" in res.stdout
        st = run_cli("status", project)
        assert st.returncode == 0 and "primary" in st.stdout and "replica" in st.stdout
        topo = attach(project)
        assert topo.redis(topo.nodes[0]).config_get("appendonly")["appendonly"] == "yes"
    finally:
        res = run_cli("down", project)
    assert res.returncode == 0
    assert project_objects(project) == []


def test_down_all_cleans_up_after_a_killed_up():
    proc = subprocess.Popen([SPLITBRAIN, "up", "sentinel"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list_projects():
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # the harness dies mid-`up`, with nothing cleaned
    proc.wait()
    assert list_projects(), "containers should exist after a killed up"
    res = run_cli("down", "--all")
    assert res.returncode == 0, res.stderr
    assert list_projects() == {}
    left = subprocess.run(["docker", "network", "ls", "-q", "--filter", "label=io.splitbrain"],
                          capture_output=True, text=True).stdout.split()
    assert left == []


def test_directive_rejected_by_redis_reports_redis_words():
    res = run_cli("up", "replicated", "--redis-conf", "no-such-directive=1", "--timeout", "30")
    assert res.returncode == 2, res.stderr
    assert "Bad directive or wrong number of arguments" in res.stderr
    assert "no-such-directive" in res.stderr
    assert "Traceback" not in res.stderr
    project = re.search(r"starting (splitbrain-replicated-\w+)", res.stderr).group(1)
    assert project_objects(project) == []
