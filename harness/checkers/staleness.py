"""The `staleness` checker: how stale are the reads served by Redis replicas.

The `replica-read` workload writes increasing integers (1, 2, 3, ...) to keys r0, r1, ...
through the primary and reads them from replicas. Redis replication is asynchronous, so a
replica may answer with an older value: that is *staleness*, measured here, not an
anomaly. For each ok read of key k returning v, invoked at s, completed at e:

  writes_behind  the ok writes of k with a value > v acknowledged before s: writes the
                 read could have seen and did not.
  stale_ms       if there is such a write, s minus the earliest of their acknowledgements
                 (ms): how long the value read had already been overwritten. A lower
                 bound: the primary may have overwritten it earlier, unacknowledged.

A read is *stale* when writes_behind > 0. Ties count in the read's favour: a write
acknowledged at the very instant s is not counted. The definitions go by value (a write
of a larger value was invoked later), so a read of a value whose write was indeterminate
(info) and landed late, after larger ones, counts as stale; such reads are counted apart
(`reads_of_indeterminate_values`) so that a reader can tell.

Impossible reads, what makes a run invalid:
  never-written   v != 0 and no write of v to k was ever invoked;
  failed-write    every write of v to k failed (definitely not applied);
  from-the-future the write of v was invoked after the read completed (after e);
  went-back       monotonic reads violated: the same process earlier read u > v from k
                  (a read that completed before this one was invoked), and the write of
                  v is known to have been applied before the write of u (v is 0, or its
                  ok write completed before u's was invoked). An indeterminate write of v
                  may have landed after u's, so it excuses going back to v. A process
                  reads from one replica while its connection lasts; `same_node` says
                  whether the two reads were answered by the same one.

Distributions (count, share stale, p50, p99, max of stale_ms and writes_behind) are given
overall, per replica that answered, and per fault window in force at s (and outside any).
After the run, `final` tells whether each node converged to the primary's values.

Cost: per key, an offline sweep over the reads in invocation order, inserting the ok
writes in acknowledgement order into two Fenwick trees indexed by value (descending):
a count and a prefix minimum of acknowledgement times. O(n log n); ok writes need not be
acknowledged in value order.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from ..history import fault_windows, pair_ops
from ..roles import Checker, CheckResult, Figure
from ..stats import quantile
from ..templating import format_value
from .windows import NO_FAULT, window_label, windows_at

MAX_LISTED = 1000
#: Points per node in the staleness-over-time chart (the worst read of each time bucket).
MAX_POINTS = 4000
#: Keys per node listed as differing from the primary after the run.
MAX_DIFFS = 5
KINDS = ("never-written", "failed-write", "from-the-future", "went-back")
UNKNOWN_NODE = "(unknown node)"


def _int(x: Any) -> int | None:
    """An integer value as written or read (Redis may hand back its text); None if not one."""
    if isinstance(x, bool) or not isinstance(x, (int, str, bytes, float)):
        return None
    try:
        return int(x) if not isinstance(x, float) or x.is_integer() else None
    except ValueError:
        return None


class _Fenwick:
    """Counts and earliest acknowledgement times of the ok writes inserted so far, by
    position (1 = the largest value): prefix queries answer "values > v"."""

    def __init__(self, n: int):
        self.n = n
        self.count = [0] * (n + 1)
        self.first = [math.inf] * (n + 1)

    def add(self, pos: int, t: float) -> None:
        count, first, n = self.count, self.first, self.n
        while pos <= n:
            count[pos] += 1
            if t < first[pos]:
                first[pos] = t
            pos += pos & -pos

    def prefix(self, pos: int) -> tuple[int, float]:
        c, t = 0, math.inf
        count, first = self.count, self.first
        while pos > 0:
            c += count[pos]
            if first[pos] < t:
                t = first[pos]
            pos -= pos & -pos
        return c, t


def _behind(writes: list[tuple[float, int]], reads: list[tuple[float, int | None, int]],
            out_n: list[int], out_t: list[float]) -> None:
    """For one key: writes [(ack time, value)], reads [(invoke time, value, slot)]; sets
    out_n[slot] (writes_behind) and out_t[slot] (the earliest of their acks, or inf)."""
    vals = sorted({v for _, v in writes})
    m = len(vals)
    tree = _Fenwick(m)
    writes = sorted(writes)
    j = 0
    for s, v, slot in sorted(reads, key=lambda r: r[0]):
        while j < len(writes) and writes[j][0] < s:        # acknowledged strictly before s
            c, w = writes[j]
            tree.add(m - bisect_left(vals, w), c)
            j += 1
        if v is None:
            continue
        out_n[slot], out_t[slot] = tree.prefix(m - bisect_right(vals, v))


def _measure(reads: list[Any], values: list[int | None],
             ok_writes: dict[Any, list[tuple[float, int]]]) -> tuple[list[int], list[float]]:
    """(writes_behind, stale_ms) of each read, given ok_writes {key: [(ack time, value)]}."""
    n = len(reads)
    behind, first_ack = [0] * n, [math.inf] * n
    by_key: dict[Any, list] = defaultdict(list)
    for i, r in enumerate(reads):
        by_key[r.key].append((r.start, values[i], i))
    for key, rs in by_key.items():
        _behind(ok_writes.get(key, []), rs, behind, first_ack)
    return behind, [round((reads[i].start - first_ack[i]) / 1e6, 3) if behind[i] else 0.0
                    for i in range(n)]


def _writes(ops: list[Any]) -> tuple[dict, dict, dict, Counter]:
    """Per (key, value): when its writes were first invoked, and the latest instant any of
    them can have been applied (an ok one by its ack; an info one at any time: inf; a
    failed one never: -inf); per key the ok writes [(ack time, value)]; counts by type."""
    first_invoke: dict[tuple, float] = {}
    applied_by: dict[tuple, float] = {}
    ok_writes: dict[Any, list[tuple[float, int]]] = defaultdict(list)
    types: Counter = Counter()
    for w in ops:
        if w.f != "write":
            continue
        types[w.type] += 1
        v = _int(w.invoke_value)
        kv = (w.key, v)
        first_invoke[kv] = min(first_invoke.get(kv, math.inf), w.start)
        latest = -math.inf if w.type == "fail" else w.end if w.type == "ok" else math.inf
        applied_by[kv] = max(applied_by.get(kv, -math.inf), latest)
        if w.type == "ok" and v is not None:
            ok_writes[w.key].append((w.end, v))
    return first_invoke, applied_by, ok_writes, types


def _ok_reads(ops: list[Any]) -> list[Any]:
    return [o for o in ops if o.f == "read" and o.type == "ok" and o.end is not None]


def per_read(history: list[dict]) -> dict[Any, tuple[int, float]]:
    """{invoke index of each ok read: (writes_behind, stale_ms)}: what the distributions of
    `check` are made of, one read at a time."""
    ops = pair_ops(history)
    reads = _ok_reads(ops)
    behind, ms = _measure(reads, [_int(r.value) for r in reads], _writes(ops)[2])
    return {r.invoke_index: (behind[i], ms[i]) for i, r in enumerate(reads)}


def _dist(ms: list[float], behind: list[int]) -> dict[str, Any]:
    """count, stale count and share, p50/p99/max of stale_ms and writes_behind."""
    n = len(ms)
    if not n:
        return {"reads": 0, "stale": 0, "stale_share": None}
    ms, behind = sorted(ms), sorted(behind)
    stale = n - bisect_right(behind, 0)
    r3 = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {"reads": n, "stale": stale, "stale_share": round(stale / n, 6),
            "stale_ms_p50": r3(quantile(ms, 0.5)), "stale_ms_p99": r3(quantile(ms, 0.99)),
            "stale_ms_max": r3(ms[-1]),
            "writes_behind_p50": r3(quantile(behind, 0.5)),
            "writes_behind_p99": r3(quantile(behind, 0.99)), "writes_behind_max": behind[-1]}


def _downsample(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """At most MAX_POINTS points of (xs ascending, ys): the largest y of each of MAX_POINTS
    equal time buckets, so that no spike of staleness is hidden."""
    if len(xs) <= MAX_POINTS:
        return xs, ys
    x0, width = xs[0], (xs[-1] - xs[0]) / MAX_POINTS or 1.0
    best: dict[int, int] = {}
    for i, x in enumerate(xs):
        b = min(int((x - x0) / width), MAX_POINTS - 1)
        k = best.get(b)
        if k is None or ys[i] > ys[k]:
            best[b] = i
    keep = sorted(best.values())
    return [xs[i] for i in keep], [ys[i] for i in keep]


def check(history: list[dict], final: dict | None, spec=None) -> dict[str, Any]:
    """The staleness analysis as a plain dict (StalenessChecker wraps it into a
    CheckResult)."""
    ops = pair_ops(history)
    reads = _ok_reads(ops)
    first_invoke, applied_by, ok_writes, wtypes = _writes(ops)
    rtypes = Counter(o.type for o in ops if o.f == "read")
    n = len(reads)
    values = [_int(r.value) for r in reads]
    behind, stale_ms = _measure(reads, values, ok_writes)

    windows = fault_windows(history)
    labels = [window_label(w, i) for i, w in enumerate(windows)]
    impossible = _impossible(reads, values, first_invoke, applied_by, windows, labels)

    # Distributions: overall, per node, per fault window in force at s, outside faults.
    def dist(idx: Any) -> dict[str, Any]:
        idx = list(idx)
        return _dist([stale_ms[i] for i in idx], [behind[i] for i in idx])

    order = sorted(range(n), key=lambda i: reads[i].start)
    starts = [reads[i].start for i in order]
    per_node: dict[str, list[int]] = defaultdict(list)
    for i in order:
        per_node[UNKNOWN_NODE if reads[i].node is None else str(reads[i].node)].append(i)
    covered = bytearray(n)
    by_window: dict[str, dict[str, Any]] = {}
    for lab, w in zip(labels, windows):
        idx = order[bisect_left(starts, w["start"]):bisect_right(starts, w["end"])]
        for i in idx:
            covered[i] = 1
        if idx:
            by_window[lab] = dist(idx)
    outside = [i for i in range(n) if not covered[i]]
    if outside:
        by_window[NO_FAULT] = dist(outside)

    series = []
    for node, idx in sorted(per_node.items()):
        xs, ys = _downsample([round(reads[i].start / 1e9, 4) for i in idx], [stale_ms[i] for i in idx])
        series.append({"name": node, "x": xs, "y": ys, "reads": len(idx)})

    kinds = Counter(x["kind"] for x in impossible)
    result: dict[str, Any] = {
        "read_count": n, "read_fail_count": rtypes["fail"], "read_info_count": rtypes["info"],
        "write_ok_count": wtypes["ok"], "write_fail_count": wtypes["fail"],
        "write_info_count": wtypes["info"],
        "key_count": len({k for k, _ in first_invoke} | {r.key for r in reads}),
        "overall": _dist(stale_ms, behind),
        "during_faults": dist(i for i in range(n) if covered[i]),
        "per_node": {node: dist(idx) for node, idx in sorted(per_node.items())},
        "by_window": by_window,
        "reads_of_indeterminate_values": sum(
            1 for i, r in enumerate(reads) if applied_by.get((r.key, values[i])) == math.inf),
        "impossible_count": len(impossible),
        "impossible_by_kind": {k: kinds[k] for k in KINDS if kinds[k]},
        "impossible_by_window": dict(Counter(x["window"] for x in impossible)),
        # A process keeps to one replica while its connection lasts: going back across two
        # replicas means it changed replica (each may be consistent), on one that it went back.
        "went_back_other_node_count": sum(1 for x in impossible if x.get("same_node") is False),
        "impossible": impossible[:MAX_LISTED],
        "series": series,
        "valid": False if impossible else ("unknown" if not n else True),
    }
    if impossible:
        result["first_impossible_at"] = impossible[0]["invoked_at"]
        result["last_impossible_at"] = impossible[-1]["invoked_at"]
    convergence = _convergence(final)
    if convergence is not None:
        result["convergence"] = convergence
    return result


def _impossible(reads: list[Any], values: list[int | None], first_invoke: dict, applied_by: dict,
                windows: list[dict], labels: list[str]) -> list[dict[str, Any]]:
    """The impossible reads (one entry per read, its first kind in KINDS order), by
    invocation time."""
    out = []
    # went-back: per (process, key), the largest value read by the reads that completed
    # before this one was invoked (a heap by completion feeds them in), and which read.
    seq = sorted(range(len(reads)), key=lambda i: (reads[i].start, reads[i].invoke_index))
    pending: list[tuple] = []
    best: dict[tuple, int] = {}
    for i in seq:
        r, v = reads[i], values[i]
        while pending and pending[0][0] < r.start:
            _, j = heapq.heappop(pending)
            pk = (reads[j].process, reads[j].key)
            if pk not in best or values[j] > values[best[pk]]:
                best[pk] = j
        kv = (r.key, v)
        why: dict[str, Any] = {}
        if v is None or (v != 0 and kv not in first_invoke):
            kind = "never-written"
        elif v != 0 and applied_by[kv] == -math.inf:         # its writes all failed
            kind = "failed-write"
        elif v != 0 and first_invoke[kv] > r.end:
            kind, why = "from-the-future", {"write_invoked_at": first_invoke[kv]}
        else:
            kind = None
            j = best.get((r.process, r.key))
            if j is not None and values[j] > v:
                u = values[j]
                # v applied before u: v is the initial 0, or its last possible application
                # precedes the first invocation of a write of u (an info write of v is not)
                v_done = -math.inf if v == 0 else applied_by.get(kv, math.inf)
                if v_done < first_invoke.get((r.key, u), math.inf):
                    o = reads[j]
                    kind, why = "went-back", {
                        "earlier_value": u, "earlier_node": o.node, "earlier_invoked_at": o.start,
                        "earlier_completed_at": o.end, "earlier_index": o.invoke_index,
                        "same_node": o.node == r.node}
            # Only possible reads feed the running maximum: an impossible value (say, from
            # the future) would otherwise flag every later read of the process again.
            heapq.heappush(pending, (r.end, i))
        if kind is None:
            continue
        out.append({"kind": kind, "key": r.key, "value": r.value, "process": r.process,
                    "node": r.node, "invoked_at": r.start, "completed_at": r.end,
                    "window": ", ".join(windows_at(r.start, windows, labels)),
                    "index": r.invoke_index, **why})
    return out


def _convergence(final: dict | None) -> dict[str, Any] | None:
    """Per node after the run: does it hold the primary's values? None without a final
    read of the primary."""
    primary = final.get("primary") if isinstance(final, dict) else None
    pv = primary.get("values") if isinstance(primary, dict) else None
    if not isinstance(pv, dict):
        return None
    per_node = {}
    for name, node in (final.get("nodes") if isinstance(final.get("nodes"), dict) else {}).items():
        nv = node.get("values") if isinstance(node, dict) else None
        if not isinstance(nv, dict) or "error" in node:
            per_node[name] = {"error": str(node.get("error") if isinstance(node, dict) else node)}
            continue
        diff = [f"{k}: {nv[k]} (primary {pv[k]})" for k in pv if k in nv and _int(nv[k]) != _int(pv[k])]
        missing = [f"{k}: missing (primary {pv[k]})" for k in pv if k not in nv]
        per_node[name] = {"role": node.get("role"), "key_count": len(pv),
                          "equal": len(pv) - len(diff) - len(missing), "differing": len(diff),
                          "missing": len(missing), "converged": not diff and not missing,
                          "examples": (diff + missing)[:MAX_DIFFS]}
    return {"primary": primary.get("node"), "key_count": len(pv), "per_node": per_node,
            "converged": all(x.get("converged") for x in per_node.values()) if per_node else None}


def summary_text(r: dict[str, Any]) -> str:
    o = r["overall"]
    if not o["reads"]:
        head = "no ok replica read: staleness unknown"
    else:
        p50, p99, top = (format_value(o[f], "ms") for f in ("stale_ms_p50", "stale_ms_p99", "stale_ms_max"))
        head = (f"{o['reads']:,} replica reads: {o['stale_share']:.1%} stale, p50 {p50} ms, p99 {p99} ms, "
                f"max {top} ms behind (max {o['writes_behind_max']:,} writes)")
    n = r["impossible_count"]
    if n:
        kinds = ", ".join(f"{c:,} {k}" for k, c in r["impossible_by_kind"].items())
        return f"{head}; {n:,} impossible read{'s' if n != 1 else ''} ({kinds})"
    return f"{head}; no impossible read"


class StalenessChecker(Checker):
    """How far behind the primary the replicas' reads are; reads no replica could give."""

    name = "staleness"
    figures = ("reads", "stale_share", "stale_ms_p50", "stale_ms_p99", "stale_ms_max",
               "writes_behind_p50", "writes_behind_p99", "writes_behind_max", "impossible_reads")
    template = (Path(__file__).parent / "templates" / "staleness.html.j2").read_text(encoding="utf-8")

    def check(self, history, final, spec) -> CheckResult:
        r = check(history, final, spec)
        o = r["overall"]
        figures = [
            Figure("reads", r["read_count"], "replica reads", "int"),
            Figure("stale_share", o["stale_share"], "stale reads", "pct"),
            Figure("stale_ms_p50", o.get("stale_ms_p50"), "stale p50 ms", "ms"),
            Figure("stale_ms_p99", o.get("stale_ms_p99"), "stale p99 ms", "ms", ("mean", "max")),
            Figure("stale_ms_max", o.get("stale_ms_max"), "stale max ms", "ms", ("max", "mean")),
            Figure("writes_behind_p50", o.get("writes_behind_p50"), "writes behind p50", ""),
            Figure("writes_behind_p99", o.get("writes_behind_p99"), "writes behind p99", "",
                   ("mean", "max")),
            Figure("writes_behind_max", o.get("writes_behind_max"), "writes behind max", "int",
                   ("max", "mean")),
            Figure("impossible_reads", r["impossible_count"], "impossible reads", "int",
                   ("mean", "max")),
        ]
        details = {k: v for k, v in r.items() if k != "valid"}
        return CheckResult(self.name, r["valid"], summary_text(r), figures, details)

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        """For the report: distribution rows per node and per window, the impossible reads
        (rows and ✕ marks on the timeline at their completion), convergence rows, and the
        staleness-over-time chart."""
        d = result.details

        def table(k: str) -> dict[str, Any]:
            return d.get(k) if isinstance(d.get(k), dict) else {}

        def dist_rows(dists: dict[str, Any]) -> list[list[Any]]:
            def share(v: Any) -> Any:
                return f"{v:.2%}" if isinstance(v, (int, float)) else v
            return [[name, x.get("reads"), share(x.get("stale_share")),
                     *(x.get(f) for f in ("stale_ms_p50", "stale_ms_p99", "stale_ms_max", "writes_behind_p50",
                                          "writes_behind_p99", "writes_behind_max"))]
                    for name, x in dists.items() if isinstance(x, dict)]

        windows = dist_rows(table("by_window"))
        if windows and table("during_faults").get("reads"):
            windows += dist_rows({"during any fault": table("during_faults")})
        rows, marks = [], []
        for x in (x for x in d.get("impossible") or [] if isinstance(x, dict)):
            kind, tt = x.get("kind"), run.time_text
            why = (f"went back from {x.get('earlier_value')} (read from {x.get('earlier_node')} at "
                   f"{tt(x.get('earlier_invoked_at'))}-{tt(x.get('earlier_completed_at'))})"
                   if kind == "went-back" else f"written at {tt(x.get('write_invoked_at'))}"
                   if kind == "from-the-future" else "")
            rows.append([kind, x.get("key"), x.get("value"), why, x.get("process"), x.get("node"),
                         tt(x.get("invoked_at")), tt(x.get("completed_at")), x.get("window")])
            t = run.seconds(x.get("completed_at"))
            if t is not None:
                marks.append({"t": t, "p": x.get("process"), "name": "impossible replica read",
                              "text": f"READ {run.short(x.get('key'), 60)} = {run.short(x.get('value'), 40)} "
                                      f"({kind}) at {t:.4f}s from {x.get('node')}"})
        per = table("convergence").get("per_node")
        converged = [[n, *(v.get(f, "") for f in ("role", "converged", "equal", "differing", "missing")),
                      "; ".join(map(str, v.get("examples") or [])), v.get("error", "")]
                     for n, v in (per if isinstance(per, dict) else {}).items() if isinstance(v, dict)]
        series = [s for s in d.get("series") or [] if isinstance(s, dict)]
        charts = [run.xy_chart("staleness over time", "read invoked (seconds since start)",
                               "stale (ms behind)", series)] if series else []
        return {"nodes": dist_rows(table("per_node")), "by_window": windows, "impossible": rows,
                "marks": marks, "convergence": converged, "charts": charts}
