"""Bad input gets one line and exit 2, environment problems exit 3 with what to run; all
decided before any side effect, so none of these needs a Docker engine."""

from __future__ import annotations

import json

import pytest

from .conftest import run_cli


def one_line(res) -> str:
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["up", "galaxy"], "unknown topology 'galaxy'"),
    (["up", "sentinel", "--redis-conf", "appendonly"], "expected KEY=VALUE"),
    (["up", "cluster", "--sentinel-conf", "quorum=2"], "applies to the sentinel topology"),
    (["run", "--nemesis", "meteor"], "unknown nemesis meteor"),
    (["run", "--topology", "sentinel", "--nemesis", "kill,reshard"], "reshard applies to the cluster topology"),
    (["run", "--topology", "replicated", "--nemesis", "add-primary"], "add-primary applies to the cluster topology"),
    (["compare", "--vary", "topology=cluster,replicated", "--nemesis", "reshard"],
     "reshard applies to the cluster topology only, not to replicated"),
    (["run", "--wait", "one"], "expected REPLICAS:TIMEOUT_MS"),
    (["run", "--workload", "nosuch"], "unknown workload 'nosuch'"),
    (["run", "--topology", "ring"], "unknown topology 'ring'"),
    (["run", "--time-limit", "0"], "--time-limit must be positive"),
    (["run", "--fail-on", "bananas"], "--fail-on 'bananas'"),
    (["run", "-w", "register", "--fail-on", "lost"], "--fail-on 'lost'"),
    (["compare", "--vary", "wait=one"], "expected REPLICAS:TIMEOUT_MS"),
    (["compare", "--vary", "seed=1,2"], "seed cannot be varied"),
    (["compare", "--vary", "default|workload=nosuch"], "unknown workload 'nosuch'"),
    (["compare", "--repeat", "0"], "--repeat must be at least 1"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    res = run_cli(*args, "--results-dir", str(tmp_path)) if args[0] in ("run", "compare") else run_cli(*args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in one_line(res)
    assert not any(tmp_path.iterdir()), "a refused command must leave nothing behind"


def test_check_refuses_what_is_not_a_run_or_history(tmp_path):
    (tmp_path / "empty").mkdir()
    res = run_cli("check", str(tmp_path / "empty"))
    assert res.returncode == 2 and "not a run directory (no test.json)" in one_line(res)
    run = tmp_path / "run"
    run.mkdir()
    (run / "test.json").write_text(json.dumps({"workload": "set", "topology": "sentinel"}))
    res = run_cli("check", str(run))
    assert res.returncode == 2 and "no history.jsonl.zst nor history.jsonl" in one_line(res)
    (run / "history.jsonl").write_text('{"process": 0, "type": "invoke", "f": "add", "value": 1}\nnot json\n')
    res = run_cli("check", str(run))
    assert res.returncode == 2 and "history.jsonl line 2: not valid JSON" in one_line(res)
    (run / "test.json").write_text(json.dumps({"workload": "nosuch"}))
    res = run_cli("check", str(run))
    assert res.returncode == 2 and "unknown workload 'nosuch'" in one_line(res)
    res = run_cli("check", str(run), "--model", "register")
    assert res.returncode == 2 and "--model is for a bare history file" in one_line(res)
    bad = tmp_path / "h.jsonl"
    bad.write_text('{"process": 0, "type": "bogus", "f": "read"}\n')
    res = run_cli("check", str(bad))
    assert res.returncode == 2 and "line 1" in one_line(res)


def test_no_engine_is_exit_3_with_what_to_run():
    res = run_cli("up", "sentinel", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert res.returncode == 3
    assert "make setup" in one_line(res)
