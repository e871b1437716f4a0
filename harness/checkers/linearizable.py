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
   its own. Every key is checked, not just up to the first failing one, so a result
   says how many keys (and which) a violation reaches.
3. Fast path (`linear_zones.py`): a read/write key whose written values are all
   distinct is decided in O(n log n) by the zones of its values, without search (a
   rejected key is searched, within a budget, for the usual failure report).
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
   The memo is capped (cleared when it passes `memo_cap` entries, which only costs
   time). The keys that need the search are searched round-robin with doubling slices
   (`_round_robin`), so one hard key cannot starve the others; a time limit leaves the
   keys not decided by then as unknown (or unchecked, when another key failed).
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable

from ..history import Operation, pair_ops, read_history
from .linear_zones import KeyOp as _Op, fast_key, search_report
from .models import MODELS, NOTBLIND as _NOTBLIND, Model, get_model

__all__ = ["check", "check_file", "check_ops", "failure_summary", "MODELS"]

MAX_FAILURES = 10               # detailed failure reports kept in a result
MAX_KEY_NAMES = 1000            # failing key names kept in a result
MEMO_BYTES = 256 << 20          # rough budget for the memo of one key's search
EXTENT_LIMIT_S = 2.0            # without a time limit: search time after the first failure


# ----------------------------------------------------------------------------- helpers

def _positioned(history: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The history with `time` replaced by the op's position: order is what counts."""
    for pos, op in enumerate(history):
        d = dict(op)
        d["time"] = pos
        if "index" not in d:
            d["index"] = pos
        yield d


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
    or stop it), and returns a `_Result` with verdict "ok" or "fail". A caller may
    `send` a new memo cap at a yield (e.g. a larger one once other keys are done).
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
                new_cap = yield
                if new_cap:
                    memo_cap = new_cap
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


# ----------------------------------------------------------------------------- keys

