"""A "window of ops" chart (after Porcupine's visualisation): a few ops around some that
matter, one row per process, each op a bar from its invocation to its completion, laid
out in history order (x is the rank of invocations and completions, not time, so
overlapping bars are exactly the concurrent ops).

A checker's `view()` asks for one through `RunView.op_window`; the report hands it to the
page's script with every other chart a view returned, and report.js draws any chart of
kind "op-window" without knowing which checker asked. Bars are classed "numbered" (ops
the checker ordered, labelled #1, #2, ...), "flagged" (the ops it singles out), "fail"
and "other"; the view names the classes for the legend.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ..history import Operation
from ..templating import short

#: Ops drawn in one window.
MAX_WINDOW_OPS = 400
#: The last numbered ops always drawn: they show how the state came to be.
NUMBERED_TAIL = 5

CLASS_NAMES = {"numbered": "numbered ops (#n = their order)", "flagged": "flagged ops",
               "fail": "failed ops", "other": "other ops of the window"}


def _end(o: Operation) -> float:
    return o.end if o.end is not None else o.start


def choose(by_index: Mapping[Any, Operation], ops: Iterable[Operation], core: Iterable[Any],
           key: Any, numbered: Sequence[Any], flagged: Iterable[Any]) -> tuple[list[Any], int]:
    """The invoke indices to draw, in start order, and how many were left out.

    The core ops, the flagged ones and the last numbered ones; then every op of `key` and
    every numbered op that overlaps their time span. Past MAX_WINDOW_OPS, the ops just
    around the first flagged op are kept (and the flagged ones always)."""
    numbered = [i for i in numbered if i in by_index]
    flagged = [i for i in flagged if i in by_index]
    chosen = {i for i in core if i in by_index} | set(flagged) | set(numbered[-NUMBERED_TAIL:])
    if chosen:
        lo = min(by_index[i].start for i in chosen)
        hi = max(_end(by_index[i]) for i in chosen)
        chosen |= {o.invoke_index for o in ops if o.key == key and o.start <= hi
                   and (o.end is None or o.end >= lo)}
        chosen |= {i for i in numbered if by_index[i].start <= hi
                   and (by_index[i].end is None or by_index[i].end >= lo)}
    window = sorted(chosen, key=lambda i: (by_index[i].start, i))
    truncated = 0
    if len(window) > MAX_WINDOW_OPS:
        anchor = window.index(flagged[0]) if flagged and flagged[0] in window else len(window)
        hi_ = min(len(window), anchor + MAX_WINDOW_OPS // 4)
        lo_ = max(0, hi_ - MAX_WINDOW_OPS)
        truncated = len(window) - (hi_ - lo_)
        kept = window[lo_:hi_]
        window = kept + [i for i in flagged if i not in kept]
    return list(dict.fromkeys(window)), truncated


def bars(chosen: list[Operation], numbered: Sequence[Any],
         flagged: Mapping[Any, str]) -> list[dict[str, Any]]:
    """One bar per op: x0/x1 its invocation's and completion's ranks among all of them."""
    if not chosen:
        return []
    t_last = max(_end(o) for o in chosen)
    events: list[tuple[float, int, int]] = []  # (time, 0 invoke / 1 complete, op#)
    for n, o in enumerate(chosen):
        events.append((o.start, 0, n))
        events.append((o.end if o.end is not None else t_last, 1, n))
    events.sort()
    pos = {(n, kind): rank for rank, (_, kind, n) in enumerate(events)}
    order = {i: k + 1 for k, i in enumerate(numbered)}
    out = []
    for n, o in enumerate(chosen):
        i = o.invoke_index
        cls = ("flagged" if i in flagged else "numbered" if i in order else
               "fail" if o.type == "fail" else "other")
        val = o.value if o.type == "ok" else o.invoke_value
        label = f"{o.f} {short(val, 24)}" if val is not None else o.f
        if i in order:
            label = f"#{order[i]} {label}"
        hover = (f"index {i} · process {o.process} · {o.f} {short(o.invoke_value, 40)} → "
                 f"{o.type} {short(o.value, 40)} · {o.start / 1e9:.4f}s"
                 + (f"–{o.end / 1e9:.4f}s" if o.end is not None else " (never completed)")
                 + (f" · {flagged[i]}" if flagged.get(i) else ""))
        out.append({"p": o.process if isinstance(o.process, int) else str(o.process),
                    "x0": pos[(n, 0)], "x1": max(pos[(n, 1)], pos[(n, 0)] + 0.6),
                    "cls": cls, "label": label, "type": o.type, "hover": hover})
    return out


def op_window(chart_id: str, by_index: Mapping[Any, Operation], ops: Iterable[Operation],
              core: Iterable[Any], key: Any = None, numbered: Sequence[Any] = (),
              flagged: Mapping[Any, str] | None = None,
              legend: Mapping[str, str] | None = None, title: str = "") -> dict[str, Any]:
    """The chart (JSON for report.js) of the ops around `core` (see `choose`)."""
    flagged = dict(flagged or {})
    numbered = [i for i in numbered if i in by_index]
    window, truncated = choose(by_index, ops, core, key, numbered, flagged)
    chosen = [by_index[i] for i in window]
    return {"kind": "op-window", "id": chart_id, "title": title,
            "bars": bars(chosen, numbered, flagged), "truncated": truncated,
            "indices": [o.invoke_index for o in chosen],
            "classes": {**CLASS_NAMES, **(legend or {})}}
