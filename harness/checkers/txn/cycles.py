"""Cycle search: dependency graph → the cycles that name anomalies (Elle, section 4.2; Adya).

A graph is `succ`: node → {successor: edge mask} (`infer`). First a topological sort over
every edge removes whatever lies on no cycle: on a history without anomalies that is the
whole graph, in linear time, and the search ends there. What remains is split into
strongly connected components, and each is searched level by level, each level adding
one kind of edge:

    G0:       ww                    G1c: ww + wr (at least one wr)
    G-single: ww + wr + one rw      G2-item: ww + wr + two or more rw
    then the same with process edges (-process) and with real-time edges (-realtime).

At each level the components of that level's subgraph are found again; in each, a cycle
must use an edge of the level's new kind (otherwise an earlier level found it), so the
search takes such an edge a → b and looks for the shortest way back from b to a, by
breadth-first search over (node, number of rw edges so far: 0, 1, 2 or more). One search
thus finds, where they exist, the shortest cycles through that edge with no further rw
edge and with more. G-single gets more tries than the others, one rw edge after another,
because whether one exists decides snapshot isolation; the search is bounded by `budget`
(states visited) and says when it stopped short.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .infer import DATA, PROCESS, REALTIME, RW, WR, WW

#: (level name, edges allowed, the edge kind new at this level)
LEVELS = (("G0", WW, WW), ("G1c", WW | WR, WR), ("rw", DATA, RW),
          ("process", DATA | PROCESS, PROCESS), ("realtime", DATA | PROCESS | REALTIME, REALTIME))
TRIES = 3               # edges tried per component and level (every rw edge for G-single)
BUDGET = 3_000_000      # states visited by the searches of one check


@dataclass
class Cycle:
    """A cycle as its steps: (from node, to node, the edge kind that makes the step)."""

    name: str
    steps: list[tuple[int, int, int]]


@dataclass
class Search:
    cycles: list[Cycle] = field(default_factory=list)
    components: int = 0         # nontrivial components over every edge
    largest: int = 0
    truncated: bool = False     # the budget ran out before every level was searched
    budget: int = BUDGET


def cyclic_part(succ: list[dict[int, int]], mask: int) -> list[int]:
    """The nodes a topological sort cannot remove (on or downstream of a cycle)."""
    indeg = [0] * len(succ)
    for d in succ:
        for w, m in d.items():
            if m & mask:
                indeg[w] += 1
    todo = [v for v, n in enumerate(indeg) if n == 0]
    while todo:
        v = todo.pop()
        for w, m in succ[v].items():
            if m & mask:
                indeg[w] -= 1
                if indeg[w] == 0:
                    todo.append(w)
    return [v for v, n in enumerate(indeg) if n > 0]


def components(succ: list[dict[int, int]], mask: int, nodes: list[int]) -> list[list[int]]:
    """Tarjan's strongly connected components of the subgraph on `nodes` with edges in
    `mask` (iterative); only those of more than one node."""
    allowed = set(nodes)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root].items()))]
        while work:
            v, it = work[-1]
            for w, m in it:
                if not m & mask or w not in allowed:
                    continue
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w].items())))
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(comp)
    return out


def _kind(m: int) -> int:
    """The edge kind a step uses when it does not use rw: the weakest it has."""
    for k in (WW, WR, PROCESS, REALTIME):
        if m & k:
            return k
    return RW


def name_of(steps: list[tuple[int, int, int]]) -> str:
    kinds = [k for _, _, k in steps]
    rw = kinds.count(RW)
    base = ("G0" if WR not in kinds else "G1c") if rw == 0 else "G-single" if rw == 1 else "G2-item"
    return base + ("-realtime" if REALTIME in kinds else "-process" if PROCESS in kinds else "")


def _back_paths(succ, comp: set[int], mask: int, a: int, b: int, first_rw: int,
                search: Search) -> dict[int, list[tuple[int, int, int]]]:
    """Shortest paths b → a inside `comp` using edges in `mask`, by rw count (0, 1, 2 = two
    or more, counting the first edge's `first_rw`): {rw count: steps}."""
    start = (b, first_rw)
    parent: dict[tuple[int, int], Any] = {start: None}
    found: dict[int, tuple[int, int]] = {}
    queue = deque([start])
    while queue and len(found) < 3 - first_rw:
        state = queue.popleft()
        v, layer = state
        if search.budget <= 0:
            search.truncated = True
            break
        search.budget -= 1
        for w, m in succ[v].items():
            m &= mask
            if not m or w not in comp:
                continue
            moves = []
            if m & ~RW:
                moves.append(((w, layer), _kind(m)))
            if m & RW:
                moves.append(((w, min(layer + 1, 2)), RW))
            for nxt, kind in moves:
                if nxt in parent:
                    continue
                parent[nxt] = (state, kind)
                if w == a:
                    found.setdefault(nxt[1], nxt)
                else:
                    queue.append(nxt)
    paths = {}
    for layer, end in found.items():
        steps, s = [], end
        while parent[s] is not None:
            prev, kind = parent[s]
            steps.append((prev[0], s[0], kind))
            s = prev
        paths[layer] = steps[::-1]
    return paths


def search(succ: list[dict[int, int]], budget: int = BUDGET) -> Search:
    """Every kind of cycle found in each component (one shortest of each kind per
    component and level)."""
    result = Search(budget=budget)
    everything = DATA | PROCESS | REALTIME
    rest = cyclic_part(succ, everything)
    if not rest:
        return result
    outer = components(succ, everything, rest)
    result.components = len(outer)
    result.largest = max((len(c) for c in outer), default=0)
    for comp in outer:
        for level, mask, new in LEVELS:
            for sub in components(succ, mask, comp):
                _search_component(succ, set(sub), level, mask, new, result)
                if result.budget <= 0:
                    result.truncated = True
                    return result
    return result


def _search_component(succ, comp: set[int], level: str, mask: int, new: int, result: Search) -> None:
    best: dict[str, Cycle] = {}
    tries = 0
    for a in comp:
        for b, m in succ[a].items():
            # an edge that is only of the new kind: one that is also of an earlier level's
            # kind would lead back to cycles that level already found
            if not m & new or m & mask & ~new or b not in comp:
                continue
            first_rw, kind = (1 if new == RW else 0), new
            tries += 1
            for steps in _back_paths(succ, comp, mask, a, b, first_rw, result).values():
                cyc = Cycle("", [(a, b, kind), *steps])
                cyc.name = name_of(cyc.steps)
                if cyc.name not in best or len(cyc.steps) < len(best[cyc.name].steps):
                    best[cyc.name] = cyc
            # rw: go on until a G-single is found (it decides snapshot isolation)
            done = "G-single" in best if level == "rw" else tries >= TRIES
            if done or result.budget <= 0:
                break
        else:
            continue
        break
    result.cycles.extend(best.values())
