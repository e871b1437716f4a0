"""`splitbrain compare`: run a matrix of settings and put the answers side by side.

    splitbrain compare -t sentinel -n isolate-primary-with-clients --time-limit 30 \\
        --vary "default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100|wait=2:100" \\
        --repeat 3

The axes and cells are `vary`'s. Repeat i of every cell uses seed `--seed + i` (the same
seed sequence for every cell), and repeats go round the cells (repeat 0 of every cell,
then repeat 1, ...) so that a slow drift of the machine spreads over all cells. Runs are
written under `results/compare/<UTC stamp>/<cell>/<run stamp>/`, next to `compare.csv`
(one row per cell), `runs.csv` (one row per run), `compare.html`, `junit.xml` and
`compare.json`. `rebuild(DIR)` (`--from DIR`) makes all of them again from finished runs,
grouping runs by the settings in their test.json. The table's columns are the figures
the runs' checkers (and the runs themselves) reported; nothing here names a checker.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..engine import docker_client
from ..errors import SplitbrainError, UsageError
from ..outcome import check_fail_on
from ..runner import Run
from ..rundir import find_run_dirs, load_run, read_json, settings_key
from ..spec import REPEAT, TestSpec
from .output import write_outputs
from .table import group_runs
from .vary import Cell, apply_cell, build_cells, run_argv

__all__ = ["Cell", "build_cells", "plan", "rebuild", "run_compare"]


def plan(base: TestSpec, cells: list[Cell], repeat: int, out_dir: Path) -> list[tuple[Cell, TestSpec]]:
    """Every run of the matrix, in order, each spec built (so validated) before any starts."""
    repeat = REPEAT.check("--repeat", repeat)
    runs = []
    for i in range(repeat):
        for cell in cells:
            spec = apply_cell(base, cell, seed=base.seed + i, name=cell.name, results_dir=str(out_dir))
            spec.argv = run_argv(spec)
            Run(spec)           # refuses unknown workloads, faults, topology settings
            runs.append((cell, spec))
    return runs


def rebuild(dir_: Path, fail_on: str = "anomaly") -> tuple[Any, list[dict[str, Any]]]:
    """`compare --from DIR`: the table from finished runs under DIR (outputs written to DIR).
    `fail_on` is checked against the figures those runs' checkers reported."""
    dir_ = Path(dir_)
    meta = _compare_json(dir_)
    failed = {str(Path(f["run_dir"]).resolve()): str(f.get("error") or "the harness failed")
              for f in meta["failures"] if isinstance(f.get("run_dir"), str) and f["run_dir"]}
    rows = [load_run(d, failed.get(str(d.resolve()))) for d in find_run_dirs(dir_)]
    if not rows:
        raise UsageError(f"--from {dir_}: no runs (directories with a test.json) under it")
    check_fail_on(fail_on, {col.split(".", 1)[1] for r in rows for col in r.get("figures") or {}
                            if not col.startswith("run.")})
    cells = group_runs(rows, meta.get("cells"))
    table = write_outputs(dir_, cells, {"command": meta.get("command"),
                                        "summary": f"{len(rows)} runs in {len(cells)} configurations, from {dir_}"})
    return table, cells


def _compare_json(dir_: Path) -> dict[str, Any]:
    """DIR/compare.json as `rebuild` needs it; a damaged file (or entry) counts as missing:
    the runs' own files are what the table is made of."""
    meta = read_json(dir_ / "compare.json")
    meta = meta if isinstance(meta, dict) else {}
    cells = meta.get("cells") if isinstance(meta.get("cells"), list) else []
    ok = [c for c in cells if isinstance(c, dict) and isinstance(c.get("key"), str)
          and isinstance(c.get("name"), str) and isinstance(c.get("label"), str)
          and isinstance(c.get("index"), int) and not isinstance(c.get("index"), bool)]
    failures = meta.get("failures") if isinstance(meta.get("failures"), list) else []
    command = meta.get("command")
    return {"command": command if isinstance(command, str) else None, "cells": ok,
            "failures": [f for f in failures if isinstance(f, dict)]}


