"""`mutex`: did two clients hold one lock at once, and did the resource it protects
see it? Judges the `lock` workload's histories (see `workloads.lock` for the ops).

Each acknowledged acquire opens a *hold*. The client believes it holds the lock from the
acquire's completion until the earlier of its release's invoke and the end of its lease
as it could compute it: the acquire's invoke plus the validity it was granted, on the
harness's monotonic clock. A client that writes to the resource after that (a stalled
client that does not know it stalled) acted as a holder until that write's invoke: its
hold is extended to it. Two holds of one lock by different clients whose intervals
intersect are an **overlap**, a safety violation. An acquire of unknown outcome (`info`)
may have taken the lock until its lease ended, but its process never acts on it (a
process with an op of unknown outcome is retired): it is counted as ambiguous, never as
an overlap.

The resource's final content is the order in which it accepted the holders' writes. A
write is **corrupted** when the resource accepted it after a write made under a later
grant of the same lock (later by fencing token when the lock gives tokens, else by when
the grant was acknowledged): no serial order of the holders explains that content.
A fencing check (refusing tokens below the highest seen) makes that impossible; what it
refused is counted as *rejected*. Writes invoked after their own hold ended are *late*.
Invalid when any overlap or corrupted write exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..history import fault_windows, pair_ops
from ..roles import Checker, CheckResult, Figure, JUnitCase
from .windows import NO_FAULT, window_label

EXAMPLES = 50      # overlaps and corrupted writes kept in details


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def holds_of(history: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The holds (hold id → facts, times in history ns) and the acquire statistics."""
    errors = {op.get("index"): str(op.get("error") or "") for op in history
              if op.get("type") in ("fail", "info") and op.get("error")}
    holds: dict[str, dict[str, Any]] = {}
    stats: dict[str, Any] = {"attempts": 0, "busy": 0, "errors": 0, "ambiguous": [], "latency_ms": []}
    streak: dict[Any, tuple[Any, float]] = {}     # process → (lock, first attempt's invoke)
    for o in pair_ops(history):
        v = o.value if isinstance(o.value, dict) else {}
        if o.f == "acquire":
            stats["attempts"] += 1
            lock, first = streak.get(o.process, (None, None))
            if lock != o.key:
                first = o.start
                streak[o.process] = (o.key, first)
            if o.type == "ok" and "hold" in v:
                validity = float(v.get("validity_ms") or 0) * 1e6
                holds[str(v["hold"])] = {
                    "hold": str(v["hold"]), "lock": o.key, "process": o.process, "invoked": o.start,
                    "acquired": o.end, "end": o.start + validity, "lease_ms": v.get("lease_ms"),
                    "validity_ms": v.get("validity_ms"), "token": v.get("token"),
                    "granted_by": v.get("granted_by") or [o.node], "released": None, "writes": []}
                stats["latency_ms"].append((o.end - first) / 1e6)
                streak.pop(o.process, None)
            elif o.type == "fail" and errors.get(o.complete_index, "").startswith("Failed: busy"):
                stats["busy"] += 1
            else:
                stats["errors"] += 1
                if o.type == "info":
                    stats["ambiguous"].append({"lock": o.key, "process": o.process, "start": o.start})
            continue
        h = holds.get(str(v.get("hold"))) if v.get("hold") is not None else None
        if h is None:
            continue
        if o.f == "release":
            h["released"] = o.start
            h["end"] = min(h["end"], o.start)
        elif o.f == "write":
            h["writes"].append({"start": o.start, "type": o.type,
                                "accepted": v.get("accepted") if o.type == "ok" else None})
        elif o.f == "hold" and o.type == "ok":
            h["paused_ms"] = v.get("paused_ms")
    for h in holds.values():
        h["acted_until"] = max([h["end"], *(w["start"] for w in h["writes"])])
    return holds, stats


