"""List-append transaction histories that are strict-serializable by construction.

`generate(...)` simulates `processes` clients running transactions of micro-ops
["append", key, value] and ["r", key, list] against a store of lists (one Redis list
per key), with an event queue in simulated time (int nanoseconds):

- A client invokes a transaction at time t_inv; it completes at t_comp = t_inv + d,
  d drawn around 1 ms, and invokes its next one after a short pause (0-100 us), so
  each process's ops are sequential and the processes' transactions overlap heavily
  (about `processes` transactions are in flight at any instant).
- What a transaction does is drawn at its invoke, in invoke order: its micro-ops
  (uniformly `min_ops`..`max_ops` of them; each a read with probability `read_share`,
  else an append) on keys from a pool of `keys` active keys. Appends to a key carry
  1, 2, 3, ...; a key that has been given `max_writes_per_key` appends (attempted ones
  count) is retired and a fresh key id takes its place, as in Jepsen's list-append.
- An ok transaction takes effect atomically at one instant s, t_inv < s < t_comp: its
  micro-ops run in order against the store then, so a read returns the key's list at s
  including the transaction's own earlier appends ([] for a key never appended).
- A `fail` transaction never takes effect; its completion carries the invoke's value.
- An `info` transaction (the client never learns the outcome) takes effect with
  probability 1/2, at an instant after its invoke, possibly after its info completion
  (a timed-out write that still lands); its completion carries the invoke's value,
  reads null. Its process is replaced by a fresh id (previous id + `processes`).
- With `leave_open`, some processes' last transaction is never completed: an open
  invoke, which took effect (or not) as its drawn outcome said.

Why this is strict-serializable: order the applied transactions by their instants s
(all event times are distinct). That is a serial order, and replaying it gives exactly
what every ok read returned (each read was computed from the state at s) and the final
lists. It respects real time: if T1 completed before T2 was invoked, s1 < t_comp1 <
t_inv2 < s2 (only ok transactions have a completion that binds; an info or open one may
take effect any time after its invoke). Failed transactions are in no order and left no
trace. `return_order=True` also returns that order (the invoke indices), for tests.

Output: the project's JSONL dicts (index, time, process, type, f="txn", value), and the
final read of the converged store: {"primary": {"node": "sim", "lists": {str(key): [...]}}}.
"""

from __future__ import annotations

import heapq
import math
import os
import random
from typing import Any

import orjson

from ..history import gc_paused

__all__ = ["generate", "write_jsonl", "write_final"]

_MEAN_NS = 1_000_000      # typical transaction latency
_PAUSE_NS = 100_000       # a client's pause between transactions, at most
_MIN_NS = 10_000          # shortest transaction
_INVOKE, _APPLY, _COMPLETE = 0, 1, 2


def generate(n_txns: int = 1000, processes: int = 5, keys: int = 10, max_writes_per_key: int = 100,
             min_ops: int = 1, max_ops: int = 4, read_share: float = 0.5, info_rate: float = 0.01,
             fail_rate: float = 0.01, seed: int | None = None, leave_open: bool = False,
             return_order: bool = False) -> tuple:
    """A strict-serializable list-append history of `n_txns` transactions (invokes).

    Returns (history, final), or (history, final, order) with `return_order`: `order`
    lists the invoke `index` of every applied transaction in serialization order
    (ok ones, applied info ones, applied open ones). See the module docstring.

    The cyclic garbage collector is paused meanwhile (as `read_history` does): the ops
    are hundreds of thousands of small lists and dicts without cycles, and its passes
    over them took two thirds of the time.
    """
    with gc_paused():
        history, final, order = _simulate(n_txns, processes, keys, max_writes_per_key, min_ops,
                                          max_ops, read_share, info_rate, fail_rate, seed,
                                          leave_open)
    return (history, final, order) if return_order else (history, final)


