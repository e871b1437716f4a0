"""compare.html."""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

from .table import DISPLAY, _f, cell_table, markdown_table, write_csv, write_runs_csv

# ======================================================================= compare.html

def esc(v: Any) -> str:
    return html.escape(v if isinstance(v, str) else str(v), quote=True)


def bar_chart_svg(table) -> str:
    """Inline SVG: per cell, a bar for the mean lost rate and one for availability in faults."""
    recs = table.to_dict("records")
    row_h, bar_h, left, width = 34, 12, 330, 420
    height = 30 + row_h * len(recs) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{left + width + 80}" '
             f'height="{height}" role="img" aria-label="lost rate and availability per cell">',
             f'<rect x="{left}" y="4" width="10" height="10" fill="#c62828"/>'
             f'<text x="{left + 14}" y="13" font-size="11">lost rate (mean)</text>'
             f'<rect x="{left + 130}" y="4" width="10" height="10" fill="#1565c0"/>'
             f'<text x="{left + 144}" y="13" font-size="11">availability during faults (mean)</text>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + tick * width
        parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 8}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{height}" font-size="10" text-anchor="middle">{tick:.0%}</text>')
    for i, r in enumerate(recs):
        y = 28 + i * row_h
        label = str(r["setting"])
        parts.append(f'<text x="{left - 6}" y="{y + bar_h + 3}" font-size="11" text-anchor="end">'
                     f'<title>{esc(r["cell"] + ": " + label)}</title>'
                     f'{esc(label if len(label) <= 52 else label[:50] + "…")}</text>')
        for j, (col, colour) in enumerate((("lost_rate_mean", "#c62828"), ("availability_mean", "#1565c0"))):
            v = r[col]
            yy = y + j * (bar_h + 2)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                parts.append(f'<text x="{left + 4}" y="{yy + 10}" font-size="10" fill="#777">n/a</text>')
                continue
            w = max(0.0, min(1.0, v)) * width
            parts.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                         f'<title>{esc(f"{col}: {v:.2%}")}</title></rect>'
                         f'<text x="{left + w + 4:.1f}" y="{yy + 10}" font-size="10">{esc(f"{v:.2%}")}</text>')
    parts.append("</svg>")
    return "".join(parts)


PAGE_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}code{background:#f6f6f6;padding:0 3px}
.v-true{background:#e3f4e3}.v-false{background:#fbe0e0}.v-unknown,.v-error{background:#fff3cd}
.chart text{font-family:system-ui,sans-serif}"""


def _rel(path: str | None, base: Path) -> str | None:
    if not path:
        return None
    try:
        return os.path.relpath(Path(path).resolve(), base.resolve())
    except ValueError:
        return None


def compare_html(table, cells: list[dict[str, Any]], out_dir: Path, meta: dict[str, Any]) -> str:
    head = "".join(f'<th class="{"l" if c == "setting" else ""}">{esc(h)}</th>' for c, h, _ in DISPLAY)
    body = []
    for rec in table.to_dict("records"):
        body.append("<tr>" + "".join(
            f'<td class="l"><code>{esc(rec[c])}</code></td>' if c == "setting" else f"<td>{esc(_f(rec[c], k))}</td>"
            for c, _, k in DISPLAY) + "</tr>")
    runs = []
    for c in cells:
        for r in c["rows"]:
            rel = _rel(r.get("report"), out_dir)
            link = f'<a href="{esc(rel)}">report</a>' if rel else "no report"
            runs.append(f'<tr class="v-{esc(r.get("valid"))}"><td class="l">{esc(c["cell"])}</td>'
                        f'<td class="l"><code>{esc(c["setting"])}</code></td><td>{esc(r.get("seed"))}</td>'
                        f'<td class="l">{esc(r.get("valid"))}</td><td>{esc(_f(r.get("lost"), "int"))}</td>'
                        f'<td>{esc(_f(r.get("acknowledged"), "int"))}</td>'
                        f'<td>{esc(_f(r.get("lost_rate"), "pct"))}</td>'
                        f'<td>{esc(_f(r.get("availability"), "pct"))}</td>'
                        f'<td class="l">{link}</td><td class="l">{esc(r.get("error") or "")}</td></tr>')
    common = esc(meta.get("command") or "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>splitbrain compare</title>
<style>{PAGE_CSS}</style></head><body>
<h1>splitbrain compare</h1>
<p>{esc(meta.get("summary") or "")}</p>
{f"<p>command: <code>{common}</code></p>" if common else ""}
<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
{bar_chart_svg(table)}
<h2>Runs</h2>
<table><thead><tr><th class="l">cell</th><th class="l">setting</th><th>seed</th><th class="l">verdict</th>
<th>lost</th><th>acknowledged</th><th>lost rate</th><th>availability in faults</th><th class="l">report</th>
<th class="l">error</th></tr></thead><tbody>{"".join(runs)}</tbody></table>
<p>lost = acknowledged adds missing from the final read; availability in faults = ok / completed ops
that started inside a fault window; failover s = from a fault's start to the first ok from another node.</p>
</body></html>
"""


def write_outputs(out_dir: Path, cells: list[dict[str, Any]], meta: dict[str, Any]):
    """compare.csv, runs.csv, compare.html and junit.xml in out_dir; returns the table."""
    from .junit import write_compare_junit
    table = cell_table(cells)
    write_csv(table, out_dir / "compare.csv")
    write_runs_csv(cells, out_dir / "runs.csv")
    (out_dir / "compare.html").write_text(compare_html(table, cells, out_dir, meta), encoding="utf-8")
    write_compare_junit(out_dir / "junit.xml", cells)
    return table


def rebuild(dir_: Path) -> tuple[Any, list[dict[str, Any]]]:
    """`compare --from DIR`: the table from finished runs under DIR (outputs written to DIR)."""
    dir_ = Path(dir_)
    meta = _read_json(dir_ / "compare.json") or {}
    failed = {str(Path(f["run_dir"]).resolve()): f["error"] for f in meta.get("failures", []) if f.get("run_dir")}
    rows = [load_run(d, failed.get(str(d.resolve()))) for d in find_run_dirs(dir_)]
    if not rows:
        raise click.UsageError(f"--from {dir_}: no runs (directories with a test.json) under it")
    cells = group_runs(rows, meta.get("cells"))
    table = write_outputs(dir_, cells, {"command": meta.get("command"),
                                        "summary": f"{len(rows)} runs in {len(cells)} configurations, from {dir_}"})
    return table, cells

