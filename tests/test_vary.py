"""`--vary`: axes, cells, the spec of each run; refusals before anything runs."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from cli import main
from harness.compare.vary import apply_cell, build_cells, parse_vary, run_argv
from harness.errors import UsageError
from harness.spec import TestSpec as Spec


def test_vary_comma_values():
    alts = parse_vary("appendfsync=everysec,always")
    assert [[(s.kind, s.key, s.value) for s in a] for a in alts] == [
        [("redis", "appendfsync", "everysec")], [("redis", "appendfsync", "always")]]
    alts = parse_vary("wait=0:0,1:100")
    assert [a[0].value for a in alts] == [None, (1, 100)]
    assert [a[0].label for a in alts] == ["wait=0:0", "wait=1:100"]
    assert parse_vary("concurrency=5,20")[1][0].value == 20
    assert parse_vary("time-limit=5")[0][0].key == "time_limit"
    assert parse_vary("sentinel.down-after-milliseconds=1000")[0][0].kind == "sentinel"
    assert parse_vary("nemesis=partition+kill,none")[0][0].value == ["partition", "kill"]
    assert parse_vary("nemesis=partition+kill,none")[1][0].value == []


def test_vary_bundles():
    alts = parse_vary("default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100|wait=2:100")
    assert alts[0] == ()
    assert [(s.key, s.value) for s in alts[1]] == [("min-replicas-to-write", "1"), ("min-replicas-max-lag", "5")]
    assert alts[2][0].value == (1, 100) and alts[3][0].value == (2, 100)
    cells = build_cells(["default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100",
                         "appendfsync=everysec,always"])
    assert len(cells) == 6
    assert cells[0].label == "appendfsync=everysec"
    assert cells[2].label == "min-replicas-to-write=1 min-replicas-max-lag=5 appendfsync=everysec"
    assert len({c.name for c in cells}) == 6
    assert all(re.fullmatch(r"[A-Za-z0-9_.+-]+", c.name) for c in cells)


def test_apply_cell_and_run_argv():
    base = Spec(redis_conf={"appendonly": "yes"}, seed=7)
    cell = build_cells(["min-replicas-to-write=1+min-replicas-max-lag=5|wait=2:100"])[0]
    spec = apply_cell(base, cell, seed=9, name=cell.name, results_dir="r/compare/x")
    assert spec.redis_conf == {"appendonly": "yes", "min-replicas-to-write": "1", "min-replicas-max-lag": "5"}
    assert spec.seed == 9 and base.redis_conf == {"appendonly": "yes"}
    spec2 = apply_cell(base, build_cells(["wait=2:100"])[0])
    assert spec2.wait == (2, 100)
    argv = run_argv(spec)
    assert argv[:2] == ["splitbrain", "run"] and "min-replicas-to-write=1" in argv and "9" in argv


@pytest.mark.parametrize("vary, words", [
    ("appendfsync", "expected KEY=V1,V2"),
    ("appendfsync=", "empty value"),
    ("appendfsync=a,,b", "empty value"),
    ("wait=1", "REPLICAS:TIMEOUT_MS"),
    ("concurrency=lots", "whole number"),
    ("seed=1,2", "--repeat"),
    ("default|wait", "not KEY=VALUE"),
    ("default||wait=1:1", "empty alternative"),
    ("bad key=1", "neither"),
    ("wait=1:1,1:1", "appears twice"),
    ("concurrency=0,1", "concurrency"),
])
def test_bad_vary_is_usage_error(vary, words, tmp_path):
    r = CliRunner().invoke(main, ["compare", "--vary", vary, "--results-dir", str(tmp_path)])
    assert r.exit_code == 2, r.output
    assert words in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "compare").exists()  # nothing ran


def test_same_key_on_two_axes_is_refused(tmp_path):
    r = CliRunner().invoke(main, ["compare", "--vary", "wait=0:0,1:100", "--vary", "default|wait=2:100",
                                  "--results-dir", str(tmp_path)])
    assert r.exit_code == 2 and "two --vary" in r.stderr


def test_bundle_item_without_equals_is_refused():
    with pytest.raises(UsageError, match="not KEY=VALUE"):
        parse_vary("default|min-replicas-to-write=1+lag")
    assert parse_vary("default|nemesis=partition+kill+concurrency=4")[1][0].value == ["partition", "kill"]
    assert parse_vary("default|nemesis=partition+kill+concurrency=4")[1][1].value == 4
