"""What `compare` writes beside its runs: compare.csv (one row per cell), runs.csv (one row
per run), compare.html (templates/compare.html.j2) and junit.xml (one testcase per cell).

compare.html's bar chart shows every percentage figure of the table (format "pct"; rates,
availabilities) per cell, whatever checkers reported them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..junit import write_compare_junit
from ..rundir import number
from ..templating import render
from .table import cell_table, display_columns, display_value, runs_table

PALETTE = ["#c62828", "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e"]


def _rel(path: str | None, base: Path) -> str | None:
    if not path:
        return None
    try:
        return os.path.relpath(Path(path).resolve(), base.resolve())
    except ValueError:
        return None


def _number(v: Any) -> float | None:
    return number(v)


def bar_chart(table: pd.DataFrame) -> dict[str, Any] | None:
    """Geometry of an SVG bar chart of the table's pct columns (one bar per column and
    cell, 0–100%), or None if it has none."""
    series = [(c, h) for c, h, k in display_columns(table) if k == "pct"]
    if not series:
        return None
    recs = table.to_dict("records")
    bar_h, left, width = 12, 330, 420
    row_h = len(series) * (bar_h + 2) + 8
    legend = []
    x = left
    for i, (_, header) in enumerate(series):
        legend.append({"x": x, "text": header, "color": PALETTE[i % len(PALETTE)]})
        x += 24 + 6.5 * len(header)
    height = 30 + row_h * len(recs) + 10
    rows = []
    for n, r in enumerate(recs):
        y = 28 + n * row_h
        label = str(r["setting"])
        bars = []
        for j, (col, header) in enumerate(series):
            v = _number(r[col])
            bars.append({"y": y + j * (bar_h + 2), "value": v, "text": display_value(v, "pct"),
                         "w": max(0.0, min(1.0, v)) * width if v is not None else 0,
                         "title": f"{header}: {display_value(v, 'pct')}",
                         "color": PALETTE[j % len(PALETTE)]})
        rows.append({"y": y, "label": label if len(label) <= 52 else label[:50] + "…",
                     "title": f"{r['cell']}: {label}", "bars": bars})
    return {"left": left, "width": width, "bar_h": bar_h, "height": height,
            "total_width": max(left + width + 80, x), "legend": legend, "rows": rows,
            "ticks": [{"x": left + t * width, "text": f"{t:.0%}"} for t in (0, 0.25, 0.5, 0.75, 1.0)]}


def compare_html(table: pd.DataFrame, cells: list[dict[str, Any]], out_dir: Path,
                 meta: dict[str, Any]) -> str:
    cols = display_columns(table)
    body = [[(display_value(rec[c], k), c == "setting") for c, _, k in cols]
            for rec in table.to_dict("records")]
    runs = [{"cell": c["cell"], "setting": c["setting"], "server": r.get("server") or "", "seed": r.get("seed"),
             "valid": r.get("valid"), "summaries": r.get("summaries") or {},
             "report": _rel(r.get("report"), out_dir), "error": r.get("error") or ""}
            for c in cells for r in c["rows"]]
    return render("compare.html.j2", headers=[h for _, h, _ in cols], body=body, runs=runs,
                  chart=bar_chart(table), command=meta.get("command") or "",
                  summary=meta.get("summary") or "")


def write_outputs(out_dir: Path, cells: list[dict[str, Any]], meta: dict[str, Any]) -> pd.DataFrame:
    """compare.csv, runs.csv, compare.html and junit.xml in out_dir; returns the table."""
    out_dir = Path(out_dir)
    table = cell_table(cells)
    # errors="replace": a lone surrogate (valid in JSON, not in UTF-8) from a run's files
    table.to_csv(out_dir / "compare.csv", index=False, errors="replace")
    runs_table(cells).to_csv(out_dir / "runs.csv", index=False, errors="replace")
    (out_dir / "compare.html").write_text(compare_html(table, cells, out_dir, meta), encoding="utf-8",
                                          errors="replace")
    write_compare_junit(out_dir / "junit.xml", cells)
    return table
