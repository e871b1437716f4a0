"""The data the report's time charts read: the op table (sampled for huge histories), the
timeline's rows, throughput bins, and the latency quantile table.

Quantiles are `stats.quantile`'s, the one definition the run summary, `compare` and the
report share, so a run shows one p99 everywhere.
"""

from __future__ import annotations

import math
from typing import Any

from ..history import Operation
from ..stats import quantile
from ..templating import short
from .faults import sec

#: Above this many client ops the charts show a sample: every op that did not end ok
#: (unless those alone are too many), plus an even stride of the ok ones. Tables,
#: quantiles and throughput use every op; checkers' marks are always drawn.
MAX_CHART_OPS = 150_000
#: With more client processes than this, the timeline packs processes into lanes.
MAX_PROCESS_ROWS = 40

COMPLETION_TYPES = ("ok", "fail", "info")
_TYPE_ORDER = {t: i for i, t in enumerate(COMPLETION_TYPES)}


def latency_quantiles(ops: list[Operation]) -> list[dict[str, Any]]:
    """Per (f, completion type) of completed ops: count, p50, p90, p99, max latency (ms)."""
    groups: dict[tuple[str, str], list[float]] = {}
    for o in ops:
        if o.end is not None and isinstance(o.start, (int, float)):
            groups.setdefault((o.f, o.type), []).append((o.end - o.start) / 1e6)
    out = []
    for (f, t), lat in sorted(groups.items(), key=lambda kv: (kv[0][0], _TYPE_ORDER.get(kv[0][1], 9))):
        lat.sort()
        out.append({"f": f, "type": t, "count": len(lat), "p50": quantile(lat, 0.5),
                    "p90": quantile(lat, 0.9), "p99": quantile(lat, 0.99), "max": lat[-1]})
    return out


#: The throughput chart's bins are at most this many, whatever the times say.
MAX_BINS = 2000


def _nice_bin(duration_s: float, bins: int = 150) -> float:
    raw = max(duration_s, 0.001) / bins
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if step >= raw:
            return step
    return math.ceil(raw / 600) * 600.0


