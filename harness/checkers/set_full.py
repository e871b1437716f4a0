"""The `set` checker: Jepsen's set-full semantics for add-only sets of unique elements.

Per element: attempted (invoked), acknowledged (ok), and present (in the final read from
the converged primary). An acknowledged element that is absent is *lost*; an element
present that was never attempted is *unexpected*; one present after a definite `fail` is
*failed-present* (Redis said it did not apply it). Unlike Jepsen's set-full, duplicates are
counted: an element that appears more than once across the final read.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..history import fault_windows, op_error, pair_ops
from ..roles import Checker, CheckResult, Figure

MAX_LISTED = 1000
ELEMENT_TYPES = {int, str}


def _label(w: dict[str, Any], i: int) -> str:
    shape = w["value"].get("shape") if isinstance(w.get("value"), dict) else None
    return f"{w['fault']}{' ' + shape if shape else ''} #{i + 1} ({w['start'] / 1e9:.1f}-{w['end'] / 1e9:.1f}s)"


def check(history: list[dict], final: dict, spec=None) -> dict[str, Any]:
    """The set-full analysis as a plain dict (SetChecker wraps it into a CheckResult)."""
    ops = [o for o in pair_ops(history) if o.f == "add"]
    # Elements are compared as dict keys: true would count as 1, and an array cannot be
    # one. The workload adds integers; strings are distinct from them ("1" is not 1).
    if not set(map(type, map(attrgetter("invoke_value"), ops))) <= ELEMENT_TYPES:
        o = next(o for o in ops if type(o.invoke_value) not in ELEMENT_TYPES)
        raise op_error(o, "a set element must be an integer or a string", o.invoke_value)
    primary = (final or {}).get("primary") or {}
    sets = primary.get("sets") if isinstance(primary, dict) else None
    if sets is None:
        return {"valid": "unknown", "error": "no final read of the sets: nothing to compare"}

    present = Counter()
    for key, members in _sets(sets, "the primary").items():
        for e in members:
            present[e] += 1
    attempted = {o.invoke_value for o in ops}
    acked = {o.invoke_value: o for o in ops if o.type == "ok"}
    failed = {o.invoke_value for o in ops if o.type == "fail"}
    lost = sorted((acked[e] for e in acked if e not in present), key=lambda o: o.end)
    recovered = [e for e in present if e in attempted and e not in acked and e not in failed]
    unexpected = sorted(e for e in present if e not in attempted)
    failed_present = sorted(e for e in present if e in failed)
    duplicates = sorted(e for e, c in present.items() if c > 1)

    windows = fault_windows(history)
    labels = [_label(w, i) for i, w in enumerate(windows)]
    lost_by_window: Counter = Counter()
    acked_by_window: Counter = Counter()
    for o in acked.values():
        inside = [labels[i] for i, w in enumerate(windows) if w["start"] <= o.end <= w["end"]]
        for lab in inside or ["no fault"]:
            acked_by_window[lab] += 1
    for o in lost:
        inside = [labels[i] for i, w in enumerate(windows) if w["start"] <= o.end <= w["end"]]
        for lab in inside or ["no fault"]:
            lost_by_window[lab] += 1

    n_acked = len(acked)
    result = {
        "valid": not (lost or unexpected or failed_present or duplicates),
        "attempt_count": len(attempted),
        "acknowledged_count": n_acked,
        "lost_count": len(lost),
        "lost_rate": round(len(lost) / n_acked, 6) if n_acked else 0.0,
        "recovered_count": len(recovered),
        "unexpected_count": len(unexpected),
        "failed_present_count": len(failed_present),
        "duplicate_count": len(duplicates),
        "fail_count": len(failed),
        "info_count": sum(1 for o in ops if o.type == "info"),
        "lost": [{"element": o.invoke_value, "key": o.key, "acknowledged_at": o.end,
                  "invoked_at": o.start, "node": o.node, "process": o.process}
                 for o in lost[:MAX_LISTED]],
        "unexpected": unexpected[:MAX_LISTED],
        "failed_present": failed_present[:MAX_LISTED],
        "duplicates": duplicates[:MAX_LISTED],
        "lost_by_window": dict(lost_by_window),
        "acknowledged_by_window": dict(acked_by_window),
        "read_from": primary.get("node"),
    }
    if lost:
        result["first_lost_acknowledged_at"] = lost[0].end
        result["last_lost_acknowledged_at"] = lost[-1].end
    nodes = (final or {}).get("nodes") or {}
    if isinstance(nodes, dict) and nodes:
        result["per_node"] = {name: _node_summary(n, acked) for name, n in nodes.items()}
    return result


def _sets(sets: Any, where: str) -> dict[str, list[Any]]:
    """A final read of the sets ({key: [element, ...]}), or UsageError naming final.json."""
    if not isinstance(sets, dict) or not all(
            isinstance(m, list) and set(map(type, m)) <= ELEMENT_TYPES for m in sets.values()):
        raise UsageError(f"final.json: the sets read from {where} must map each key to a list of "
                         f"integers (or strings)")
    return sets


def _node_summary(node: dict[str, Any], acked: dict) -> dict[str, Any]:
    """What one node holds after the run, to show divergence from the primary."""
    if not isinstance(node, dict) or "error" in node:
        return {"error": node.get("error") if isinstance(node, dict) else str(node)}
    sets = _sets(node.get("sets", {}), "a node")
    held = {e for members in sets.values() for e in members}
    missing = sum(1 for e, o in acked.items() if o.key in sets and e not in held)
    return {"role": node.get("role"), "elements": len(held), "missing_acknowledged": missing}


def _anomaly_text(r: dict[str, Any]) -> str:
    parts = []
    if r["lost_count"]:
        parts.append(f"lost {r['lost_count']} of {r['acknowledged_count']} acknowledged writes "
                     f"({r['lost_rate']:.2%})")
    for key, what in (("unexpected_count", "unexpected elements (never attempted)"),
                      ("failed_present_count", "elements present after a definite fail"),
                      ("duplicate_count", "duplicated elements")):
        if r[key]:
            parts.append(f"{r[key]} {what}")
    return "; ".join(parts)


class SetChecker(Checker):
    """Lost, unexpected, failed-but-present and duplicated elements of add-only sets."""

    name = "set"
    figures = ("attempted", "acknowledged", "lost", "lost_rate")
    template = (Path(__file__).parent / "templates" / "set.html.j2").read_text(encoding="utf-8")

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        """For the report: the lost writes in time order, each with the fault in force
        when it was acknowledged (table rows), ✕ marks for the timeline, and the lost and
        acknowledged writes per fault window side by side."""
        d = result.details
        lost = []
        for item in d.get("lost") or []:
            item = item if isinstance(item, dict) else {"element": item}
            lost.append((run.seconds(item.get("acknowledged_at")), item))
        lost.sort(key=lambda x: (x[0] is None, x[0] or 0))
        rows = [[i.get("element"), i.get("key"), run.time_text(i.get("invoked_at")),
                 run.time_text(i.get("acknowledged_at")), i.get("node"), i.get("process"),
                 run.fault_at(t)] for t, i in lost]
        marks = [{"t": t, "p": i.get("process"), "name": "lost write",
                  "text": f"LOST {run.short(i.get('element'), 60)} key {run.short(i.get('key'), 60)} "
                          f"acknowledged at {t:.4f}s by {i.get('node')}"}
                 for t, i in lost if t is not None]
        lost_in = d.get("lost_by_window") if isinstance(d.get("lost_by_window"), dict) else {}
        acked_in = d.get("acknowledged_by_window")
        acked_in = acked_in if isinstance(acked_in, dict) else {}
        by_window = [[w, lost_in.get(w, 0), acked_in.get(w)] for w in dict.fromkeys([*acked_in, *lost_in])]
        per_node = d.get("per_node") if isinstance(d.get("per_node"), dict) else {}
        nodes = [[n, v.get("role"), v.get("elements"), v.get("missing_acknowledged"), v.get("error", "")]
                 for n, v in per_node.items() if isinstance(v, dict)]
        return {"lost": rows, "marks": marks, "by_window": by_window, "nodes": nodes}

    def check(self, history, final, spec) -> CheckResult:
        r = check(history, final, spec)
        if r["valid"] == "unknown":
            return CheckResult(self.name, "unknown", r["error"], details=r)
        summary = (f"{_anomaly_text(r) or 'no acknowledged write lost'}; {r['acknowledged_count']} of "
                   f"{r['attempt_count']} attempted were acknowledged, {r['recovered_count']} recovered")
        figures = [
            Figure("attempted", r["attempt_count"], "attempted", "int"),
            Figure("acknowledged", r["acknowledged_count"], "acknowledged", "int"),
            Figure("lost", r["lost_count"], "lost", "int", ("mean", "max")),
            Figure("lost_rate", r["lost_rate"], "lost rate", "pct"),
        ]
        details = {k: v for k, v in r.items() if k != "valid"}
        return CheckResult(self.name, r["valid"], summary, figures, details)
