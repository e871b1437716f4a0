"""The linearizability checker as a role: the search of `linearizable.py` against one of
the models of `models.py`, within the spec's `check_time_limit`."""

from __future__ import annotations

from typing import Any

from ..roles import Checker, CheckResult, Figure
from .linearizable import check
from .models import get_model


def summary_of(r: dict[str, Any]) -> str:
    """One line: the verdict and how far a violation reaches."""
    keys = r.get("keys_checked", 0)
    if r["valid"] is True:
        return f"linearizable: {keys} keys, {r.get('ops_checked', 0)} ops"
    if r["valid"] is False:
        n = r.get("failed_keys", len(r.get("failures") or []))
        names = r.get("failed_key_names") or [f.get("key") for f in r.get("failures") or []]
        shown = ", ".join(map(str, names[:5])) + (", ..." if len(names) > 5 else "")
        rest = r.get("unchecked_keys") or []
        return (f"not linearizable: {n} of {keys} keys ({shown})"
                + (f"; {len(rest)} keys undecided in the time limit" if rest else ""))
    unknown = r.get("unknown_keys") or []
    return f"unknown: {len(unknown)} of {keys} keys undecided in the time limit"


class Linearizability(Checker):
    """Linearizability of the history against a sequential model (register, kv, ...)."""

    name = "linearizable"
    figures = ("keys_checked", "failed_keys", "time_s")

    def __init__(self, model: str = "register"):
        self.model = get_model(model).name

    def check(self, history, final, spec) -> CheckResult:
        r = check(history, model=self.model, time_limit=getattr(spec, "check_time_limit", None))
        figures = [
            Figure("keys_checked", r.get("keys_checked"), "keys checked", "int"),
            Figure("failed_keys", r.get("failed_keys", 0), "keys not linearizable", "int",
                   ("mean", "max")),
            Figure("time_s", r.get("time_s"), "check s", "s"),
        ]
        details = {k: v for k, v in r.items() if k != "valid"}
        return CheckResult(self.name, r["valid"], summary_of(r), figures, details)
