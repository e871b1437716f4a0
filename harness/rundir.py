"""Run directories: where they are, and what one holds, read back (ARCHITECTURE.md).

`RunDir(path)` reads test.json, results.json, final.json and the history of a finished
(or crashed) run; `load_run` flattens one into a row for `compare` and `serve`:
the verdict, whether the harness failed, and every figure (the checkers' as
`<checker>.<figure>`, the run's own as `run.<figure>`), with how to show and aggregate each.
"""

from __future__ import annotations

import json
import math
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import UsageError
from .roles import CheckResult, Figure
from .stats import stats_figures

#: test.json keys that say nothing about the configuration being measured.
NOT_SETTINGS = {"seed", "name", "results_dir", "argv", "keep", "project", "host", "started",
                "versions", "run_dir"}


def read_json(path: Path) -> Any:
    """The JSON in path, or None if it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class RunDir:
    """One run's directory. `require()` refuses (exit 2) what is not a run directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def require(self) -> "RunDir":
        if not self.path.is_dir():
            raise UsageError(f"{self.path}: not a directory")
        if not (self.path / "test.json").is_file():
            raise UsageError(f"{self.path}: not a run directory (no test.json)")
        if not isinstance(self.test, dict):
            raise UsageError(f"{self.path / 'test.json'}: not a JSON object")
        if not (self.path / "history.jsonl").is_file():
            raise UsageError(f"{self.path}: the run has no history.jsonl")
        return self

    # Each file is read once per RunDir (None if missing or unreadable).
    @cached_property
    def test(self) -> Any:
        return read_json(self.path / "test.json")

    @cached_property
    def results(self) -> Any:
        return read_json(self.path / "results.json")

    @cached_property
    def final(self) -> Any:
        return read_json(self.path / "final.json")

    @property
    def history_path(self) -> Path:
        return self.path / "history.jsonl"

    def write_results(self, results: dict[str, Any]) -> None:
        (self.path / "results.json").write_text(json.dumps(results, indent=2, default=str))
        self.__dict__["results"] = results


def find_run_dirs(root: Path) -> list[Path]:
    """Every directory under root with a test.json (symlinks such as `latest` not followed)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))
                             and d != "logs")
        if "test.json" in filenames:
            out.append(Path(dirpath))
            dirnames[:] = []
    return out


def settings_of(test: dict[str, Any]) -> dict[str, Any]:
    """The configuration a run measured: its test.json without seed, name, host, ..."""
    return {k: v for k, v in test.items() if k not in NOT_SETTINGS}


def settings_key(test: dict[str, Any]) -> str:
    return json.dumps(settings_of(test), sort_keys=True, default=str)


def flat_settings(test: dict[str, Any]) -> dict[str, str]:
    """Settings as `KEY -> text` the way --vary names them (redis.conf keys bare)."""
    out: dict[str, str] = {}
    for k, v in settings_of(test).items():
        if k == "redis_conf":
            out.update({str(kk): str(vv) for kk, vv in (v or {}).items()})
        elif k == "sentinel_conf":
            out.update({f"sentinel.{kk}": str(vv) for kk, vv in (v or {}).items()})
        elif k == "nemesis":
            out["nemesis"] = "+".join(v or []) or "none"
        elif v is not None:
            text = v if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else json.dumps(v)
            out[k.replace("_", "-")] = text
    return out


def difference_labels(tests: list[dict[str, Any]]) -> list[str]:
    """A short label per configuration: the settings that differ between them."""
    flats = [flat_settings(t) for t in tests]
    keys: list[str] = []
    for f in flats:
        for k in f:
            if k not in keys and len({fl.get(k) for fl in flats}) > 1:
                keys.append(k)
    return [" ".join(f"{k}={f[k]}" for k in keys if k in f) or "default" for f in flats]


def number(v: Any) -> float | None:
    """v as a finite float, else None (booleans are not numbers here)."""
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def verdict_word(valid: Any) -> str:
    return {True: "true", False: "false"}.get(valid, "unknown")


def checker_results(results: Any) -> dict[str, CheckResult]:
    checkers = results.get("checkers") if isinstance(results, dict) else None
    if not isinstance(checkers, dict):
        return {}
    return {str(name): CheckResult.from_json(str(name), c) for name, c in checkers.items()}


def run_figures(results: dict[str, Any]) -> list[tuple[str, Figure]]:
    """(column, figure) for every figure of a run: checkers' first, then the run's own."""
    out = [(f"{name}.{f.name}", f) for name, c in checker_results(results).items()
           for f in c.figures]
    stats = results.get("stats") if isinstance(results.get("stats"), dict) else {}
    out += [(f"run.{f.name}", f) for f in stats_figures(stats)]
    return out


def harness_failed(results: dict[str, Any] | None, error: str | None = None) -> bool:
    """The harness failed: no results, or an error other than an interruption, and no
    anomaly found (an anomaly stands whatever happened after it)."""
    if results is None:
        return True
    err = error or results.get("error")
    if not err or results.get("valid") is False:
        return False
    return not str(err).startswith("interrupted")


def load_run(run_dir: Path, error: str | None = None) -> dict[str, Any]:
    """One run as a flat row (None where the run did not produce a figure)."""
    run = RunDir(run_dir)
    test = run.test if isinstance(run.test, dict) else {}
    results = run.results
    row: dict[str, Any] = {
        "run_dir": str(run.path), "name": test.get("name"), "seed": test.get("seed"),
        "started": test.get("started"), "topology": test.get("topology"),
        "workload": test.get("workload"), "nemesis": "+".join(test.get("nemesis") or []) or "none",
        "settings_key": settings_key(test), "test": test, "figures": {}, "figure_meta": {},
        "summaries": {}}
    if not isinstance(results, dict):
        row.update(valid="error", harness_failed=True,
                   error=error or "no results.json (the harness failed)")
        return row
    row.update(valid=verdict_word(results.get("valid")),
               harness_failed=harness_failed(results, error),
               error=error or results.get("error"), note=results.get("note"),
               report=str(run.path / "report.html") if (run.path / "report.html").exists() else None)
    for column, fig in run_figures(results):
        row["figures"][column] = number(fig.value)
        row["figure_meta"][column] = fig
    row["summaries"] = {n: c.summary for n, c in checker_results(results).items()}
    return row
