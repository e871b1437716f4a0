"""JUnit XML for CI: `write_junit(run_dir, results)` after each run (the checkers'
testcases), `write_compare_junit(path, cells)` after `splitbrain compare` (one testcase
per cell).

A run's testcases are its checkers' own (`CheckResult.junit_cases()`, read back from
results.json): a case whose status is "failure" (an anomaly) becomes a <failure>, one
whose status is "error" (the checker could not decide) an <error>, so a CI page never
shows an undecided check as passed. A run with no checker results at all (the harness
failed) is one <error> testcase, and so is a deployment that did not converge or faults
that were not healed. Nothing here knows which checkers exist.

xml.etree escapes markup in text and attributes, but writes control characters as they
are, which XML 1.0 forbids: every string is cleaned of them first (`xml_text`).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .roles import CheckResult
from .rundir import check_result, number, read_json

MAX_DETAIL = 20_000
#: Characters XML 1.0 does not allow, even as references: C0 controls but tab, newline and
#: carriage return; lone surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """str(value) with the characters XML cannot hold written as visible escapes (\\x07)."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", str(value))


def _clean(elem: ET.Element) -> None:
    """Make every text, tail and attribute of the tree well-formed XML."""
    for e in elem.iter():
        if e.text is not None:
            e.text = xml_text(e.text)
        if e.tail is not None:
            e.tail = xml_text(e.tail)
        for k, v in list(e.attrib.items()):
            e.attrib[k] = xml_text(v)


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
    _clean(root)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _detail(result: CheckResult) -> str:
    """The checker's details as JSON (its small fields), cut to MAX_DETAIL characters."""
    small = {k: v for k, v in result.details.items()
             if not isinstance(v, (list, dict)) or len(json.dumps(v, default=str)) < 2000}
    text = json.dumps(small, indent=1, default=str)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "\n..."


def _seconds(v: Any) -> float:
    """A duration for a time attribute: a finite number of seconds, else 0."""
    n = number(v)
    return n if n is not None and n >= 0 else 0.0


def _checker_cases(suite: ET.Element, classname: str, name: str, raw: Any,
                   results: dict[str, Any]) -> None:
    result = check_result(name, raw)
    for case in result.junit_cases():
        elem = ET.SubElement(suite, "testcase", classname=classname, name=case.name or name,
                             time=f"{_seconds(result.details.get('time_s')):.3f}")
        if case.status == "failure":
            msg = case.message or result.summary or f"{name} found anomalies"
            ET.SubElement(elem, "failure", message=msg, type="anomaly").text = \
                msg + "\n\n" + (case.detail or _detail(result))
        elif case.status != "passed":
            reason = case.message or result.summary or results.get("error") or ""
            msg = f"{name}: verdict unknown" + (f": {reason}" if reason else "")
            ET.SubElement(elem, "error", message=msg, type="unknown").text = \
                msg + ("\n\n" + case.detail if case.detail else "")


def run_suite(run_dir: Path, results: dict[str, Any] | None) -> ET.Element:
    """One run as a <testsuite>: properties from test.json, the checkers' testcases."""
    run_dir = Path(run_dir)
    test = read_json(run_dir / "test.json")
    test = test if isinstance(test, dict) else {}
    results = results if isinstance(results, dict) else {}
    name = str(test.get("name") or run_dir.parent.name)
    stats = results.get("stats") if isinstance(results.get("stats"), dict) else {}
    duration = _seconds(stats.get("duration_s"))
    suite = ET.Element("testsuite", name=name, timestamp=str(test.get("started", "")),
                       hostname=str(test.get("host", "")), time=f"{duration:.3f}")
    props = ET.SubElement(suite, "properties")
    for key in ("topology", "workload", "nemesis", "seed", "time_limit", "concurrency", "redis_conf",
                "sentinel_conf", "wait", "project"):
        if key in test:
            v = test[key]
            ET.SubElement(props, "property", name=key,
                          value=v if isinstance(v, str) else json.dumps(v, default=str))
    ET.SubElement(props, "property", name="run_dir", value=str(run_dir))
    classname = f"splitbrain.{name}"
    checkers = results.get("checkers") if isinstance(results.get("checkers"), dict) else {}
    if not checkers:
        case = ET.SubElement(suite, "testcase", classname=classname, name="run", time=f"{duration:.3f}")
        msg = str(results.get("error") or "the run produced no checker results")
        ET.SubElement(case, "error", message=msg, type="harness").text = msg
    for cname, raw in checkers.items():
        _checker_cases(suite, classname, str(cname), raw, results)
    if results.get("converged") is False or results.get("healed") is False:
        case = ET.SubElement(suite, "testcase", classname=classname, name="converge and heal")
        msg = "; ".join(x for x in (
            f"did not converge: {results.get('error')}" if results.get("converged") is False else "",
            f"faults not healed: {results.get('heal_problems')}" if results.get("healed") is False else "") if x)
        ET.SubElement(case, "error", message=msg, type="environment").text = msg
    _suite_counts(suite)
    return suite