def throughput(ops: list[Operation], duration_s: float) -> dict[str, Any]:
    """Completions per second in fixed bins, one series per (f, type). At most MAX_BINS
    bins: completions after the last bin are counted in it (the report leaves ops with
    absurd times out before; this only bounds the work)."""
    duration_s = duration_s if isinstance(duration_s, (int, float)) and math.isfinite(duration_s) \
        and 0 <= duration_s <= 1e12 else 0.0
    width = _nice_bin(duration_s)
    ends = [(o.f, o.type, e) for o in ops if (e := sec(o.end, None)) is not None]
    if not ends:
        return {"bin_s": width, "series": []}
    nbins = min(int(min(max(duration_s, max(e for _, _, e in ends)), 1e12) // width) + 1, MAX_BINS)
    counts: dict[tuple[str, str], list[int]] = {}
    for f, t, e in ends:
        series = counts.get((f, t))
        if series is None:
            series = counts[(f, t)] = [0] * nbins
        series[min(max(int(e // width), 0), nbins - 1)] += 1
    keys = sorted(counts, key=lambda k: (k[0], _TYPE_ORDER.get(k[1], 9)))
    return {"bin_s": width, "x": [round(i * width, 4) for i in range(nbins)],
            "series": [{"f": f, "type": t, "y": [round(c / width, 3) for c in counts[(f, t)]]}
                       for f, t in keys]}


def timeline_rows(ops: list[Operation]) -> tuple[dict[str, int], list[str], str]:
    """The timeline's row for each process: (row by str(process), row labels, axis title).

    Up to MAX_PROCESS_ROWS processes get a row each. With more (every op that ends in
    info retires its process and a fresh one takes over) processes are packed greedily
    into lanes by lifetime, so a worker's successive processes share one lane and the
    chart keeps about one row per concurrent client.
    """
    span: dict[Any, list[float]] = {}
    for o in ops:
        end = o.end if o.end is not None else math.inf
        if o.process in span:
            sp = span[o.process]
            sp[0], sp[1] = min(sp[0], o.start), max(sp[1], end)
        else:
            span[o.process] = [o.start, end]
    procs = sorted(span, key=lambda p: (not isinstance(p, int), p if isinstance(p, int) else 0,
                                        str(p)))
    position = {p: k for k, p in enumerate(procs)}
    if len(procs) <= MAX_PROCESS_ROWS:
        return {str(p): k for k, p in enumerate(procs)}, [str(p) for p in procs], "process"
    lanes_end: list[float] = []
    lanes_procs: list[list[Any]] = []
    rows: dict[str, int] = {}
    for p in sorted(procs, key=lambda p: span[p][0]):
        start, end = span[p]
        lane = next((k for k, e in enumerate(lanes_end) if e <= start), None)
        if lane is None:
            lane = len(lanes_end)
            lanes_end.append(end)
            lanes_procs.append([])
        lanes_end[lane] = end
        lanes_procs[lane].append(p)
        rows[str(p)] = lane
    # number the lanes in the order of their first processes (0…, 1…, 2… for a fresh run)
    order = sorted(range(len(lanes_procs)), key=lambda k: position[lanes_procs[k][0]])
    renumber = {old: new for new, old in enumerate(order)}
    rows = {p: renumber[lane] for p, lane in rows.items()}
    labels = [f"{lanes_procs[k][0]}…" if len(lanes_procs[k]) > 1 else str(lanes_procs[k][0])
              for k in order]
    return rows, labels, "client lane (first process…)"


class _Codes:
    """Interns strings into small ints so the embedded op table stays compact."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._ix: dict[Any, int] = {}

    def __call__(self, v: Any) -> int:
        key = v if isinstance(v, (str, int, float, type(None))) else short(v, 200)
        i = self._ix.get(key)
        if i is None:
            i = self._ix[key] = len(self.values)
            self.values.append(key if key is None or isinstance(key, (int, float)) else str(key))
        return i


def sample_ops(ops: list[Operation]) -> list[Operation]:
    """At most about MAX_CHART_OPS ops: every op that did not end ok (a stride of them if
    they alone are too many), and an even stride of the ok ones, in start order."""
    if len(ops) <= MAX_CHART_OPS:
        return ops
    others = [o for o in ops if o.type != "ok"]
    oks = [o for o in ops if o.type == "ok"]
    if len(others) > MAX_CHART_OPS * 0.8:  # a run that mostly fails: sample those too
        others = others[::math.ceil(len(others) / (MAX_CHART_OPS * 0.8))]
    room = max(MAX_CHART_OPS - len(others), 0)
    stride = max(1, math.ceil(len(oks) / room)) if room else len(oks) + 1
    return sorted(others + oks[::stride], key=lambda o: o.start)


def chart_ops(ops: list[Operation]) -> tuple[dict[str, Any], int]:
    """The op table the charts read (columnar), sampled; and how many ops it holds."""
    chosen = sample_ops(ops)
    fc, tc, kc, nc = _Codes(), _Codes(), _Codes(), _Codes()
    for t in COMPLETION_TYPES:
        tc(t)
    cols: dict[str, list[Any]] = {k: [] for k in ("s", "d", "p", "f", "t", "k", "v", "n", "i")}
    for o in chosen:
        if not isinstance(o.start, (int, float)):
            continue
        cols["s"].append(round(o.start / 1e9, 4))
        cols["d"].append(None if o.end is None else round((o.end - o.start) / 1e6, 3))
        cols["p"].append(o.process if isinstance(o.process, int) else str(o.process))
        cols["f"].append(fc(o.f))
        cols["t"].append(tc(o.type))
        cols["k"].append(kc(o.key))
        cols["v"].append(short(o.value if o.type == "ok" else o.invoke_value))
        cols["n"].append(nc(o.node))
        cols["i"].append(o.invoke_index)
    cols.update({"fs": fc.values, "ts": tc.values, "ks": kc.values, "ns": nc.values})
    return cols, len(chosen)
