"""The `list-append` checker: Elle's inference on MULTI/EXEC list-append histories, judged
against a consistency model (default strict-serializable).

`txn.infer` builds the transactions, version orders and dependency graph and finds the
anomalies that need no cycle; `txn.cycles` finds the cycles; `txn.explain` puts each in
words; `txn.consistency` says which anomalies a model rules out. This module only wires
them together and shapes the result: every anomaly found is counted, up to MAX_SHOWN of
each kind are kept with their transactions (a cycle with its explanation), and every
model's verdict is listed, so one run answers "which isolation level did we get?".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..history import fault_windows, gc_paused
from ..roles import Checker, CheckResult, Figure, JUnitCase
from .txn import consistency
from .txn.cycles import search
from .txn.explain import explain
from .txn.infer import infer
from .windows import window_label, windows_at

MAX_SHOWN = 10
CYCLE_BASES = consistency.CYCLES


def _final_lists(final: dict[str, Any] | None) -> dict[str, list[Any]] | None:
    primary = (final or {}).get("primary")
    lists = primary.get("lists") if isinstance(primary, dict) else None
    if not isinstance(lists, dict):
        return None
    return {str(k): v for k, v in lists.items() if isinstance(v, list)}


def check(history: list[dict[str, Any]], final: dict[str, Any] | None,
          model: str = consistency.DEFAULT) -> dict[str, Any]:
    """The whole analysis as a plain dict (ListAppendChecker wraps it).

    The cyclic garbage collector is paused meanwhile: the graph is millions of small
    objects without cycles, and its passes over them took 40% of the time."""
    with gc_paused():
        return _check(history, final, model)


def _check(history: list[dict[str, Any]], final: dict[str, Any] | None, model: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    final_lists = _final_lists(final)
    inf = infer(history, final_lists)
    t1 = time.perf_counter()
    found = search(inf.succ)
    t2 = time.perf_counter()
    windows = fault_windows(history)
    labels = [window_label(w, i) for i, w in enumerate(windows)]

    def where(tid: Any) -> dict[str, Any]:
        if not isinstance(tid, int) or not 0 <= tid < len(inf.txns):
            return {"txn_index": None}
        o = inf.txns[tid].op
        return {"txn_index": o.invoke_index, "process": o.process, "at": o.start, "node": o.node,
                "window": ", ".join(windows_at(o.start, windows, labels))}

    anomalies: dict[str, dict[str, Any]] = {}
    for name, items in inf.anomalies.items():
        shown = []
        for x in items[:MAX_SHOWN]:
            shown.append({**{k: v for k, v in x.items() if k not in ("txn", "writer", "longest_txn")},
                          **where(x.get("txn"))})
        anomalies[name] = {"count": inf.counts[name], "examples": shown}
    for cyc in found.cycles:
        a = anomalies.setdefault(cyc.name, {"count": 0, "examples": []})
        a["count"] += 1
        if len(a["examples"]) < MAX_SHOWN:
            e = explain(inf, cyc)
            a["examples"].append({**e, **where(cyc.steps[0][0])})
    t3 = time.perf_counter()

    names = set(anomalies)
    models = {}
    for m in consistency.MODELS:
        bad = consistency.prohibited(m, names)
        models[m] = False if bad else "unknown" if found.truncated else True
    bad = consistency.prohibited(model, names)
    ok = sum(1 for t in inf.txns if t.op.type == "ok")
    return {
        "valid": models[model],
        "consistency_model": model,
        "prohibited": bad,
        "anomaly_types": sorted(names),
        "anomalies": dict(sorted(anomalies.items())),
        "models": models,
        "strongest_model": next((m for m in reversed(consistency.MODELS) if models[m] is True), None),
        "txn_count": len(inf.txns) + inf.failed,
        "ok_count": ok,
        "info_count": len(inf.txns) - ok,
        "fail_count": inf.failed,
        "key_count": len(inf.writer),
        "keys_ordered": len(inf.orders),
        "lost_appends": inf.counts.get("lost-append", 0),
        "incompatible_orders": inf.counts.get("incompatible-order", 0),
        "cycles": len(found.cycles),
        "graph": {"transactions": len(inf.txns), "barriers": inf.barriers,
                  "edges": sum(len(d) for d in inf.succ), "components": found.components,
                  "largest_component": found.largest, "search_truncated": found.truncated},
        "final_read": final_lists is not None,
        "time_s": {"infer": round(t1 - t0, 3), "cycles": round(t2 - t1, 3),
                   "explain": round(t3 - t2, 3)},
    }


def summary_text(r: dict[str, Any]) -> str:
    head = (f"{r['consistency_model']}: " + ("holds" if r["valid"] is True else "violated"
                                             if r["valid"] is False else "undecided"))
    if r["anomaly_types"]:
        head += " — " + ", ".join(f"{n} ×{r['anomalies'][n]['count']:,}" for n in r["anomaly_types"])
    else:
        head += " — no anomalies"
    head += f" in {r['ok_count']:,} committed transactions"
    if r["strongest_model"] and r["strongest_model"] != r["consistency_model"]:
        head += f"; strongest model that holds: {r['strongest_model']}"
    if r["graph"]["search_truncated"]:
        head += "; cycle search cut short"
    if not r["final_read"]:
        head += "; no final read: lost appends not checked"
    return head


def _first_explained(r: dict[str, Any]) -> str:
    """The shortest explained cycle the model prohibits (for the terminal), or ""."""
    cycles = [e for name in r["prohibited"] for e in r["anomalies"][name]["examples"] if e.get("text")]
    if not cycles:
        return ""
    best = min(cycles, key=lambda e: len(e["steps"]))
    more = len(cycles) - 1
    return best["text"] + (f"\n({more} more explained in report.html)" if more else "")


def _junit(r: dict[str, Any]) -> list[JUnitCase]:
    """One case per anomaly found, failing if the model prohibits it, and one for the
    verdict."""
    cases = [JUnitCase(f"list-append {r['consistency_model']}",
                       {True: "passed", False: "failure"}.get(r["valid"], "error"),
                       "" if r["valid"] is True else summary_text(r))]
    for name in r["anomaly_types"]:
        a = r["anomalies"][name]
        text = next((e.get("text") for e in a["examples"] if e.get("text")), "")
        cases.append(JUnitCase(f"list-append {name}", "failure" if name in r["prohibited"] else "passed",
                               f"{a['count']} found" + ("" if name in r["prohibited"] else
                                                         f" (allowed by {r['consistency_model']})"),
                               text))
    return cases


class ListAppendChecker(Checker):
    """Elle-style inference and cycle search over list-append transactions."""

    name = "list-append"
    figures = ("committed", "anomalies", "lost_appends", "incompatible_orders", "cycles")
    template = (Path(__file__).parent / "templates" / "list-append.html.j2").read_text(encoding="utf-8")

    def __init__(self, model: str = consistency.DEFAULT):
        self.model = consistency.check_model(model)

    def check(self, history, final, spec) -> CheckResult:
        r = check(history, final, self.model)
        total = sum(a["count"] for a in r["anomalies"].values())
        figures = [
            Figure("committed", r["ok_count"], "committed transactions", "int"),
            Figure("anomalies", total, "anomalies", "int", ("mean", "max")),
            Figure("lost_appends", r["lost_appends"], "lost appends", "int", ("mean", "max")),
            Figure("incompatible_orders", r["incompatible_orders"], "incompatible orders", "int",
                   ("mean", "max")),
            Figure("cycles", r["cycles"], "dependency cycles", "int", ("mean", "max")),
        ]
        details = {k: v for k, v in r.items() if k != "valid"}
        return CheckResult(self.name, r["valid"], summary_text(r), figures, details, _junit(r),
                           _first_explained(r))

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        """For the report: each anomaly's examples (✕ marks on the timeline at the first
        transaction's invoke), the models' verdicts, the cycles' explanations."""
        d = result.details
        anomalies = d.get("anomalies") if isinstance(d.get("anomalies"), dict) else {}
        prohibited = d.get("prohibited") if isinstance(d.get("prohibited"), list) else []
        rows, marks, cycles = [], [], []
        for name, a in anomalies.items():
            if not isinstance(a, dict):
                continue
            rows.append([name, a.get("count"), "prohibited" if name in prohibited else "allowed"])
            for e in a.get("examples") or []:
                if not isinstance(e, dict):
                    continue
                s = run.seconds(e.get("at"))
                if s is not None:
                    marks.append({"t": s, "p": e.get("process"), "name": name,
                                  "text": f"{name} (transaction at index {e.get('txn_index')}) at {s:.4f}s"})
                if e.get("text"):
                    cycles.append({"name": name, "text": e.get("text"), "window": e.get("window")})
        models = d.get("models") if isinstance(d.get("models"), dict) else {}
        return {"anomalies": rows, "marks": marks, "cycles": cycles,
                "models": [[m, {True: "holds", False: "violated"}.get(v, "undecided")]
                           for m, v in models.items()]}