def write_junit(run_dir: Path, results: dict[str, Any] | None) -> Path:
    """run_dir/junit.xml: one testsuite (the run), its checkers' testcases."""
    run_dir = Path(run_dir)
    return _write(_root([run_suite(run_dir, results)]), run_dir / "junit.xml")


VERDICT_WORDS = {"true": "valid", "false": "INVALID", "unknown": "unknown"}


def run_line(row: dict[str, Any]) -> str:
    """One run of a compare cell: seed, verdict, each checker's summary, where it is."""
    said = "; ".join(f"{k}: {v}" for k, v in (row.get("summaries") or {}).items() if v)
    return (f"seed {row.get('seed')}: {VERDICT_WORDS.get(row.get('valid'), 'harness error')}"
            + (f"; {said}" if said else "") + f"; {row.get('run_dir') or '(no run directory)'}"
            + (f"; {row.get('error')}" if row.get("error") else ""))


def cell_summary(rows: list[dict[str, Any]]) -> tuple[str | None, str]:
    """(kind, message) of one compare cell (rows as from `rundir.load_run`): kind
    "failure" if a run is invalid, else "error" if the harness failed or a verdict is
    unknown, else None (passed)."""
    n = len(rows)
    invalid = [r for r in rows if r.get("valid") == "false"]
    harness = [r for r in rows if r.get("harness_failed")]
    unknown = [r for r in rows if r.get("valid") not in ("true", "false") and not r.get("harness_failed")]
    if invalid:
        first = "; ".join(f"{k}: {v}" for k, v in (invalid[0].get("summaries") or {}).items() if v)
        return "failure", (f"{len(invalid)} of {n} runs invalid"
                           + (f" (seed {invalid[0].get('seed')}: {first})" if first else ""))
    if harness:
        errs = "; ".join(sorted({str(r.get("error")) for r in harness}))[:500]
        return "error", f"{len(harness)} of {n} runs failed in the harness: {errs}"
    if unknown:
        return "error", f"{len(unknown)} of {n} runs with an unknown verdict"
    return None, f"{n} of {n} runs valid"


def write_compare_junit(path: Path, cells: list[dict[str, Any]]) -> Path:
    """One testcase per compare cell (cells as from `compare.table.group_runs`)."""
    suite = ET.Element("testsuite", name="splitbrain.compare")
    total_t = 0.0
    for c in cells:
        t = sum(_seconds((r.get("test") or {}).get("time_limit")) for r in c["rows"])
        total_t += t
        case = ET.SubElement(suite, "testcase", classname="splitbrain.compare",
                             name=f"{c['cell']}: {c['setting']}", time=f"{t:.3f}")
        kind, msg = cell_summary(c["rows"])
        details = "\n".join(run_line(r) for r in c["rows"])
        if kind:
            ET.SubElement(case, kind, message=msg, type="anomaly" if kind == "failure" else "harness").text = \
                msg + "\n\n" + details
        else:
            ET.SubElement(case, "system-out").text = msg + "\n\n" + details
    suite.set("time", f"{total_t:.3f}")
    _suite_counts(suite)
    return _write(_root([suite]), Path(path))
