"""report.html: a self-contained page that shows one run to a person (ARCHITECTURE.md).

`build_report(run_dir)` reads `test.json`, the history (`history.jsonl.zst`, or an older
run's `history.jsonl`) and `results.json` from a run directory and writes `report.html`
beside them. The page works offline in any browser:
the chart library and the page's own script and style (`harness/report_assets/`) are
inlined. The page is the Jinja2 template harness/templates/report.html.j2.

Layout: a verdict banner; the test's parameters and the command to rerun it; one section
per checker, each drawn by the checker's own template (`report.sections`; the report names
no checker); the faults; a timeline of every op per process with the fault windows shaded
and the checkers' marks; latency and throughput over time; latency quantiles per op.

The chart library is Plotly's basic bundle (report_assets/plotly-basic.min.js, plotly.js
4.1.1 from npm's `plotly.js-basic-dist-min`, MIT licence, ~1.2 MB). Per-op marks (the
timeline's bars, the latency scatter) are drawn by the page's script on a 2D canvas under
Plotly's axes, so 100k ops render in well under a second with no WebGL.

Escaping (harness/templating.py): everything in HTML through Jinja2's autoescape; the
JSON the charts read (a `<script type="application/json">` block) by `json_for_script`,
and the script escapes strings again for Plotly's label markup. Missing or partial inputs
(an interrupted run) give a page that says what is missing and an "unknown" verdict;
damaged ones (wrong types, absurd times such as 9e18 ns) a page that says what is wrong,
its charts bounded by the run's plausible length (`RunView.horizon`).
"""

from __future__ import annotations

import datetime as _dt
import shlex
from pathlib import Path
from typing import Any

from ..rundir import number, run_stats_of, server_version
from ..templating import json_for_script, render, script_text
from . import charts
from .charts import latency_quantiles, throughput, timeline_rows
from .run_view import RunView
from .sections import render_sections, timeline_marks

__all__ = ["build_report", "json_for_script", "RunView"]

ASSETS = Path(__file__).resolve().parent.parent / "report_assets"


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


def _conf(conf: Any) -> Any:
    if isinstance(conf, dict):
        return "; ".join(f"{k} {v}" for k, v in conf.items()) or "(defaults)"
    return conf


_PARAM_KEYS = {"name", "topology", "server", "server_version", "workload", "nemesis", "time_limit", "concurrency", "rate",
               "redis_conf", "sentinel_conf", "wait", "seed", "versions", "host", "started", "argv"}


def parameters(test: dict[str, Any]) -> tuple[list[tuple[str, Any]], str]:
    """(rows of the parameters table, the shell command that reruns the test or "")."""
    versions = test.get("versions") if isinstance(test.get("versions"), dict) else {}
    nem = test.get("nemesis")
    rows: list[tuple[str, Any]] = [
        ("name", test.get("name")), ("topology", test.get("topology")),
        ("workload", test.get("workload")),
        ("nemesis / faults", ", ".join(map(str, nem)) if isinstance(nem, list) else nem),
        ("time limit", f"{test['time_limit']}s" if "time_limit" in test else None),
        ("concurrency", test.get("concurrency")), ("rate", test.get("rate")),
        ("server", " ".join(filter(None, [server_version(test),
                                          f"({test['server']})" if test.get("server") else None])) or None),
        ("redis.conf", _conf(test.get("redis_conf"))),
        ("sentinel.conf", _conf(test.get("sentinel_conf"))),
        ("WAIT", test.get("wait")), ("seed", test.get("seed")),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items()) or None),
        ("host", test.get("host")), ("started", test.get("started")),
    ]
    rows += [(k, v) for k, v in test.items() if k not in _PARAM_KEYS]
    rows = [(k, "—" if v is None or v == "" else v) for k, v in rows]
    argv = test.get("argv")
    cmd = shlex.join(str(a) for a in argv) if isinstance(argv, list) and argv else ""
    return rows, cmd


