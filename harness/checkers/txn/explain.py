"""Explanation: a cycle → words a person can check against the history (after Elle's
"Let T1 = ..., then T1 < T2 because ..." explanations).

Each step says which key and which read or append makes the edge, recomputed from the
inference (edges carry only a bit mask, to keep the graph small). Steps through realtime
barriers are joined into one: "T1 completed before T2 was invoked".
"""

from __future__ import annotations

from typing import Any

from .cycles import Cycle
from .infer import PROCESS, REALTIME, RW, WR, WW, EDGE_NAMES, Inference


def _show(v: Any) -> str:
    if isinstance(v, list):
        return "[" + " ".join(_show(x) for x in v) + "]"
    return "nil" if v is None else str(v)


def _mops(mops: list[list[Any]]) -> str:
    return " ".join(f"[{f} {_show(k)} {_show(v)}]" for f, k, v in mops)


def _appended(inf: Inference, t: int) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for f, k, v in inf.txns[t].mops:
        if f == "append":
            out.setdefault(k, []).append(v)
    return out


def _why(inf: Inference, a: int, b: int, kind: int, names: dict[int, str]) -> str:
    ta, tb = inf.txns[a], inf.txns[b]
    A, B = names[a], names[b]
    if kind == WW:
        mine, theirs = _appended(inf, a), _appended(inf, b)
        for k in mine.keys() & theirs.keys():
            order = inf.orders.get(k) or []
            for x, y in zip(order, order[1:]):
                if x in mine[k] and y in theirs[k]:
                    return (f"{A} appended {_show(x)} to key {_show(k)} and {B} appended {_show(y)} "
                            f"right after it (key {_show(k)} reads {_show(order)})")
            unread = [v for v in theirs[k] if v not in order]
            if order and order[-1] in mine[k] and unread:
                return (f"{B}'s append of {_show(unread[0])} to key {_show(k)} was never read, so it "
                        f"came after every element read, the last of which, {_show(order[-1])}, "
                        f"{A} appended (key {_show(k)} reads {_show(order)})")
    if kind == WR:
        mine = _appended(inf, a)
        for k, r in (inf.reads.get(b) or {}).items():
            if r and r[-1] in mine.get(k, ()):
                return f"{B} read key {_show(k)} as {_show(list(r))}, whose last element {A} appended"
    if kind == RW:
        theirs = _appended(inf, b)
        for k, r in (inf.reads.get(a) or {}).items():
            order = inf.orders.get(k) or []
            if len(r) < len(order) and order[len(r)] in theirs.get(k, ()):
                return (f"{A} read key {_show(k)} as {_show(list(r))}, and {B} appended "
                        f"{_show(order[len(r)])}, the next element, so {A} did not see {B}'s append")
            unread = [v for v in theirs.get(k, ()) if v not in order]
            if len(r) >= len(order) and unread:
                return (f"{A} read key {_show(k)} as {_show(list(r))}, all of it that was ever "
                        f"read, and {B}'s append of {_show(unread[0])} was never read: it came "
                        f"after, so {A} did not see it")
    if kind == PROCESS:
        return f"{A} and {B} ran on process {ta.op.process}, {A} first and acknowledged"
    if kind == REALTIME:
        return (f"{A} completed (at {ta.op.end / 1e9:.6f} s) before {B} was invoked "
                f"(at {tb.op.start / 1e9:.6f} s)")
    return EDGE_NAMES.get(kind, "?")


def _joined(inf: Inference, steps: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The cycle's steps between transactions: barrier nodes (numbered after every
    transaction) are joined into single realtime steps. `steps` starts at a transaction."""
    n, out, start = len(inf.txns), [], -1
    for a, b, kind in steps:
        if a < n and b < n:
            out.append((a, b, kind))
        elif a < n:
            start = a
        elif b < n:
            out.append((start, b, REALTIME))
    return out


def explain(inf: Inference, cycle: Cycle) -> dict[str, Any]:
    """{"name", "txns": [{label, index, process, type, node, mops, start, end}], "steps":
    [{from, to, kind, why}], "text"}."""
    steps = _joined(inf, _rotated(inf, cycle.steps))
    order = list(dict.fromkeys(a for a, _, _ in steps))
    names = {t: f"T{i + 1}" for i, t in enumerate(order)}
    txns = []
    for t in order:
        o = inf.txns[t].op
        txns.append({"label": names[t], "index": o.invoke_index, "process": o.process,
                     "type": o.type, "node": o.node, "start": o.start, "end": o.end,
                     "mops": inf.txns[t].mops})
    out_steps = [{"from": names[a], "to": names[b], "kind": EDGE_NAMES[k],
                  "why": _why(inf, a, b, k, names)} for a, b, k in steps]
    lines = [f"{cycle.name}: a cycle of {len(order)} transactions. Let:"]
    lines += [f"  {t['label']} = index {t['index']}, process {t['process']} ({t['type']}): "
              f"{_mops(t['mops'])}" for t in txns]
    lines.append("Then:")
    lines += [f"  {s['from']} < {s['to']} ({s['kind']}): {s['why']}" for s in out_steps]
    lines.append(f"  and so {names[order[0]]} < {names[order[0]]}: a contradiction.")
    return {"name": cycle.name, "txns": txns, "steps": out_steps, "text": "\n".join(lines)}


def _rotated(inf: Inference, steps: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The same cycle starting at a transaction, not a barrier."""
    n = len(inf.txns)
    i = next((i for i, (a, _, _) in enumerate(steps) if a < n), 0)
    return steps[i:] + steps[:i]
