"""The `counter` checker: Jepsen's counter semantics, per key.

A counter starts at 0 and only `add` changes it. Every ok read must lie within bounds:
the lower bound is the sum of the increments acknowledged (ok) before the read was
invoked; the upper bound is the sum of the increments attempted (ok or info: a failed one
never applied) that were invoked before the read completed. The final value (read from
the converged primary) likewise: lower = every ok increment, upper = every ok or info one.
A final value below its lower bound means *lost increments* (how much is missing).

Ties count in the read's favour: an increment acknowledged at the very instant a read was
invoked is not in its lower bound; one invoked at the instant the read completed is in its
upper bound. Negative deltas are allowed (a definite one lowers both bounds, a possible
one only the lower), although the `counter` workload only adds positive ones.

Each bound is a prefix sum over one key's increments sorted by completion (acknowledged)
or by invocation (attempted), found by bisection: O(n log n) per key.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from itertools import accumulate
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..history import fault_windows, op_error, pair_ops
from ..roles import Checker, CheckResult, Figure
from .windows import count_by_window, window_label, windows_at

MAX_LISTED = 1000


class _Bounds:
    """One key's increments as sorted times and prefix sums of their deltas (positive
    and negative parts apart)."""

    def __init__(self, adds: list[Any]):
        ok = sorted((o.end, int(o.invoke_value)) for o in adds if o.type == "ok")
        att = sorted((o.start, int(o.invoke_value)) for o in adds if o.type in ("ok", "info"))
        self.ok_t = [t for t, _ in ok]
        self.att_t = [t for t, _ in att]
        self.ok_pos = list(accumulate((max(d, 0) for _, d in ok), initial=0))
        self.ok_neg = list(accumulate((min(d, 0) for _, d in ok), initial=0))
        self.att_pos = list(accumulate((max(d, 0) for _, d in att), initial=0))
        self.att_neg = list(accumulate((min(d, 0) for _, d in att), initial=0))
        self.acknowledged = sum(d for _, d in ok)
        self.attempted = sum(d for _, d in att)

    def at(self, start: float, end: float) -> tuple[int, int]:
        """(lower, upper) for a read invoked at `start` and completed at `end`."""
        i = bisect_left(self.ok_t, start)      # acknowledged strictly before the read began
        j = bisect_right(self.att_t, end)      # invoked no later than the read ended
        return self.ok_pos[i] + self.att_neg[j], self.att_pos[j] + self.ok_neg[i]

    def final(self) -> tuple[int, int]:
        return self.ok_pos[-1] + self.att_neg[-1], self.att_pos[-1] + self.ok_neg[-1]


def check(history: list[dict], final: dict | None, spec=None) -> dict[str, Any]:
    """The counter analysis as a plain dict (CounterChecker wraps it into a CheckResult).
    A read is placed in the fault windows in force when it completed."""
    adds: dict[Any, list[Any]] = defaultdict(list)
    reads: dict[Any, list[Any]] = defaultdict(list)
    for o in pair_ops(history):
        # Deltas and values read are integers (INCRBY's argument; GET as an integer, nil as
        # 0): true must not count as 1, nor 1.5 as 1.
        if o.f == "add":
            if type(o.invoke_value) is not int:
                raise op_error(o, "an increment must be an integer", o.invoke_value)
            adds[o.key].append(o)
        elif o.f == "read":
            if o.type == "ok" and o.value is not None and type(o.value) is not int:
                raise op_error(o, "a counter read must be an integer or null", o.value)
            reads[o.key].append(o)
    types = Counter((f, o.type) for f, by_key in (("add", adds), ("read", reads))
                    for ops in by_key.values() for o in ops)

    windows = fault_windows(history)
    labels = [window_label(w, i) for i, w in enumerate(windows)]
    bounds = {k: _Bounds(adds.get(k, [])) for k in {*adds, *reads}}

    out_of_bounds, ends = [], []
    width_sum = width_max = 0
    oob_by_key: Counter = Counter()
    oob_by_window: Counter = Counter()
    for key, rs in reads.items():
        at = bounds[key].at
        for r in rs:
            if r.type != "ok":
                continue
            value = 0 if r.value is None else int(r.value)
            lo, hi = at(r.start, r.end)
            width_sum += hi - lo
            if hi - lo > width_max:
                width_max = hi - lo
            ends.append(r.end)
            if lo <= value <= hi:
                continue
            oob_by_key[key] += 1
            inside = windows_at(r.end, windows, labels)
            for lab in inside:
                oob_by_window[lab] += 1
            out_of_bounds.append({
                "key": key, "value": value, "lower": lo, "upper": hi,
                "off_by": value - lo if value < lo else value - hi,
                "invoked_at": r.start, "completed_at": r.end, "process": r.process,
                "node": r.node, "window": ", ".join(inside), "index": r.invoke_index})
    out_of_bounds.sort(key=lambda x: x["completed_at"])
    ends.sort()

    acked_sum = sum(b.acknowledged for b in bounds.values())
    result: dict[str, Any] = {
        "attempt_count": types["add", "ok"] + types["add", "info"] + types["add", "fail"],
        "acknowledged_count": types["add", "ok"],
        "info_count": types["add", "info"],
        "fail_count": types["add", "fail"],
        "acknowledged_sum": acked_sum,
        "attempted_sum": sum(b.attempted for b in bounds.values()),
        "read_count": types["read", "ok"],
        "read_fail_count": types["read", "fail"],
        "read_info_count": types["read", "info"],
        "reads_out_of_bounds_count": len(out_of_bounds),
        "reads_below_count": sum(1 for x in out_of_bounds if x["off_by"] < 0),
        "reads_above_count": sum(1 for x in out_of_bounds if x["off_by"] > 0),
        "bound_width_mean": round(width_sum / len(ends), 3) if ends else None,
        "bound_width_max": width_max if ends else None,
        "reads_out_of_bounds": out_of_bounds[:MAX_LISTED],
        "reads_out_of_bounds_by_window": dict(oob_by_window),
        "reads_by_window": count_by_window(ends, windows, labels),
    }
    if out_of_bounds:
        result["first_out_of_bounds_at"] = out_of_bounds[0]["completed_at"]
        result["last_out_of_bounds_at"] = out_of_bounds[-1]["completed_at"]

    primary = (final or {}).get("primary") or {}
    counters = primary.get("counters") if isinstance(primary, dict) else None
    if isinstance(counters, dict):
        _counters(counters)
    else:
        result.update(valid=False if out_of_bounds else "unknown",
                      error="no final read of the counters: final values not checked")
        return result

    per_key, final_oob, lost_total = {}, [], 0
    for key in sorted({*bounds, *counters}, key=str):
        b = bounds.get(key) or _Bounds([])
        lo, hi = b.final()
        value = int(counters.get(key) or 0)
        lost = max(0, lo - value)
        lost_total += lost
        per_key[key] = {"final": value, "lower": lo, "upper": hi, "lost": lost,
                        "acknowledged": b.acknowledged, "attempted": b.attempted,
                        "reads": sum(1 for r in reads.get(key, ()) if r.type == "ok"),
                        "reads_out_of_bounds": oob_by_key.get(key, 0)}
        if not lo <= value <= hi:
            final_oob.append({"key": key, "value": value, "lower": lo, "upper": hi,
                              "off_by": value - lo if value < lo else value - hi})
    result.update({
        "valid": not (out_of_bounds or final_oob),
        "lost": lost_total,
        "lost_rate": round(lost_total / acked_sum, 6) if acked_sum else 0.0,
        "lost_keys": sum(1 for v in per_key.values() if v["lost"]),
        "key_count": len(per_key),
        "final_out_of_bounds_count": len(final_oob),
        "final_out_of_bounds": final_oob[:MAX_LISTED],
        "per_key": dict(list(per_key.items())[:MAX_LISTED]),
        "read_from": primary.get("node"),
    })
    nodes = (final or {}).get("nodes") or {}
    if isinstance(nodes, dict) and nodes:
        result["per_node"] = {name: _node_summary(n, per_key) for name, n in nodes.items()}
    return result


def _counters(counters: dict[Any, Any]) -> dict[Any, Any]:
    """A final read of the counters ({key: integer or null}), or UsageError naming
    final.json."""
    for k, v in counters.items():
        if v is not None and type(v) is not int:
            raise UsageError(f"final.json: counter {k!r} must be an integer or null, got {v!r:.60}")
    return counters


def _node_summary(node: Any, per_key: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """What one node holds after the run: how far its counters fall short of the
    acknowledged sums (lower bounds), to show divergence from the primary."""
    if not isinstance(node, dict) or "error" in node:
        return {"error": node.get("error") if isinstance(node, dict) else str(node)}
    counters = _counters(node.get("counters") or {})
    missing = sum(max(0, per_key[k]["lower"] - int(v or 0)) for k, v in counters.items() if k in per_key)
    return {"role": node.get("role"), "total": sum(int(v or 0) for v in counters.values()),
            "missing_acknowledged": missing}


def summary_text(r: dict[str, Any]) -> str:
    parts = []
    if "lost" in r:
        if r["lost"]:
            parts.append(f"lost {r['lost']:,} of {r['acknowledged_sum']:,} acknowledged increments "
                         f"({r['lost_rate']:.2%}) on {r['lost_keys']} of {r['key_count']} keys")
        else:
            parts.append(f"no acknowledged increment lost (of {r['acknowledged_sum']:,})")
        above = [x for x in r["final_out_of_bounds"] if x["off_by"] > 0]
        if above:
            parts.append(f"{len(above)} final values above every attempted sum")
    n, reads = r["reads_out_of_bounds_count"], r["read_count"]
    if n:
        parts.append(f"{n:,} of {reads:,} reads out of bounds ({r['reads_below_count']:,} below, "
                     f"{r['reads_above_count']:,} above)")
    else:
        parts.append(f"all {reads:,} reads within bounds")
    if r.get("error"):
        parts.append(r["error"])
    return "; ".join(parts)


class CounterChecker(Checker):
    """Reads and final values of increment-only counters within Jepsen's bounds."""

    name = "counter"
    figures = ("acknowledged", "lost", "lost_rate", "reads", "reads_out_of_bounds")
    template = (Path(__file__).parent / "templates" / "counter.html.j2").read_text(encoding="utf-8")

    def check(self, history, final, spec) -> CheckResult:
        r = check(history, final, spec)
        figures = [
            Figure("acknowledged", r["acknowledged_sum"], "acknowledged sum", "int"),
            Figure("lost", r.get("lost"), "lost increments", "int", ("mean", "max")),
            Figure("lost_rate", r.get("lost_rate"), "lost rate", "pct"),
            Figure("reads", r["read_count"], "reads", "int"),
            Figure("reads_out_of_bounds", r["reads_out_of_bounds_count"], "reads out of bounds",
                   "int", ("mean", "max")),
        ]
        details = {k: v for k, v in r.items() if k != "valid"}
        return CheckResult(self.name, r["valid"], summary_text(r), figures, details)

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        """For the report: the out-of-bounds reads (table rows and ✕ marks on the timeline
        at their completion), the keys, the windows and the nodes as table rows."""
        d = result.details
        oob = [x for x in d.get("reads_out_of_bounds") or [] if isinstance(x, dict)]
        rows = [[x.get("key"), x.get("value"), x.get("lower"), x.get("upper"), x.get("off_by"),
                 run.time_text(x.get("invoked_at")), run.time_text(x.get("completed_at")),
                 x.get("process"), x.get("node"), x.get("window")] for x in oob]
        marks = []
        for x in oob:
            t = run.seconds(x.get("completed_at"))
            if t is not None:
                marks.append({"t": t, "p": x.get("process"), "name": "read out of bounds",
                              "text": f"READ {run.short(x.get('key'), 60)} = {x.get('value')} outside "
                                      f"[{x.get('lower')}, {x.get('upper')}] at {t:.4f}s from {x.get('node')}"})
        per_key = d.get("per_key") if isinstance(d.get("per_key"), dict) else {}
        keys = [[k, v.get("final"), v.get("lower"), v.get("upper"), v.get("lost"), v.get("reads"),
                 v.get("reads_out_of_bounds")] for k, v in per_key.items() if isinstance(v, dict)]
        oob_in = d.get("reads_out_of_bounds_by_window")
        oob_in = oob_in if isinstance(oob_in, dict) else {}
        reads_in = d.get("reads_by_window") if isinstance(d.get("reads_by_window"), dict) else {}
        by_window = [[w, oob_in.get(w, 0), reads_in.get(w)] for w in dict.fromkeys([*reads_in, *oob_in])]
        per_node = d.get("per_node") if isinstance(d.get("per_node"), dict) else {}
        nodes = [[n, v.get("role"), v.get("total"), v.get("missing_acknowledged"), v.get("error", "")]
                 for n, v in per_node.items() if isinstance(v, dict)]
        return {"reads": rows, "marks": marks, "counters": keys, "by_window": by_window, "nodes": nodes}
