"""`independent`: five standalone primaries, n1..n5, no replication and no Sentinel: the
independent masters Redlock asks a majority of. Workloads that use one instance reach n1;
there is no replica to read from and nothing to fail over to."""

from __future__ import annotations

from typing import Any

from .base import Node, Route, Topology
from .routes import fixed_route


class IndependentTopology(Topology):
    kind = "independent"

    def problems(self) -> list[str]:
        out = []
        for n in self.nodes:
            info = self.info(n)
            if info is None:
                out.append(f"{n.name} ({n.ip}): Redis does not answer")
            elif info.get("role") != "master":
                out.append(f"{n.name} ({n.ip}): should be a standalone primary but is {info.get('role')}")
        return out

    def primaries(self) -> list[Node]:
        # Every node is a primary of its own data, answering or not: a fault aimed at "the
        # primaries" picks among all five.
        return list(self.nodes)

    def pick_primary(self, rng: Any) -> Node:
        return rng.choice(self.nodes)

    def route(self, timeout: float) -> Route:
        return fixed_route(self.nodes[0].ip, timeout)

    def replica_route(self, timeout: float, process: int) -> Route:
        # No replicas: reads go to the one copy there is (what a replica read would find
        # if every replica were perfectly up to date).
        return fixed_route(self.nodes[0].ip, timeout)

    def failover(self, rng: Any) -> dict[str, Any]:
        return {"skipped": "independent primaries have no replicas to fail over to"}
