"""The faults of a run as the report shows them: shaded windows and single events.

Windows come from `history.fault_windows` (the one pairing of nemesis ops the checkers
and statistics use too) and from results.json's `windows` (what the faults observed,
e.g. Sentinel TILT, as lists of {node, start, end}); every other nemesis op is an event,
a dotted line. Times here are seconds since the run started (the history's are ns).
"""

from __future__ import annotations

import math
from typing import Any

from ..history import NEMESIS, fault_windows
from ..templating import number, short

FAULT_COLORS = {
    "partition": "#f59e0b",
    "kill": "#ef4444",
    "pause": "#a855f7",
    "clock": "#3b82f6",
    "tilt": "#eab308",
}
OTHER_FAULT_COLORS = ["#14b8a6", "#ec4899", "#84cc16", "#6366f1", "#f97316", "#64748b"]


def fault_color(name: str, _cache: dict[str, str] = {}) -> str:
    """A colour per fault kind: the usual kinds fixed, others from a palette in order of
    first appearance (the cache keeps a kind's colour across the page)."""
    for k, c in FAULT_COLORS.items():
        if k in name:
            return c
    if name not in _cache:
        _cache[name] = OTHER_FAULT_COLORS[len(_cache) % len(OTHER_FAULT_COLORS)]
    return _cache[name]


def sec(t: Any, digits: int | None = 4) -> float | None:
    """Nanoseconds to seconds (rounded to 0.1 ms unless digits is None); None if not a time."""
    f = number(t)
    if f is None:
        return None
    s = f / 1e9
    return s if digits is None else round(s, digits)


def describe_fault_value(value: Any) -> str:
    """A short text of a nemesis op's value: partition groups, clock offsets, or JSON."""
    if value is None:
        return ""
    if isinstance(value, dict):
        parts = []
        if "shape" in value:
            parts.append(str(value["shape"]))
        groups = value.get("groups")
        if isinstance(groups, list) and all(isinstance(g, list) for g in groups):
            parts.append(" | ".join(" ".join(str(n) for n in g) for g in groups))
        offsets = value.get("offsets_ms")
        if isinstance(offsets, dict):
            parts.append(" ".join(f"{n} {_signed(v)}ms" for n, v in offsets.items()))
        rest = {k: v for k, v in value.items() if k not in ("shape", "groups", "offsets_ms")}
        if rest:
            parts.append(short(rest, 60))
        return short(", ".join(parts), 100)
    return short(value, 100)


def _signed(v: Any) -> str:
    return f"{v:+}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _orphan_stops(nemesis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completions of stop-X with no window of X open (e.g. healing a fault that was never
    started): `fault_windows` drops them, the report shows them as events."""
    open_: set[str] = set()
    out = []
    for op in nemesis:
        if op.get("type") == "invoke":
            continue
        f = op.get("f") or ""
        if f.startswith("start-") and len(f) > 6:
            open_.add(f[6:])
        elif f.startswith("stop-") and len(f) > 5:
            if f[5:] in open_:
                open_.discard(f[5:])
            else:
                out.append(op)
    return out


def _events(nemesis: list[dict[str, Any]], horizon: float) -> list[dict[str, Any]]:
    """Nemesis ops that are not a window's start or stop. A Jepsen-style op is an invoke
    then a completion: the completion is shown, or the invoke if it never completed."""
    completed = {op.get("f") for op in nemesis if op.get("type") != "invoke"}
    out = []
    for op in nemesis:
        f = op.get("f") or ""
        if f.startswith(("start-", "stop-")):
            continue
        if op.get("type") == "invoke" and f in completed:
            continue
        out.append(op)
    out += _orphan_stops(nemesis)
    events = []
    for op in out:
        t = sec(op.get("time"))
        if t is not None and abs(t) <= horizon:
            events.append({"name": str(op.get("f")), "time": t,
                           "detail": describe_fault_value(op.get("value")),
                           "color": fault_color(str(op.get("f")))})
    events.sort(key=lambda e: e["time"])
    return events


def observed_windows(results_windows: Any, t_end_s: float,
                     horizon: float = math.inf) -> list[dict[str, Any]]:
    """results.json's `windows` ({name: [{node, start, end, ...}]}, ns; end None = still
    open at the end) as report windows, marked `derived`."""
    out: list[dict[str, Any]] = []
    if not isinstance(results_windows, dict):
        return out
    for name, items in results_windows.items():
        for w in items if isinstance(items, list) else ():
            if not isinstance(w, dict):
                continue
            s, e = sec(w.get("start")), sec(w.get("end"))
            if s is None or abs(s) > horizon:
                continue
            e = e if e is None or e <= horizon else t_end_s
            detail = " ".join(f"{k}={short(v, 40)}" for k, v in w.items() if k not in ("start", "end"))
            out.append({"name": str(name), "start": s, "end": e if e is not None else max(t_end_s, s),
                        "detail": detail, "stop_detail": "", "open": e is None,
                        "color": fault_color(str(name)), "derived": True})
    return out


def windows_and_events(history: list[dict[str, Any]], results_windows: Any, t_end_s: float,
                       horizon: float = math.inf) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(windows, events) of a run, in seconds, sorted by time. Times beyond `horizon` (s,
    the run's plausible end) are damage: such windows and events are left out, and a
    window that ends beyond it ends with the run (t_end_s)."""
    windows = []
    for w in fault_windows(history):
        s, e = sec(w["start"]), sec(w["end"])
        if s is None or abs(s) > horizon:
            continue
        e = e if e is None or e <= horizon else max(t_end_s, s)
        windows.append({"name": w["fault"], "start": s, "end": max(e if e is not None else s, s),
                        "invoked": sec(w.get("invoked")),
                        "detail": describe_fault_value(w.get("value")),
                        "stop_detail": describe_fault_value(w.get("stop_value")),
                        "open": bool(w.get("open")), "color": fault_color(w["fault"])})
    windows += observed_windows(results_windows, t_end_s, horizon)
    windows.sort(key=lambda w: (w["start"], w["end"]))
    nemesis = [op for op in history if op.get("process") == NEMESIS]
    return windows, _events(nemesis, horizon)


def fault_text(t: float | None, windows: list[dict[str, Any]]) -> str:
    """What was going on at time t (seconds): the windows in force, else the last fault
    before it and how long ago it ended, else "no fault yet"."""
    if t is None:
        return ""
    during = [w for w in windows if w["start"] <= t <= w["end"]]
    if during:
        return ", ".join(w["name"] for w in during)
    # Between the nemesis's invoke and "in force" the fault is being applied, node by node.
    coming = [w for w in windows if w.get("invoked") is not None and w["invoked"] <= t < w["start"]]
    if coming:
        return ", ".join(f"{w['name']} (coming into force)" for w in coming)
    before = [w for w in windows if w["end"] <= t and not w.get("derived")]
    if before:
        last = max(before, key=lambda w: w["end"])
        return f"after {last['name']} (ended {t - last['end']:.2f}s before)"
    return "no fault yet"
