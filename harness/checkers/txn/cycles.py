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
breadth-first search; the cycle is named by the edges it uses. Whether a G-single exists
decides snapshot isolation, so it is not left to the edges tried: reachability over ww
and wr edges says which rw edge closes one, and its way back is searched over those.
The searches are bounded by `budget` (states visited) and say when they stopped short.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .infer import DATA, PROCESS, REALTIME, RW, WR, WW

#: (level name, edges allowed, the edge kind new at this level)
LEVELS = (("G0", WW, WW), ("G1c", WW | WR, WR), ("rw", DATA, RW),
          ("process", DATA | PROCESS, PROCESS), ("realtime", DATA | PROCESS | REALTIME, REALTIME))
TRIES = 3               # edges tried per component and level
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


def components(succ: list[dict[int, int]], mask: int, nodes: Any,
               trivial: bool = False) -> list[list[int]]:
    """Tarjan's strongly connected components of the subgraph on `nodes` with edges in
    `mask` (iterative), in reverse topological order (a component comes after every
    component it reaches); only those of more than one node unless `trivial`."""
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
                    if trivial or len(comp) > 1:
                        out.append(comp)
    return out


def _kind(m: int) -> int:
    """The edge kind a step uses: the weakest it has (rw only when it is nothing else)."""
    for k in (WW, WR, PROCESS, REALTIME):
        if m & k:
            return k
    return RW


_KIND = [_kind(m) for m in range(32)]


def name_of(steps: list[tuple[int, int, int]]) -> str:
    kinds = [k for _, _, k in steps]
    rw = kinds.count(RW)
    base = ("G0" if WR not in kinds else "G1c") if rw == 0 else "G-single" if rw == 1 else "G2-item"
    return base + ("-realtime" if REALTIME in kinds else "-process" if PROCESS in kinds else "")


def _back_path(succ, comp: set[int], mask: int, a: int, b: int,
               search: Search) -> list[tuple[int, int, int]] | None:
    """A shortest path b → a inside `comp` over edges in `mask` (breadth-first), as
    steps (from, to, kind); None if there is none or the budget ran out."""
    parent: dict[int, int] = {b: -1}
    queue = deque([b])
    kind = _KIND
    while queue:
        if search.budget <= 0:
            search.truncated = True
            return None
        search.budget -= 1
        v = queue.popleft()
        for w, m in succ[v].items():
            if not m & mask or w in parent or w not in comp:
                continue
            parent[w] = v
            if w == a:
                steps, x = [], a
                while x != b:
                    p = parent[x]
                    steps.append((p, x, kind[succ[p][x] & mask]))
                    x = p
                return steps[::-1]
            queue.append(w)
    return None


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


def _g_single_edges(succ, comp: set[int]) -> list[tuple[int, int]]:
    """The rw edges a → b of `comp` that close a cycle with no other rw edge: b reaches a
    over ww and wr edges. Reachability between the ww+wr components as bit sets, built
    in one pass in topological order: each check is then one bit test, not a search."""
    parts = components(succ, WW | WR, comp, trivial=True)
    cid = {v: i for i, c in enumerate(parts) for v in c}
    reach = [0] * len(parts)
    for i, part in enumerate(parts):       # successors' components come first
        r = 1 << i
        for v in part:
            for w, m in succ[v].items():
                if m & (WW | WR) and w in cid and cid[w] != i:
                    r |= reach[cid[w]]
        reach[i] = r
    return [(a, b) for a in comp for b, m in succ[a].items()
            if m == RW and b in cid and reach[cid[b]] >> cid[a] & 1]


def _search_component(succ, comp: set[int], level: str, mask: int, new: int, result: Search) -> None:
    """Shortest cycles through up to TRIES edges of the level's new kind (for rw, first
    an edge known to close a G-single, if any, searched over ww and wr edges only)."""
    # an edge only of the new kind: one also of an earlier level's kind would lead back to
    # cycles that level already found
    edges = [(a, b, mask) for a in comp for b, m in succ[a].items()
             if m & new and not m & mask & ~new and b in comp]
    if level == "rw":
        edges = [(a, b, WW | WR) for a, b in _g_single_edges(succ, comp)[:1]] + edges
    best: dict[str, Cycle] = {}
    for a, b, allowed in edges[:TRIES]:
        steps = _back_path(succ, comp, allowed, a, b, result)
        if steps is None:
            continue
        cyc = Cycle("", [(a, b, new), *steps])
        cyc.name = name_of(cyc.steps)
        if cyc.name not in best or len(cyc.steps) < len(best[cyc.name].steps):
            best[cyc.name] = cyc
    result.cycles.extend(best.values())
