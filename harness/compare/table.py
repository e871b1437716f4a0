"""The compare table: runs grouped into cells (one per configuration), one row per cell.

Its columns are whatever figures the runs reported (`rundir.load_run`: the checkers' as
`<checker>.<figure>`, the run's own as `run.<figure>`), in order of first appearance, the
checkers' first; each figure gives one column per aggregate its `Figure` declares, named
`<checker>.<figure>_<aggregate>` (e.g. `set.lost_mean`, `set.lost_max`,
`run.p99_ms_mean`), so a CSV's header is stable for a given set of checkers. Nothing here
names a checker or a figure: labels and formats come from the figures themselves.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..roles import Figure
from ..rundir import difference_labels, number
from ..templating import format_value

BASE_COLUMNS = ["cell", "setting", "server", "runs", "invalid", "unknown", "harness_failed"]
RUN_COLUMNS = ["cell", "setting", "server", "seed", "valid", "harness_failed"]
AGGREGATES = {"mean": lambda v: sum(v) / len(v), "max": max, "min": min, "sum": sum}


def group_runs(rows: list[dict[str, Any]], known: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows → cells [{cell, setting, key, rows, order}] grouped by settings (ordered, labelled).

    `known` (compare.json's cells: name, label, key) names and orders the cells a compare
    run planned; other groups get a label from the settings that differ between groups.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["settings_key"], []).append(r)
    known_by_key = {c["key"]: c for c in (known or [])}
    cells = []
    derived = difference_labels([g[0]["test"] for g in groups.values()])
    for (key, g), label in zip(groups.items(), derived):
        k = known_by_key.get(key)
        names = {r.get("name") for r in g}
        cells.append({"key": key, "rows": sorted(g, key=lambda r: (r.get("seed") or 0, r["run_dir"])),
                      "setting": k["label"] if k else label,
                      "cell": k["name"] if k else (names.pop() if len(names) == 1 and None not in names else ""),
                      "order": (k["index"], "") if k else (1 << 30, min(str(r.get("started") or r["run_dir"]) for r in g))})
    cells.sort(key=lambda c: c["order"])
    for i, c in enumerate(cells):
        c["cell"] = c["cell"] or f"c{i + 1}"
    return cells


def servers_text(rows: list[dict[str, Any]]) -> str | None:
    """The servers a cell's runs met: one name, or every one when they differ (a cell whose
    runs met two versions says so, never averages them silently)."""
    seen = sorted({r["server"] for r in rows if r.get("server")})
    if not seen:
        return None
    return seen[0] if len(seen) == 1 else "MIXED: " + " / ".join(seen)


def figure_columns(rows: list[dict[str, Any]]) -> list[tuple[str, Figure]]:
    """(column, Figure) of every figure the rows hold: in order of first appearance, the
    checkers' before the run's own; the Figure (label, format, aggregates) is the first
    run's that reported it."""
    seen: dict[str, Figure] = {}
    for r in rows:
        meta = r.get("figure_meta") or {}
        for col in r.get("figures") or {}:
            if col not in seen:
                fig = meta.get(col)
                seen[col] = fig if isinstance(fig, Figure) else Figure(col.split(".", 1)[-1], None, col)
    return sorted(seen.items(), key=lambda kv: kv[0].startswith("run."))  # stable: keeps order


def aggregate(values: list[Any], how: str) -> float | None:
    """An aggregate ("mean", "max", "min", "sum") of the runs' values that exist."""
    nums = [n for n in map(number, values) if n is not None]
    fn = AGGREGATES.get(how)
    return float(fn(nums)) if nums and fn else None


def _aggregates(fig: Figure) -> list[str]:
    return [a for a in fig.aggregate if a in AGGREGATES] or ["mean"]


def cell_table(cells: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per cell: BASE_COLUMNS, then one column per figure and aggregate.

    `table.attrs["columns"]` describes each figure column: {name: {figure (the run
    column), aggregate, label, format}} (what `markdown_table` and compare.html show)."""
    figures = figure_columns([r for c in cells for r in c["rows"]])
    columns: dict[str, dict[str, Any]] = {}
    for col, fig in figures:
        for agg in _aggregates(fig):
            columns[f"{col}_{agg}"] = {"figure": col, "aggregate": agg,
                                       "label": fig.label or fig.name, "format": fig.format}
    out = []
    for c in cells:
        rows = c["rows"]
        rec: dict[str, Any] = {
            "cell": c["cell"], "setting": c["setting"], "server": servers_text(rows), "runs": len(rows),
            "invalid": sum(1 for r in rows if r.get("valid") == "false"),
            "unknown": sum(1 for r in rows if r.get("valid") == "unknown"),
            "harness_failed": sum(1 for r in rows if r.get("harness_failed"))}
        for name, meta in columns.items():
            rec[name] = aggregate([(r.get("figures") or {}).get(meta["figure"]) for r in rows],
                                  meta["aggregate"])
        out.append(rec)
    table = pd.DataFrame(out, columns=BASE_COLUMNS + list(columns))
    table.attrs["columns"] = columns
    return table


def runs_table(cells: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: cell, setting, seed, verdict, then every figure column as the run
    reported it (e.g. `set.lost`), its error and directory."""
    rows = [r for c in cells for r in c["rows"]]
    figures = [col for col, _ in figure_columns(rows)]
    out = [{"cell": c["cell"], "setting": c["setting"], "server": r.get("server"), "seed": r.get("seed"),
            "valid": r.get("valid"),
            "harness_failed": bool(r.get("harness_failed")),
            **{col: (r.get("figures") or {}).get(col) for col in figures},
            "error": r.get("error"), "run_dir": r.get("run_dir")}
           for c in cells for r in c["rows"]]
    return pd.DataFrame(out, columns=RUN_COLUMNS + figures + ["error", "run_dir"])


def display_columns(table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(column, header, format) of what a person sees of the table: the setting, runs,
    invalid (and unknown, harness failed, when any), and every figure column that has a
    value in some cell."""
    out = [("setting", "setting", "")]
    out += [("server", "server", "")] if "server" in table and table["server"].notna().any() else []
    out += [("runs", "runs", ""), ("invalid", "invalid", "")]
    out += [(c, c.replace("_", " "), "") for c in ("unknown", "harness_failed")
            if c in table and table[c].fillna(0).astype(float).sum() > 0]
    meta = table.attrs.get("columns") or {c: {"label": c, "format": "", "aggregate": ""}
                                          for c in table.columns if c not in BASE_COLUMNS}
    for name, m in meta.items():
        if name in table and table[name].notna().any():
            out.append((name, f"{m['label']} ({m['aggregate']})" if m["aggregate"] else m["label"],
                        m["format"]))
    return out


def display_value(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format_value(v, kind) if kind else str(v)


def markdown_table(table: pd.DataFrame) -> str:
    """The table in Markdown, for the terminal and READMEs: human headers and formats."""
    cols = display_columns(table)

    def cell(v: Any, kind: str) -> str:
        return display_value(v, kind).replace("|", "\\|")
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " |",
             "|" + "|".join("---" if c in ("setting", "server") else "---:" for c, _, _ in cols) + "|"]
    for rec in table.to_dict("records"):
        lines.append("| " + " | ".join(f"`{cell(rec[c], k)}`" if c == "setting" else cell(rec[c], k)
                                       for c, _, k in cols) + " |")
    return "\n".join(lines)
