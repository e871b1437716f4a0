"""From a recorded history to a verdict: run the workload's checkers, combine their
verdicts, compute the run's statistics; and re-check a finished run directory with its
own workload's checkers and final reads (`splitbrain check RUN_DIR`, Jepsen's `analyze`).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from .checkers import list_append, linearizable
from .checkers.models import MODELS
from .edn import read_edn_history, write_edn_history
from .errors import UsageError
from .history import read_history
from .junit import write_junit
from .report import build_report
from .roles import CheckResult, Workload, combine
from .rundir import RunDir
from .spec import TestSpec, spec_from_test_json
from .stats import run_stats
from .workloads import WORKLOADS


def workload_for(spec: TestSpec, topology: Any = None) -> Workload:
    """The spec's workload (UsageError naming the choices if there is no such workload)."""
    cls = WORKLOADS.get(spec.workload)
    if cls is None:
        raise UsageError(f"unknown workload {spec.workload!r}: choose from {', '.join(WORKLOADS)}")
    return cls(spec, topology, random.Random(spec.seed))


def run_checkers(workload: Workload, history: list[dict[str, Any]], final: dict[str, Any] | None,
                 spec: TestSpec, input_errors: bool = False) -> dict[str, CheckResult]:
    """Every checker of the workload on the history; one that raises reads as unknown.

    With `input_errors`, a checker's UsageError (e.g. `HistoryError`: an op its workload
    never writes, such as a set element that is not an integer) propagates instead: the
    input is not a history of this workload, and no verdict on it is one (`check RUN_DIR`
    on a file someone edited). Without it (a run's own history) it reads as unknown."""
    out: dict[str, CheckResult] = {}
    for checker in workload.checkers():
        try:
            out[checker.name] = checker.check(history, final, spec)
        except Exception as e:  # noqa: BLE001 - a broken checker is "unknown", not a crash
            if input_errors and isinstance(e, UsageError):
                raise
            out[checker.name] = CheckResult.crashed(checker.name, f"{type(e).__name__}: {e}")
    return out


def judge(results: dict[str, Any], checked: dict[str, CheckResult], history: list[dict[str, Any]]) -> None:
    """Put checker results, the overall verdict and the statistics into results."""
    results["checkers"] = {name: r.to_json() for name, r in checked.items()}
    valid = combine(checked)
    if results.get("converged") is False and valid is True:
        valid = "unknown"   # a deployment that never converged was read in an unknown state
    results["valid"] = valid
    results.setdefault("stats", {}).update(run_stats(history))


def recheck(path: str, consistency_model: str | None = None) -> tuple[RunDir, dict[str, Any]]:
    """Re-check a finished run: its workload's checkers on its history and final reads
    (transactions judged against `consistency_model` instead of the run's, if given).
    Rewrites results.json (keeping what the run observed: stats, windows, heal), the
    report and junit.xml. Returns (run directory, new results)."""
    run = RunDir(path).require()
    spec = spec_from_test_json(run.test)
    if consistency_model:
        spec.consistency_model = consistency_model
    workload = workload_for(spec)
    history = read_history(run.history_path)    # a history without ops is not one to judge
    previous = run.results if isinstance(run.results, dict) else {}
    results = {k: v for k, v in previous.items() if k not in ("valid", "checkers")}
    if not isinstance(results.get("stats"), dict):     # damaged: the history's are computed anew
        results.pop("stats", None)
    final = run.final if isinstance(run.final, dict) else None   # unreadable: no final reads
    judge(results, run_checkers(workload, history, final, spec, input_errors=True), history)
    run.write_results(results)
    build_report(run.path)
    write_junit(run.path, results)
    return run, results


#: What `check FILE --model M` can judge a bare history file against.
FILE_MODELS = (*MODELS, "list-append")


def read_history_file(path: str, model: str) -> list[dict[str, Any]]:
    """A bare history: Jepsen EDN if the name ends in .edn (or .edn.zst, .edn.gz), else our
    JSONL; either may be compressed. An EDN
    register or kv history is a Jepsen independent (multi-key) one, as `export` writes
    ours, when every client op's value is a [key value] pair."""
    if not Path(path).name.lower().endswith((".edn", ".edn.zst", ".edn.gz")):
        return read_history(path)
    return read_edn_history(path, keyed=None if model in MODELS else False)


def check_history_file(path: str, model: str, time_limit: float,
                       consistency_model: str) -> dict[str, Any]:
    """`check FILE`: linearizability against a register or kv model, or the list-append
    checker against a consistency model (no final read: lost appends are not judged)."""
    if model not in FILE_MODELS:
        raise UsageError(f"unknown model {model!r}: choose from {', '.join(FILE_MODELS)}")
    history = read_history_file(path, model)
    if model == "list-append":
        r = list_append.check(history, None, consistency_model)
        r["summary"] = list_append.summary_text(r)
        return r
    return linearizable.check(history, model, time_limit)


#: What `export` writes: Jepsen's EDN, or our own JSONL uncompressed (to read with any tool).
EXPORT_FORMATS = ("edn", "jsonl")


def export_history(path: str, fmt: str, output: str | None) -> int:
    """Write a run directory's history as Jepsen EDN or as plain JSONL, one op per line,
    to the file `output` or to standard output; returns how many ops. The run directory
    and its history are read (and validated) before anything is written."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose from {', '.join(EXPORT_FORMATS)}")
    run = RunDir(path).require()
    history = read_history(run.history_path, allow_empty=True)
    if output is None:
        _write(history, fmt, sys.stdout)
        return len(history)
    try:
        with open(output, "w", encoding="utf-8") as fh:
            _write(history, fmt, fh)
    except OSError as e:
        raise UsageError(f"cannot write {output}: {e.strerror or e}") from None
    return len(history)


def _write(history: list[dict[str, Any]], fmt: str, fh: TextIO) -> None:
    if fmt == "edn":
        write_edn_history(history, fh)
        return
    # the lines as the writer made them (orjson, keys in the op's order), in slices of
    # ops so that a history of millions is never one string
    for i in range(0, len(history), 10_000):
        fh.write(b"".join(orjson.dumps(op, default=str) + b"\n" for op in history[i:i + 10_000])
                 .decode("utf-8"))
