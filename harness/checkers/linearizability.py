"""The linearizability checker as a role: the search of `linearizable.py` against one of
the models of `models.py`, within the spec's `check_time_limit`."""

from __future__ import annotations

from pathlib import Path
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
    template = (Path(__file__).parent / "templates" / "linearizable.html.j2").read_text(encoding="utf-8")

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        """For the report, per counterexample: the ops that cannot be placed (rows), a
        Porcupine-style window of the ops around them (a chart: the prefix numbered in
        the order it takes effect, the unplaceable ops flagged), and the drawn ops (rows)."""
        failures, charts = [], []
        for f in result.details.get("failures") or []:
            if not isinstance(f, dict):
                continue
            bad = [u for u in f.get("unplaceable") or [] if isinstance(u, dict)]
            flagged = {u.get("index"): str(u.get("reason", "")) for u in bad}
            prefix = list(f.get("prefix") or [])
            chart = run.op_window(f.get("window") or [], key=f.get("key"), numbered=prefix,
                                  flagged=flagged, title=f"key {f.get('key')}",
                                  legend={"numbered": "in the linearizable prefix (#n = its place)",
                                          "flagged": "cannot be placed"})
            place = {i: n + 1 for n, i in enumerate(prefix)}
            roles = {i: "cannot be placed" if i in flagged else f"prefix #{place[i]}"
                     for i in chart["indices"] if i in flagged or i in place}
            unplaceable = []
            for u in bad:
                o = run.op(u.get("index"))
                unplaceable.append([
                    u.get("index"), u.get("process", o.process if o else ""), u.get("f", o.f if o else ""),
                    run.short(u.get("value", o.value if o else "")), o.type if o else "",
                    run.time_text(o.start if o else None), run.time_text(o.end if o else None),
                    o.node if o else "", u.get("reason", "")])
            failures.append({"key": f.get("key"), "prefix_length": len(prefix),
                             "state": f.get("state_after_prefix"), "unplaceable": unplaceable,
                             "chart": chart, "drawn": run.op_rows(chart["indices"], roles)})
            charts.append(chart)
        return {"failures": failures, "charts": charts}

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
