"""Topologies: one class per kind behind one interface (`base.Topology`), registered here.

    topo = new_topology("sentinel", redis_conf, sentinel_conf)   # validated, not started
    topo.up(timeout); ...; topo.down()
    topo = attach(project)                                     # a running one, by name
"""

from __future__ import annotations

import secrets

from ..engine import LABEL, down_all, list_projects, project_containers
from ..errors import UsageError
from ..servers import DEFAULT_SERVER, server as server_named
from .base import Node, Route, Topology
from .cluster import ClusterTopology
from .independent import IndependentTopology
from .replicated import ReplicatedTopology
from .sentinel import SentinelTopology

TOPOLOGIES: dict[str, type[Topology]] = {
    "sentinel": SentinelTopology,
    "cluster": ClusterTopology,
    "replicated": ReplicatedTopology,
    "independent": IndependentTopology,
}


def topology_class(kind: str) -> type[Topology]:
    try:
        return TOPOLOGIES[kind]
    except KeyError:
        raise UsageError(f"unknown topology {kind!r}: choose one of {', '.join(TOPOLOGIES)}") from None


def new_topology(kind: str, redis_conf: dict[str, str] | None = None,
                 sentinel_conf: dict[str, str] | None = None, extras: tuple[str, ...] = (),
                 server: str = DEFAULT_SERVER) -> Topology:
    """A topology of `kind` with its settings checked; nothing is started yet. `extras`:
    the services a workload needs beside the nodes (`Workload.services`); `server`: what
    the nodes run (`servers.SERVERS`)."""
    cls = topology_class(kind)
    cls.validate(dict(redis_conf or {}), dict(sentinel_conf or {}))
    return cls(f"splitbrain-{kind}-{secrets.token_hex(3)}", "", dict(redis_conf or {}),
               dict(sentinel_conf or {}), extras=tuple(extras), server=server_named(server).name)


def attach(project: str) -> Topology:
    """The running topology of a Compose project (for status, down and nemeses)."""
    cs = project_containers(project)
    if not cs:
        raise UsageError(f"no splitbrain topology named {project!r} (see 'splitbrain status')")
    topo = topology_class(cs[0].labels.get(f"{LABEL}.topology", "?"))(project)
    topo.load_nodes(cs)
    return topo


__all__ = ["TOPOLOGIES", "Node", "Route", "Topology", "attach", "down_all", "list_projects",
           "new_topology", "topology_class"]
