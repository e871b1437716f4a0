"""Run directories: where they are, and what one holds, read back (ARCHITECTURE.md).

`RunDir(path)` reads test.json, results.json, the final reads and the history of a
finished (or crashed) run; `load_run` flattens one into a row for `compare` and `serve`:
the verdict, whether the harness failed, and every figure (the checkers' as
`<checker>.<figure>`, the run's own as `run.<figure>`), with how to show and aggregate each.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from .compression import read_bytes
from .errors import UsageError
from .roles import CheckResult, Figure
from .stats import stats_figures
from .templating import number

#: test.json keys that say nothing about the configuration being measured.
NOT_SETTINGS = {"seed", "name", "results_dir", "argv", "keep", "project", "host", "started",
                "versions", "run_dir", "server_version"}


def server_version(test: dict[str, Any]) -> str | None:
    """The server a run met, as INFO server named it ("Valkey 8.1.1"); runs from before it
    was recorded: the Redis version of their image."""
    v = test.get("server_version")
    if isinstance(v, str) and v:
        return v
    versions = test.get("versions")
    old = versions.get("redis") if isinstance(versions, dict) else None
    return f"Redis {old}" if isinstance(old, str) and old else None


#: What a run writes: its history and its final reads, zstd-compressed (a history is
#: about 10 times smaller: bench/compression.py). Older runs wrote them plain; a reader
#: takes the first of each list that is there, and reads it by its content, not its name.
HISTORY = "history.jsonl.zst"
FINAL = "final.json.zst"
HISTORY_NAMES = (HISTORY, "history.jsonl", "history.jsonl.gz")
FINAL_NAMES = (FINAL, "final.json", "final.json.gz")


def first_present(directory: Path, names: tuple[str, ...]) -> Path:
    """The first of names in directory that is a file (the first name if none is)."""
    for name in names:
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    return Path(directory) / names[0]


def history_file(run_dir: Path) -> Path:
    """A run directory's history, compressed or plain (history.jsonl.zst if neither is there)."""
    return first_present(run_dir, HISTORY_NAMES)


def read_json(path: Path) -> Any:
    """The JSON in path (compressed or not), or None if it is missing or unreadable
    (nested too deep too)."""
    try:
        return json.loads(read_bytes(path).decode("utf-8"))
    except (OSError, ValueError, RecursionError):     # CompressedDataError is a ValueError
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
            raise UsageError(f"{self.path / 'test.json'}: not a JSON object (unreadable, not JSON, "
                             f"or another type)")
        if not self.history_path.is_file():
            raise UsageError(f"{self.path}: the run has no history (no {HISTORY} nor history.jsonl)")
        return self

    # Each file is read once per RunDir (None if missing or unreadable).
    @cached_property
    def test(self) -> Any:
        return read_json(self.path / "test.json")

    @cached_property
    def results(self) -> Any:
        results = read_json(self.path / "results.json")
        if isinstance(results, dict) and not isinstance(results.get("stats", {}), dict):
            # a damaged stats entry reads as missing (what uses it updates a dict)
            results = {**results, "stats": {}}
        return results

    @cached_property
    def final(self) -> Any:
        return read_json(first_present(self.path, FINAL_NAMES))

    @property
    def history_path(self) -> Path:
        return history_file(self.path)

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
    try:
        return json.dumps(settings_of(test), sort_keys=True, default=str)
    except (ValueError, RecursionError):   # nested too deep: a damaged test.json
        return repr(sorted(settings_of(test)))


def nemesis_text(v: Any) -> str:
    """test.json's nemesis list as "a+b" ("none" if empty; whatever it holds, as text)."""
    if isinstance(v, list):
        return "+".join(map(str, v)) or "none"
    return "none" if v in (None, "") else str(v)


