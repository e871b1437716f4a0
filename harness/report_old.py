"""report.html: a self-contained page that shows one run to a person (ARCHITECTURE.md).

`build_report(run_dir)` reads `test.json`, `history.jsonl` and `results.json` from a run
directory and writes `report.html` beside them. The page works offline in any browser:
the chart library (Plotly, from the `plotly` package) and the page's own script and style
(`report_assets/`) are inlined.

The chart library is Plotly's basic bundle (report_assets/plotly-basic.min.js, plotly.js
4.1.1 from npm's `plotly.js-basic-dist-min`, MIT licence, ~1.2 MB). Per-op marks (the
timeline's bars, the latency scatter) are drawn by the page's script on a 2D canvas under
Plotly's axes, so 100k ops render in well under a second with no WebGL.

Layout of the page: a verdict banner; the test's parameters and the command to rerun it;
one section per checker with its figures and anomalies (lost writes, linearizability
counterexamples with a Porcupine-style view of the failing key's window); the faults; a
timeline of every op per process with the fault windows shaded and lost writes marked;
latency and throughput over time; latency quantiles per op.

Every string that comes from Redis, the history or the run's files is escaped: in HTML
with `html.escape`; in the JSON the charts read (a `<script type="application/json">`
block) `<`, `>` and `&` are written as `\\u003c`, `\\u003e`, `\\u0026`, and the script
escapes them again for Plotly's label markup. Missing or partial inputs (an interrupted
run) give a page that says what is missing and an "unknown" verdict.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import shlex
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .history import OP_TYPES, HistoryError, Operation, nemesis_ops, pair_ops, read_history

ASSETS = Path(__file__).with_name("report_assets")

#: Above this many client ops the charts show a sample: every op that did not end ok
#: (unless those alone are too many), plus an even stride of the ok ones. Tables,
#: quantiles and throughput use every op; lost writes are always marked.
MAX_CHART_OPS = 150_000
#: Values longer than this (as compact JSON) are cut in charts and tables.
VALUE_CHARS = 80
#: Rows shown in a table of anomalies before "… and N more".
MAX_ROWS = 1000
#: Ops drawn in one Porcupine-style window.
MAX_WINDOW_OPS = 400

COMPLETION_TYPES = ("ok", "fail", "info")


# ---------------------------------------------------------------------------------------
# escaping


def esc(value: Any) -> str:
    """HTML-escape anything (str() of non-strings)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def json_for_script(obj: Any) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&` or line separators."""
    text = json.dumps(_finite(obj), separators=(",", ":"), default=str, allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if obj and all(type(v) is int or v is None for v in obj[:64]) and \
                all(type(v) is not float for v in obj):
            return obj
        return [_finite(v) for v in obj]
    return obj


def short(value: Any, limit: int = VALUE_CHARS) -> str:
    """A compact one-line text of a value, cut to `limit` characters."""
    if isinstance(value, str):
        text = value
    elif value is None:
        return "null"
    elif type(value) is int:
        text = str(value)
    else:
        try:
            text = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------
# inputs


def _load_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except (OSError, ValueError) as e:
        return None, f"{path.name} could not be read: {e}"


def _load_history(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    if not path.exists():
        return [], "history.jsonl is missing"
    try:
        return read_history(path), None
    except HistoryError as e:
        pass_error = str(e)
    # Lenient second pass: keep every line that parses into a plausible op.
    ops: list[dict[str, Any]] = []
    skipped = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                op = json.loads(line)
            except ValueError:
                skipped += 1
                continue
            if (isinstance(op, dict) and op.get("type") in OP_TYPES and "process" in op
                    and isinstance(op.get("f"), str)
                    and isinstance(op.get("time", 0), (int, float))):
                ops.append(op)
            else:
                skipped += 1
    return ops, (f"the history is malformed ({pass_error}); the report shows the "
                 f"{len(ops)} lines that could be read ({skipped} skipped)")


# ---------------------------------------------------------------------------------------
# faults


FAULT_COLORS = {
    "partition": "#f59e0b",
    "kill": "#ef4444",
    "pause": "#a855f7",
    "clock": "#3b82f6",
    "tilt": "#eab308",
}
OTHER_FAULT_COLORS = ["#14b8a6", "#ec4899", "#84cc16", "#6366f1", "#f97316", "#64748b"]


def fault_color(name: str, _cache: dict[str, str] = {}) -> str:
    for k, c in FAULT_COLORS.items():
        if k in name:
            return c
    if name not in _cache:
        _cache[name] = OTHER_FAULT_COLORS[len(_cache) % len(OTHER_FAULT_COLORS)]
    return _cache[name]


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


def _sec(t: Any, digits: int | None = 4) -> float | None:
    """Nanoseconds to seconds (rounded to 0.1 ms unless digits is None); None if not a time."""
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        return None
    return t / 1e9 if digits is None else round(t / 1e9, digits)


def fault_windows(nemesis: list[dict[str, Any]], results_windows: Any, t_end_s: float
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pair start-X with the next stop-X into windows; other nemesis ops are events.

    Returns (windows, events) with times in seconds since the run started. A start with
    no stop runs to the end (open=True). Window lists under results["windows"] are added.
    """
    if any(op.get("type") != "invoke" for op in nemesis):
        nemesis = [op for op in nemesis if op.get("type") != "invoke"]
    windows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for op in nemesis:
        f, t = op["f"], _sec(op.get("time"))
        if t is None:
            continue
        if f.startswith("start-") and len(f) > 6:
            name = f[6:]
            if name not in open_:
                open_[name] = op
            continue
        if f.startswith("stop-") and len(f) > 5:
            name = f[5:]
            start = open_.pop(name, None)
            if start is not None:
                s = _sec(start.get("time"))
                windows.append({"name": name, "start": s, "end": max(t, s),
                                "detail": describe_fault_value(start.get("value")),
                                "stop_detail": describe_fault_value(op.get("value")),
                                "open": False, "color": fault_color(name)})
                continue
        events.append({"name": f, "time": t, "detail": describe_fault_value(op.get("value")),
                       "color": fault_color(f)})
    for name, start in open_.items():
        s = _sec(start.get("time"))
        windows.append({"name": name, "start": s, "end": max(t_end_s, s),
                        "detail": describe_fault_value(start.get("value")), "stop_detail": "",
                        "open": True, "color": fault_color(name)})
    if isinstance(results_windows, dict):
        for name, items in results_windows.items():
            if not isinstance(items, list):
                continue
            for w in items:
                if not isinstance(w, dict):
                    continue
                s, e = _sec(w.get("start")), _sec(w.get("end"))
                if s is None:
                    continue
                detail = " ".join(f"{k}={short(v, 40)}" for k, v in w.items()
                                  if k not in ("start", "end"))
                windows.append({"name": str(name), "start": s,
                                "end": e if e is not None else max(t_end_s, s),
                                "detail": detail, "stop_detail": "", "open": e is None,
                                "color": fault_color(str(name)), "derived": True})
    windows.sort(key=lambda w: (w["start"], w["end"]))
    return windows, events


def windows_at(t: float | None, windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if t is None:
        return []
    return [w for w in windows if w["start"] <= t <= w["end"]]


# ---------------------------------------------------------------------------------------
# data shaping


def _nice_bin(duration_s: float, bins: int = 150) -> float:
    raw = max(duration_s, 0.001) / bins
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if step >= raw:
            return step
    return 600.0


def ops_frame(ops: list[Operation]) -> pd.DataFrame:
    """One row per client op: f, type, start/end in seconds, latency in ms."""
    df = pd.DataFrame({
        "f": [o.f for o in ops],
        "type": [o.type for o in ops],
        "start": [o.start for o in ops],
        "end": [o.end for o in ops],
    })
    if df.empty:
        df["latency_ms"] = pd.Series(dtype=float)
        return df
    df["start"] = pd.to_numeric(df["start"], errors="coerce") / 1e9
    df["end"] = pd.to_numeric(df["end"], errors="coerce") / 1e9
    df["latency_ms"] = (df["end"] - df["start"]) * 1e3
    return df


def latency_quantiles(df: pd.DataFrame) -> pd.DataFrame:
    """p50, p90, p99, max latency (ms) and count per (f, type), over completed ops."""
    done = df.dropna(subset=["latency_ms"])
    cols = ["f", "type", "count", "p50", "p90", "p99", "max"]
    if done.empty:
        return pd.DataFrame(columns=cols)
    g = done.groupby(["f", "type"])["latency_ms"]
    q = g.quantile([0.5, 0.9, 0.99]).unstack()
    q.columns = ["p50", "p90", "p99"]
    q["max"] = g.max()
    q["count"] = g.size()
    q = q.reset_index()
    order = {t: i for i, t in enumerate(COMPLETION_TYPES)}
    q["_o"] = q["type"].map(order).fillna(9)
    return q.sort_values(["f", "_o"])[cols].reset_index(drop=True)


def throughput(df: pd.DataFrame, duration_s: float) -> dict[str, Any]:
    """Completions per second in fixed bins, one series per (f, type)."""
    done = df.dropna(subset=["end"])
    width = _nice_bin(duration_s)
    if done.empty:
        return {"bin_s": width, "series": []}
    nbins = int(max(duration_s, float(done["end"].max())) // width) + 1
    b = (done["end"] // width).astype("int64").clip(lower=0, upper=nbins - 1)
    counts = done.assign(bin=b).groupby(["f", "type", "bin"]).size()
    x = [round(i * width, 4) for i in range(nbins)]
    series = []
    order = {t: i for i, t in enumerate(COMPLETION_TYPES)}
    keys = sorted({(f, t) for f, t, _ in counts.index}, key=lambda k: (k[0], order.get(k[1], 9)))
    for f, t in keys:
        s = counts.loc[(f, t)].reindex(range(nbins), fill_value=0)
        series.append({"f": f, "type": t,
                       "y": [round(v / width, 3) for v in s.tolist()]})
    return {"bin_s": width, "x": x, "series": series}


#: With more client processes than this, the timeline packs processes into lanes.
MAX_PROCESS_ROWS = 40


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


def chart_ops(ops: list[Operation]) -> tuple[dict[str, Any], int]:
    """The op table the charts read (columnar), sampled down to MAX_CHART_OPS."""
    chosen = ops
    if len(ops) > MAX_CHART_OPS:
        others = [o for o in ops if o.type != "ok"]
        oks = [o for o in ops if o.type == "ok"]
        if len(others) > MAX_CHART_OPS * 0.8:  # a run that mostly fails: sample those too
            others = others[::math.ceil(len(others) / (MAX_CHART_OPS * 0.8))]
        room = max(MAX_CHART_OPS - len(others), 0)
        stride = max(1, math.ceil(len(oks) / room)) if room else len(oks) + 1
        chosen = sorted(others + oks[::stride], key=lambda o: o.start)
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


# ---------------------------------------------------------------------------------------
# checkers


def _ack_index(ops: list[Operation], wanted: set[Any]) -> dict[tuple[Any, Any], Operation]:
    """(key, value) -> the ok op that wrote it, for the values in `wanted` (lost writes)."""
    idx: dict[tuple[Any, Any], Operation] = {}
    for o in ops:
        if o.type != "ok" or o.f in ("read", "dequeue", "release"):
            continue
        for v in (o.invoke_value, o.value):
            try:
                h = _hashable(v)
                if h not in wanted:
                    continue
                idx.setdefault((o.key, h), o)
                idx.setdefault((None, h), o)
            except TypeError:
                pass
    return idx


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def lost_writes(checker: dict[str, Any], ops: list[Operation],
                windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lost elements, each with acknowledged time (s), node, process and fault windows."""
    lost = checker.get("lost")
    if not isinstance(lost, list):
        return []
    wanted = set()
    for item in lost:
        el = item.get("element", item.get("value")) if isinstance(item, dict) else item
        try:
            wanted.add(_hashable(el))
        except TypeError:
            pass
    idx = _ack_index(ops, wanted) if wanted else {}
    rows = []
    for item in lost:
        if not isinstance(item, dict):
            item = {"element": item}
        el = item.get("element", item.get("value"))
        key = item.get("key")
        try:
            op = idx.get((key, _hashable(el))) or idx.get((None, _hashable(el)))
        except TypeError:
            op = None
        t = _sec(item.get("acknowledged_at"), None)
        if t is None and op is not None:
            t = _sec(op.end, None)
        node = item.get("node", op.node if op is not None else None)
        during = windows_at(t, windows)
        if not during and t is not None:
            before = [w for w in windows if w["end"] <= t and not w.get("derived")]
            if before:
                last = max(before, key=lambda w: w["end"])
                during_text = f"after {last['name']} (ended {t - last['end']:.2f}s before)"
            else:
                during_text = "no fault yet"
        else:
            during_text = ", ".join(w["name"] for w in during)
        rows.append({"element": el, "key": key, "time": t, "node": node,
                     "process": op.process if op is not None else item.get("process"),
                     "during": during_text,
                     "extra": {k: v for k, v in item.items()
                               if k not in ("element", "value", "key", "acknowledged_at",
                                            "node", "process")}})
    rows.sort(key=lambda r: (r["time"] is None, r["time"] or 0))
    return rows


def porcupine_window(failure: dict[str, Any], ops: list[Operation],
                     by_index: dict[Any, Operation]) -> dict[str, Any]:
    """A linearizability failure's window as bars: x in event order, one row per process."""
    prefix = [i for i in failure.get("prefix") or [] if i in by_index]
    bad = [u for u in failure.get("unplaceable") or [] if isinstance(u, dict)]
    bad_ix = [u.get("index") for u in bad if u.get("index") in by_index]
    # The ops drawn: the failure's window (ops concurrent with the unplaceable one; it may
    # leave out that op itself) and the unplaceable ops, plus the ops of the prefix and of
    # the key that overlap their time span, so the last steps of the prefix show.
    key = failure.get("key")
    core = set(i for i in failure.get("window") or [] if i in by_index) | set(bad_ix)
    core |= set(prefix[-5:])  # the prefix's last steps: how the state came to be
    if core:
        lo = min(by_index[i].start for i in core)
        hi = max((by_index[i].end if by_index[i].end is not None else by_index[i].start)
                 for i in core)
        near = {o.invoke_index for o in ops if o.key == key and o.start <= hi
                and (o.end is None or o.end >= lo)}
        core |= near
        core |= {i for i in prefix if by_index[i].start <= hi
                 and (by_index[i].end is None or by_index[i].end >= lo)}
    window = sorted(core, key=lambda i: (by_index[i].start, i))
    truncated = 0
    if len(window) > MAX_WINDOW_OPS:
        # Keep the ops just around the first unplaceable op.
        ordered = sorted(window, key=lambda i: by_index[i].start)
        anchor = ordered.index(bad_ix[0]) if bad_ix and bad_ix[0] in ordered else len(ordered)
        hi = min(len(ordered), anchor + MAX_WINDOW_OPS // 4)
        lo = max(0, hi - MAX_WINDOW_OPS)
        truncated = len(ordered) - (hi - lo)
        window = ordered[lo:hi]
        for i in bad_ix:
            if i not in window:
                window.append(i)
    chosen = [by_index[i] for i in dict.fromkeys(window)]
    if not chosen:
        return {"key": failure.get("key"), "bars": [], "truncated": truncated, "indices": []}
    t_last = max((o.end if o.end is not None else o.start) for o in chosen)
    events: list[tuple[float, int, int]] = []  # (time, 0 invoke / 1 complete, op#)
    for n, o in enumerate(chosen):
        events.append((o.start, 0, n))
        events.append((o.end if o.end is not None else t_last, 1, n))
    events.sort()
    pos: dict[tuple[int, int], int] = {}
    for rank, (_, kind, n) in enumerate(events):
        pos[(n, kind)] = rank
    order = {i: k + 1 for k, i in enumerate(prefix)}
    reasons = {u.get("index"): u.get("reason", "") for u in bad}
    bars = []
    for n, o in enumerate(chosen):
        if o.invoke_index in reasons:
            cls = "unplaceable"
        elif o.invoke_index in order:
            cls = "prefix"
        elif o.type == "fail":
            cls = "fail"
        else:
            cls = "other"
        val = o.value if o.type == "ok" else o.invoke_value
        label = f"{o.f} {short(val, 24)}" if val is not None else o.f
        if o.invoke_index in order:
            label = f"#{order[o.invoke_index]} {label}"
        bars.append({
            "p": o.process if isinstance(o.process, int) else str(o.process),
            "x0": pos[(n, 0)], "x1": max(pos[(n, 1)], pos[(n, 0)] + 0.6),
            "cls": cls, "label": label, "type": o.type,
            "hover": (f"index {o.invoke_index} · process {o.process} · {o.f} "
                      f"{short(o.invoke_value, 40)} → {o.type} {short(o.value, 40)}"
                      f" · {(_sec(o.start) or 0):.4f}s"
                      + (f"–{_sec(o.end):.4f}s" if o.end is not None else " (never completed)")
                      + (f" · {reasons[o.invoke_index]}" if o.invoke_index in reasons else "")),
        })
    return {"key": failure.get("key"), "bars": bars, "truncated": truncated,
            "indices": [o.invoke_index for o in chosen]}


# ---------------------------------------------------------------------------------------
# HTML pieces


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, (list, dict)):
        return short(v, 300)
    return str(v)


def _t(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}s"


def kv_table(items: Iterable[tuple[str, Any]], cls: str = "kv") -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(_fmt(v))}</td></tr>" for k, v in items)
    return f'<table class="{cls}">{rows}</table>'


def rows_table(headers: list[str], rows: list[list[Any]], total: int | None = None,
               cls: str = "data", raw_cols: Iterable[int] = ()) -> str:
    """A table; cells are escaped except the column numbers in raw_cols (pre-built HTML)."""
    raw = set(raw_cols)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for r in rows[:MAX_ROWS]:
        cells = "".join(f"<td>{c if i in raw else esc(_fmt(c))}</td>" for i, c in enumerate(r))
        body.append(f"<tr>{cells}</tr>")
    total = len(rows) if total is None else total
    more = (f'<p class="more">… and {total - min(len(rows), MAX_ROWS):,} more '
            f'(see results.json)</p>' if total > min(len(rows), MAX_ROWS) else "")
    return (f'<div class="tablewrap"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{more}')


def figures(items: list[tuple[str, Any, str]]) -> str:
    """Key figures as cards: (label, value, css class)."""
    cards = "".join(f'<div class="fig {esc(c)}"><div class="v">{esc(_fmt(v))}</div>'
                    f'<div class="l">{esc(label)}</div></div>' for label, v, c in items)
    return f'<div class="figs">{cards}</div>'


def verdict_of(valid: Any) -> tuple[str, str]:
    if valid is True:
        return "VALID", "valid"
    if valid is False:
        return "INVALID", "invalid"
    return "UNKNOWN", "unknown"


def _valid_badge(valid: Any) -> str:
    text, cls = verdict_of(valid)
    return f'<span class="badge {cls}">{text}</span>'


def checker_summary(name: str, c: Any) -> str:
    if not isinstance(c, dict):
        return f"{name}: {short(c, 60)}"
    if name == "set" or "lost_count" in c:
        lost, acked = c.get("lost_count"), c.get("acknowledged_count")
        if lost is not None:
            return f"{name}: {_fmt(lost)} acknowledged writes lost" + (
                f" of {_fmt(acked)}" if acked is not None else "")
    if "failures" in c or name == "linearizable":
        fails = c.get("failures") or []
        v = c.get("verdict") or ("linearizable" if c.get("valid") is True else "")
        return f"{name}: {v}" + (f" on {len(fails)} key{'s' * (len(fails) != 1)}"
                                 if fails else "")
    return f"{name}: {verdict_of(c.get('valid'))[0].lower()}"


def set_section(c: dict[str, Any], lost: list[dict[str, Any]]) -> str:
    lost_n = c.get("lost_count", len(lost))
    rate = c.get("lost_rate")
    figs = [("attempted", c.get("attempt_count"), ""),
            ("acknowledged", c.get("acknowledged_count"), ""),
            ("lost", lost_n, "bad" if lost_n else "good"),
            ("lost rate", f"{rate * 100:.3g}%" if isinstance(rate, (int, float)) else rate,
             "bad" if rate else ""),
            ("recovered", c.get("recovered_count"), ""),
            ("unexpected", c.get("unexpected_count"), "bad" if c.get("unexpected_count") else ""),
            ("duplicated", c.get("duplicate_count"), "bad" if c.get("duplicate_count") else "")]
    out = [figures([f for f in figs if f[1] is not None])]
    if lost:
        out.append(f"<h4>Lost writes ({len(lost):,})</h4>"
                   "<p class=\"hint\">Acknowledged by Redis (the client got OK), missing from "
                   "the final read. Marked ✕ on the timeline.</p>")
        out.append(rows_table(
            ["element", "key", "acknowledged at", "node", "process", "fault at that time", "more"],
            [[r["element"], r["key"], _t(r["time"]), r["node"], r["process"], r["during"],
              r["extra"] or ""] for r in lost], total=lost_n if isinstance(lost_n, int) else None))
    elif lost_n:
        out.append(f"<p>{esc(_fmt(lost_n))} lost writes (no details in results.json).</p>")
    lbw = c.get("lost_by_window")
    if isinstance(lbw, dict) and lbw:
        out.append("<h4>Lost writes by fault window</h4>" + kv_table(lbw.items()))
    unexpected = c.get("unexpected")
    if isinstance(unexpected, list) and unexpected:
        out.append(f"<h4>Unexpected elements ({len(unexpected):,})</h4>"
                   "<p class=\"hint\">Read back but never attempted.</p>")
        out.append(generic_list(unexpected))
    for k in ("duplicates", "duplicated"):
        if isinstance(c.get(k), list) and c[k]:
            out.append(f"<h4>Duplicated elements ({len(c[k]):,})</h4>" + generic_list(c[k]))
    known = {"valid", "attempt_count", "acknowledged_count", "lost_count", "lost", "lost_rate",
             "recovered_count", "unexpected_count", "unexpected", "duplicate_count",
             "lost_by_window", "duplicates", "duplicated"}
    rest = [(k, v) for k, v in c.items() if k not in known]
    if rest:
        out.append("<h4>Other fields</h4>" + generic_fields(rest))
    return "".join(out)


def generic_list(items: list[Any]) -> str:
    if items and all(isinstance(i, dict) for i in items[:50]):
        headers: list[str] = []
        for i in items[:200]:
            for k in i:
                if k not in headers:
                    headers.append(k)
        return rows_table(headers, [[i.get(h, "") for h in headers] for i in items])
    return rows_table(["value"], [[i] for i in items])


def generic_fields(items: Iterable[tuple[str, Any]]) -> str:
    scalars, lists = [], []
    for k, v in items:
        if isinstance(v, list) and v and (len(v) > 8 or isinstance(v[0], dict)):
            lists.append((k, v))
        else:
            scalars.append((k, v))
    out = [kv_table(scalars)] if scalars else []
    for k, v in lists:
        out.append(f"<h4>{esc(k)} ({len(v):,})</h4>" + generic_list(v))
    return "".join(out)


def linear_section(c: dict[str, Any], by_index: dict[Any, Operation],
                   views: list[dict[str, Any]], offset: int = 0) -> str:
    """Figures and counterexamples; chart divs are numbered from `offset`."""
    fails = [f for f in c.get("failures") or [] if isinstance(f, dict)]
    figs = [("verdict", c.get("verdict"), "bad" if fails else ""),
            ("model", c.get("model"), ""),
            ("keys checked", c.get("keys_checked"), ""),
            ("keys failing", len(fails), "bad" if fails else "good")]
    out = [figures([f for f in figs if f[1] is not None])]
    for n, f in enumerate(fails):
        out.append(f'<div class="failure"><h4>Counterexample on key <code>{esc(f.get("key"))}'
                   f'</code></h4>')
        prefix = f.get("prefix") or []
        state = f.get("state_after_prefix")
        out.append(f"<p>The longest linearizable prefix has {len(prefix):,} "
                   f"op{'s' * (len(prefix) != 1)}"
                   + (f"; after it the model's state is <code>{esc(short(state, 200))}</code>"
                      if state is not None else "") + ". No remaining op can be placed next:</p>")
        bad = [u for u in f.get("unplaceable") or [] if isinstance(u, dict)]
        rows = []
        for u in bad:
            o = by_index.get(u.get("index"))
            rows.append([u.get("index"), u.get("process", o.process if o else ""),
                         u.get("f", o.f if o else ""), short(u.get("value", o.value if o else "")),
                         o.type if o else "", _t(_sec(o.start, None)) if o else "—",
                         _t(_sec(o.end, None)) if o and o.end is not None else "—",
                         o.node if o else "", u.get("reason", "")])
        out.append(rows_table(["index", "process", "f", "value", "type", "invoked", "completed",
                               "node", "why it cannot be placed"], rows, cls="data unplaceable"))
        out.append('<p class="hint">The ops of the window, one row per process, drawn in '
                   "history order (each bar runs from its invocation to its completion; "
                   "overlapping bars were concurrent). Green ops form the longest linearizable "
                   "prefix, numbered in the order they take effect; the red op cannot be placed "
                   "after them.</p>")
        out.append(f'<div class="chart porcupine" id="porcupine-{offset + n}"></div>')
        v = views[n] if n < len(views) else None
        if v and v.get("truncated"):
            out.append(f'<p class="hint">{v["truncated"]:,} earlier ops of the window are not '
                       f"drawn.</p>")
        ops_rows = []
        order = {i: k + 1 for k, i in enumerate(prefix)}
        win_ix = [i for i in (v["indices"] if v else f.get("window") or []) if i in by_index]
        bad_ix = {u.get("index") for u in bad}
        for i in win_ix:
            o = by_index[i]
            role = ("cannot be placed" if i in bad_ix else
                    f"prefix #{order[i]}" if i in order else "")
            ops_rows.append([i, o.process, o.f, short(o.invoke_value), o.type, short(o.value),
                             _t(_sec(o.start, None)), _t(_sec(o.end, None)), o.node, role])
        if ops_rows:
            out.append(f"<details><summary>The {len(ops_rows):,} op{'s' * (len(ops_rows) != 1)}"
                       " drawn above</summary>"
                       + rows_table(["index", "process", "f", "invoked with", "type", "returned",
                                     "invoked", "completed", "node", "role"], ops_rows)
                       + "</details>")
        out.append("</div>")
    known = {"valid", "verdict", "model", "keys_checked", "failures"}
    rest = [(k, v) for k, v in c.items() if k not in known]
    if rest:
        out.append("<h4>Other fields</h4>" + generic_fields(rest))
    return "".join(out)


def params_section(test: dict[str, Any]) -> str:
    versions = test.get("versions") if isinstance(test.get("versions"), dict) else {}
    nem = test.get("nemesis")
    rows: list[tuple[str, Any]] = [
        ("name", test.get("name")), ("topology", test.get("topology")),
        ("workload", test.get("workload")),
        ("nemesis / faults", ", ".join(map(str, nem)) if isinstance(nem, list) else nem),
        ("time limit", f"{test['time_limit']}s" if "time_limit" in test else None),
        ("concurrency", test.get("concurrency")), ("rate", test.get("rate")),
        ("Redis version", versions.get("redis")),
        ("redis.conf", _conf(test.get("redis_conf"))),
        ("sentinel.conf", _conf(test.get("sentinel_conf"))),
        ("WAIT", test.get("wait")), ("seed", test.get("seed")),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items()) or None),
        ("host", test.get("host")), ("started", test.get("started")),
    ]
    known = {"name", "topology", "workload", "nemesis", "time_limit", "concurrency", "rate",
             "redis_conf", "sentinel_conf", "wait", "seed", "versions", "host", "started", "argv"}
    rows += [(k, v) for k, v in test.items() if k not in known]
    rows = [(k, "—" if v is None or v == "" else v) for k, v in rows]
    argv = test.get("argv")
    cmd = ""
    if isinstance(argv, list) and argv:
        cmd = ("<h3>Rerun</h3><pre class=\"cmd\">" + esc(shlex.join(str(a) for a in argv))
               + "</pre>")
    return kv_table(rows) + cmd


def _conf(conf: Any) -> Any:
    if isinstance(conf, dict):
        return "; ".join(f"{k} {v}" for k, v in conf.items()) or "(defaults)"
    return conf


def faults_section(windows: list[dict[str, Any]], events: list[dict[str, Any]]) -> str:
    if not windows and not events:
        return "<p>No faults were injected.</p>"
    rows: list[tuple[float, list[Any]]] = []
    for w in windows:
        sw = f'<span class="swatch" style="background:{esc(w["color"])}"></span>'
        rows.append((w["start"], [sw + esc(w["name"]), _t(w["start"]),
                     _t(w["end"]) + (" (never stopped)" if w["open"] else ""),
                     f'{w["end"] - w["start"]:.3f}s',
                     w["detail"] + (f" → {w['stop_detail']}" if w["stop_detail"] else "")]))
    for e in events:
        sw = f'<span class="swatch line" style="background:{esc(e["color"])}"></span>'
        rows.append((e["time"], [sw + esc(e["name"]), _t(e["time"]), "", "", e["detail"]]))
    rows.sort(key=lambda r: r[0])
    return rows_table(["fault", "start", "end", "duration", "detail"], [r for _, r in rows],
                      raw_cols=(0,))


def quantile_table(q: pd.DataFrame) -> str:
    if q.empty:
        return "<p>No completed operations.</p>"
    rows = [[r.f, r.type, int(r["count"]), f"{r.p50:.2f}", f"{r.p90:.2f}", f"{r.p99:.2f}",
             f"{r['max']:.2f}"] for _, r in q.iterrows()]
    return rows_table(["f", "type", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows,
                      cls="data num")


# ---------------------------------------------------------------------------------------
# the page


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def plotly_js() -> str | None:
    """Plotly's minified JS: the basic bundle shipped in report_assets (scatter, bar; MIT,
    see plotly-LICENSE.txt), else the full bundle of the `plotly` package if installed."""
    local = ASSETS / "plotly-basic.min.js"
    if local.exists():
        return local.read_text(encoding="utf-8")
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    return get_plotlyjs()


def _script_text(js: str) -> str:
    # A literal "</script" inside inlined code would end the element early.
    return js.replace("</script", "<\\/script")


def build_report(run_dir: Path) -> Path:
    """Write run_dir/report.html from the run's files; return its path."""
    run_dir = Path(run_dir)
    warnings: list[str] = []
    test, err = _load_json(run_dir / "test.json")
    if err:
        warnings.append(err)
    if not isinstance(test, dict):
        test = {}
    results, err = _load_json(run_dir / "results.json")
    if err:
        warnings.append(err + " — the run did not finish checking; the verdict is unknown")
    if not isinstance(results, dict):
        results = {}
    history, err = _load_history(run_dir / "history.jsonl")
    if err:
        warnings.append(err)

    ops = pair_ops(history)
    nemesis = nemesis_ops(history)
    times = [op["time"] for op in history if isinstance(op.get("time"), (int, float))]
    t_end_s = round(max(times) / 1e9, 4) if times else 0.0
    windows, events = fault_windows(nemesis, results.get("windows"), t_end_s)

    df = ops_frame(ops)
    stats = results.get("stats") if isinstance(results.get("stats"), dict) else {}
    counts = df["type"].value_counts().to_dict() if not df.empty else {}
    duration = stats.get("duration_s", round(t_end_s, 3))
    n_ops = stats.get("ops", len(ops))
    ops_per_s = stats.get("ops_per_s", (len(ops) / t_end_s) if t_end_s else None)

    checkers = results.get("checkers") if isinstance(results.get("checkers"), dict) else {}
    by_index = {o.invoke_index: o for o in ops}
    valid = results.get("valid", "unknown")
    if valid not in (True, False):
        valid = "unknown"
    verdict, vcls = verdict_of(valid)

    # checker sections
    lost_all: list[dict[str, Any]] = []
    views: list[dict[str, Any]] = []
    sections = []
    for name, c in checkers.items():
        if not isinstance(c, dict):
            c = {"result": c}
        if name == "set" or ("lost" in c and "lost_count" in c):
            lost = lost_writes(c, ops, windows)
            lost_all += lost
            body = set_section(c, lost)
        elif name == "linearizable" or "failures" in c:
            fails = [f for f in c.get("failures") or [] if isinstance(f, dict)]
            key_views = [porcupine_window(f, ops, by_index) for f in fails]
            first = len(views)
            views += key_views
            body = linear_section(c, by_index, key_views, first)
        else:
            body = generic_fields(c.items())
        sections.append(f'<section class="checker" id="checker-{esc(name)}">'
                        f'<h3>{esc(name)} {_valid_badge(c.get("valid"))}</h3>{body}</section>')
    if not checkers:
        sections.append("<p>No checker results" + (" (results.json is missing)."
                                                   if not results else ".") + "</p>")

    chart_data, shown = chart_ops(ops)
    q = latency_quantiles(df)
    tp = throughput(df, max(t_end_s, float(duration or 0)))
    data = {
        "t_end": round(t_end_s, 4),
        "ops": chart_data,
        "sampled": shown < len(ops),
        "windows": windows, "events": events,
        "lost": [{"t": round(r["time"], 4), "p": r["process"], "el": short(r["element"], 60),
                  "key": short(r["key"], 60), "node": short(r["node"], 60)}
                 for r in lost_all if r["time"] is not None][:20000],
        "rows": dict(zip(("of", "labels", "title"), timeline_rows(ops))),
        "throughput": tp,
        "porcupine": views,
    }

    summary = "; ".join(checker_summary(n, c) for n, c in checkers.items())
    error = results.get("error")
    name = test.get("name") or run_dir.name
    sample_note = (f'<p class="hint">The charts show {shown:,} of {len(ops):,} ops: every op '
                   f"that did not end ok and an even sample of the ok ones.</p>"
                   if shown < len(ops) else "")
    js = plotly_js()
    if js is None:
        warnings.append("Plotly's JavaScript was not found (harness/report_assets): charts are "
                        "missing")
    legend = "".join(
        f'<span class="lg"><span class="swatch" style="background:{esc(c)}"></span>{esc(n)}</span>'
        for n, c in dict.fromkeys((w["name"], w["color"]) for w in windows))
    legend += "".join(
        f'<span class="lg"><span class="swatch line" style="background:{esc(c)}"></span>{esc(n)}'
        f"</span>" for n, c in dict.fromkeys((e["name"], e["color"]) for e in events))

    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(verdict)} · {esc(name)} · splitbrain</title>
<style>{_asset("report.css")}</style>
</head><body>
<header class="verdict {vcls}" id="verdict">
  <div class="vtext">{verdict}</div>
  <div class="vmeta"><div class="vname">{esc(name)}</div>
  <div>{esc(summary) or "no checker results"}</div>
  <div class="small">{esc(test.get("topology") or "")} · {esc(test.get("workload") or "")} ·
   started {esc(test.get("started") or "?")}</div></div>
</header>
<main>
{"".join(f'<div class="warning">{esc(w)}</div>' for w in warnings)}
{f'<div class="warning error"><b>The run was interrupted:</b> {esc(error)}</div>' if error else ""}
<nav><a href="#params">Test</a><a href="#checkers">Checkers</a><a href="#faults">Faults</a>
<a href="#timeline-section">Timeline</a><a href="#latency-section">Latency</a>
<a href="#throughput-section">Throughput</a></nav>
{figures([("ops", n_ops, ""), ("ok", stats.get("ok", counts.get("ok", 0)), "good"),
          ("fail", stats.get("fail", counts.get("fail", 0)), ""),
          ("info", stats.get("info", counts.get("info", 0)), "warn"),
          ("duration", f"{duration:.1f}s" if isinstance(duration, (int, float)) else duration, ""),
          ("ops/s", ops_per_s, "")])}
<section id="params"><h2>Test</h2>{params_section(test)}</section>
<section id="checkers"><h2>Checkers</h2>{"".join(sections)}</section>
<section id="faults"><h2>Faults</h2>{faults_section(windows, events)}</section>
<section id="timeline-section"><h2>Timeline</h2>
<p class="hint">One row per client process (with many processes, one lane per client: a
process that ended in info is followed in its lane by its replacement); each bar is an op from invocation to completion
(<span class="c-ok">ok</span>, <span class="c-fail">fail</span>, <span class="c-info">info</span>),
✕ marks a lost write at the moment it was acknowledged. Drag to zoom, double-click to reset;
the three charts zoom together.</p>
<div class="legend">{legend}</div>{sample_note}
<div class="chart" id="timeline"></div></section>
<section id="latency-section"><h2>Latency</h2><div class="chart" id="latency"></div>
<h3>Latency quantiles</h3>{quantile_table(q)}</section>
<section id="throughput-section"><h2>Throughput</h2>
<p class="hint">Completions per second in {tp["bin_s"]:g}s bins, by f and type.</p>
<div class="chart" id="throughput"></div></section>
<div id="js-errors" class="warning error" hidden></div>
</main>
<footer>splitbrain report · generated {esc(_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"))}
 · {esc(run_dir.name)}<span id="report-status" data-status="pending"></span></footer>
<script type="application/json" id="report-data">{json_for_script(data)}</script>
{f"<script>{_script_text(js)}</script>" if js else ""}
<script>{_script_text(_asset("report.js"))}</script>
</body></html>
"""
    out = run_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out
