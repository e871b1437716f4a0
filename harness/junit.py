"""JUnit XML for CI: `write_junit(run_dir, results)` after each run (one testcase per
checker), `write_compare_junit(path, cells)` after `splitbrain compare` (one testcase per cell).

A checker that found anomalies is a <failure> whose message is the anomaly summary ("lost
12 of 3400 acknowledged writes (0.35%)"); a checker that could not decide ("unknown") is
an <error> with the reason, so a CI page never shows an undecided check as passed. A run
that produced no checker results at all (the harness failed) is one <error> testcase.
xml.etree escapes every text and attribute.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

MAX_DETAIL = 20_000


def _pct(n: float, d: float) -> str:
    return f"{n / d:.2%}" if d else "n/a"


def set_summary(c: dict[str, Any]) -> str:
    parts = []
    lost, acked = c.get("lost_count") or 0, c.get("acknowledged_count") or 0
    if lost:
        parts.append(f"lost {lost} of {acked} acknowledged writes ({_pct(lost, acked)})")
    for key, what in (("unexpected_count", "unexpected elements (never attempted)"),
                      ("failed_present_count", "elements present after a definite fail"),
                      ("duplicate_count", "duplicated elements")):
        if c.get(key):
            parts.append(f"{c[key]} {what}")
    return "; ".join(parts)


def linearizable_summary(c: dict[str, Any]) -> str:
    failures = c.get("failures") or []
    keys = ", ".join(str(f.get("key")) for f in failures[:5])
    n = c.get("failed_keys", len(failures))
    return (f"not linearizable: {n} key{'s' if n != 1 else ''} with violations"
            + (f" ({keys}{', ...' if len(failures) > 5 else ''})" if keys else ""))


def anomaly_summary(name: str, c: dict[str, Any]) -> str:
    """One line saying what a checker found."""
    text = ""
    if name == "set":
        text = set_summary(c)
    elif name == "linearizable" or "failed_keys" in c:
        text = linearizable_summary(c)
    return text or f"{name} checker found anomalies"


def unknown_reason(name: str, c: dict[str, Any], results: dict[str, Any]) -> str:
    reason = c.get("error") or c.get("reason")
    if not reason and c.get("unknown_keys"):
        reason = f"undecided for keys {', '.join(map(str, c['unknown_keys'][:10]))} (search ran out of time)"
    if not reason and results.get("error"):
        reason = results["error"]
    return f"{name}: verdict unknown" + (f": {reason}" if reason else "")


def _detail(c: dict[str, Any]) -> str:
    small = {k: v for k, v in c.items() if not isinstance(v, (list, dict)) or len(json.dumps(v, default=str)) < 2000}
    text = json.dumps(small, indent=1, default=str)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "\n..."


def _suite_counts(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))


def _root(suites: list[ET.Element]) -> ET.Element:
    root = ET.Element("testsuites", name="splitbrain")
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    t = 0.0
    for s in suites:
        root.append(s)
        for k in total:
            total[k] += int(s.get(k, "0"))
        t += float(s.get("time", "0") or 0)
    for k, v in total.items():
        root.set(k, str(v))
    root.set("time", f"{t:.3f}")
    return root


def _write(root: ET.Element, path: Path) -> Path:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def run_suite(run_dir: Path, results: dict[str, Any] | None) -> ET.Element:
    run_dir = Path(run_dir)
    try:
        test = json.loads((run_dir / "test.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        test = {}
    results = results or {}
    name = str(test.get("name") or run_dir.parent.name)
    stats = results.get("stats") or {}
    duration = stats.get("duration_s") or 0
    suite = ET.Element("testsuite", name=name, timestamp=str(test.get("started", "")),
                       hostname=str(test.get("host", "")), time=f"{float(duration or 0):.3f}")
    props = ET.SubElement(suite, "properties")
    for key in ("topology", "workload", "nemesis", "seed", "time_limit", "concurrency", "redis_conf",
                "sentinel_conf", "wait", "project"):
        if key in test:
            v = test[key]
            ET.SubElement(props, "property", name=key,
                          value=v if isinstance(v, str) else json.dumps(v, default=str))
    ET.SubElement(props, "property", name="run_dir", value=str(run_dir))
    classname = f"splitbrain.{name}"
    checkers = results.get("checkers") or {}
    if not checkers:
        case = ET.SubElement(suite, "testcase", classname=classname, name="run", time=f"{float(duration or 0):.3f}")
        msg = results.get("error") or "the run produced no checker results"
        ET.SubElement(case, "error", message=str(msg), type="harness").text = str(msg)
    for cname, c in checkers.items():
        c = c if isinstance(c, dict) else {"valid": "unknown", "error": f"bad result {c!r}"}
        case = ET.SubElement(suite, "testcase", classname=classname, name=str(cname),
                             time=f"{float(c.get('time_s') or 0):.3f}")
        valid = c.get("valid")
        if valid is False:
            msg = anomaly_summary(cname, c)
            ET.SubElement(case, "failure", message=msg, type="anomaly").text = msg + "\n\n" + _detail(c)
        elif valid is not True:
            msg = unknown_reason(cname, c, results)
            ET.SubElement(case, "error", message=msg, type="unknown").text = msg
    if results.get("converged") is False or results.get("healed") is False:
        case = ET.SubElement(suite, "testcase", classname=classname, name="converge and heal")
        msg = "; ".join(x for x in (
            f"did not converge: {results.get('error')}" if results.get("converged") is False else "",
            f"faults not healed: {results.get('heal_problems')}" if results.get("healed") is False else "") if x)
        ET.SubElement(case, "error", message=msg, type="environment").text = msg
    _suite_counts(suite)
    return suite


def write_junit(run_dir: Path, results: dict[str, Any] | None) -> Path:
    """run_dir/junit.xml: one testsuite (the run), one testcase per checker."""
    run_dir = Path(run_dir)
    return _write(_root([run_suite(run_dir, results)]), run_dir / "junit.xml")


def cell_summary(rows: list[dict[str, Any]]) -> tuple[str | None, str]:
    """(kind, message) of one compare cell: kind "failure", "error" or None (passed)."""
    n = len(rows)
    invalid = [r for r in rows if r.get("valid") == "false"]
    harness = [r for r in rows if r.get("harness_failed")]
    unknown = [r for r in rows if r.get("valid") not in ("true", "false") and not r.get("harness_failed")]
    lost = sum(r.get("lost") or 0 for r in rows)
    acked = sum(r.get("acknowledged") or 0 for r in rows if r.get("lost") is not None)
    lost_runs = sum(1 for r in rows if (r.get("lost") or 0) > 0)
    figures = (f"lost {lost:.0f} of {acked:.0f} acknowledged writes ({_pct(lost, acked)}) in "
               f"{lost_runs} of {n} runs" if lost else f"no acknowledged write lost in {n} runs")
    if invalid:
        return "failure", f"{len(invalid)} of {n} runs invalid: {figures}"
    if harness:
        errs = "; ".join(sorted({str(r.get("error")) for r in harness}))[:500]
        return "error", f"{len(harness)} of {n} runs failed in the harness: {errs}"
    if unknown:
        return "error", f"{len(unknown)} of {n} runs with an unknown verdict"
    return None, figures


def _n(v: Any) -> str:
    return "?" if v is None else f"{v:.0f}"


def _verdict(v: Any) -> str:
    return {"true": "valid", "false": "INVALID", "unknown": "unknown"}.get(v, "harness error")


def write_compare_junit(path: Path, cells: list[dict[str, Any]]) -> Path:
    """One testcase per compare cell (cells as from harness.compare.group_runs)."""
    suite = ET.Element("testsuite", name="splitbrain.compare")
    total_t = 0.0
    for c in cells:
        t = sum(float((r.get("test") or {}).get("time_limit") or 0) for r in c["rows"])
        total_t += t
        case = ET.SubElement(suite, "testcase", classname="splitbrain.compare",
                             name=f"{c['cell']}: {c['setting']}", time=f"{t:.3f}")
        kind, msg = cell_summary(c["rows"])
        details = "\n".join(f"seed {r.get('seed')}: {_verdict(r.get('valid'))}, lost {_n(r.get('lost'))} of "
                            f"{_n(r.get('acknowledged'))} acknowledged; {r.get('run_dir')}"
                            + (f"; {r.get('error')}" if r.get("error") else "") for r in c["rows"])
        if kind:
            ET.SubElement(case, kind, message=msg, type="anomaly" if kind == "failure" else "harness").text = \
                msg + "\n\n" + details
        else:
            ET.SubElement(case, "system-out").text = msg + "\n\n" + details
    suite.set("time", f"{total_t:.3f}")
    _suite_counts(suite)
    return _write(_root([suite]), Path(path))