def fault_rows(run: RunView) -> list[dict[str, Any]]:
    """The faults table: windows and events in time order."""
    rows = [{"name": w["name"], "color": w["color"], "line": False, "t": w["start"],
             "start": w["start"], "end": w["end"], "open": w["open"],
             "duration": f"{w['end'] - w['start']:.3f}s",
             "detail": w["detail"] + (f" → {w['stop_detail']}" if w["stop_detail"] else "")}
            for w in run.windows]
    rows += [{"name": e["name"], "color": e["color"], "line": True, "t": e["time"],
              "start": e["time"], "end": None, "open": False, "duration": "", "detail": e["detail"]}
             for e in run.events]
    rows.sort(key=lambda r: r["t"])
    return rows


def quantile_rows(ops: list[Any]) -> list[list[Any]]:
    """The latency quantile table: f, type, count, p50, p90, p99, max (ms, 2 decimals)."""
    return [[q["f"], q["type"], q["count"],
             *(f"{q[k]:.2f}" for k in ("p50", "p90", "p99", "max"))] for q in latency_quantiles(ops)]


def _counts(run: RunView) -> dict[str, Any]:
    """The figures above the sections: ops, ok, fail, info, duration, ops/s."""
    stats = run_stats_of(run.results)
    counts = {t: sum(1 for o in run.ops if o.type == t) for t in ("ok", "fail", "info")}
    duration = stats.get("duration_s", round(run.t_end, 3))
    ops_per_s = stats.get("ops_per_s", (len(run.ops) / run.t_end) if run.t_end else None)
    redirects = stats.get("redirects")
    redirects = redirects if isinstance(redirects, dict) else {}
    return {"ops": stats.get("ops", len(run.ops)),
            **{t: stats.get(t, counts[t]) for t in counts},
            "duration": duration, "ops_per_s": ops_per_s,
            "redirects": (f"{redirects.get('moved', 0)} / {redirects.get('ask', 0)}"
                          if redirects else None)}


def build_report(run_dir: Path) -> Path:
    """Write run_dir/report.html from the run's files; return its path."""
    run = RunView(Path(run_dir))
    sections = render_sections(run)
    # The charts draw the ops whose times lie within the run (RunView.chart_ops): one op
    # stamped 9e18 ns must not stretch them over centuries.
    chart_data, shown = charts.chart_ops(run.chart_ops)
    counts = _counts(run)
    duration = number(counts["duration"])
    tp = throughput(run.chart_ops, max(run.t_end, min(duration or 0.0, run.horizon)))
    data = {
        "t_end": round(run.t_end, 4),
        "ops": chart_data,
        "sampled": shown < len(run.chart_ops),
        "windows": run.windows, "events": run.events,
        "marks": timeline_marks(sections, run.horizon),
        "rows": dict(zip(("of", "labels", "title"), timeline_rows(run.chart_ops))),
        "throughput": tp,
        "charts": [c for s in sections for c in s.charts],
    }
    valid = run.results.get("valid", "unknown")
    warnings = list(run.warnings)
    js = plotly_js()
    if js is None:
        warnings.append("Plotly's JavaScript was not found (harness/report_assets): charts are "
                        "missing")
    params, rerun = parameters(run.test)
    page = render(
        "report.html.j2", run=run, name=run.test.get("name") or run.run_dir.name,
        valid=valid if valid in (True, False) else "unknown", sections=sections,
        warnings=warnings, error=run.results.get("error"), note=run.results.get("note"),
        counts=counts, params=params, rerun=rerun, faults=fault_rows(run),
        legend=list(dict.fromkeys((w["name"], w["color"], False) for w in run.windows))
        + list(dict.fromkeys((e["name"], e["color"], True) for e in run.events)),
        shown=shown, n_ops=len(run.chart_ops), quantiles=quantile_rows(run.chart_ops),
        bin_s=tp["bin_s"], data=data,
        css=script_text(_asset("report.css")), plotly=script_text(js) if js else None,
        script=script_text(_asset("report.js")),
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"))
    out = run.run_dir / "report.html"
    out.write_text(page, encoding="utf-8", errors="replace")   # a lone surrogate from a JSON file
    return out
