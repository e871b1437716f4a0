"""Inference for list-append histories: history → transactions, version orders, the
anomalies that need no cycle, and the dependency graph (Elle, sections 3–4).

A transaction is an op with f "txn" whose value is a list of micro-ops `["append", k, v]`
and `["r", k, list]` (Jepsen's list-append); an ok completion carries the lists read.
Appended values are unique per key, so every element of every read names the one
transaction that appended it, and since a list only grows by appends, every read of a key
is a prefix of the key's one true history. The longest read (the final read included) is
taken as the key's *version order*; a read that is not a prefix of it is an
*incompatible order* (and gives no edges). An acknowledged append no read shows comes
after the whole order.

Graph nodes are the ok and info transactions (an info transaction may have committed;
a failed one did not and is no node). Edges carry a bit mask of why they exist:

- ww: T1 appended a value to k directly before a value T2 appended (adjacent in k's order);
- wr: T2's first read of k ends with a value T1 appended;
- rw: T1's first read of k ends just before a value T2 appended (T2 overwrote what T1 saw);
- process: T1 and T2 ran on one process, T1 first, T1 ok;
- realtime: T1 completed (ok) before T2 was invoked. Instead of an edge from every
  finished transaction to every later one, completions feed a chain of *barrier* nodes:
  T → barrier when T completes, barrier → T' when T' is invoked, barrier → next barrier.
  T1 reaches T2 through barriers exactly when T1 completed before T2 began, with a few
  edges per transaction instead of one per concurrent pair.

A read that follows the transaction's own appends to the same key is judged against them
(*internal*); for edges, a transaction's read of a key is its first read, with its own
earlier appends removed from the end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ...history import Operation, op_error, pair_ops

WW, WR, RW, PROCESS, REALTIME = 1, 2, 4, 8, 16
DATA = WW | WR | RW
EDGE_NAMES = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}
MAX_EXAMPLES = 50       # anomalies of one kind kept with their details


@dataclass(slots=True)
class Txn:
    """One transaction: its graph node number, its paired op, and its micro-ops as
    completed (ok) or as invoked (info, fail)."""

    id: int
    op: Operation
    mops: list[list[Any]]


@dataclass
class Inference:
    txns: list[Txn]                         # graph nodes; barriers are numbered after them
    succ: list[dict[int, int]]              # node → {successor: edge mask}
    orders: dict[Any, list[Any]]            # key → version order (its longest read, deduplicated)
    writer: dict[Any, dict[Any, Txn]]       # key → value → the transaction that appended it
    reads: dict[int, dict[Any, tuple]]      # txn id → key → its read of the key, own appends removed
    anomalies: dict[str, list[dict[str, Any]]]
    counts: dict[str, int] = field(default_factory=dict)   # anomaly name → how many
    longest: dict[Any, tuple] = field(default_factory=dict)  # key → its longest read, as read
    misfits: set[tuple] = field(default_factory=set)        # (txn id, key): read not a prefix
    failed: int = 0                                          # failed transactions (no nodes)

    @property
    def barriers(self) -> int:
        return len(self.succ) - len(self.txns)

    def note(self, name: str, item: dict[str, Any]) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        kept = self.anomalies.setdefault(name, [])
        if len(kept) < MAX_EXAMPLES:
            kept.append(item)


_SCALARS = frozenset((int, str))


def _bad(o: Operation, m: Any) -> Exception:
    """What is wrong with micro-op `m` of `o` (the slow path: only for a bad one)."""
    if not isinstance(m, list) or len(m) != 3 or m[0] not in ("append", "r"):
        return op_error(o, 'a micro-op must be ["append", key, value] or ["r", key, list]', m)
    # Keys and values identify things: true must not be 1, nor 1.0; strings and integers only.
    if type(m[1]) not in _SCALARS:
        return op_error(o, "a key must be an integer or a string", m[1])
    if m[0] == "append":
        return op_error(o, "an appended value must be an integer or a string", m[2])
    if not isinstance(m[2], list):
        return op_error(o, "a read must return a list", m[2])
    return op_error(o, "an element read must be an integer or a string",
                    next(x for x in m[2] if type(x) not in _SCALARS))


def _micro_ops(o: Operation, value: Any, completed: bool) -> list[list[Any]]:
    """The micro-ops of `value`, validated; an ok read of nil becomes []."""
    if type(value) is not list:
        raise op_error(o, "a txn's value must be a list of micro-ops", value)
    scalars, out = _SCALARS, []
    for m in value:
        if type(m) is not list or len(m) != 3 or type(m[1]) not in scalars:
            raise _bad(o, m)
        f = m[0]
        if f == "append":
            if type(m[2]) not in scalars:
                raise _bad(o, m)
        elif f != "r":
            raise _bad(o, m)
        elif completed:
            v = m[2]
            if v is None:
                m = ["r", m[1], []]
            elif type(v) is not list or not scalars.issuperset(map(type, v)):
                raise _bad(o, m)
        out.append(m)
    return out


def _matches(invoked: Any, done: list[list[Any]]) -> bool:
    """Does the ok value `done` (validated) answer the micro-ops `invoked`: the same
    functions on the same keys, the same values appended?"""
    if type(invoked) is not list or len(invoked) != len(done):
        return False
    for a, b in zip(invoked, done):
        if type(a) is not list or len(a) != 3 or a[0] != b[0] or a[1] != b[1] or (
                type(a[1]) is not type(b[1])) or (b[0] == "append" and (
                a[2] != b[2] or type(a[2]) is not type(b[2]))):
            return False
    return True


def transactions(history: list[dict[str, Any]]) -> tuple[list[Txn], list[Operation]]:
    """(graph nodes: the ok and info transactions, the failed ones)."""
    nodes, failed = [], []
    for o in pair_ops(history):
        if o.f != "txn":
            raise op_error(o, 'the list-append checker knows only f "txn"')
        if o.type == "ok":
            mops = _micro_ops(o, o.value, True)
            if o.invoke_value is not None and not _matches(o.invoke_value, mops):
                raise op_error(o, "the ok value does not match the micro-ops invoked", o.value)
            nodes.append(Txn(len(nodes), o, mops))
        elif o.type == "info":
            nodes.append(Txn(len(nodes), o, _micro_ops(o, o.invoke_value, False)))
        else:
            _micro_ops(o, o.invoke_value, False)
            failed.append(o)
    return nodes, failed


def infer(history: list[dict[str, Any]], final_lists: dict[str, list[Any]] | None) -> Inference:
    """Everything `cycles` and `explain` need, and the anomalies found on the way.
    `final_lists`: {str(key): list} read after the run, or None."""
    txns, failed = transactions(history)
    inf = Inference(txns, [{} for _ in txns], {}, {}, {}, {})
    writer, appends, failed_writes = _writers(inf, txns, failed)
    inf.failed = len(failed)
    observed = _internal_and_first_reads(inf, txns)
    finals = _final_by_key(final_lists, {*observed, *writer, *(k for k, _ in failed_writes)})
    for key in {*observed, *finals}:
        _version_order(inf, key, observed.get(key, []), finals.get(key), writer.get(key, {}),
                       failed_writes)
    _data_edges(inf, appends)
    _lost_appends(inf, txns, finals)
    _process_edges(inf, txns)
    _realtime_edges(inf, txns)
    return inf


def _writers(inf: Inference, txns: list[Txn], failed: list[Operation]):
    """key → value → appending txn (ok and info); txn id → key → its appends in order;
    (key, value) → the failed transaction that tried to append it."""
    writer: dict[Any, dict[Any, Txn]] = defaultdict(dict)
    appends: dict[int, dict[Any, list[Any]]] = {}
    failed_writes: dict[tuple, Operation] = {}
    for t in txns:
        mine: dict[Any, list[Any]] = {}
        for f, k, v in t.mops:
            if f == "append":
                if v in writer[k]:
                    raise op_error(t.op, f"value {v!r} appended to key {k!r} twice (values must "
                                         f"be unique per key)")
                writer[k][v] = t
                mine.setdefault(k, []).append(v)
        if mine:
            appends[t.id] = mine
    for o in failed:
        for f, k, v in o.invoke_value:
            if f == "append":
                if (k, v) in failed_writes or v in writer.get(k, ()):
                    raise op_error(o, f"value {v!r} appended to key {k!r} twice (values must be "
                                      f"unique per key)")
                failed_writes[(k, v)] = o
    inf.writer = writer
    return writer, appends, failed_writes


def _internal_and_first_reads(inf: Inference, txns: list[Txn]) -> dict[Any, list[tuple]]:
    """Check each ok transaction against its own earlier micro-ops (internal); record its
    first read of each key with its own appends removed (for edges), and every read (for
    version orders): key → [(read, txn id)]."""
    observed: dict[Any, list[tuple]] = defaultdict(list)
    for t in txns:
        if t.op.type != "ok":
            continue
        state: dict[Any, list] = {}     # key → [known in full?, values]
        first: dict[Any, tuple] = {}
        for f, k, v in t.mops:
            st = state.get(k)
            if f == "append":
                if st is None:
                    state[k] = [False, [v]]
                else:
                    st[1].append(v)
                continue
            r = tuple(v)
            observed[k].append((r, t.id))
            if st is None:
                first[k] = r
            else:
                known, vals = st
                n = len(vals)
                fits = r == tuple(vals) if known else (len(r) >= n and list(r[len(r) - n:]) == vals)
                if not fits:
                    inf.note("internal", {"txn": t.id, "key": k, "read": list(r),
                                          "expected": vals if known else ["…", *vals]})
                elif not known and k not in first:
                    first[k] = r[:len(r) - n]
            state[k] = [True, list(r)]
        if first:
            inf.reads[t.id] = first
    return observed


def _final_by_key(final_lists: dict[str, list[Any]] | None, keys: set) -> dict[Any, tuple]:
    if not final_lists:
        return {}
    by_name = {str(k): k for k in keys}
    return {by_name.get(name, name): tuple(v) for name, v in final_lists.items()}


def _version_order(inf: Inference, key: Any, reads: list[tuple], final: tuple | None,
                   writers: dict[Any, Txn], failed_writes: dict[tuple, Operation]) -> None:
    """Take the longest read of `key` as its order; every read must be a prefix of it.
    The order's elements are checked once (duplicates, garbage, aborted reads): every
    compatible read is a prefix, so it holds nothing the order does not. As Elle does,
    the order is used for edges even when some read contradicts it (only the reads that
    fit it give edges), and with duplicates dropped (the first occurrence counts)."""
    candidates = reads + ([(final, None)] if final is not None else [])
    longest, reader = max(candidates, key=lambda c: len(c[0]), default=((), None))
    for r, t in candidates:
        if longest[:len(r)] != r:
            inf.note("incompatible-order", {"key": key, "read": list(r), "txn": t,
                                            "longest": list(longest), "longest_txn": reader})
            _check_elements(inf, key, r, t, writers, failed_writes)
            if t is not None:
                inf.misfits.add((t, key))
    order = list(dict.fromkeys(longest))
    if len(order) != len(longest):
        dups = sorted({x for x in longest if longest.count(x) > 1}, key=str)
        inf.note("duplicate-elements", {"key": key, "read": list(longest), "txn": reader,
                                        "duplicates": dups})
    _check_elements(inf, key, longest, reader, writers, failed_writes)
    inf.orders[key] = order
    inf.longest[key] = longest


def _check_elements(inf: Inference, key: Any, r: tuple, reader: Any, writers: dict[Any, Txn],
                    failed_writes: dict[tuple, Operation]) -> None:
    for x in r:
        if x in writers:
            continue
        o = failed_writes.get((key, x))
        if o is not None:
            inf.note("G1a", {"key": key, "value": x, "txn": reader, "writer_index": o.invoke_index,
                             "writer_process": o.process})
        else:
            inf.note("garbage-read", {"key": key, "value": x, "txn": reader})


def _add(succ: list[dict[int, int]], a: int, b: int, mask: int) -> None:
    if a != b:
        d = succ[a]
        d[b] = d.get(b, 0) | mask


def _data_edges(inf: Inference, appends: dict[int, dict[Any, list[Any]]]) -> None:
    """ww along each order; wr and rw from each transaction's first read of a key.

    An acknowledged append that no read shows (*unobserved*) still happened, after every
    element of the longest read (a read taken after it would show it): as in Elle, it
    follows the order's last element (ww) and every read of the whole order (rw)."""
    succ = inf.succ
    unobserved: dict[Any, list[int]] = {}
    for key, order in inf.orders.items():
        writers = inf.writer.get(key, {})
        ids = [writers[v].id if v in writers else -1 for v in order]
        for a, b in zip(ids, ids[1:]):
            if a >= 0 and b >= 0 and a != b:
                d = succ[a]
                d[b] = d.get(b, 0) | WW
        seen = set(order)
        late = [w.id for v, w in writers.items() if v not in seen and w.op.type == "ok"]
        if late:
            unobserved[key] = late
            if ids and ids[-1] >= 0:
                for w in late:
                    _add(succ, ids[-1], w, WW)
    updates: dict[tuple, list[int]] = defaultdict(list)   # (key, state read) → who then appended
    for tid, first in inf.reads.items():
        for key, r in first.items():
            longest = inf.longest.get(key)
            if longest is None or (tid, key) in inf.misfits:
                continue
            if key in appends.get(tid, ()):
                updates[(key, r)].append(tid)
            writers = inf.writer[key] if key in inf.writer else {}
            if r:
                w = writers.get(r[-1])
                if w is not None:
                    if w.id != tid:
                        d = succ[w.id]
                        d[tid] = d.get(tid, 0) | WR
                    mine = appends.get(w.id, {}).get(key)
                    if w.id != tid and mine and mine[-1] != r[-1]:
                        inf.note("G1b", {"key": key, "value": r[-1], "txn": tid, "writer": w.id,
                                         "writer_final": mine[-1]})
            if len(r) < len(longest):
                w = writers.get(longest[len(r)])
                if w is not None and w.id != tid:
                    d = succ[tid]
                    d[w.id] = d.get(w.id, 0) | RW
            else:
                for w in unobserved.get(key, ()):
                    _add(succ, tid, w, RW)
    for (key, r), tids in updates.items():
        if len(tids) > 1:       # (only committed transactions' reads are known)
            # two committed read-modify-writes of one state: one overwrote the other's basis
            inf.note("lost-update", {"key": key, "read": list(r), "txn": tids[0], "txns": len(tids)})


