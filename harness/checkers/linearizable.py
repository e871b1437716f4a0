"""Linearizability checker (Porcupine-class, pure Python).

Public entry points: `check(history, model, time_limit)` and `check_file(path, model,
time_limit)`; both return the result dict described in `check`.

How it decides
--------------
1. Ops are paired (`history.pair_ops`), ordered by their position in the history (the
   order the harness observed them), and handed to the model (`models.py`). Failed ops
   never took effect and are dropped; the model drops ops that constrain nothing
   (crashed reads). A crashed (`info`) op, or an invoke without completion, may take
   effect at any time after its invoke, or never.
2. P-compositionality: the model partitions the ops (by key) and each key is checked on
   its own.
3. Fast path (`_zones`): a key with only reads and writes whose written values are all
   distinct is "read-mapped": every read names the write it saw. Such a register is
   linearizable iff every read's write exists and did not start after the read ended, and
   the clusters' zones do not conflict (Gibbons & Korach 1997; Golab, Li & Shah 2011).
   Crashed writes nobody read are dropped; crashed writes somebody read definitely took
   effect and are treated as never-returning writes. O(n log n), no search.
4. Everything else: the just-in-time linearization search of Wing & Gong as refined by
   Lowe and Porcupine (`_search`): call/return entries in a doubly linked list (int
   arrays), lift/unlift, memo of (bitset of linearized ops, model state) with Python ints
   as bitsets. Crashed ops have no return entry (return at +infinity) and may stay
   unlinearized at the end. Pruning on top of Porcupine's:
   - an op that leaves the state unchanged and is possible now (a read of the current
     value) is linearized at once, without branching (moving it earlier never hurts);
   - a crashed op that would leave the state unchanged is never linearized (not taking
     effect dominates);
   - crashed ops with identical effect (same prepared op) are interchangeable: they are
     linearized in invoke order only.
   The memo is capped (cleared when it passes `MEMO_CAP` entries, which only costs
   time), and a time limit turns the verdict into "unknown".

A key the fast path rejects is searched again (within a time budget) to produce the
same failure report the search gives: the longest linearizable prefix, the state after
it, and the op that cannot be placed next.
"""

from __future__ import annotations

import bisect
import os
import time
from typing import Any, Iterable

from ..history import Operation, pair_ops, read_history
from .models import MODELS, NOTBLIND as _NOTBLIND, READ, Model, RWHistory, get_model, show

__all__ = ["check", "check_file", "check_ops", "MODELS"]

MAX_FAILURES = 10
MEMO_BYTES = 256 << 20          # rough budget for the memo of one key's search
REPORT_BUDGET_S = 2.0           # search time spent on a report after the fast path rejects
_INF = float("inf")


# ----------------------------------------------------------------------------- helpers

