"""Process faults: SIGKILL + restart, SIGSTOP/SIGCONT, and the fast restart of a primary.

Names accepted by `--nemesis` (ACTION[-TARGET]):

    kill-primary   kill-random   kill-minority   kill-all     SIGKILL redis-server on the
                                                               target(s); stop() starts it again
    pause-primary  pause-random  pause-minority  pause-all    SIGSTOP redis-server; stop() SIGCONTs
    kill, pause    a random target (primary, random, minority, all) at each start
    restart-fast   SIGKILL the primary's redis-server and start it again at once, before
                   Sentinel (down-after-milliseconds) or the Cluster (node timeout) notices:
                   without persistence it comes back empty and its replicas resync from it
                   and delete everything (the seed documents' BP.4). A single event: stop()
                   does nothing.

Targets: `primary` is what the topology picks among its current primaries
(`Topology.pick_primary`: Sentinel's elected one, n1, or one of the Cluster's three); `random` is one node; `minority` is a random ⌊(n−1)/2⌋
nodes (1 of 3, 2 of 6); `all` is every node. The fault acts on redis-server only; Sentinels
stay up. The delay between kill and restart (or pause and resume) is the schedule's
`--nemesis-interval`.

Redis is restarted *inside* the running container (`sb-node start redis`), never by
restarting the container: active partitions (iptables rules live in the container's
network namespace) and clock offsets (the libfaketime file) stay in force.

heal() makes sure, on every node, that no redis process is stopped (state T) and that
redis-server (and redis-sentinel where the topology has one) runs.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from ..roles import Fault
from ..topology import Node, Topology

TARGETS = ("primary", "random", "minority", "all")
ACTIONS = ("kill", "pause")
NAMES = tuple(ACTIONS) + tuple(f"{a}-{t}" for a in ACTIONS for t in TARGETS) + ("restart-fast",)

# Wake every stopped redis process, then start whichever of redis-server / redis-sentinel
# is missing. Prints what it did, one word per action, and then "state: ..." for checking.
HEAL_SCRIPT = r"""
for pid in $(ps -eo pid=,stat=,comm= | awk '$2 ~ /^T/ && $3 ~ /^redis-/ {print $1}'); do
  kill -CONT "$pid" 2>/dev/null && echo "cont:$pid"
done
pgrep -x redis-server >/dev/null || { sb-node start redis >/dev/null 2>&1 && echo "start:redis" || echo "failed:redis"; }
if [ "${SB_SENTINEL:-0}" = 1 ]; then
  pgrep -x redis-sentinel >/dev/null || { sb-node start sentinel >/dev/null 2>&1 && echo "start:sentinel" || echo "failed:sentinel"; }
fi
echo "state: $(ps -eo stat=,comm= | awk '$2 ~ /^redis-/ {print $2 "=" $1}' | tr '\n' ' ')"
"""


def pick_targets(topo: Topology, rng, target: str) -> list[Node]:
    nodes = list(topo.nodes)
    if target == "primary":
        return [topo.pick_primary(rng)]
    if target == "random":
        return [rng.choice(nodes)]
    if target == "minority":
        return sorted(rng.sample(nodes, max(1, (len(nodes) - 1) // 2)), key=lambda n: n.name)
    if target == "all":
        return nodes
    raise ValueError(f"unknown target {target}")


def wait_ping(topo: Topology, node: Node, timeout: float = 10.0) -> float | None:
    """Seconds until the node's Redis answers PING (LOADING counts as up), None if never."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            r = topo.redis(node, timeout=0.3)
            try:
                r.ping()
            finally:
                r.close()
            return time.monotonic() - t0
        except redis.ResponseError:
            return time.monotonic() - t0
        except (redis.RedisError, OSError):
            # Maybe partitioned from the harness: ask inside the node.
            rc, out = topo.exec(node, ["timeout", "1", "redis-cli", "ping"])
            if "PONG" in out or "LOADING" in out:
                return time.monotonic() - t0
            time.sleep(0.05)
    return None


def heal_processes(topo: Topology) -> list[str]:
    """Resume stopped and start missing Redis processes on every node. Returns what was done;
    raises RuntimeError if a node still has a stopped or missing process afterwards."""
    def one(node: Node) -> tuple[str, list[str]]:
        rc, out = topo.exec(node, ["sh", "-c", HEAL_SCRIPT])
        return node.name, out.split()

    done, bad = [], []
    for name, words in topo.each(list(topo.nodes), one):
        done += [f"{name}:{w}" for w in words if w.startswith(("cont:", "start:", "failed:"))]
        bad += [f"{name}:{w}" for w in words if w.startswith("failed:")]
    for name, problem in process_problems(topo).items():
        bad.append(f"{name}: {problem}")
    if bad:
        raise RuntimeError("processes not healed: " + ", ".join(bad))
    return done