def run_compare(base: TestSpec, varies: tuple[str, ...], repeat: int, echo: Callable[[str], None],
                verbose: bool = False) -> tuple[Any, list[dict[str, Any]], bool, Path]:
    """Plan, run and tabulate the matrix. Returns (table, rows, interrupted, out_dir)."""
    cells = build_cells(varies)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(base.results_dir) / "compare" / stamp
    for n in range(2, 100):       # two compares started within one second
        if not out_dir.exists():
            break
        out_dir = out_dir.with_name(f"{stamp}-{n}")
    runs = plan(base, cells, repeat, out_dir)
    docker_client()   # no engine: say what to run before making the matrix's directory
    out_dir.mkdir(parents=True, exist_ok=False)
    echo(f"compare: {len(cells)} cells x {repeat} repeats = {len(runs)} runs "
         f"(seeds {base.seed}..{base.seed + repeat - 1}) into {out_dir}")
    _write_plan(out_dir, cells, base, repeat, [])
    rows, interrupted = _run_all(base, cells, repeat, runs, out_dir, echo, verbose)
    meta = read_json(out_dir / "compare.json") or {}
    grouped = group_runs(rows, meta.get("cells")) if rows else []
    table = write_outputs(out_dir, grouped, {"command": meta.get("command"),
                                             "summary": f"{len(rows)} runs, {len(cells)} cells, "
                                                        f"{repeat} repeats; {out_dir}"})
    return table, rows, interrupted, out_dir


def _run_all(base: TestSpec, cells: list[Cell], repeat: int, runs: list[tuple[Cell, TestSpec]],
             out_dir: Path, echo: Callable[[str], None], verbose: bool) -> tuple[list[dict[str, Any]], bool]:
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    t_all = time.monotonic()
    try:
        for n, (cell, spec) in enumerate(runs, 1):
            t0 = time.monotonic()
            echo(f"[{t0 - t_all:7.1f}s] run {n}/{len(runs)} start: {cell.name} ({cell.label}) seed {spec.seed}")
            row, error = _one_run(cell, spec, out_dir, verbose)
            rows.append(row)
            if error:
                failures.append({"run_dir": row["run_dir"] or None, "cell": cell.name, "error": error})
            verdict = {"true": "VALID", "false": "INVALID", "unknown": "UNKNOWN"}.get(row["valid"], "ERROR")
            said = "; ".join(f"{k}: {v}" for k, v in (row.get("summaries") or {}).items())
            echo(f"[{time.monotonic() - t_all:7.1f}s] run {n}/{len(runs)} done in {time.monotonic() - t0:.1f}s: "
                 f"{cell.name} seed {spec.seed}: {verdict}{'; ' + said if said else ''}"
                 f"{'; ' + str(row.get('error')) if row.get('error') else ''}")
            _write_plan(out_dir, cells, base, repeat, failures)
            # A Ctrl-C ended that run (early, or at once): end the matrix too.
            if str(row.get("error") or "").startswith("interrupted") or \
                    str(row.get("note") or "").startswith("cut short"):
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        echo("interrupted: writing the table of the finished runs")
        return rows, True
    return rows, False


def _one_run(cell: Cell, spec: TestSpec, out_dir: Path, verbose: bool) -> tuple[dict[str, Any], str | None]:
    """One run of the matrix → (row, harness error or None); its chatter goes to logs/."""
    cell_dir = out_dir / cell.name
    before = set(cell_dir.iterdir()) if cell_dir.exists() else set()
    log_path = out_dir / "logs" / f"{cell.name}-seed{spec.seed}.log"
    log_path.parent.mkdir(exist_ok=True)
    error = None
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            run_dir = Run(spec, out=sys.stderr if verbose else log).execute().run_dir
        except SplitbrainError as e:
            error = str(e)
            print(f"harness failed: {e}", file=log)
            new = sorted(set(cell_dir.iterdir()) - before) if cell_dir.exists() else []
            run_dir = new[-1] if new else None
    if run_dir is None:
        return ({"run_dir": "", "name": cell.name, "seed": spec.seed, "valid": "error", "harness_failed": True,
                 "error": error, "settings_key": settings_key(spec.to_json()), "test": spec.to_json(),
                 "figures": {}, "figure_meta": {}, "summaries": {}}, error)
    return load_run(run_dir, error), error


def _write_plan(out_dir: Path, cells: list[Cell], base: TestSpec, repeat: int,
                failures: list[dict[str, Any]]) -> None:
    doc = {"command": " ".join(shlex.quote(a) for a in base.argv),
           "repeat": repeat, "seed": base.seed,
           "cells": [{"index": c.index, "name": c.name, "label": c.label,
                      "settings": [s.label for s in c.settings],
                      "key": settings_key(apply_cell(base, c, seed=base.seed).to_json())} for c in cells],
           "failures": failures}
    (out_dir / "compare.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
