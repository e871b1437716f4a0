"""Fast path of the linearizability checker: read-mapped registers decided by zones.

A key with only reads and writes whose written values are all distinct is "read-mapped":
every read names the write it saw. Such a register is linearizable iff every read's write
exists and did not start after the read ended, and the clusters' zones do not conflict
(Gibbons & Korach 1997; Golab, Li & Shah 2011). O(n log n), no search.

Ops are the checker's per-key ops (`linearizable._Op`: `.m` the model op, `.start`,
`.end`, None for a crashed op); `rw` is the model's `unique_values` description of them.
"""

from __future__ import annotations

import bisect
from typing import Any

from .models import READ, Model, RWHistory, show

__all__ = ["ZoneFailure", "zones", "shortest_rejected_prefix", "trim_reads"]

_INF = float("inf")


class ZoneFailure:
    """Why the zones reject a key: the read to blame (or a write), and a reason."""

    __slots__ = ("read", "reason", "other")

    def __init__(self, read: Any, reason: str, other: Any = None):
        self.read = read
        self.reason = reason
        self.other = other


def zones(rw: RWHistory, ops: list) -> ZoneFailure | None:
    """Decide a read-mapped register (unique written values). None means linearizable.

    Cluster of value v: its write plus the reads that returned v (the initial value has
    a virtual write before everything). Zone: f = min end, s = max start over the
    cluster; forward zone [f, s] if f < s, else backward zone [s, f]. Linearizable iff
    every read has a write that did not start after the read ended, no two forward zones
    intersect, and no backward zone lies inside a forward zone. Crashed writes nobody
    read are dropped; crashed writes somebody read definitely took effect and are
    treated as never-returning writes.
    """
    by_m = {id(o.m): o for o in ops}
    initial = rw.initial
    clusters: dict[Any, list] = {}      # value -> [f, s, write op | None, reads...]
    for m in rw.reads:
        r = by_m[id(m)]
        v = m[1]
        c = clusters.get(v)
        if c is None:
            if v == initial:
                c = [-1.0, -1.0, None]
            else:
                w = rw.writes.get(v)
                if w is None:
                    return ZoneFailure(r, f"read {show(v)}, but no op wrote {show(v)}")
                wo = by_m[id(w)]
                c = [_INF if wo.end is None else wo.end, wo.start, wo]
            clusters[v] = c
        w = c[2]
        if w is not None and r.end < w.start:
            return ZoneFailure(r, f"read {show(v)} before the write of {show(v)} was invoked", w)
        if r.end < c[0]:
            c[0] = r.end
        if r.start > c[1]:
            c[1] = r.start
        c.append(r)
    # writes nobody read: completed ones still take effect; crashed ones are dropped
    for v, w in rw.writes.items():
        if v not in clusters:
            wo = by_m[id(w)]
            if wo.end is not None:
                clusters[v] = [wo.end, wo.start, wo]
    forward = []
    backward = []
    for v, c in clusters.items():
        f, s = c[0], c[1]
        if f < s:
            forward.append((f, s, v))
        else:
            backward.append((s, f, v))
    forward.sort()
    for k in range(1, len(forward)):
        f1, s1, v1 = forward[k - 1]
        f2, s2, v2 = forward[k]
        if f2 <= s1:
            return _zone_conflict(clusters, v1, v2)
    if forward:
        fs = [z[0] for z in forward]
        for s, f, v in backward:
            k = bisect.bisect_left(fs, s) - 1
            if k >= 0:
                fF, sF, vF = forward[k]
                if f < sF:      # fF < s is given by bisect
                    return _zone_conflict(clusters, vF, v)
    return None


def _zone_conflict(clusters, v1, v2) -> ZoneFailure:
    """Name a stale read for two conflicting clusters: a read of one value that began
    after an op of the other cluster, which itself began after the first value's
    cluster had an op finish."""
    c1, c2 = clusters[v1], clusters[v2]
    # the read with the latest start in either cluster is the natural culprit
    cands = [(r.start, r, v) for c, v in ((c1, v1), (c2, v2)) for r in c[3:]]
    if not cands:
        w = c2[2] or c1[2]
        return ZoneFailure(w, "writes cannot be ordered")
    _, r, v = max(cands, key=lambda t: t[0])
    other = v2 if v == v1 else v1
    return ZoneFailure(
        r, f"read {show(v)}, but {show(other)} was written after {show(v)} and before this read")


def trim_reads(sub: list, writes: dict) -> list:
    """`sub` without reads of values whose (unique) write is not in `sub`."""
    present = {id(o.m) for o in sub}
    out = []
    for o in sub:
        w = writes.get(o.m[1]) if o.m[0] == READ else None
        if w is not None and id(w) not in present:
            continue
        out.append(o)
    return out


def zones_prefix(model: Model, sub: list, writes: dict) -> ZoneFailure | None:
    """`zones` on a prefix of a key's ops (reads of writes outside it dropped)."""
    sub = trim_reads(sub, writes)
    rw = model.unique_values([o.m for o in sub])
    return None if rw is None else zones(rw, sub)


def shortest_rejected_prefix(model: Model, ops: list, writes: dict) -> int:
    """The length h of the shortest invoke-order prefix `ops[:h]` the zones reject (the
    whole key must be rejected). `ops[:h - 1]` passes, so its last op is the culprit,
    and a search of the ops before it is quick."""
    lo, hi = 0, len(ops)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if zones_prefix(model, ops[:mid], writes) is None:
            lo = mid
        else:
            hi = mid
    return hi
