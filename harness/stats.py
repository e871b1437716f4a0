"""Run statistics from a history: counts, rates, latency quantiles, availability during
faults, time to failover. Pure functions of the history, used by the runner, the CLI's
summary line, `compare` and the report, so a run shows one p99 everywhere.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from .history import Operation, fault_windows, pair_ops
from .roles import Figure


def quantile(sorted_values: Sequence[float], p: float) -> float | None:
    """The p-quantile (0 <= p <= 1) of ascending values, interpolating linearly between
    the two nearest ranks (the definition numpy and pandas use by default); None if empty."""
    n = len(sorted_values)
    if n == 0:
        return None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"quantile {p} is not between 0 and 1")
    pos = (n - 1) * p
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def latency_summary(latencies_ms: Iterable[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max of latencies in ms (rounded to µs)."""
    lat = sorted(latencies_ms)
    out: dict[str, float | None] = {}
    for name, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        q = quantile(lat, p)
        out[name] = None if q is None else round(q, 3)
    out["max"] = round(lat[-1], 3) if lat else None
    return out


def run_stats(history: list[dict[str, Any]], ops: list[Operation] | None = None) -> dict[str, Any]:
    """Counts, rates, latency quantiles (of ok ops) and availability during faults."""
    paired = pair_ops(history) if ops is None else ops
    if not paired:
        return {"ops": 0}
    duration = (max(o.end or o.start for o in paired) - min(o.start for o in paired)) / 1e9
    by_type = {t: sum(1 for o in paired if o.type == t) for t in ("ok", "fail", "info")}
    lat = [(o.end - o.start) / 1e6 for o in paired if o.type == "ok" and o.end is not None]
    windows = fault_windows(history)
    during = [o for o in paired if any(w["start"] <= o.start <= w["end"] for w in windows)]
    stats: dict[str, Any] = {
        "ops": len(paired), **by_type, "duration_s": round(duration, 2),
        "ops_per_s": round(len(paired) / duration, 1) if duration > 0 else None,
        "latency_ms": latency_summary(lat),
        "availability": round(by_type["ok"] / len(paired), 4),
        "faults": len(windows)}
    if during:
        stats["availability_during_faults"] = round(
            sum(1 for o in during if o.type == "ok") / len(during), 4)
    failover = time_to_failover(paired, windows)
    if failover is not None:
        stats["failover_s"] = failover
    redirects = redirect_counts(history)
    if redirects:
        stats["redirects"] = redirects
    return stats


def redirect_counts(history: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many MOVED and ASK redirects the clients followed (the `redirects` the workers
    record on an op's completion); empty if none."""
    counts: dict[str, int] = {}
    for op in history:
        seen = op.get("redirects")
        if seen and isinstance(seen, list):
            for r in seen:
                if r in ("moved", "ask"):
                    counts[r] = counts.get(r, 0) + 1
    return counts


def time_to_failover(ops: list[Operation], windows: list[dict[str, Any]]) -> float | None:
    """Seconds from the first fault window's start (that had an ok before it) to the first
    ok answered by another node than the last ok before the window; None if none."""
    oks = sorted((o for o in ops if o.type == "ok" and o.end is not None and o.node),
                 key=lambda o: o.end)
    for w in windows:
        before = [o for o in oks if o.end < w["start"]]
        if not before:
            continue
        old = before[-1].node
        after = [o for o in oks if o.node != old and o.start >= w["start"]]
        if after:
            return round((min(o.end for o in after) - w["start"]) / 1e9, 2)
    return None


def stats_figures(stats: dict[str, Any]) -> list[Figure]:
    """The run's own figures for `compare` (beside the checkers'): availability during
    faults, latency, throughput, time to failover."""
    lat = stats.get("latency_ms") or {}
    return [
        Figure("availability_during_faults", stats.get("availability_during_faults"),
               "availability in faults", "pct"),
        Figure("p50_ms", lat.get("p50"), "p50 ms", "ms"),
        Figure("p99_ms", lat.get("p99"), "p99 ms", "ms"),
        Figure("ops_per_s", stats.get("ops_per_s"), "ops/s", "int"),
        Figure("failover_s", stats.get("failover_s"), "failover s", "s"),
        Figure("redirects", _total(stats.get("redirects")), "MOVED+ASK", "int"),
    ]


def _total(counts: Any) -> int | None:
    """The sum of a {name: count} dict from results.json (None if it is not one)."""
    if not isinstance(counts, dict):
        return None
    values = [v for v in counts.values() if type(v) is int]
    return sum(values) if values else None
