"""Which server a run uses (`--server`): the choice is checked before anything starts,
each server has its own node image and Compose environment (how its clock is skewed),
the version a run met is on the record (test.json, report, compare, serve), clock faults
move a trixie server's clock (sb-clock, where libfaketime deadlocks),
and a host with neither a Debian mirror nor a registry gets one line and exit 3."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

import cli
from harness.compare.table import cell_table, group_runs, markdown_table
from harness.image import debian_mirror, node_image
from harness.report import parameters
from harness.rundir import load_run, server_version
from harness.servers import DEFAULT_SERVER, SERVERS, describe_info
from harness.spec import TestSpec
from harness.errors import UsageError
from harness.topology import new_topology

from .conftest import history_lines, project_objects, run_cli


def test_the_servers_and_their_images():
    assert set(SERVERS) == {"redis-7.0", "redis-8.0", "valkey-8.1"} and DEFAULT_SERVER == "redis-7.0"
    assert {s.suite for s in SERVERS.values()} == {"bookworm", "trixie"}
    assert node_image("valkey-8.1") == "splitbrain-node:valkey-8.1"
    assert len({node_image(s) for s in SERVERS}) == 3


@pytest.mark.parametrize("args, message", [
    (["--server", "redis-6"], "--server 'redis-6': choose one of redis-7.0, redis-8.0, valkey-8.1"),
    (["--server", ""], "--server '': choose one of"),
    (["--server", "valkey-8.1", "-n", "clock-bumpy"], "unknown nemesis clock-bumpy"),
])
def test_a_bad_server_choice_exits_2_before_any_side_effect(tmp_path, args, message):
    res = CliRunner().invoke(cli.main, ["run", *args, "--results-dir", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_compare_refuses_an_unknown_server_in_a_vary_before_any_run(tmp_path):
    res = CliRunner().invoke(cli.main, ["compare", "--vary", "server=redis-7.0,redis-7.4",
                                        "--results-dir", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--server 'redis-7.4'" in res.output
    assert not (tmp_path / "r").exists()


def test_the_spec_keeps_the_server_and_a_test_json_reads_back():
    spec = TestSpec(server="valkey-8.1", nemesis=["partition"])
    assert spec.to_json()["server"] == "valkey-8.1"
    assert TestSpec(**{k: v for k, v in spec.to_json().items()}).server == "valkey-8.1"
    with pytest.raises(UsageError, match="--server"):
        TestSpec(server=7)


@pytest.mark.parametrize("server, image, clock", [
    ("redis-7.0", "splitbrain-node:redis-7.0", "libfaketime"),
    ("redis-8.0", "splitbrain-node:redis-8.0", "sb-clock"),
    ("valkey-8.1", "splitbrain-node:valkey-8.1", "sb-clock"),
])
def test_the_topology_starts_the_servers_image_and_tells_the_node_how_to_skew_its_clock(server, image, clock):
    env = new_topology("sentinel", server=server)._env()
    assert env["SB_IMAGE"] == image and env["SB_CLOCK"] == clock
    packages = SERVERS[server].all_packages
    assert ("gcc" in packages) == (clock == "sb-clock")   # sb-clock is compiled in the image


def test_info_server_names_valkey_by_its_own_version_not_its_compatibility_level():
    assert describe_info({"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.1"}) \
        == "Valkey 8.1.1"
    assert describe_info({"redis_version": "8.0.2"}) == "Redis 8.0.2"


DEBIAN_DEB822 = """Types: deb
URIs: http://mirror.example/debian-security
Suites: trixie-security
Components: main

