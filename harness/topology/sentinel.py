"""`sentinel`: n1 primary, n2 n3 replicas, a Sentinel beside each (quorum 2).
Clients discover the primary as applications do, through Sentinel (`master_for`)."""

from __future__ import annotations

from typing import Any

import redis

from .base import Node, Route, Topology, conf_line
from .routes import sentinel_route

MASTER_NAME = "mymaster"
SENTINEL_PORT = 26379
# Sentinel directives that belong to the monitored master ("sentinel <key> mymaster <v>").
SENTINEL_MASTER_KEYS = {
    "down-after-milliseconds", "failover-timeout", "parallel-syncs", "auth-pass", "auth-user",
    "notification-script", "client-reconfig-script", "master-reboot-down-after-period",
}


class SentinelTopology(Topology):
    kind = "sentinel"
    daemons = ("redis", "sentinel")

    @classmethod
    def validate(cls, redis_conf: dict[str, str], sentinel_conf: dict[str, str]) -> None:
        return None

    def compose_env(self) -> dict[str, str]:
        env, lines = {}, []
        for k, v in self.sentinel_conf.items():
            if k == "quorum":
                env["SB_QUORUM"] = v
            elif k in SENTINEL_MASTER_KEYS:
                lines.append(f"sentinel {k} {MASTER_NAME} {v}")
            else:
                lines.append(conf_line(k, v))
        env["SB_SENTINEL_CONF"] = "\n".join(lines)
        return env

    def sentinel(self, node: Node) -> redis.Redis:
        return self.redis(node, SENTINEL_PORT)

    def primaries(self) -> list[Node]:
        """The address most Sentinels name (empty if none answers)."""
        votes: dict[str, int] = {}
        for s in self.sentinel_nodes:
            try:
                ip, _ = self.sentinel(s).sentinel_get_master_addr_by_name(MASTER_NAME)
                votes[ip] = votes.get(ip, 0) + 1
            except (redis.RedisError, OSError, TypeError):
                continue
        if votes:
            ip = max(votes, key=votes.get)
            return [n for n in self.nodes if n.ip == ip]
        return []

    def pick_primary(self, rng: Any) -> Node:
        return (self.primaries() or self.nodes)[0]

    def route(self, timeout: float) -> Route:
        return sentinel_route([(n.ip, SENTINEL_PORT) for n in self.sentinel_nodes], MASTER_NAME, timeout)

    def replica_route(self, timeout: float, process: int) -> Route:
        return sentinel_route([(n.ip, SENTINEL_PORT) for n in self.sentinel_nodes], MASTER_NAME,
                              timeout, replica=True)

    def failover(self, rng: Any) -> dict[str, Any]:
        """`SENTINEL FAILOVER` sent to a random Sentinel (the next if it does not answer), as
        an operator would for maintenance: it promotes a replica without asking the others."""
        old = self.primaries()
        sentinels = list(self.sentinel_nodes)
        rng.shuffle(sentinels)
        errors = {}
        base = {"via": "sentinel", "old_primary": old[0].name if old else None}
        for s in sentinels:
            try:
                reply = self.call(s, "SENTINEL", "FAILOVER", MASTER_NAME, port=SENTINEL_PORT)
                return {**base, "sentinel": s.name, "reply": str(reply)}
            except Exception as e:  # noqa: BLE001 - e.g. INPROG, NOGOODSLAVE, unreachable
                errors[s.name] = str(e)[:200]
        return {**base, "errors": errors}

    def problems(self) -> list[str]:
        out, named = [], {}
        for s in self.sentinel_nodes:
            try:
                m = self.sentinel(s).sentinel_master(MASTER_NAME)
            except (redis.RedisError, OSError) as e:
                out.append(f"{s.name} ({s.ip}): Sentinel does not answer ({type(e).__name__})")
                continue
            named[s.name] = m["ip"]
            if m.get("is_sdown") or m.get("is_odown"):
                out.append(f"{s.name}: Sentinel sees the primary {m['ip']} as down")
            if m.get("num-slaves") != len(self.nodes) - 1:
                out.append(f"{s.name}: Sentinel sees {m.get('num-slaves')} replicas, not {len(self.nodes) - 1}")
            if m.get("num-other-sentinels") != len(self.sentinel_nodes) - 1:
                out.append(f"{s.name}: Sentinel sees {m.get('num-other-sentinels')} other Sentinels, "
                           f"not {len(self.sentinel_nodes) - 1}")
            if m.get("flags") not in (None, "master") and not m.get("is_master"):
                out.append(f"{s.name}: Sentinel flags {m.get('flags')}")
        ips = set(named.values())
        if len(ips) > 1:
            out.append("Sentinels disagree on the primary: " +
                       ", ".join(f"{k}→{v}" for k, v in sorted(named.items())))
        elif ips:
            out += self.replication_problems(ips.pop())
        return out