def _simulate(n_txns, processes, keys, max_writes_per_key, min_ops, max_ops, read_share,
              info_rate, fail_rate, seed, leave_open) -> tuple[list, dict, list]:
    if processes < 1 or keys < 1 or max_writes_per_key < 1 or n_txns < 0:
        raise ValueError("processes, keys and max_writes_per_key must be >= 1, n_txns >= 0")
    if not 1 <= min_ops <= max_ops:
        raise ValueError("need 1 <= min_ops <= max_ops")
    rng = random.Random(seed)
    rand = rng.random                     # int(rand() * n): randrange is slower
    gauss, exp = rng.gauss, math.exp
    mu = math.log(_MEAN_NS)
    heappush, heappop = heapq.heappush, heapq.heappop

    active = list(range(keys))            # the key pool
    next_key = keys
    written = {k: 0 for k in active}      # appends given to each key (attempted)
    touched: set[int] = set()             # keys of any transaction: what the final read covers
    store: dict[int, list[int]] = {}
    used: set[int] = set()                # event times taken: every instant is distinct
    out: list[dict[str, Any]] = []
    order: list[int] = []
    events: list[tuple] = []              # (time, kind, pid or txn); times are unique

    def free(t: int) -> int:
        while t in used:
            t += 1
        used.add(t)
        return t

    span = max_ops - min_ops + 1
    emit = out.append
    empty: list[int] = []
    for p in range(processes):
        heappush(events, (free(int(rand() * _PAUSE_NS) if p else 0), _INVOKE, p))
    invoked = 0
    while events:
        t, kind, obj = heappop(events)
        if kind == _INVOKE:
            pid = obj
            if invoked >= n_txns:
                continue
            invoked += 1
            micro = []
            for _ in range(min_ops + int(rand() * span)):
                slot = int(rand() * keys)
                k = active[slot]
                touched.add(k)
                if rand() < read_share:
                    micro.append(["r", k, None])
                else:
                    written[k] = n = written[k] + 1
                    micro.append(["append", k, n])
                    if n >= max_writes_per_key:      # retire: a fresh key takes its slot
                        active[slot] = next_key
                        written[next_key] = 0
                        next_key += 1
            r = rand()
            outcome = "info" if r < info_rate else "fail" if r < info_rate + fail_rate else "ok"
            t_comp = t + _MIN_NS + int(exp(gauss(mu, 0.6)))
            while t_comp in used:
                t_comp += 1
            used.add(t_comp)
            index = len(out)
            txn = [pid, micro, outcome, index, None]    # the result is set when applied
            emit({"index": index, "time": t, "process": pid, "type": "invoke", "f": "txn",
                  "value": micro})
            if outcome == "ok" or (outcome == "info" and rand() < 0.5):
                hi = t_comp if outcome == "ok" else t_comp + (t_comp - t)  # info: maybe later
                s = t + 1 + int(rand() * (hi - t - 1))
                while s in used:
                    s = t + 1 + int(rand() * (hi - t - 1))
                used.add(s)
                heappush(events, (s, _APPLY, txn))
            heappush(events, (t_comp, _COMPLETE, txn))
        elif kind == _APPLY:
            result = []
            for m in obj[1]:
                f, k, v = m
                if f == "append":
                    lst = store.get(k)
                    if lst is None:
                        store[k] = lst = []
                    lst.append(v)
                    result.append([f, k, v])
                else:
                    result.append(["r", k, store.get(k, empty)[:]])
            obj[4] = result
            order.append(obj[3])
        else:
            pid, micro, outcome, _, result = obj
            if leave_open and invoked >= n_txns and rand() < 0.5:
                continue                            # never completes: an open invoke
            if outcome == "ok":
                value = result
            else:
                value = [list(m) for m in micro]
            emit({"index": len(out), "time": t, "process": pid, "type": outcome, "f": "txn",
                  "value": value})
            if outcome == "info":
                pid += processes
            heappush(events, (free(t + 1 + int(rand() * _PAUSE_NS)), _INVOKE, pid))
    final = {"primary": {"node": "sim", "lists": {str(k): list(store.get(k, ()))
                                                  for k in sorted(touched)}}}
    return out, final, order


def write_jsonl(history: list[dict[str, Any]], path: str | os.PathLike) -> None:
    """One JSON object per line, as `harness.history.read_history` reads it."""
    with open(path, "wb") as fh:
        fh.write(b"".join(orjson.dumps(e) + b"\n" for e in history))


def write_final(final: dict[str, Any], path: str | os.PathLike) -> None:
    """The final read as final.json."""
    with open(path, "wb") as fh:
        fh.write(orjson.dumps(final))
