"""Forced failovers (`--nemesis failover`): a single event per start; stop() does nothing.

- Sentinel: `SENTINEL FAILOVER mymaster` sent to a random Sentinel (the next one if it
  does not answer), as an operator would for maintenance. Sentinel promotes a replica
  without asking the others for agreement.
- Cluster: `CLUSTER FAILOVER [FORCE|TAKEOVER]` on a random replica; the mode is a random
  one of plain (coordinated with the primary: no acknowledged write should be lost),
  FORCE (without the primary's agreement) and TAKEOVER (without the cluster's agreement
  either, bumping the epoch alone); recorded in the history.
- replicated: there is nothing that could fail over; the event is recorded as skipped.

Nothing to heal: the deployment converges by itself (heal() is a no-op, safe any time).
"""

from __future__ import annotations

from typing import Any

from ..topology import MASTER_NAME
from .process import cluster_shape, redis_call

CLUSTER_MODES = ("", "FORCE", "TAKEOVER")


class FailoverFault:
    kind = "failover"

    def __init__(self, ctx, name: str):
        self.ctx = ctx
        self.last: dict[str, Any] = {}

    def describe(self) -> str:
        return "failover"

    def start(self) -> dict[str, Any]:
        topo, rng = self.ctx.topology, self.ctx.rng
        if topo.kind == "sentinel":
            old = topo.primary()
            sentinels = list(topo.sentinel_nodes)
            rng.shuffle(sentinels)
            errors = {}
            for s in sentinels:
                try:
                    reply = redis_call(topo, s, "SENTINEL", "FAILOVER", MASTER_NAME, port=26379)
                    self.last = {"via": "sentinel", "sentinel": s.name, "old_primary": old.name if old else None,
                                 "reply": str(reply)}
                    break
                except Exception as e:  # noqa: BLE001 - e.g. INPROG, NOGOODSLAVE, unreachable
                    errors[s.name] = str(e)[:200]
            else:
                self.last = {"via": "sentinel", "old_primary": old.name if old else None, "errors": errors}
            return self.last
        if topo.kind == "cluster":
            _, replicas_of = cluster_shape(topo)
            replicas = sorted(a for addrs in replicas_of.values() for a in addrs)
            if not replicas:
                self.last = {"via": "cluster", "skipped": "no replica in the cluster"}
                return self.last
            node = topo.node(rng.choice(replicas))
            mode = rng.choice(CLUSTER_MODES)
            args = ["CLUSTER", "FAILOVER"] + ([mode] if mode else [])
            self.last = {"via": "cluster", "replica": node.name, "mode": mode or "plain"}
            try:
                self.last["reply"] = str(redis_call(topo, node, *args))
            except Exception as e:  # noqa: BLE001 - recorded; the schedule goes on
                self.last["error"] = str(e)[:200]
            return self.last
        self.last = {"skipped": f"no failover mechanism in the {topo.kind} topology"}
        return self.last

    def stop(self) -> dict[str, Any]:
        return {}

    def heal(self) -> None:
        return None