def flat_settings(test: dict[str, Any]) -> dict[str, str]:
    """Settings as `KEY -> text` the way --vary names them (redis.conf keys bare)."""
    out: dict[str, str] = {}
    for k, v in settings_of(test).items():
        if k in ("redis_conf", "sentinel_conf"):
            prefix = "" if k == "redis_conf" else "sentinel."
            items = v.items() if isinstance(v, dict) else [] if v is None else [("?", v)]
            out.update({f"{prefix}{kk}": str(vv) for kk, vv in items})
        elif k == "nemesis":
            out["nemesis"] = nemesis_text(v)
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


def verdict_word(valid: Any) -> str:
    # by identity: 1 == True, and a damaged results.json may hold any JSON value here
    return "true" if valid is True else "false" if valid is False else "unknown"


def check_result(name: str, raw: Any) -> CheckResult:
    """results.json's entry for a checker; a damaged one (wrong types) reads as unknown."""
    try:
        return CheckResult.from_json(name, raw)
    except (TypeError, ValueError, AttributeError) as e:
        return CheckResult(name, "unknown", f"unreadable result in results.json ({type(e).__name__}: {e})")


def checker_results(results: Any) -> dict[str, CheckResult]:
    checkers = results.get("checkers") if isinstance(results, dict) else None
    if not isinstance(checkers, dict):
        return {}
    return {str(name): check_result(str(name), c) for name, c in checkers.items()}


def run_stats_of(results: Any) -> dict[str, Any]:
    """results.json's stats, with the shapes the readers expect (a damaged entry reads
    as missing)."""
    stats = results.get("stats") if isinstance(results, dict) else None
    if not isinstance(stats, dict):
        return {}
    return {**stats, "latency_ms": stats.get("latency_ms") if isinstance(stats.get("latency_ms"), dict) else {}}


def run_figures(results: dict[str, Any]) -> list[tuple[str, Figure]]:
    """(column, figure) for every figure of a run: checkers' first, then the run's own."""
    out = [(f"{name}.{f.name}", f) for name, c in checker_results(results).items()
           for f in c.figures]
    out += [(f"run.{f.name}", f) for f in stats_figures(run_stats_of(results))]
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


def _text(v: Any) -> str | None:
    return None if v is None else v if isinstance(v, str) else json.dumps(v, default=str)[:200]


def damage(run: RunDir) -> str | None:
    """What is wrong with a run's test.json and results.json, in one line (None if nothing)."""
    problems = []
    for name, value in (("test.json", run.test), ("results.json", run.results)):
        if not isinstance(value, dict) and (run.path / name).exists():
            problems.append(f"{name} is unreadable or not a JSON object")
    return "; ".join(problems) or None


def load_run(run_dir: Path, error: str | None = None) -> dict[str, Any]:
    """One run as a flat row (None where the run did not produce a figure). A damaged
    test.json or results.json gives a row that says so (never an exception)."""
    run = RunDir(run_dir)
    test = run.test if isinstance(run.test, dict) else {}
    results = run.results
    seed = test.get("seed")
    row: dict[str, Any] = {
        "run_dir": str(run.path), "name": _text(test.get("name")),
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "started": _text(test.get("started")), "topology": _text(test.get("topology")),
        "workload": _text(test.get("workload")), "nemesis": nemesis_text(test.get("nemesis")),
        "server": server_version(test),
        "settings_key": settings_key(test), "test": test, "figures": {}, "figure_meta": {},
        "summaries": {}}
    broken = damage(run)
    if not isinstance(results, dict):
        row.update(valid="error", harness_failed=True,
                   error=error or broken or "no results.json (the harness failed)")
        return row
    row.update(valid=verdict_word(results.get("valid")),
               harness_failed=harness_failed(results, error),
               error=error or broken or _text(results.get("error")), note=_text(results.get("note")),
               report=str(run.path / "report.html") if (run.path / "report.html").exists() else None)
    for column, fig in run_figures(results):
        row["figures"][column] = number(fig.value)
        row["figure_meta"][column] = fig
    row["summaries"] = {n: c.summary for n, c in checker_results(results).items()}
    return row