def overlaps_of(holds: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Pairs of holds of one lock by different clients whose intervals intersect."""
    by_lock: dict[Any, list[dict[str, Any]]] = {}
    for h in holds.values():
        if h["acted_until"] > h["acquired"]:
            by_lock.setdefault(h["lock"], []).append(h)
    out = []
    for lock, hs in by_lock.items():
        hs.sort(key=lambda h: h["acquired"])
        active: list[dict[str, Any]] = []
        for b in hs:
            active = [a for a in active if a["acted_until"] > b["acquired"]]
            for a in active:
                if a["process"] == b["process"]:
                    continue
                end = min(a["acted_until"], b["acted_until"])
                believed = min(a["end"], b["end"]) > b["acquired"]
                out.append({"lock": lock, "first": a["hold"], "second": b["hold"], "start": b["acquired"],
                            "end": end, "ms": round((end - b["acquired"]) / 1e6, 1),
                            "kind": "both believed they held it" if believed else
                                    "a client wrote after its lease ended"})
            active.append(b)
    out.sort(key=lambda o: o["start"])
    return out


def resource_findings(holds: dict[str, dict[str, Any]], resource: dict[str, Any]) -> list[dict[str, Any]]:
    """Writes the resource accepted after a write made under a later grant of the lock."""
    out = []
    for lock, entries in resource.items():
        granted = [h for h in holds.values() if h["lock"] == lock]
        tokens = bool(granted) and all(h["token"] is not None for h in granted)

        def order(h: dict[str, Any]) -> tuple:
            return (h["token"], h["acquired"]) if tokens else (h["acquired"],)

        latest: tuple | None = None
        latest_hold = None
        for pos, e in enumerate(entries if isinstance(entries, list) else []):
            hid = str(e.get("hold")) if isinstance(e, dict) else None
            h = holds.get(hid)
            if h is None:
                out.append({"lock": lock, "position": pos, "hold": hid, "after": latest_hold,
                            "why": "written under no acknowledged grant"})
                continue
            k = order(h)
            if latest is not None and k < latest and hid != latest_hold:
                out.append({"lock": lock, "position": pos, "hold": hid, "process": h["process"],
                            "after": latest_hold, "why": "accepted after a write of a later grant"})
                continue
            if latest is None or k > latest:
                latest, latest_hold = k, hid
    return out


def check(history: list[dict[str, Any]], final: dict[str, Any] | None) -> dict[str, Any]:
    holds, stats = holds_of(history)
    overlaps = overlaps_of(holds)
    windows = fault_windows(history)
    labels = [window_label(w, i) for i, w in enumerate(windows)]
    resource = (final or {}).get("resource")
    readable = isinstance(resource, dict) and not (final or {}).get("resource_error")
    corrupted = resource_findings(holds, resource) if readable else []
    writes = [w for h in holds.values() for w in h["writes"]]
    late = sum(1 for h in holds.values() for w in h["writes"] if w["start"] > h["end"] and w["type"] != "fail")
    tokens: dict[tuple, int] = {}
    for h in holds.values():
        if h["token"] is not None:
            tokens[(h["lock"], h["token"])] = tokens.get((h["lock"], h["token"]), 0) + 1
    for o in overlaps:
        # The faults at work from the first grant to the end of the overlap: a grant made
        # during a partition and overlapped after it healed names that partition; a fault
        # counts from its invoke (a clock jump bites before it is measured in force).
        since = holds[o["first"]]["acquired"]
        at_work = [lab for w, lab in zip(windows, labels) if w.get("invoked", w["start"]) <= o["end"] and w["end"] >= since]
        before = [(w["end"], lab) for w, lab in zip(windows, labels) if w["end"] < since]
        # None at work: the last one before may still explain it (an old primary keeps
        # granting until Sentinel demotes it, seconds after a partition heals).
        o["window"] = ", ".join(at_work) if at_work else NO_FAULT + (
            f" (the last, {max(before)[1]}, ended {(since - max(before)[0]) / 1e9:.1f}s before the first grant)"
            if before else "")
        for side in ("first", "second"):
            h = holds[o[side]]
            o[side] = {"hold": h["hold"], "process": h["process"], "granted_by": h["granted_by"],
                       "token": h["token"], "acquired_at": h["acquired"], "believed_until": h["end"],
                       "released_at": h["released"], "acted_until": h["acted_until"],
                       "paused_ms": h.get("paused_ms")}
    valid: Any = False if overlaps or corrupted else (True if readable else "unknown")
    answered = stats["attempts"] - stats["errors"]
    return {
        "valid": valid,
        "acquisitions": len(holds),
        "attempts": stats["attempts"],
        "busy": stats["busy"],
        "availability": answered / stats["attempts"] if stats["attempts"] else None,
        "acquire_p50_ms": _pct(stats["latency_ms"], 0.5),
        "acquire_p99_ms": _pct(stats["latency_ms"], 0.99),
        "overlap_count": len(overlaps),
        "longest_overlap_ms": max((o["ms"] for o in overlaps), default=0.0),
        "overlaps": overlaps[:EXAMPLES],
        "corrupted_count": len(corrupted),
        "corrupted": corrupted[:EXAMPLES],
        "writes": len(writes),
        "rejected_writes": sum(1 for w in writes if w["accepted"] is False),
        "late_writes": late,
        "ambiguous_acquires": len(stats["ambiguous"]),
        "duplicate_tokens": sum(n - 1 for n in tokens.values() if n > 1),
        "resource_error": None if readable else (final or {}).get("resource_error", "no final read of the resource"),
    }


def _s(t: Any) -> str:
    return f"{t / 1e9:.3f}s" if isinstance(t, (int, float)) else "?"


def explain(o: dict[str, Any]) -> str:
    a, b = o["first"], o["second"]
    until = f"released it at {_s(a['released_at'])}" if a["released_at"] is not None else "never released it"
    if a["acted_until"] > a["believed_until"] and a["acted_until"] > b["acquired_at"]:
        until = f"wrote to the resource at {_s(a['acted_until'])}, after its lease ended at " \
                f"{_s(a['believed_until'])}" + (f" (it stalled {a['paused_ms'] / 1000:.1f}s)" if a.get("paused_ms") else "")
    return (f"lock {o['lock']}: process {a['process']} acquired it at {_s(a['acquired_at'])} from "
            f"{', '.join(map(str, a['granted_by']))} and {until}; process {b['process']} acquired it at "
            f"{_s(b['acquired_at'])} from {', '.join(map(str, b['granted_by']))}: both held it for "
            f"{o['ms'] / 1000:.3f}s ({o['kind']}; faults since the first grant: {o['window']})")


def junit_cases(r: dict[str, Any]) -> list[JUnitCase]:
    """One case per property: mutual exclusion of the holders, and the resource's order."""
    cases = [JUnitCase("mutex: no two clients hold a lock at once", "failure" if r["overlap_count"] else "passed",
                       f"{r['overlap_count']:,} overlapping holders" if r["overlap_count"] else "",
                       explain(r["overlaps"][0]) if r["overlaps"] else "")]
    name = "mutex: the resource accepted writes in grant order"
    if r["corrupted_count"]:
        cases.append(JUnitCase(name, "failure", f"{r['corrupted_count']:,} corrupted writes"))
    elif r["resource_error"]:
        cases.append(JUnitCase(name, "error", f"not judged: {r['resource_error']}"))
    else:
        cases.append(JUnitCase(name, "passed"))
    return cases


class MutexChecker(Checker):
    """Mutual exclusion of lock holders, and what the protected resource accepted."""

    name = "mutex"
    figures = ("acquisitions", "overlaps", "longest_overlap_ms", "corrupted_writes", "rejected_writes",
               "late_writes", "acquire_p50_ms", "acquire_p99_ms", "availability", "duplicate_tokens")
    template = (Path(__file__).parent / "templates" / "mutex.html.j2").read_text(encoding="utf-8")

    def check(self, history, final, spec) -> CheckResult:
        r = check(history, final)
        figures = [
            Figure("acquisitions", r["acquisitions"], "acquisitions", "int"),
            Figure("overlaps", r["overlap_count"], "overlapping holders", "int", ("mean", "max", "sum")),
            Figure("longest_overlap_ms", r["longest_overlap_ms"], "longest overlap", "ms", ("max",)),
            Figure("corrupted_writes", r["corrupted_count"], "corrupted writes", "int", ("mean", "max", "sum")),
            Figure("rejected_writes", r["rejected_writes"], "writes rejected by fencing", "int", ("mean", "sum")),
            Figure("late_writes", r["late_writes"], "writes after the lease", "int", ("mean", "sum")),
            Figure("acquire_p50_ms", r["acquire_p50_ms"], "acquire latency p50", "ms"),
            Figure("acquire_p99_ms", r["acquire_p99_ms"], "acquire latency p99", "ms", ("mean", "max")),
            Figure("availability", r["availability"], "acquire attempts answered", "pct", ("mean", "min")),
            Figure("duplicate_tokens", r["duplicate_tokens"], "fencing tokens granted twice", "int", ("mean", "sum")),
        ]
        parts = [f"{r['overlap_count']} overlapping holders in {r['acquisitions']} acquisitions"]
        if r["overlap_count"]:
            parts[0] += f" (longest {r['longest_overlap_ms'] / 1000:.2f}s)"
        parts.append(f"{r['corrupted_count']} corrupted writes" if r["resource_error"] is None
                     else f"resource unreadable: {r['resource_error']}")
        if r["rejected_writes"]:
            parts.append(f"{r['rejected_writes']} rejected by fencing")
        if r["late_writes"]:
            parts.append(f"{r['late_writes']} written after the lease")
        details = {k: v for k, v in r.items() if k != "valid"}
        return CheckResult(self.name, r["valid"], ", ".join(parts), figures, details, junit_cases(r),
                           explanation=explain(r["overlaps"][0]) if r["overlaps"] else "")

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        d = result.details
        rows, marks = [], []
        for o in d.get("overlaps") or []:
            if not isinstance(o, dict) or not isinstance(o.get("first"), dict) or not isinstance(o.get("second"), dict):
                continue
            a, b = o["first"], o["second"]
            rows.append([o.get("lock"), f"{a.get('process')} ({a.get('hold')})", ", ".join(map(str, a.get("granted_by") or [])),
                         f"{b.get('process')} ({b.get('hold')})", ", ".join(map(str, b.get("granted_by") or [])),
                         run.time_text(o.get("start")), o.get("ms"), o.get("kind"), o.get("window")])
            t = run.seconds(o.get("start"))
            if t is not None:
                for side, other in ((a, b), (b, a)):
                    marks.append({"t": t, "p": side.get("process"), "name": "overlapping holders",
                                  "text": f"{o.get('lock')}: held by processes {side.get('process')} and "
                                          f"{other.get('process')} at once for {o.get('ms')} ms"})
        charts = [run.xy_chart("the overlapping holders' holds", "seconds since start", "process",
                               self._hold_lines(d.get("overlaps") or [], run), mode="lines")] if rows else []
        corrupted = [[c.get("lock"), c.get("position"), c.get("hold"), c.get("process"), c.get("after"), c.get("why")]
                     for c in d.get("corrupted") or [] if isinstance(c, dict)]
        return {"overlaps": rows, "marks": marks, "corrupted": corrupted, "charts": charts}

    @staticmethod
    def _hold_lines(overlaps: list[Any], run: Any) -> list[dict[str, Any]]:
        """One line per holder of the first overlaps, at its process's height: while it
        believed it held the lock, and after (until its late write)."""
        believed: dict[str, list] = {"x": [], "y": []}
        after: dict[str, list] = {"x": [], "y": []}
        seen = set()
        for o in overlaps[:20]:
            for side in (o.get("first"), o.get("second")) if isinstance(o, dict) else ():
                if not isinstance(side, dict) or side.get("hold") in seen:
                    continue
                seen.add(side.get("hold"))
                a, b, c = (run.seconds(side.get(k)) for k in ("acquired_at", "believed_until", "acted_until"))
                if a is None or b is None:
                    continue
                believed["x"] += [a, max(a, b), None]
                believed["y"] += [side.get("process")] * 2 + [None]
                if c is not None and c > b:
                    after["x"] += [b, c, None]
                    after["y"] += [side.get("process")] * 2 + [None]
        return [{"name": "believed it held the lock", **believed}, {"name": "acted after its lease", **after}]
