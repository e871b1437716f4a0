"""Checkers: was this history allowed?

A checker is a function `check(history, final, spec) -> dict` registered in CHECKERS.
Its dict has "valid": True, False or "unknown", plus whatever figures and anomalies it
found. `history` is the list of op dicts; `final` is the workload's final reads.
"""

from __future__ import annotations

from typing import Any, Callable

from .set_full import check as check_set


def check_linearizable(history: list[dict], final: dict, spec) -> dict[str, Any]:
    from .linearizable import check
    return check(history, model=getattr(spec, "model", None) or "register",
                 time_limit=getattr(spec, "check_time_limit", None))


CHECKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "set": check_set,
    "linearizable": check_linearizable,
}


def combine(results: dict[str, dict[str, Any]]) -> bool | str:
    """Overall verdict: false if any checker found an anomaly, else unknown if any could not
    decide, else true (ARCHITECTURE.md)."""
    vals = [r.get("valid") for r in results.values()]
    if any(v is False for v in vals):
        return False
    if not vals or any(v is not True for v in vals):
        return "unknown"
    return True
