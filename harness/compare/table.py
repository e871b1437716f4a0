"""The compare table: runs grouped into cells, one row per cell, as CSV and Markdown."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from ..rundir import difference_labels

# ======================================================================= the table

CELL_COLUMNS = ["cell", "setting", "runs", "invalid", "unknown", "harness_failed", "attempted",
                "acknowledged", "lost_mean", "lost_max", "lost_rate_mean", "availability_mean",
                "latency_p50_ms", "latency_p99_ms", "failover_s_mean"]


def group_runs(rows: list[dict[str, Any]], known: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows → cells [{cell, setting, key, rows}] grouped by settings (ordered, labelled).

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


def cell_table(cells: list[dict[str, Any]]):
    """One row per cell (pandas DataFrame with CELL_COLUMNS)."""
    import pandas as pd
    out = []
    for c in cells:
        df = pd.DataFrame(c["rows"])
        for col in ("attempted", "acknowledged", "lost", "lost_rate", "availability", "p50_ms", "p99_ms",
                    "failover_s"):
            if col not in df:
                df[col] = None
            df[col] = pd.to_numeric(df[col], errors="coerce")

        def m(col: str, fn: str = "mean") -> float | None:
            v = getattr(df[col].dropna(), fn)() if df[col].notna().any() else None
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

        out.append({"cell": c["cell"], "setting": c["setting"], "runs": len(df),
                    "invalid": int((df["valid"] == "false").sum()),
                    "unknown": int((df["valid"] == "unknown").sum()),
                    "harness_failed": int(df.get("harness_failed", pd.Series(dtype=bool)).fillna(False).astype(bool).sum()),
                    "attempted": m("attempted"), "acknowledged": m("acknowledged"),
                    "lost_mean": m("lost"), "lost_max": m("lost", "max"),
                    "lost_rate_mean": m("lost_rate"), "availability_mean": m("availability"),
                    "latency_p50_ms": m("p50_ms"), "latency_p99_ms": m("p99_ms"),
                    "failover_s_mean": m("failover_s")})
    return pd.DataFrame(out, columns=CELL_COLUMNS)


def _f(v: Any, kind: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if kind == "pct":
        return f"{v:.2%}"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "s":
        return f"{v:.2f}"
    if kind == "ms":
        return f"{v:.3g}" if v < 100 else f"{v:.0f}"
    return str(v)


DISPLAY = [("setting", "setting", ""), ("runs", "runs", ""), ("invalid", "invalid", ""),
           ("attempted", "attempted (mean)", "int"), ("acknowledged", "acknowledged (mean)", "int"),
           ("lost_mean", "lost (mean)", "int"), ("lost_max", "lost (max)", "int"),
           ("lost_rate_mean", "lost rate (mean)", "pct"),
           ("availability_mean", "availability in faults", "pct"),
           ("latency_p50_ms", "p50 ms", "ms"), ("latency_p99_ms", "p99 ms", "ms"),
           ("failover_s_mean", "failover s", "s")]


def markdown_table(table) -> str:
    def cell(v: Any, kind: str) -> str:
        return _f(v, kind).replace("|", "\\|")
    lines = ["| " + " | ".join(h for _, h, _ in DISPLAY) + " |",
             "|" + "|".join("---" if k == "" and c == "setting" else "---:" for c, _, k in DISPLAY) + "|"]
    for rec in table.to_dict("records"):
        lines.append("| " + " | ".join(cell(rec[c], k) if c != "setting" else f"`{cell(rec[c], k)}`"
                                       for c, _, k in DISPLAY) + " |")
    return "\n".join(lines)


def write_csv(table, path: Path) -> None:
    table.to_csv(path, index=False)


def write_runs_csv(cells: list[dict[str, Any]], path: Path) -> None:
    cols = ["cell", "setting", "seed", "valid", "harness_failed", "attempted", "acknowledged", "lost",
            "lost_rate", "availability", "p50_ms", "p99_ms", "failover_s", "error", "run_dir"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for c in cells:
            for r in c["rows"]:
                w.writerow([c["cell"], c["setting"], *(r.get(k) for k in cols[2:])])

