"""Network partitions: iptables DROP rules inside the node containers, both directions.

Each node gets two chains of its own, SB_IN and SB_OUT, hooked first into INPUT and
OUTPUT; a partition fills them, healing flushes them. The harness's clients reach the
nodes from the bridge gateway (`<subnet>.1`): dropping the gateway on one side is how
"the clients are cut off with the old primary" (the seed documents' Case II) is made.

Process faults restart Redis inside its running container, so the rules (which live in
the container's network namespace) stay in force across kills and restarts. heal()
flushes every node's chains and then proves that no DROP rule is left.
"""

from __future__ import annotations

import threading
from typing import Any

from ..roles import Fault
from ..topology import Node, Topology

SHAPES = ("isolate-primary", "isolate-primary-with-clients", "isolate-node", "isolate-replica",
          "random-halves", "majorities-ring", "bridge")

SETUP = ("iptables -N SB_IN 2>/dev/null; iptables -N SB_OUT 2>/dev/null; "
         "iptables -C INPUT -j SB_IN 2>/dev/null || iptables -I INPUT -j SB_IN; "
         "iptables -C OUTPUT -j SB_OUT 2>/dev/null || iptables -I OUTPUT -j SB_OUT; "
         "iptables -F SB_IN && iptables -F SB_OUT")
FLUSH = "iptables -F SB_IN 2>/dev/null; iptables -F SB_OUT 2>/dev/null; true"


def grudges_for(shape: str, topo: Topology, rng) -> tuple[dict[str, set[str]], dict[str, Any]]:
    """node name → addresses it must drop, and a description of the shape for the history."""
    nodes = list(topo.nodes)
    names = [n.name for n in nodes]
    ip = {n.name: n.ip for n in nodes}
    gw = topo.gateway
    grudge: dict[str, set[str]] = {n: set() for n in names}

    def cut(a: list[str], b: list[str]) -> None:
        for x in a:
            for y in b:
                grudge[x].add(ip[y])
                grudge[y].add(ip[x])

    desc: dict[str, Any] = {"shape": shape}
    if shape in ("isolate-primary", "isolate-primary-with-clients", "isolate-node"):
        target = (topo.pick_primary(rng) if shape != "isolate-node" else rng.choice(nodes)).name
        rest = [n for n in names if n != target]
        cut([target], rest)
        if shape == "isolate-primary-with-clients":
            for n in rest:            # the harness stays only with the old primary
                grudge[n].add(gw)
            desc["clients_with"] = [target]
        else:
            grudge[target].add(gw)    # the harness stays with the majority
            desc["clients_with"] = rest
        desc["groups"] = [[target], rest]
    elif shape == "isolate-replica":
        # A replica loses the other nodes (its primary among them) while the clients keep
        # reaching it: what reads from that replica see as it falls behind.
        primaries = {n.name for n in topo.primaries()}
        target = rng.choice([n for n in names if n not in primaries] or names)
        cut([target], [n for n in names if n != target])
        desc.update({"groups": [[target], [n for n in names if n != target]], "clients_with": names})
    elif shape == "random-halves":
        shuffled = names[:]
        rng.shuffle(shuffled)
        half = len(shuffled) // 2
        a, b = sorted(shuffled[:half]), sorted(shuffled[half:])
        cut(a, b)
        desc["groups"] = [a, b]
    elif shape == "bridge" or (shape == "majorities-ring" and len(names) <= 3):
        # Two halves that cannot talk, and one node that talks to both.
        shuffled = names[:]
        rng.shuffle(shuffled)
        bridge, others = shuffled[0], shuffled[1:]
        half = len(others) // 2
        a, b = sorted(others[:half]), sorted(others[half:])
        cut(a, b)
        desc.update({"shape": "bridge", "requested": shape, "bridge": bridge, "groups": [a, b]})
    elif shape == "majorities-ring":
        ring = names[:]
        rng.shuffle(ring)
        n = len(ring)
        # Each node sees itself and `reach` neighbours each way: the fewest that make a
        # majority (2·reach + 1 > n/2), so that no two nodes see the same majority.
        reach = (n // 2 + 1) // 2
        for i, x in enumerate(ring):
            for j, y in enumerate(ring):
                d = min(abs(i - j), n - abs(i - j))
                if d > reach:
                    grudge[x].add(ip[y])
        desc.update({"ring": ring})
    else:
        raise ValueError(f"unknown partition shape {shape}")
    desc["drops"] = {n: sorted(v) for n, v in grudge.items() if v}
    return grudge, desc


class PartitionFault(Fault):
    kind = "partition"

    def __init__(self, ctx, name: str):
        super().__init__(ctx, name)
        self.shapes = SHAPES if name == "partition" else (name,)
        self.grudge: dict[str, set[str]] = {}
        self.shape = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"partition {self.shape}" if self.shape else "partition"

    def _apply(self, grudge: dict[str, set[str]]) -> None:
        apply_grudge(self.ctx.topology, grudge)

    def start(self) -> dict[str, Any]:
        with self._lock:
            self.shape = self.ctx.rng.choice(self.shapes)
            self.grudge, desc = grudges_for(self.shape, self.ctx.topology, self.ctx.rng)
            self._apply(self.grudge)
            return desc

    def stop(self) -> dict[str, Any]:
        with self._lock:
            topo = self.ctx.topology
            topo.each(topo.nodes, lambda n: topo.exec(n, FLUSH))
            shape, self.shape, self.grudge = self.shape, None, {}
            return {"shape": shape}

    def heal(self) -> None:
        heal_network(self.ctx.topology)


def apply_grudge(topo: Topology, grudge: dict[str, set[str]]) -> None:
    """Each node drops traffic from and to the addresses its grudge names (and no other)."""
    def one(node: Node) -> None:
        drops = grudge.get(node.name) or set()
        script = SETUP + "".join(f" && iptables -A SB_IN -s {a} -j DROP && iptables -A SB_OUT -d {a} -j DROP"
                                 for a in sorted(drops))
        topo.exec(node, script, check=True)

    topo.each(topo.nodes, one)


def heal_network(topo: Topology) -> None:
    """Every node's rules flushed, and proof that none is left."""
    topo.each(topo.nodes, lambda n: topo.exec(n, FLUSH))
    left = active_rules(topo)
    if left:
        raise RuntimeError(f"iptables rules left after healing: {left}")


def active_rules(topo: Topology) -> dict[str, list[str]]:
    """Every DROP rule in force, per node (to prove that healing healed)."""
    out = {}
    for n in topo.nodes:
        _, text = topo.exec(n, "iptables -S 2>/dev/null | grep -- '-j DROP' || true")
        rules = [line for line in text.splitlines() if line.strip()]
        if rules:
            out[n.name] = rules
    return out
