"""A workload and a checker defined in this file only, registered by one assignment each,
run end to end on a real topology: the CLI prints the checker's summary line, compare.csv
has its figures, junit.xml its testcase and report.html its section. Nothing else in the
harness names them."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from click.testing import CliRunner

import cli
from harness.checkers import CHECKERS
from harness.history import pair_ops
from harness.roles import Checker, CheckResult, Figure, JUnitCase, Workload
from harness.workloads import WORKLOADS

from .conftest import final_reads

pytestmark = pytest.mark.docker


class UniqueIncrements(Checker):
    """Every acknowledged INCR of one counter must have returned a different value."""

    name = "unique-increments"
    figures = ("increments", "repeated")
    template = ('<p class="unique-increments">{{ result.figure("increments") }} increments, '
                '{{ result.figure("repeated") }} repeated values</p>')

    def check(self, history, final, spec) -> CheckResult:
        seen = Counter((o.key, o.value) for o in pair_ops(history) if o.type == "ok" and o.f == "incr")
        repeated = sum(n - 1 for n in seen.values() if n > 1)
        incs = sum(seen.values())
        summary = f"{incs} acknowledged increments, {repeated} repeated values"
        return CheckResult(self.name, repeated == 0, summary,
                           [Figure("increments", incs, "increments", "int"),
                            Figure("repeated", repeated, "repeated", "int", ("mean", "max"))],
                           {"final": final},
                           [JUnitCase("unique-increments: no repeated value",
                                      "passed" if repeated == 0 else "failure", summary)])


class IncrWorkload(Workload):
    name = "incr"

    def next_op(self, process):
        return {"f": "incr", "key": f"c{self.rng.randrange(3)}", "value": None}

    async def apply(self, session, op):
        reply = await session.call(op["key"], ("INCR", op["key"]))
        return int(reply.value), reply.node

    def final_reads(self):
        r = self.topo.redis(self.topo.nodes[0])
        return {k: int(r.get(k) or 0) for k in ("c0", "c1", "c2")}

    def checkers(self):
        return [UniqueIncrements()]


def test_a_workload_and_checker_from_a_test_file(tmp_path, monkeypatch):
    monkeypatch.setitem(WORKLOADS, "incr", IncrWorkload)
    monkeypatch.setitem(CHECKERS, "unique-increments", UniqueIncrements)
    runner = CliRunner()
    res = runner.invoke(cli.main, ["run", "-t", "replicated", "-w", "incr", "--time-limit", "6",
                                   "-c", "4", "--seed", "3", "--results-dir", str(tmp_path),
                                   "--fail-on", "repeated"])
    assert res.exit_code == 0, res.output
    run_dir = (tmp_path / "latest").resolve()
    results = json.loads((run_dir / "results.json").read_text())
    mine = results["checkers"]["unique-increments"]
    assert mine["valid"] is True and results["valid"] is True
    incs = next(f["value"] for f in mine["figures"] if f["name"] == "increments")
    final = final_reads(run_dir)
    assert incs > 100 and sum(final.values()) >= incs   # every acknowledged INCR is counted

    # the CLI's summary line
    assert f"unique-increments: {incs} acknowledged increments, 0 repeated values" in res.output

    # its JUnit case
    cases = {c.get("name"): c for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")}
    assert "unique-increments: no repeated value" in cases
    assert cases["unique-increments: no repeated value"].find("failure") is None

    # its section of the report, from its own template
    page = (run_dir / "report.html").read_text()
    assert f'<p class="unique-increments">{incs} increments, 0 repeated values</p>' in page

    # its figures in compare.csv
    res = runner.invoke(cli.main, ["compare", "--from", str(tmp_path)])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "compare.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    cols = [c for c in row if c.startswith("unique-increments.increments")]
    assert cols and float(row[cols[0]]) == incs
    assert any(c.startswith("unique-increments.repeated") for c in row)