def process_problems(topo: Topology) -> dict[str, str]:
    """node → what is wrong with its Redis processes (stopped or missing); empty if none."""
    def one(node: Node) -> tuple[str, str]:
        _, out = topo.exec(node, ["sh", "-c", "ps -eo stat=,comm= | awk '$2 ~ /^redis-/ {print $2, $1}'"])
        procs = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
        want = [f"redis-{'server' if d == 'redis' else d}" for d in topo.daemons]
        issues = [f"{p} not running" for p in want if p not in procs]
        issues += [f"{p} stopped ({s})" for p, s in procs.items() if s.startswith("T")]
        return node.name, "; ".join(issues)

    return {name: msg for name, msg in topo.each(list(topo.nodes), one) if msg}


class ProcessFault(Fault):
    """kill / pause of redis-server on a target; see the module docstring for names.
    Its kind is the action: kills never overlap kills, pauses never overlap pauses."""

    kind = "process"

    def __init__(self, ctx, name: str):
        super().__init__(ctx, name)
        action, _, target = name.partition("-")
        self.action = action                          # kill | pause
        self.kind = action
        self.targets = (target,) if target else TARGETS
        self.victims: list[Node] = []
        self.target = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        if not self.victims:
            return self.action
        return f"{self.action} {self.target} ({','.join(n.name for n in self.victims)})"

    def start(self) -> dict[str, Any]:
        topo = self.ctx.topology
        with self._lock:
            self.target = self.ctx.rng.choice(self.targets)
            self.victims = pick_targets(topo, self.ctx.rng, self.target)
            sig = "KILL" if self.action == "kill" else "STOP"
            results = topo.each(self.victims,
                                 lambda n: topo.signal(n, "redis", sig))
            desc: dict[str, Any] = {"target": self.target, "nodes": [n.name for n in self.victims],
                                    "signal": f"SIG{sig}"}
            errors = {n.name: out.strip() for n, (rc, out) in zip(self.victims, results) if rc != 0}
            if errors:
                desc["errors"] = errors
            return desc

    def stop(self) -> dict[str, Any]:
        topo = self.ctx.topology
        with self._lock:
            victims, self.victims = self.victims, []
            if not victims:
                return {"nodes": []}
            if self.action == "kill":
                results = topo.each(victims, lambda n: topo.start_daemon(n, "redis"))
                up = topo.each(victims, lambda n: wait_ping(topo, n, 5.0))
                desc: dict[str, Any] = {"nodes": [n.name for n in victims], "restarted": True,
                                        "answering_after_s": {n.name: None if s is None else round(s, 3)
                                                              for n, s in zip(victims, up)}}
            else:
                results = topo.each(victims, lambda n: topo.signal(n, "redis", "CONT"))
                desc = {"nodes": [n.name for n in victims], "signal": "SIGCONT"}
            errors = {n.name: out.strip() for n, (rc, out) in zip(victims, results) if rc != 0}
            if errors:
                desc["errors"] = errors
            return desc

    def heal(self) -> None:
        with self._lock:
            self.victims = []
        heal_processes(self.ctx.topology)


class RestartFastFault(Fault):
    """SIGKILL the primary's redis-server and start it again at once (single event)."""

    kind = "restart-fast"

    def __init__(self, ctx, name: str):
        super().__init__(ctx, name)
        self.last: str | None = None

    def describe(self) -> str:
        return f"restart-fast {self.last}" if self.last else "restart-fast"

    def start(self) -> dict[str, Any]:
        topo = self.ctx.topology
        node = topo.pick_primary(self.ctx.rng)
        self.last = node.name
        t0 = time.monotonic()
        rc, out = topo.exec(node, "sb-node signal redis KILL; sb-node start redis")
        up = wait_ping(topo, node, 5.0)
        desc: dict[str, Any] = {"target": "primary", "nodes": [node.name],
                                "down_s": None if up is None else round(time.monotonic() - t0, 3)}
        if rc != 0:
            desc["error"] = out.strip()[-300:]
        return desc

    def stop(self) -> dict[str, Any]:
        return {"nodes": [self.last] if self.last else []}

    def heal(self) -> None:
        heal_processes(self.ctx.topology)