def _round_robin(model: Model, searches: list, stop: float | None,
                 extent_limit: float | None, failed: list, failures: list) -> list:
    """Search the keys of `searches` ([(key, ops)]) round-robin with doubling slices (4, 8,
    16, ... CHUNKs of steps per key and round), so one hard key cannot starve the others.

    Appends failing keys to `failed` and their reports to `failures` (up to MAX_FAILURES).
    Stops at `stop` (a monotonic time, or None) and, unless `extent_limit` is None,
    `extent_limit` seconds after the first failing key (now, if `failed` already holds
    one). Returns the keys it left undecided."""
    live = [(key, ops, _search_gen(model, ops)) for key, ops in searches]
    chunks = 4
    cap = None      # fresh generators take no `send` value, and size their own memo
    extent_set = extent_limit is None
    while live:
        still = []
        for idx, item in enumerate(live):
            if failed and not extent_set:       # the verdict is settled: bound the rest
                extent_set = True
                t = time.monotonic() + extent_limit
                stop = t if stop is None else min(stop, t)
            if stop is not None and time.monotonic() >= stop:
                for _, _, gen in live[idx:] + still:
                    gen.close()
                return [key for key, _, _ in still + live[idx:]]
            key, ops, gen = item
            try:
                for _ in range(chunks):
                    gen.send(cap)
                    if stop is not None and time.monotonic() >= stop:
                        break
                still.append(item)
                continue
            except StopIteration as fin:
                res = fin.value
            if res.verdict == "fail":
                failed.append(key)
                if len(failures) < MAX_FAILURES:
                    failures.append(search_report(model, key, ops, res))
        live = still
        chunks *= 2
        if live:    # the memo budget is shared by the searches still alive
            cap = max(5_000, MEMO_BYTES // (120 + max(len(k[1]) for k in live) // 8)
                      // len(live))
    return []


# ----------------------------------------------------------------------------- public API

def check_ops(operations: list[Operation], model: str | Model = "register",
              time_limit: float | None = None, use_fast_path: bool = True,
              extent_limit: float | None = None) -> dict[str, Any]:
    """Check paired operations (start/end must order them); arguments and result as in
    `check`."""
    t0 = time.monotonic()
    deadline = None if time_limit is None else t0 + time_limit
    if extent_limit is None and time_limit is None:
        extent_limit = EXTENT_LIMIT_S
    m = get_model(model)
    prepared = [p for p in (m.prepare(op) for op in operations if op.type != "fail")
                if p is not None]
    parts = m.partition(prepared)
    failed: list = []           # failing keys, in the order they were found
    failures: list = []
    searches = []               # (key, ops) the fast path could not decide
    for key, mops in parts.items():
        kops = []
        for p in m.drop_unobserved(mops):
            op = p[3] if isinstance(p, tuple) else getattr(p, "op", p)
            kops.append(_Op(p, op.start, op.end if op.type != "info" else None, op))
        kops.sort(key=lambda o: o.start)
        verdict, report = (fast_key(m, key, kops, deadline, _search,
                                    len(failures) < MAX_FAILURES)
                           if use_fast_path else (None, None))
        if verdict == "fail":
            failed.append(key)
            if report is not None:
                failures.append(report)
        elif verdict is None:
            searches.append((key, kops))
    undecided = _round_robin(m, searches, deadline, extent_limit, failed, failures)
    valid: Any = False if failed else "unknown" if undecided else True
    is_failed = set(failed)
    return {
        "valid": valid,
        "verdict": {False: "not-linearizable", True: "linearizable"}.get(valid, "unknown"),
        "model": m.name,
        "keys_checked": len(parts),
        "ops_checked": len(operations),
        "time_s": round(time.monotonic() - t0, 6),
        "unknown_keys": [] if failed else undecided,
        "failures": failures,
        "failed_keys": len(failed),
        "failed_key_names": [k for k in parts if k in is_failed][:MAX_KEY_NAMES],
        "unchecked_keys": undecided if failed else [],
    }


def check(history: list[dict[str, Any]], model: str | Model = "register",
          time_limit: float | None = None, use_fast_path: bool = True,
          extent_limit: float | None = None) -> dict[str, Any]:
    """Check a history (list of op dicts) for linearizability against `model`.

    Every key is checked until all are decided or the time is up. `time_limit`: seconds
    for the whole check (None: none). `extent_limit`: seconds the search goes on once a
    key has failed (the verdict is then settled; the rest only measures the extent of
    the violation); None means none when `time_limit` is given and EXTENT_LIMIT_S when
    not, so that a check without limit ends once it knows the verdict; 0 stops at the
    first failing key (as Porcupine does).

    Returns a dict:
      valid, verdict    True / "linearizable", False / "not-linearizable" (some key
                        failed), or "unknown" / "unknown" (no key failed, some undecided)
      model             the model's name
      keys_checked      number of keys (independent sub-histories) in the history
      ops_checked       number of paired operations
      time_s            seconds spent
      failed_keys       number of keys found not linearizable
      failed_key_names  those keys, ordered by their first checked op (failed ops and
                        crashed reads are not checked); at most MAX_KEY_NAMES (a list
                        shorter than `failed_keys` was cut)
      failures          reports on the first MAX_FAILURES failing keys found: {"key",
                        "prefix", "state_after_prefix", "unplaceable", "window"}; indices
                        are the `index` of each op's invoke line
      unknown_keys      keys undecided when the time was up, if no key failed
      unchecked_keys    keys undecided when the time was up, if some key failed (the
                        verdict stands; these keys may or may not fail too)
    At most one of unknown_keys and unchecked_keys is non-empty, and both are empty
    unless a limit stopped the search: every other key was decided, and those not in
    failed_key_names are linearizable.
    """
    return check_ops(pair_ops(_positioned(history)), model, time_limit, use_fast_path,
                     extent_limit)


def check_file(path: str | os.PathLike, model: str | Model = "register",
               time_limit: float | None = None, use_fast_path: bool = True,
               extent_limit: float | None = None) -> dict[str, Any]:
    """`check` a JSONL history file; malformed files raise `history.HistoryError`."""
    return check(read_history(path), model, time_limit, use_fast_path, extent_limit)


def failure_summary(r: dict[str, Any]) -> str:
    """One line on a result of `check`: the verdict and how far a violation reaches."""
    keys = r.get("keys_checked", 0)
    if r["valid"] is True:
        return f"linearizable: {keys} keys, {r.get('ops_checked', 0)} ops"
    if r["valid"] is False:
        n, names = r.get("failed_keys", 0), r.get("failed_key_names") or []
        shown = ", ".join(map(str, names[:5])) + (", ..." if n > 5 else "")
        rest = len(r.get("unchecked_keys") or [])
        return (f"not linearizable: {n} of {keys} keys ({shown})"
                + (f"; {rest} keys undecided in the time limit" if rest else ""))
    return f"unknown: {len(r.get('unknown_keys') or [])} of {keys} keys undecided in the time limit"
