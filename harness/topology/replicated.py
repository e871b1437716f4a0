"""`replicated`: n1 primary, n2 and n3 its replicas, no Sentinel (for WAIT and
min-replicas-to-write without failover). Clients use n1's fixed address."""

from __future__ import annotations

from typing import Any

from .base import Node, Route, Topology
from .routes import fixed_route


class ReplicatedTopology(Topology):
    kind = "replicated"

    def problems(self) -> list[str]:
        return self.replication_problems(f"{self.subnet}.11")

    def primaries(self) -> list[Node]:
        for n in self.nodes:
            info = self.info(n)
            if info and info.get("role") == "master":
                return [n]
        return []

    def pick_primary(self, rng: Any) -> Node:
        return (self.primaries() or self.nodes)[0]

    def route(self, timeout: float) -> Route:
        return fixed_route(self.nodes[0].ip, timeout)

    def replica_route(self, timeout: float, process: int) -> Route:
        replicas = self.nodes[1:]
        return fixed_route(replicas[process % len(replicas)].ip, timeout)

    def failover(self, rng: Any) -> dict[str, Any]:
        return {"skipped": "no failover mechanism in a replicated topology without Sentinel"}