Types: deb
URIs: http://mirror.example/debian
Suites: trixie trixie-updates
Components: main
"""
UBUNTU_DEB822 = """Types: deb
URIs: http://archive.ubuntu.com/ubuntu/
Suites: noble noble-updates noble-backports
Components: main restricted universe multiverse
"""


@pytest.mark.parametrize("files, expected", [
    ({"debian.sources": DEBIAN_DEB822}, "http://mirror.example/debian"),
    ({"ubuntu.sources": UBUNTU_DEB822}, None),
    ({"sources.list": "deb http://archive.ubuntu.com/ubuntu jammy main\n"}, None),
    ({"sources.list": "# a comment\ndeb [arch=amd64] http://m.example/debian bookworm main\n"},
     "http://m.example/debian"),
    ({"ubuntu.sources": UBUNTU_DEB822, "sources.list": "deb http://m.example/debian sid main\n"},
     "http://m.example/debian"),
    ({}, None),
])
def test_the_debian_mirror_is_read_from_the_apt_sources(tmp_path, monkeypatch, files, expected):
    paths = []
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    monkeypatch.setenv("SPLITBRAIN_APT_SOURCES", ":".join(paths) or str(tmp_path / "none"))
    assert debian_mirror() == expected


def _run_dir(root, name, server=None, versions=None, lost=0):
    d = root / name / "20261124T000000.00Z"
    d.mkdir(parents=True)
    test = {"name": name, "topology": "sentinel", "workload": "set", "nemesis": [], "seed": 1,
            "server": "redis-7.0", "versions": versions or {}}
    if server:
        test["server_version"] = server
    (d / "test.json").write_text(json.dumps(test))
    (d / "results.json").write_text(json.dumps({"valid": lost == 0, "checkers": {}, "stats": {}}))
    return d


def test_compare_names_the_server_of_each_cell_and_a_mixed_cell_says_so(tmp_path):
    a = _run_dir(tmp_path, "a", "Valkey 8.1.1")
    b = _run_dir(tmp_path, "b", "Redis 7.0.15")
    old = _run_dir(tmp_path, "c", versions={"redis": "7.0.11"})
    rows = [load_run(p) for p in (a, b, old)]
    assert [r["server"] for r in rows] == ["Valkey 8.1.1", "Redis 7.0.15", "Redis 7.0.11"]
    # the three share their settings: one cell, whose server column names all three
    cells = group_runs(rows)
    assert len(cells) == 1
    table = cell_table(cells)
    assert table["server"].tolist() == ["MIXED: Redis 7.0.11 / Redis 7.0.15 / Valkey 8.1.1"]
    assert "MIXED: Redis 7.0.11 / Redis 7.0.15 / Valkey 8.1.1" in markdown_table(table)
    assert cell_table(group_runs(rows[:1]))["server"].tolist() == ["Valkey 8.1.1"]


def test_the_report_header_names_the_server():
    rows, _ = parameters({"server": "valkey-8.1", "server_version": "Valkey 8.1.1"})
    assert ("server", "Valkey 8.1.1 (valkey-8.1)") in rows
    assert server_version({"versions": {"redis": "7.0.15"}}) == "Redis 7.0.15"
    assert server_version({"versions": "junk", "server_version": 3}) is None


@pytest.mark.docker
def test_no_debian_mirror_and_no_registry_is_one_line_and_exit_3(tmp_path):
    """What an Ubuntu host without a registry meets. These machines reach no container
    registry (ENVIRONMENT.md), so the registry fallback fails for real here. A base left by
    an earlier build is set aside (its tag only) for the test and put back."""
    srv = SERVERS["valkey-8.1"]
    base = f"splitbrain-base:{srv.name}"
    aside = f"splitbrain-base:{srv.name}-aside-for-test"
    had = subprocess.run(["docker", "image", "inspect", base], capture_output=True).returncode == 0
    if subprocess.run(["docker", "image", "inspect", srv.registry_base], capture_output=True).returncode == 0:
        pytest.skip(f"{srv.registry_base} is present on this engine: the registry fallback would succeed")
    if had:
        subprocess.run(["docker", "tag", base, aside], check=True)
        subprocess.run(["docker", "rmi", base], check=True, capture_output=True)
    try:
        sources = tmp_path / "ubuntu.sources"
        sources.write_text(UBUNTU_DEB822)
        res = run_cli("image", "build", "--server", srv.name, "--quiet",
                      env={"SPLITBRAIN_APT_SOURCES": str(sources)}, timeout=120)
    finally:
        if had:
            subprocess.run(["docker", "tag", aside, base], check=True)
            subprocess.run(["docker", "rmi", aside], check=True, capture_output=True)
    assert res.returncode == 3, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "the apt sources name no Debian mirror and no registry answers for debian:trixie-slim" in lines[0]
    assert "--mirror URL" in lines[0] and "--base IMAGE" in lines[0]


@pytest.mark.docker
def test_a_valkey_sentinel_fails_over_a_killed_primary_and_the_run_records_valkey(tmp_path):
    """Valkey through the redis-* names the node image links: its server, its Sentinel
    (started as redis-sentinel), a process fault that finds it by that name, and the
    version the run met on the record."""
    res = run_cli("run", "-t", "sentinel", "--server", "valkey-8.1", "-n", "kill-primary",
                  "--nemesis-interval", "6", "--time-limit", "14", "--seed", "2",
                  "--results-dir", str(tmp_path))
    assert res.returncode in (0, 1), res.stdout + res.stderr
    run = (tmp_path / "latest").resolve()
    test = json.loads((run / "test.json").read_text())
    results = json.loads((run / "results.json").read_text())
    assert test["server"] == "valkey-8.1" and test["server_version"] == "Valkey 8.1.1"
    assert results["valid"] in (True, False) and results["healed"] is True
    assert results["checkers"]["set"]["details"]["acknowledged_count"] > 1000
    sentinel_logs = "".join(p.read_text(errors="replace") for p in (run / "logs").glob("*sentinel*.log"))
    assert "+switch-master" in sentinel_logs
    assert "Valkey 8.1.1" in (run / "report.html").read_text()
    assert project_objects(test["project"]) == []


@pytest.mark.docker
def test_a_clock_bump_moves_a_trixie_servers_clock_and_trips_its_sentinel(tmp_path):
    """sb-clock on Redis 8.0 (libfaketime deadlocks it at start): the nemesis measures
    each node's offset in force with redis-cli TIME, and a Sentinel whose clock stepped
    back or jumped forward enters TILT."""
    res = run_cli("run", "-t", "sentinel", "--server", "redis-8.0", "-n", "clock-bump",
                  "--nemesis-interval", "6", "--time-limit", "14", "--seed", "14",
                  "--results-dir", str(tmp_path))
    assert res.returncode in (0, 1), res.stdout + res.stderr
    run = (tmp_path / "latest").resolve()
    ops = [json.loads(line) for line in history_lines(run)]
    measured = [op["value"] for op in ops if op.get("f") == "clock-measure"]
    after = [m for m in measured if m["phase"] == "after" and m["fault"] == "clock-bump"]
    assert after and all(m["in_force"] for m in after), after
    for m in after:
        for node, target in m["target_ms"].items():
            assert abs(m["offsets_ms"][node] - target) <= 40.0, (node, m)
    assert any(abs(t) > 2000 for m in after for t in m["target_ms"].values())
    healed = [m for m in measured if m["phase"] == "heal"]
    assert healed and all(abs(v) <= 40.0 for v in healed[-1]["offsets_ms"].values() if v is not None)
    results = json.loads((run / "results.json").read_text())
    assert results["healed"] is True and results["windows"]["sentinel_tilt"]
    assert json.loads((run / "test.json").read_text())["server_version"] == "Redis 8.0.2"