def _positioned(history: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The history with `time` replaced by the op's position: order is what counts."""
    for pos, op in enumerate(history):
        d = dict(op)
        d["time"] = pos
        if "index" not in d:
            d["index"] = pos
        yield d


class _Op:
    """One prepared op of one key: its model op, interval and identity."""

    __slots__ = ("m", "start", "end", "op")

    def __init__(self, m: Any, start: float, end: float | None, op: Operation):
        self.m = m
        self.start = start
        self.end = end          # None: crashed (info), may take effect any time after start
        self.op = op


def _op_record(model: Model, o: _Op, reason: str | None = None) -> dict[str, Any]:
    op = o.op
    rec = {"index": op.invoke_index, "process": op.process, "f": op.f, "value": op.value,
           "type": op.type}
    if reason is not None:
        rec["reason"] = reason
    return rec


# ----------------------------------------------------------------------------- search

class _Result:
    __slots__ = ("verdict", "prefix", "state", "blocked", "steps")

    def __init__(self, verdict: str, prefix=None, state=None, blocked=None, steps=0):
        self.verdict = verdict      # "ok", "fail", "unknown"
        self.prefix = prefix        # list of op ids (best linearizable prefix) on fail
        self.state = state          # state after that prefix
        self.blocked = blocked      # op id whose return could not be passed
        self.steps = steps


CHUNK = 1024    # search steps between yields of `_search_gen`


def _search(model: Model, ops: list[_Op], deadline: float | None,
            memo_cap: int | None = None) -> _Result:
    """Run `_search_gen` to the end or to `deadline` (then verdict "unknown")."""
    gen = _search_gen(model, ops, memo_cap)
    try:
        while True:
            next(gen)
            if deadline is not None and time.monotonic() > deadline:
                gen.close()
                return _Result("unknown")
    except StopIteration as stop:
        return stop.value


def _search_gen(model: Model, ops: list[_Op], memo_cap: int | None = None):
    """Wing & Gong / Lowe just-in-time linearization search over one key's ops.

    A generator: yields None every CHUNK steps (so a caller can share time between keys
    or stop it), and returns a `_Result` with verdict "ok" or "fail".
    `ops` must be sorted by start. Op i has call entry 2i and (if it completed) return
    entry 2i+1; entry 2n is the list head.
    """
    n = len(ops)
    if n == 0:
        return _Result("ok")
    step = model.step
    # ---- entries, sorted by time: (time, entry); calls before returns at equal times
    events = []
    for i, o in enumerate(ops):
        events.append((o.start, 0, 2 * i))
        if o.end is not None:
            events.append((o.end, 1, 2 * i + 1))
    events.sort()
    head = 2 * n
    nx = [-1] * (2 * n + 1)
    pv = [-1] * (2 * n + 1)
    prev = head
    for _, _, e in events:
        nx[prev] = e
        pv[e] = prev
        prev = e
    # ---- per-op facts
    mops = [o.m for o in ops]
    info = [o.end is None for o in ops]
    twin = [-1] * n               # previous crashed op with an identical model op
    last_seen: dict[Any, int] = {}
    for i, o in enumerate(ops):
        if info[i]:
            k = o.m[:3] if isinstance(o.m, tuple) else o.m
            try:
                j = last_seen.get(k, -1)
                twin[i] = j
                last_seen[k] = i
            except TypeError:
                pass
    remaining = n - sum(info)
    if remaining == 0:
        return _Result("ok")
    if memo_cap is None:
        memo_cap = max(20_000, MEMO_BYTES // (120 + n // 8))

    # optional model look-ahead (see models.Model.viable)
    viable = getattr(model, "viable", None)
    blind = pend = None
    if viable is not None:
        blind = [model.pending_value(m) for m in mops]
        pend = {}
        for b in blind:
            if b is not _NOTBLIND:
                pend[b] = pend.get(b, 0) + 1
        # the look-ahead costs a scan per step; it prunes only when values rarely repeat
        # (with a handful of values written over and over, some writer is always pending)
        if 2 * len(pend) < sum(pend.values()):
            blind = pend = None

    state = model.init()
    lin = 0                     # bitset of linearized ops (memo key)
    done = bytearray(n)         # the same, for O(1) tests
    # the stack of linearized ops is a cons list (call entry, state before, forced,
    # parent) so that the deepest prefix can be kept without copying
    top = None
    depth = 0
    memo: set = set()
    best_len = -1
    best_top = None
    best_state = state
    best_blocked = -1
    steps = 0
    e = nx[head]
    while True:
        if not e & 1:
            # a call entry: try to linearize op i now
            i = e >> 1
            steps += 1
            if not steps & 0x3FF:
                yield
            if info[i]:
                t = twin[i]
                if t >= 0 and not done[t]:
                    e = nx[e]
                    continue
                ok, ns = step(state, mops[i])
                if not ok or ns == state:
                    e = nx[e]
                    continue
                forced = False
            else:
                ok, ns = step(state, mops[i])
                if not ok:
                    e = nx[e]
                    continue
                forced = ns == state
            nl = lin | (1 << i)
            key = (nl, ns)
            if key in memo:
                if not forced:
                    e = nx[e]
                    continue
                # op i could go first; that config already failed, so this one fails
                e = -2
            else:
                if len(memo) >= memo_cap:
                    memo.clear()
                memo.add(key)
                top = (e, state, forced, top)
                depth += 1
                state = ns
                lin = nl
                done[i] = 1
                # lift call entry e and return entry e+1
                a = pv[e]; b = nx[e]
                nx[a] = b
                if b >= 0:
                    pv[b] = a
                if not info[i]:
                    r = e + 1
                    a = pv[r]; b = nx[r]
                    nx[a] = b
                    if b >= 0:
                        pv[b] = a
                    remaining -= 1
                    if remaining == 0:
                        return _Result("ok", _unwind(top), state, None, steps)
                if blind is not None and not forced:
                    b = blind[i]
                    if b is not _NOTBLIND:
                        pend[b] -= 1
                    # look ahead: can every callable op, and the op with the next return
                    # deadline, still happen?
                    f = nx[head]
                    dead = False
                    while not f & 1:
                        if not info[f >> 1] and not viable(state, mops[f >> 1], pend):
                            dead = True
                            break
                        f = nx[f]
                    if not dead and viable(state, mops[f >> 1], pend):
                        e = nx[head]
                        continue
                    e = f | 1   # no: backtrack as if its return was reached
                else:
                    e = nx[head]
                    continue
        # a return entry (or a dead end found early): backtrack
        if depth > best_len:
            best_len = depth
            best_top = top
            best_state = state
            best_blocked = e >> 1 if e >= 0 else -1
        while True:
            if top is None:
                return _Result("fail", _unwind(best_top), best_state, best_blocked, steps)
            c, state, forced, top = top
            depth -= 1
            i = c >> 1
            lin ^= 1 << i
            done[i] = 0
            if blind is not None and not forced:
                b = blind[i]
                if b is not _NOTBLIND:
                    pend[b] += 1
            # unlift: return entry first, then call entry
            if not info[i]:
                r = c + 1
                a = pv[r]; b = nx[r]
                nx[a] = r
                if b >= 0:
                    pv[b] = r
                remaining += 1
            a = pv[c]; b = nx[c]
            nx[a] = c
            if b >= 0:
                pv[b] = c
            if not forced:
                break
        e = nx[c]


def _unwind(top) -> list[int]:
    """Op ids of a cons stack, bottom first (linearization order)."""
    out = []
    while top is not None:
        out.append(top[0] >> 1)
        top = top[3]
    out.reverse()
    return out


# ----------------------------------------------------------------------------- fast path

class _ZoneFailure:
    __slots__ = ("read", "reason", "other")

    def __init__(self, read: _Op, reason: str, other: _Op | None = None):
        self.read = read
        self.reason = reason
        self.other = other


def _zones(rw: RWHistory, ops: list[_Op]) -> _ZoneFailure | None:
    """Decide a read-mapped register (unique written values). None means linearizable.

    Cluster of value v: its write plus the reads that returned v (the initial value has
    a virtual write before everything). Zone: f = min end, s = max start over the
    cluster; forward zone [f, s] if f < s, else backward zone [s, f]. Linearizable iff
    every read has a write that did not start after the read ended, no two forward zones
    intersect, and no backward zone lies inside a forward zone.
    """
    by_m = {id(o.m): o for o in ops}
    initial = rw.initial
    clusters: dict[Any, list] = {}      # value -> [f, s, write _Op | None, reads...]
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
                    return _ZoneFailure(r, f"read {show(v)}, but no op wrote {show(v)}")
                wo = by_m[id(w)]
                c = [_INF if wo.end is None else wo.end, wo.start, wo]
            clusters[v] = c
        w = c[2]
        if w is not None and r.end < w.start:
            return _ZoneFailure(r, f"read {show(v)} before the write of {show(v)} was invoked", w)
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
            return _zone_conflict(clusters, v1, v2, initial)
    if forward:
        fs = [z[0] for z in forward]
        for s, f, v in backward:
            k = bisect.bisect_left(fs, s) - 1
            if k >= 0:
                fF, sF, vF = forward[k]
                if f < sF:      # fF < s is given by bisect
                    return _zone_conflict(clusters, vF, v, initial)
    return None


def _zone_conflict(clusters, v1, v2, initial) -> _ZoneFailure:
    """Name a stale read for two conflicting clusters: a read of one value that began
    after an op of the other cluster, which itself began after the first value's
    cluster had an op finish."""
    c1, c2 = clusters[v1], clusters[v2]
    # the read with the latest start in either cluster is the natural culprit
    cands = [(r.start, r, v) for c, v in ((c1, v1), (c2, v2)) for r in c[3:]]
    if not cands:
        w = c2[2] or c1[2]
        return _ZoneFailure(w, "writes cannot be ordered")
    _, r, v = max(cands, key=lambda t: t[0])
    other = v2 if v == v1 else v1
    return _ZoneFailure(
        r, f"read {show(v)}, but {show(other)} was written after {show(v)} and before this read")


# ----------------------------------------------------------------------------- per key

def _fast_key(model: Model, key: Any, ops: list[_Op], deadline: float | None,
              use_fast_path: bool = True) -> tuple[str | None, dict | None]:
    """Try the read-mapped fast path on one key: ("ok"|"fail", report) or (None, None)
    when the key needs the search."""
    if not use_fast_path:
        return None, None
    rw = model.unique_values([o.m for o in ops])
    if rw is None:
        return None, None
    zone_fail = _zones(rw, ops)
    if zone_fail is None:
        return "ok", None
    # rejected. For the usual report (a linearizable prefix, the state after it, the op
    # that cannot come next), find the shortest invoke-order prefix of the key that the
    # zones reject; the ops before its last op pass, so searching them is quick.
    budget = time.monotonic() + REPORT_BUDGET_S
    d = budget if deadline is None else min(deadline, budget)
    writes = rw.writes
    lo, hi = 0, len(ops)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _zones_prefix(model, ops[:mid], writes) is None:
            lo = mid
        else:
            hi = mid
    culprit = ops[hi - 1]
    zf = _zones_prefix(model, ops[:hi], writes) or zone_fail
    before = _trim_reads(ops[:hi - 1], writes)
    res = _search(model, before, d)
    if res.verdict == "ok":
        state = res.state if res.prefix else model.init()
        ok, _ = model.step(state, culprit.m)
        reason = model.explain(state, culprit.m) if not ok else zf.reason
        return "fail", {
            "key": key,
            "prefix": [before[i].op.invoke_index for i in res.prefix or []],
            "state_after_prefix": model.describe_state(state),
            "unplaceable": [_op_record(model, culprit, reason)],
            "window": _window(ops, culprit),
        }
    res = _search(model, ops, d)
    if res.verdict == "fail":
        return "fail", _report(model, key, ops, res)
    return "fail", _zone_report(model, key, ops, zone_fail)


def _trim_reads(sub: list[_Op], writes: dict) -> list[_Op]:
    """`sub` without reads of values whose (unique) write is not in `sub`."""
    present = {id(o.m) for o in sub}
    out = []
    for o in sub:
        w = writes.get(o.m[1]) if o.m[0] == READ else None
        if w is not None and id(w) not in present:
            continue
        out.append(o)
    return out


def _zones_prefix(model: Model, sub: list[_Op], writes: dict) -> _ZoneFailure | None:
    sub = _trim_reads(sub, writes)
    rw = model.unique_values([o.m for o in sub])
    return None if rw is None else _zones(rw, sub)


def _window(ops: list[_Op], target: _Op) -> list[int]:
    """Invoke indices of the op that cannot be placed and of every op concurrent with it."""
    t_end = _INF if target.end is None else target.end
    out = []
    for o in ops:
        o_end = _INF if o.end is None else o.end
        if o is target or (o.start < t_end and target.start < o_end):
            out.append(o.op.invoke_index)
    return out


def _report(model: Model, key: Any, ops: list[_Op], res: _Result) -> dict[str, Any]:
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
        unplaceable.append(_op_record(model, first, reason))
    # other ops that could not be placed next either (completed, not in prefix, callable)
    if first is not None:
        for i, o in enumerate(ops):
            if i in done or o is first or o.end is None or o.start > first.end:
                continue
            ok, _ = model.step(state, o.m)
            if not ok:
                unplaceable.append(_op_record(model, o, model.explain(state, o.m)))
            if len(unplaceable) >= 5:
                break
    return {
        "key": key,
        "prefix": [ops[i].op.invoke_index for i in prefix],
        "state_after_prefix": model.describe_state(state),
        "unplaceable": unplaceable,
        "window": _window(ops, first) if first is not None else [],
    }


def _zone_report(model: Model, key: Any, ops: list[_Op], zf: _ZoneFailure) -> dict[str, Any]:
    return {
        "key": key,
        "prefix": [],
        "state_after_prefix": "(not computed: the search for a prefix ran out of time)",
        "unplaceable": [_op_record(model, zf.read, zf.reason)],
        "window": _window(ops, zf.read),
    }


# ----------------------------------------------------------------------------- public API

def check_ops(operations: list[Operation], model: str | Model = "register",
              time_limit: float | None = None, use_fast_path: bool = True) -> dict[str, Any]:
    """Check paired operations (start/end must order them; see `check`)."""
    t0 = time.monotonic()
    deadline = None if time_limit is None else t0 + time_limit
    m = get_model(model)
    prepared = []
    for op in operations:
        if op.type == "fail":
            continue
        p = m.prepare(op)
        if p is None:
            continue
        prepared.append(p)
    parts = m.partition(prepared)
    # map model ops back to intervals
    iv = {}
    for op in operations:
        iv[id(op)] = op
    keys_checked = 0
    unknown_keys: list = []
    unchecked_keys: list = []
    failures: list = []
    n_fail = 0
    searches = []           # [key, ops, generator] still undecided
    for key, mops in parts.items():
        mops = m.drop_unobserved(mops)
        kops = []
        for p in mops:
            op = p[3] if isinstance(p, tuple) else getattr(p, "op", p)
            kops.append(_Op(p, op.start, op.end if op.type != "info" else None, op))
        kops.sort(key=lambda o: o.start)
        keys_checked += 1
        verdict, report = _fast_key(m, key, kops, deadline, use_fast_path)
        if verdict == "fail":
            n_fail += 1
            if len(failures) < MAX_FAILURES:
                failures.append(report)
        elif verdict is None:
            searches.append([key, kops, None])
    # the rest is searched round-robin with doubling slices, so one hard key cannot hide
    # an easy violation elsewhere; the first violation found ends the check (as Porcupine
    # does) and keys not yet decided are listed as unchecked
    if searches:
        cap = max(5_000, MEMO_BYTES // (120 + max(len(s[1]) for s in searches) // 8)
                  // len(searches))
        for s_ in searches:
            s_[2] = _search_gen(m, s_[1], cap)
        chunks = 4
        timed_out = False
        while searches and not n_fail and not timed_out:
            still = []
            for idx, (key, kops, gen) in enumerate(searches):
                res = None
                try:
                    for _ in range(chunks):
                        next(gen)
                        if deadline is not None and time.monotonic() > deadline:
                            timed_out = True
                            break
                except StopIteration as stop:
                    res = stop.value
                if res is None:
                    still.append(searches[idx])
                elif res.verdict == "fail":
                    n_fail += 1
                    failures.append(_report(m, key, kops, res))
                if n_fail or timed_out:
                    still.extend(searches[idx + 1:])
                    break
            searches = still
            chunks *= 2
        for key, kops, gen in searches:
            gen.close()
            (unchecked_keys if n_fail else unknown_keys).append(key)
    if n_fail:
        valid: Any = False
        verdict_s = "not-linearizable"
    elif unknown_keys:
        valid = "unknown"
        verdict_s = "unknown"
    else:
        valid = True
        verdict_s = "linearizable"
    return {
        "valid": valid,
        "verdict": verdict_s,
        "model": m.name,
        "keys_checked": keys_checked,
        "ops_checked": len(operations),
        "time_s": round(time.monotonic() - t0, 6),
        "unknown_keys": unknown_keys,
        "failures": failures,
        "failed_keys": n_fail,
        "unchecked_keys": unchecked_keys,
    }


def check(history: list[dict[str, Any]], model: str | Model = "register",
          time_limit: float | None = None, use_fast_path: bool = True) -> dict[str, Any]:
    """Check a history (list of op dicts) for linearizability against `model`.

    Returns {"valid": True|False|"unknown", "verdict": "linearizable"|"not-linearizable"|
    "unknown", "model", "keys_checked", "ops_checked", "time_s", "unknown_keys",
    "failures": [{"key", "prefix", "state_after_prefix", "unplaceable", "window"}],
    "failed_keys"}. Indices in failures are the `index` of each op's invoke line.
    A key whose search passes `time_limit` (seconds, whole check) is "unknown".
    """
    return check_ops(pair_ops(_positioned(history)), model, time_limit, use_fast_path)


def check_file(path: str | os.PathLike, model: str | Model = "register",
               time_limit: float | None = None, use_fast_path: bool = True) -> dict[str, Any]:
    """`check` a JSONL history file; malformed files raise `history.HistoryError`."""
    return check(read_history(path), model, time_limit, use_fast_path)
