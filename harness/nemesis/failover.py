"""Forced failovers (`--nemesis failover`): a single event per start; stop() does nothing.

What a forced failover is belongs to the topology (`Topology.failover`): `SENTINEL
FAILOVER` through a random Sentinel, `CLUSTER FAILOVER [FORCE|TAKEOVER]` on a random
replica, nothing in a replicated deployment without Sentinel (recorded as skipped).

Nothing to heal: the deployment converges by itself (heal() is a no-op, safe any time).
"""

from __future__ import annotations

from typing import Any

from ..roles import Fault


class FailoverFault(Fault):
    kind = "failover"

    def start(self) -> dict[str, Any]:
        return self.ctx.topology.failover(self.ctx.rng)

    def stop(self) -> dict[str, Any]:
        return {}

    def heal(self) -> None:
        return None
