"""The report's checker sections, each drawn by its checker, never named here.

For each entry of results.json's `checkers` the report reads a `CheckResult` back, looks
its checker class up in `harness.checkers.CHECKERS` by name (at render time, so a checker
registered by a test is found), builds it with no arguments, and calls
`view(result, run)` (`run` is a `RunView`) for extra context. It then renders the class's
`template` (Jinja2 source) with `result`, `view`, `run` and the helpers `h`. A checker
that is not registered in this process, or has no template, gets the generic section: its
figures and its details as tables. A view or template that fails falls back to the
generic section too, with a warning: a broken view never costs the page.

What a view returns may also carry, beside anything its template reads:
  marks   [{t (s), p (process), name (legend), text (hover), color?, symbol?}]: drawn on
          the timeline (e.g. a lost write at the moment it was acknowledged)
  charts  charts for report.js, each {kind, id, ...}: `RunView.op_window` makes an
          "op-window", `RunView.xy_chart` an "xy" (series over the run's time, fault
          windows shaded); the template places each with `h.chart(c)`
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from ..checkers import CHECKERS
from ..roles import CheckResult
from ..rundir import check_result
from ..templating import render, render_string
from .run_view import RunView

#: Marks handed to the timeline, over all checkers.
MAX_MARKS = 20_000

_RESULT_KEYS = {"checker", "valid", "summary", "figures", "junit", "details"}


@dataclass
class Section:
    name: str
    result: CheckResult
    html: Markup
    warning: str = ""
    marks: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)


def read_result(name: str, raw: Any) -> CheckResult:
    """results.json's entry for a checker as a CheckResult. An entry written before
    checkers returned CheckResults (its findings at the top level) keeps them as details."""
    result = check_result(name, raw)
    if isinstance(raw, dict) and "details" not in raw and "summary" not in raw:
        result.details = {k: v for k, v in raw.items() if k not in _RESULT_KEYS}
    return result


def _checker_class(name: str, result: CheckResult) -> Any:
    # Looked up in the (mutable) registry per report: a test may register a checker late.
    return CHECKERS.get(result.checker) or CHECKERS.get(name)


def _dicts(v: Any) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def render_section(name: str, raw: Any, run: RunView) -> Section:
    result = read_result(name, raw)
    cls = _checker_class(name, result)
    view: dict[str, Any] = {}
    warning = ""
    ok = cls is not None
    if ok:
        what = "could not be built with no arguments"
        try:
            checker = cls()
            what = "view failed"
            got = checker.view(result, run)
            view = got if isinstance(got, dict) else {}
        except Exception as e:  # noqa: BLE001 - the generic section still shows the result
            warning = f"the {name} checker's {what} ({type(e).__name__}: {e}); shown generically"
            ok = False
    html = None
    template = getattr(cls, "template", None) if ok else None
    if template:
        try:
            html = render_string(template, result=result, view=view, run=run, name=name)
        except Exception as e:  # noqa: BLE001
            warning = f"the {name} checker's template failed ({type(e).__name__}: {e}); shown generically"
    if html is None:
        html = render("checker_generic.html.j2", result=result, name=name)
    return Section(name, result, Markup(html), warning,
                   _dicts(view.get("marks")) if ok else [], _dicts(view.get("charts")) if ok else [])


def render_sections(run: RunView) -> list[Section]:
    checkers = run.results.get("checkers")
    if not isinstance(checkers, dict):
        return []
    return [render_section(str(name), raw, run) for name, raw in checkers.items()]


def timeline_marks(sections: list[Section], horizon: float = math.inf) -> list[dict[str, Any]]:
    """Every section's marks that have a time within the run (|t| <= horizon, s), for the
    timeline (at most MAX_MARKS)."""
    out = []
    for s in sections:
        for m in s.marks:
            t = m.get("t")
            if isinstance(t, (int, float)) and not isinstance(t, bool) and abs(t) <= horizon:
                out.append({"t": round(t, 4), "p": m.get("p"), "name": str(m.get("name") or s.name),
                            "text": str(m.get("text") or ""), "color": m.get("color"),
                            "symbol": m.get("symbol")})
    return out[:MAX_MARKS]
