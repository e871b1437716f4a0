"""Exit codes (ARCHITECTURE.md) of `run`, `check` and `compare`, and `--fail-on`.

0 valid, 1 anomalies found, 2 bad usage or input, 3 the harness or its environment failed,
4 unknown verdict (interrupted, a checker ran out of time).

`--fail-on` says what makes the exit code 1, for nightly jobs:
  anomaly (default)  any run invalid; else 3 if the harness failed; else 4 if any verdict
                     is unknown; else 0 (for one run: the plain verdict's code).
  never              only harness failures give a non-zero exit (3).
  FIGURE             any run with a checker figure of that name above 0 (e.g. `lost`:
                     acknowledged writes lost); else 3 if the harness failed; else 4 if a
                     run's checker that reports FIGURE could not measure it; else 0.
"""

from __future__ import annotations

from typing import Any, Iterable

from .errors import UsageError
from .rundir import harness_failed, number, run_figures, verdict_word

EXIT_FOR_VALID = {True: 0, False: 1, "unknown": 4}
FAIL_ON_WORDS = ("anomaly", "never")


def check_fail_on(fail_on: str, figure_names: Iterable[str]) -> str:
    """Refuse (exit 2) a --fail-on that names no figure the run's checkers report."""
    names = sorted(set(figure_names))
    if fail_on in FAIL_ON_WORDS or fail_on in names:
        return fail_on
    raise UsageError(f"--fail-on {fail_on!r}: choose anomaly, never or a figure of the "
                     f"workload's checkers ({', '.join(names) or 'none'})")


def _figure(row: dict[str, Any], name: str) -> tuple[bool, float | None]:
    """(the run's checkers report a figure `name`, its largest value)."""
    values = [v for col, v in (row.get("figures") or {}).items()
              if not col.startswith("run.") and col.split(".", 1)[-1] == name]
    known = [v for v in values if v is not None]
    return bool(values), (max(known) if known else None)


def exit_code_for(fail_on: str, runs: Iterable[dict[str, Any]]) -> int:
    """Exit code over runs (rows of `rundir.load_run`, or `run_row(results)`)."""
    runs = list(runs)
    harness = any(r.get("harness_failed") for r in runs)
    if fail_on == "never":
        return 3 if harness else 0
    if fail_on == "anomaly":
        if any(r.get("valid") == "false" for r in runs):
            return 1
        if harness:
            return 3
        return 4 if any(r.get("valid") != "true" for r in runs) else 0
    measured = [_figure(r, fail_on) for r in runs]
    if any((v or 0) > 0 for _, v in measured):
        return 1
    if harness:
        return 3
    return 4 if any(has and v is None for has, v in measured) else 0


def run_row(results: dict[str, Any] | None) -> dict[str, Any]:
    """The facts `exit_code_for` needs from one run's results dict (None: harness failed)."""
    if results is None:
        return {"valid": "error", "harness_failed": True, "figures": {}}
    return {"valid": verdict_word(results.get("valid")),
            "harness_failed": harness_failed(results),
            "figures": {col: number(f.value) for col, f in run_figures(results)}}