def _lost_appends(inf: Inference, txns: list[Txn], finals: dict[Any, tuple]) -> None:
    """An acknowledged append missing from its key's final read (if the key was read)."""
    final_sets = {k: set(v) for k, v in finals.items()}
    for t in txns:
        if t.op.type != "ok":
            continue
        for f, k, v in t.mops:
            if f == "append" and k in final_sets and v not in final_sets[k]:
                inf.note("lost-append", {"key": k, "value": v, "txn": t.id})


def _process_edges(inf: Inference, txns: list[Txn]) -> None:
    last: dict[Any, Txn] = {}
    for t in sorted(txns, key=lambda t: t.op.invoke_index):
        prev = last.get(t.op.process)
        if prev is not None and prev.op.type == "ok":
            _add(inf.succ, prev.id, t.id, PROCESS)
        last[t.op.process] = t


def _realtime_edges(inf: Inference, txns: list[Txn]) -> None:
    """Barrier chain (see the module's docstring). At equal times an invoke comes first:
    an op that completed at the instant another began is not before it."""
    events = [(t.op.start, 0, t.id) for t in txns]
    events += [(t.op.end, 1, t.id) for t in txns if t.op.type == "ok"]
    events.sort()
    succ = inf.succ
    barrier, fresh = -1, True
    for _time, kind, tid in events:
        if kind == 0:
            if barrier >= 0:
                _add(succ, barrier, tid, REALTIME)
                fresh = True
        else:
            if fresh:       # an invoke came since the last barrier: it must not see tid
                succ.append({})
                new = len(succ) - 1
                if barrier >= 0:
                    _add(succ, barrier, new, REALTIME)
                barrier, fresh = new, False
            _add(succ, tid, barrier, REALTIME)
