"""Sentinel scale-up, safe and unsafe (`--nemesis sentinel-scale-up`, `sentinel-scale-up-safe`).

The deployment's three Sentinels grow to five, the way the Redis documentation asks: one
new node (a Redis replica with a Sentinel beside it, from the topology's spare
containers) at a time, each waited for until every Sentinel counts it. Then two more join:

- `sentinel-scale-up` (the sequence the seed documents warn about): both at once, while a
  partition already splits the nodes into {n1 n5 n6 n7} and {n2 n3 n4}. The two new
  Sentinels reach only the first side, whose Sentinels now count seven (a majority is
  four, and they are four); the other side still counts five (a majority is three, and
  they are three), and it cannot reach the primary n1.
- `sentinel-scale-up-safe`: one at a time before the same partition, so every Sentinel
  counts seven and the side of three is a minority.

While the fault is in force it polls every Sentinel for the primary it names and every
Redis for its role: the report shows which primary each Sentinel believed in over time
(`sentinel_primary`) and when two Redis were primary at once (`two_primaries`). At stop
the partition heals, and the four added nodes leave again the documented way: their
Sentinel and Redis stopped, then `SENTINEL RESET` on each remaining Sentinel in turn,
waiting until it counts the others again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from ..roles import Fault
from ..topology.base import Node
from .partition import apply_grudge, heal_network

SENTINEL_PORT = 26379
MASTER = "mymaster"
POLL_S = 0.25
AGREE_WAIT_S = 20.0
SIDES = (("n1", "n5", "n6", "n7"), ("n2", "n3", "n4"))
SPARES = ("n4", "n5", "n6", "n7")


class SentinelScaleUpFault(Fault):
    kind = "sentinel-membership"
    topologies = ("sentinel",)

    def __init__(self, ctx: Any, name: str):
        super().__init__(ctx, name)
        self.safe = name.endswith("-safe")
        self.original: list[str] = []       # the deployment's nodes before the fault
        self.seen: list[dict[str, Any]] = []          # sentinel_primary windows
        self.both: list[dict[str, Any]] = []          # two_primaries windows
        self._poll: threading.Thread | None = None
        self._halt = threading.Event()
        self._clients: dict[tuple[str, int], redis.Redis] = {}

    # ------------------------------------------------------------------ the fault

    def start(self) -> dict[str, Any]:
        topo = self.ctx.topology
        if self.original:
            return {"skipped": "the last scale-up is not undone yet"}
        self.original = [n.name for n in topo.nodes]
        topo.compose("--profile", "spares", "up", "-d", "--no-build", *SPARES, timeout=120)
        topo.load_nodes()
        spares = {n.name: n for n in topo.outside}
        if any(s not in spares for s in SPARES):
            return {"skipped": f"spare containers missing: {sorted(set(SPARES) - set(spares))}"}
        for n in spares.values():                    # Redis stopped by the last undo: start it again
            if not self._answers(n):
                topo.start_daemon(n, "redis")
        self._until(lambda: all(self._answers(n) for n in spares.values()), "the spare Redis answer")
        self._watch()
        primary = self._primary_ip()
        for name in SPARES[:2]:                      # five Sentinels, each agreed on in turn
            self._join([spares[name]], primary)
        if self.safe:
            for name in SPARES[2:]:
                self._join([spares[name]], primary)
            self._cut()
        else:
            self._cut(also=[spares[n] for n in SPARES[2:]])
            self._join([spares[n] for n in SPARES[2:]], primary, agree=False)
            # The joiners' side learns of them by their hellos (every 2 s); the other cannot.
            # The joiners themselves only ever hear their own side.
            want = {n: len(self.ctx.topology.nodes) - 1 for n in SIDES[0]} | {n: len(SIDES[0]) - 1 for n in SPARES[2:]}
            self._until(lambda: all(self._counts().get(n) == c for n, c in want.items()),
                        "the Sentinels of the joiners' side count them", soft=True)
        return {"sides": [list(s) for s in SIDES], "primary": primary,
                "counted": self._counts(), "sequence": "one by one" if self.safe else "two at once, during the partition"}

    def stop(self) -> dict[str, Any]:
        return self._undo()

    def heal(self) -> None:
        if self.original:
            self._undo()

    def describe(self) -> str:
        return f"{self.name}: 3 → 7 Sentinels, sides {' | '.join(' '.join(s) for s in SIDES)}"

    def findings(self) -> dict[str, Any]:
        return {"sentinel_primary": self.seen, "two_primaries": self.both}

    # ------------------------------------------------------------------ steps

    def _join(self, nodes: list[Node], primary_ip: str, agree: bool = True) -> None:
        """Each node replicates the primary and starts a Sentinel monitoring it; with
        `agree`, until every Sentinel reachable counts it (the documented way)."""
        topo = self.ctx.topology
        topo.set_outside({n.name for n in topo.outside} - {n.name for n in nodes})
        for n in nodes:
            # Never promoted: they leave again at stop, and must not take the primary along.
            self._redis(n).execute_command("CONFIG", "SET", "replica-priority", "0")
            self._redis(n).execute_command("REPLICAOF", primary_ip, 6379)
            topo.exec(n, ["sh", "-c", f"cat > /data/sentinel.conf <<'EOF'\n{self._conf(n, primary_ip)}\nEOF"],
                      check=True)
            topo.exec(n, ["sb-node", "start", "sentinel"], check=True)
        if agree:
            want = len(topo.nodes) - 1
            self._until(lambda: all(c == want for c in self._counts().values()),
                        f"every Sentinel counts {want} others")

    def _conf(self, node: Node, primary_ip: str) -> str:
        env = dict(e.split("=", 1) for e in node.container.attrs["Config"]["Env"] if "=" in e)
        return "\n".join([
            "port 26379", "bind 0.0.0.0", "protected-mode no", "dir /data", "daemonize yes",
            "pidfile /run/splitbrain/sentinel.pid", "logfile /data/sentinel.log",
            f"sentinel monitor {MASTER} {primary_ip} 6379 {env.get('SB_QUORUM', '2')}",
            f"sentinel down-after-milliseconds {MASTER} {env.get('SB_DOWN_AFTER_MS', '2000')}",
            f"sentinel failover-timeout {MASTER} {env.get('SB_FAILOVER_TIMEOUT_MS', '6000')}",
            *[line for line in env.get("SB_SENTINEL_CONF", "").splitlines() if line.strip()]])

    def _cut(self, also: list[Node] = ()) -> None:
        topo = self.ctx.topology
        ip = {n.name: n.ip for n in [*topo.nodes, *also]}
        grudge = {}
        for side, other in (SIDES, SIDES[::-1]):
            for name in side:
                grudge[name] = {ip[o] for o in other if o in ip}
        if also:                                     # the joiners get their rules first
            topo.set_outside({n.name for n in topo.outside} - {n.name for n in also})
        apply_grudge(topo, grudge)

    def _undo(self) -> dict[str, Any]:
        """Heal the partition and wait until the Sentinels agree on one primary and every
        other node of the deployment replicates it; then take the four nodes out again the
        documented way: their Sentinel and Redis stopped, `SENTINEL RESET` on each remaining
        Sentinel in turn, waiting until it counts the others again."""
        topo = self.ctx.topology
        heal_network(topo)
        # A Sentinel only demotes a stale primary it knows as a replica, and a RESET makes it
        # forget: so the old primary must follow the new one before any RESET, or it stays
        # an orphaned primary nobody watches.
        settled = self._until(self._settled, "the Sentinels name one primary and the others replicate it", soft=True)
        named = self._primary_ip()
        forced = [] if settled else self._follow(named)
        done = {"primary_after": self._name_of(named), "forced_replicaof": forced}
        self._halt.set()
        if self._poll is not None:
            self._poll.join(5)
        leaving = [n for n in topo.nodes if n.name not in self.original]
        for n in leaving:
            # Stopped, not detached: a Redis told REPLICAOF NO ONE is a primary the Sentinels
            # still list as a replica, and they would make it replicate again before the RESET.
            # KILL, which sb-node waits out: a Sentinel shutting down on TERM can still send
            # one hello, and a Sentinel reset just before it counts the dead one for good.
            topo.signal(n, "sentinel", "KILL")
            topo.signal(n, "redis", "KILL")
        topo.set_outside({n.name for n in topo.outside} | {n.name for n in leaving})
        want = len(topo.nodes) - 1
        for s in topo.nodes:
            self._sentinel(s).execute_command("SENTINEL", "RESET", MASTER)
            self._until(lambda: self._counts().get(s.name) == want, f"{s.name} counts the other Sentinels again")
        # Counted again over a few hello periods: a count that grew back means a leaver
        # was heard after all, and the RESET is repeated there.
        time.sleep(4.0)
        for s in topo.nodes:
            if self._counts().get(s.name) != want:
                self._sentinel(s).execute_command("SENTINEL", "RESET", MASTER)
                self._until(lambda: self._counts().get(s.name) == want, f"{s.name} counts the other Sentinels again")
        self._until(lambda: not topo.problems(), "the deployment is healthy", soft=True)
        self.original = []
        for c in self._clients.values():
            c.close()
        self._clients.clear()
        return {**done, "counted_after": self._counts(), "two_primaries": len(self.both)}

    def _settled(self) -> bool:
        named = set(self._named().values())
        if len(named) != 1:
            return False
        primary = named.pop()
        topo = self.ctx.topology
        return all(self._master_of(n) == primary for n in topo.nodes if n.ip != primary)

    def _follow(self, primary_ip: str) -> list[str]:
        """What an operator does when the Sentinels leave a node behind: REPLICAOF the primary
        they name. Returns the nodes told to (recorded: the deployment did not heal itself)."""
        told = []
        for n in self.ctx.topology.nodes:
            if n.ip != primary_ip and self._master_of(n) != primary_ip:
                try:
                    self._redis(n).execute_command("REPLICAOF", primary_ip, 6379)
                    told.append(n.name)
                except (redis.RedisError, OSError):
                    continue
        self._until(self._settled, "the nodes replicate the primary the Sentinels name", soft=True)
        return told

    def _master_of(self, node: Node) -> str | None:
        try:
            info = self._redis(node).info("replication")
        except (redis.RedisError, OSError):
            return None
        return info.get("master_host") if info.get("role") == "slave" else None

    def _answers(self, node: Node) -> bool:
        try:
            return bool(self._redis(node).ping())
        except (redis.RedisError, OSError):
            return False

    # ------------------------------------------------------------------ watching

    def _watch(self) -> None:
        self._halt.clear()
        self._poll = threading.Thread(target=self._watch_loop, name="sentinel-watch", daemon=True)
        self._poll.start()

    def _watch_loop(self) -> None:
        """Poll each Sentinel's primary and each Redis role; close windows on change."""
        open_seen: dict[str, dict[str, Any]] = {}
        open_both: dict[str, Any] | None = None
        topo = self.ctx.topology
        while not self._halt.is_set():
            now = self.ctx.history.now()
            for s, ip in self._named().items():
                w = open_seen.get(s)
                ip = self._name_of(ip)
                if w is None or w["primary"] != ip:
                    if w is not None:
                        w["end"] = now
                    w = open_seen[s] = {"node": f"Sentinel {s}", "primary": ip, "start": now, "end": now}
                    self.seen.append(w)
                w["end"] = now
            masters = sorted(n.name for n in topo.nodes if self._role(n) == "master")
            if len(masters) > 1:
                if open_both is None or open_both["node"] != "+".join(masters):
                    open_both = {"node": "+".join(masters), "start": now, "end": now}
                    self.both.append(open_both)
                open_both["end"] = now
            else:
                open_both = None
            time.sleep(POLL_S)

    def _name_of(self, ip: str) -> str:
        topo = self.ctx.topology
        return next((n.name for n in [*topo.nodes, *topo.outside] if n.ip == ip), ip)

    def _named(self) -> dict[str, str]:
        out = {}
        for s in self.ctx.topology.nodes:
            try:
                ip, _ = self._sentinel(s).sentinel_get_master_addr_by_name(MASTER)
                out[s.name] = ip
            except (redis.RedisError, OSError, TypeError):
                continue
        return out

    def _counts(self) -> dict[str, int]:
        """Sentinel → how many other Sentinels it counts (what its majority is made of)."""
        out = {}
        for s in self.ctx.topology.nodes:
            try:
                out[s.name] = int(self._sentinel(s).sentinel_master(MASTER)["num-other-sentinels"])
            except (redis.RedisError, OSError, KeyError, TypeError):
                continue
        return out

    def _primary_ip(self) -> str:
        named = self._named()
        return max(set(named.values()), key=list(named.values()).count)

    def _role(self, node: Node) -> str | None:
        try:
            return self._redis(node).info("replication").get("role")
        except (redis.RedisError, OSError):
            return None

    def _redis(self, node: Node, port: int = 6379) -> redis.Redis:
        """One client per node and port for the fault's life (it polls four times a second)."""
        key = (node.ip, port)
        if key not in self._clients:
            self._clients[key] = self.ctx.topology.redis(node, port=port, timeout=1.0)
        return self._clients[key]

    def _sentinel(self, node: Node) -> redis.Redis:
        return self._redis(node, SENTINEL_PORT)

    @staticmethod
    def _until(ok: Any, what: str, soft: bool = False) -> bool:
        """Wait for `ok`; False (soft) or RuntimeError when it is not true within AGREE_WAIT_S."""
        deadline = time.monotonic() + AGREE_WAIT_S
        while not ok():
            if time.monotonic() > deadline:
                if soft:
                    return False
                raise RuntimeError(f"not within {AGREE_WAIT_S:.0f}s: {what}")
            time.sleep(0.2)
        return True
