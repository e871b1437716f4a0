"""Per-key parts of the linearizability checker (`linearizable.py`) that need no search
of their own: the ops of one key (`KeyOp`), failure reports (`search_report`), and the
fast path (`fast_key`), which decides read-mapped registers by their zones.

A key with only reads and writes whose written values are all distinct is "read-mapped":
every read names the write it saw. Such a register is linearizable iff every read's write
exists and did not start after the read ended, and the clusters' zones do not conflict
(Gibbons & Korach 1997; Golab, Li & Shah 2011). O(n log n), no search.

A key the fast path rejects is searched again (within REPORT_BUDGET_S) to produce the
same failure report the search gives: the longest linearizable prefix, the state after
it, and the op that cannot be placed next.
"""

from __future__ import annotations

import bisect
import time
from typing import Any, Callable

from ..history import Operation
from .models import READ, Model, RWHistory, show

__all__ = ["KeyOp", "fast_key", "search_report", "zones"]

REPORT_BUDGET_S = 2.0       # search time spent on a report after the fast path rejects
_INF = float("inf")


# ----------------------------------------------------------------------------- ops, reports

class KeyOp:
    """One prepared op of one key: its model op, interval and identity (the history's
    `Operation`)."""

    __slots__ = ("m", "start", "end", "op")

    def __init__(self, m: Any, start: float, end: float | None, op: Operation):
        self.m = m
        self.start = start
        self.end = end          # None: crashed (info), may take effect any time after start
        self.op = op


def op_record(o: KeyOp, reason: str | None = None) -> dict[str, Any]:
    """An op as a failure report shows it."""
    op = o.op
    rec = {"index": op.invoke_index, "process": op.process, "f": op.f, "value": op.value,
           "type": op.type}
    if reason is not None:
        rec["reason"] = reason
    return rec


def window(ops: list[KeyOp], target: KeyOp) -> list[int]:
    """Invoke indices of the op that cannot be placed and of every op concurrent with it."""
    t_end = _INF if target.end is None else target.end
    out = []
    for o in ops:
        o_end = _INF if o.end is None else o.end
        if o is target or (o.start < t_end and target.start < o_end):
            out.append(o.op.invoke_index)
    return out


def search_report(model: Model, key: Any, ops: list[KeyOp], res: Any) -> dict[str, Any]:
    """The failure report of a key from a failed search `res` (`linearizable._Result`):
    the longest linearizable prefix found, the state after it, the op whose return could
    not be passed (with the reason) and others that cannot come next either, and the
    window of ops concurrent with it."""
    state = res.state
    prefix = res.prefix or []
    done = set(prefix)
    unplaceable = []
    blocked = res.blocked
    first = None
    if blocked is not None and blocked >= 0:
        first = ops[blocked]
        ok, _ = model.step(state, first.m)
        reason = (model.explain(state, first.m) if not ok else
                  f"{model.describe_op(first.m)} must take effect before it returned, but no "
                  f"order of the concurrent ops lets it")
        unplaceable.append(op_record(first, reason))
    # other ops that could not be placed next either (completed, not in prefix, callable)
    if first is not None:
        for i, o in enumerate(ops):
            if i in done or o is first or o.end is None or o.start > first.end:
                continue
            ok, _ = model.step(state, o.m)
            if not ok:
                unplaceable.append(op_record(o, model.explain(state, o.m)))
            if len(unplaceable) >= 5:
                break
    return {
        "key": key,
        "prefix": [ops[i].op.invoke_index for i in prefix],
        "state_after_prefix": model.describe_state(state),
        "unplaceable": unplaceable,
        "window": window(ops, first) if first is not None else [],
    }


# ----------------------------------------------------------------------------- fast path

def fast_key(model: Model, key: Any, ops: list[KeyOp], deadline: float | None,
             search: Callable, want_report: bool = True) -> tuple[str | None, dict | None]:
    """Try the fast path on one key: ("ok"|"fail", report), or (None, None) when the key
    needs the search. The report (None unless `want_report`) is built as the search's
    is, with `search(model, ops, deadline)` (`linearizable._search`) on the ops before
    the shortest prefix the zones reject, within REPORT_BUDGET_S."""
    rw = model.unique_values([o.m for o in ops])
    if rw is None:
        return None, None
    zone_fail = zones(rw, ops)
    if zone_fail is None:
        return "ok", None
    if not want_report:
        return "fail", None
    budget = time.monotonic() + REPORT_BUDGET_S
    d = budget if deadline is None else min(deadline, budget)
    writes = rw.writes
    hi = shortest_rejected_prefix(model, ops, writes)
    culprit = ops[hi - 1]
    zf = zones_prefix(model, ops[:hi], writes) or zone_fail
    before = trim_reads(ops[:hi - 1], writes)
    res = search(model, before, d)
    if res.verdict == "ok":
        state = res.state if res.prefix else model.init()
        ok, _ = model.step(state, culprit.m)
        reason = model.explain(state, culprit.m) if not ok else zf.reason
        return "fail", {
            "key": key,
            "prefix": [before[i].op.invoke_index for i in res.prefix or []],
            "state_after_prefix": model.describe_state(state),
            "unplaceable": [op_record(culprit, reason)],
            "window": window(ops, culprit),
        }
    res = search(model, ops, d)
    if res.verdict == "fail":
        return "fail", search_report(model, key, ops, res)
    return "fail", {
        "key": key,
        "prefix": [],
        "state_after_prefix": "(not computed: the search for a prefix ran out of time)",
        "unplaceable": [op_record(zone_fail.read, zone_fail.reason)],
        "window": window(ops, zone_fail.read),
    }


# ----------------------------------------------------------------------------- zones

class ZoneFailure:
    """Why the zones reject a key: the read to blame (or a write), and a reason."""

    __slots__ = ("read", "reason", "other")

    def __init__(self, read: Any, reason: str, other: Any = None):
        self.read = read
        self.reason = reason
        self.other = other


def zones(rw: RWHistory, ops: list[KeyOp]) -> ZoneFailure | None:
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
