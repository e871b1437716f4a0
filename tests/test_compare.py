"""`splitbrain compare`: the table from synthetic runs (--from), its exit codes; one short
Docker test of the real thing. (--vary: tests/test_vary.py; exit codes: test_outcome.py.)"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from harness.compare import rebuild
from harness.compare.table import cell_table, group_runs, markdown_table
from harness.roles import CheckResult, Figure
from harness.rundir import load_run
from harness.spec import TestSpec as Spec

XSS = "<script>alert(1)</script>"


def fake_run(root: Path, name: str, seed: int, *, redis_conf=None, wait=None, lost=0, acked=1000,
             availability=0.9, valid=None, results=True, error=None, started="2026-11-22T10:00:00+00:00",
             p50=1.0, p99=9.0, failover=None) -> Path:
    d = root / name / f"2026112{seed % 10}T1000{seed % 60:02d}.000Z"
    d.mkdir(parents=True)
    test = Spec(topology="sentinel", nemesis=["isolate-primary-with-clients"], time_limit=30,
                    redis_conf=redis_conf or {}, wait=wait, seed=seed, name=name).to_json()
    test.update(project=f"splitbrain-sentinel-{seed}", host="h", started=started, run_dir=str(d))
    (d / "test.json").write_text(json.dumps(test))
    if results:
        v = (lost == 0) if valid is None else valid
        stats = {"ops": acked + 10, "ok": acked, "latency_ms": {"p50": p50, "p99": p99},
                 "availability": 0.95, "availability_during_faults": availability}
        if failover is not None:
            stats["failover_s"] = failover
        adds = CheckResult("set", lost == 0, f"lost {lost} of {acked:,} acknowledged writes", [
            Figure("attempted", acked + 10, "attempted", "int"),
            Figure("acknowledged", acked, "acknowledged", "int"),
            Figure("lost", lost, "lost", "int", ("mean", "max")),
            Figure("lost_rate", lost / acked, "lost rate", "pct")], {"lost_count": lost})
        r = {"valid": v, "checkers": {"set": adds.to_json()}, "stats": stats}
        if error:
            r["error"] = error
        (d / "results.json").write_text(json.dumps(r))
        (d / "report.html").write_text("<html>report</html>")
    return d


def matrix(root: Path) -> Path:
    for i, lost in enumerate([100, 300, 200]):
        fake_run(root, "c1-default", 1000 + i, lost=lost, availability=1.0, started=f"2026-11-22T10:0{i}:00+00:00")
    for i in range(3):
        fake_run(root, "c2-min-replicas-to-write.1+min-replicas-max-lag.5", 1000 + i, lost=0 if i else 10,
                 availability=0.5, redis_conf={"min-replicas-to-write": "1", "min-replicas-max-lag": "5"},
                 started=f"2026-11-22T10:0{i}:30+00:00", failover=4.0)
    for i in range(3):
        fake_run(root, "c3-wait.1.100", 1000 + i, wait=(1, 100), lost=0, started=f"2026-11-22T10:0{i}:40+00:00")
    return root


# ----------------------------------------------------------------- --from

def test_from_builds_table(tmp_path):
    root = matrix(tmp_path / "cmp")
    r = CliRunner().invoke(main, ["compare", "--from", str(root), "--fail-on", "never"])
    assert r.exit_code == 0, r.output + r.stderr
    rows = list(csv.DictReader(open(root / "compare.csv")))
    assert [x["setting"] for x in rows] == ["default", "min-replicas-to-write=1 min-replicas-max-lag=5",
                                            "wait=1:100"]
    d = rows[0]
    assert d["runs"] == "3" and d["invalid"] == "3"
    assert float(d["set.lost_mean"]) == 200 and float(d["set.lost_max"]) == 300
    assert float(d["set.lost_rate_mean"]) == pytest.approx(0.2)
    assert float(d["run.availability_during_faults_mean"]) == 1.0
    assert float(rows[1]["run.failover_s_mean"]) == 4.0 and rows[0]["run.failover_s_mean"] == ""
    assert rows[2]["invalid"] == "0" and float(rows[2]["set.lost_max"]) == 0
    # Markdown on stdout: header, rule, one line per cell
    md = [ln for ln in r.stdout.splitlines() if ln.startswith("|")]
    assert len(md) == 5 and "`wait=1:100`" in md[4] and "20.00%" in md[2]
    assert "lost (max)" in md[0] and "lost rate (mean)" in md[0] and "p99 ms (mean)" in md[0]
    runs = list(csv.DictReader(open(root / "runs.csv")))
    assert len(runs) == 9 and {float(x["set.lost"]) for x in runs[:3]} == {100, 200, 300}
    page = (root / "compare.html").read_text()
    assert "<svg" in page and page.count("report.html") == 9
    assert ">lost rate (mean)<" in page                 # the chart's pct series, by label
    assert "lost 300 of 1,000 acknowledged writes" in page  # each run's checker summaries
    assert 'href="c1-default/' in page  # relative links to each run's report
    suite = ET.parse(root / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 3
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message").startswith("3 of 3 runs invalid")
    assert "set: lost 300 of 1,000 acknowledged writes" in failure.text
    assert cases[2].find("failure") is None and cases[2].find("error") is None


def test_table_columns_follow_the_figures(tmp_path):
    """Columns: every figure column of the runs, checkers' first, one per declared
    aggregate; a checker only some runs have adds columns (empty where it did not run)."""
    root = tmp_path / "x"
    fake_run(root, "a", 1, lost=4)
    d = fake_run(root, "b", 2, lost=0, redis_conf={"appendonly": "yes"})
    res = json.loads((d / "results.json").read_text())
    res["checkers"]["order"] = CheckResult("order", True, "ok", [
        Figure("swaps", 2, "swaps", "int", ("sum", "min", "bogus"))]).to_json()
    (d / "results.json").write_text(json.dumps(res))
    cells = group_runs([load_run(p) for p in sorted(root.glob("*/*"))])
    table = cell_table(cells)
    figure_cols = list(table.columns[7:])
    assert list(table.columns[:7]) == ["cell", "setting", "server", "runs", "invalid", "unknown",
                                       "harness_failed"]
    assert figure_cols[:7] == ["set.attempted_mean", "set.acknowledged_mean", "set.lost_mean",
                               "set.lost_max", "set.lost_rate_mean", "order.swaps_sum", "order.swaps_min"]
    assert all(c.startswith("run.") for c in figure_cols[7:])
    assert table["order.swaps_sum"].tolist()[1] == 2 and table["order.swaps_sum"].isna().tolist()[0]
    md = markdown_table(table)
    assert "swaps (sum)" in md.splitlines()[0]
    assert "failover" not in md            # no cell has a value: not shown to a person


def test_from_exit_codes(tmp_path):
    root = matrix(tmp_path / "cmp")
    run = lambda *a: CliRunner().invoke(main, ["compare", "--from", str(root), *a]).exit_code  # noqa: E731
    assert run() == 1                      # default: anomaly
    assert run("--fail-on", "lost") == 1
    assert run("--fail-on", "never") == 0
    ok = tmp_path / "ok"
    fake_run(ok, "a", 1, lost=0)
    assert run_from(ok, "lost") == 0
    fake_run(ok, "b", 2, results=False)    # a run with no results.json: the harness failed
    assert run_from(ok, "never") == 3 and run_from(ok, "anomaly") == 3


def run_from(root, fail_on):
    return CliRunner().invoke(main, ["compare", "--from", str(root), "--fail-on", fail_on]).exit_code


def test_from_labels_escaping_and_missing(tmp_path):
    root = tmp_path / "x"
    fake_run(root, "n1", 1, redis_conf={"notify-keyspace-events": XSS}, lost=5)
    fake_run(root, "n2", 2, results=False)
    r = CliRunner().invoke(main, ["compare", "--from", str(root), "--fail-on", "never"])
    assert r.exit_code == 3
    page = (root / "compare.html").read_text()
    assert XSS not in page and "&lt;script&gt;" in page
    table, cells = rebuild(root)
    assert table["harness_failed"].tolist() == [0, 1]
    suite = ET.parse(root / "junit.xml").getroot().find("testsuite")
    assert [c.find("error") is not None for c in suite.findall("testcase")] == [False, True]


def test_from_empty_dir_is_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["compare", "--from", str(tmp_path)])
    assert r.exit_code == 2 and "no runs" in r.stderr


# ----------------------------------------------------------------- Docker

@pytest.mark.docker
def test_compare_replicated_2x2(tmp_path):
    r = CliRunner().invoke(main, ["compare", "-t", "replicated", "--time-limit", "5", "--concurrency", "4",
                                  "--vary", "wait=0:0,1:100", "--repeat", "2", "--seed", "5",
                                  "--results-dir", str(tmp_path), "--fail-on", "never"])
    assert r.exit_code == 0, r.stdout + r.stderr
    [out] = list((tmp_path / "compare").iterdir())
    rows = list(csv.DictReader(open(out / "compare.csv")))
    assert [x["setting"] for x in rows] == ["wait=0:0", "wait=1:100"]
    assert all(x["runs"] == "2" for x in rows)
    assert r.stderr.count(" start: ") == 4 and r.stderr.count(" done in ") == 4
    assert len(ET.parse(out / "junit.xml").getroot().find("testsuite").findall("testcase")) == 2
