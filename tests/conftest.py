import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPLITBRAIN = str(Path(sys.executable).parent / "splitbrain")


def docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    ok = subprocess.run(["docker", "image", "inspect", "splitbrain-node:redis-7.0"], capture_output=True)
    return ok.returncode == 0


def pytest_collection_modifyitems(config, items):
    # In CI (make test) the engine and image are set up first, so a docker test never
    # skips there: a missing engine fails loudly instead of passing silently.
    if os.environ.get("CI") or docker_ready():
        return
    skip = pytest.mark.skip(reason="no Docker engine or node image: run 'make setup'")
    for item in items:
        if "docker" in item.keywords:
            item.add_marker(skip)


def run_cli(*args, env=None, timeout=600, **kw):
    return subprocess.run([SPLITBRAIN, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT, **kw)


def project_objects(project: str) -> list[str]:
    """Containers, networks and volumes Docker still has for a Compose project."""
    out = []
    for kind in ("ps -a", "network ls", "volume ls"):
        res = subprocess.run(["docker", *kind.split(), "-q", "--filter",
                              f"label=com.docker.compose.project={project}"], capture_output=True, text=True)
        out += res.stdout.split()
    return out


def isolated_ip(run: Path) -> str:
    """The address of the node the run's first partition cut off from all the others
    (every other node drops it)."""
    import json
    for line in history_lines(run):
        op = json.loads(line)
        if op.get("process") == "nemesis" and op.get("f") == "start-partition" and op.get("type") == "info":
            drops = op["value"]["drops"]
            target = op["value"]["groups"][0][0]
            others = [set(v) for k, v in drops.items() if k != target]
            # Clients come from the network's gateway (.1), which some shapes cut off too.
            (ip,) = {a for a in set.intersection(*others) if not a.endswith(".1")}
            return ip
    raise AssertionError("no partition in the history")


def compress(data: bytes, codec: str, pieces: int = 1) -> bytes:
    """data as zstd ("zst") or gzip ("gz"), written the way a running harness writes it:
    in `pieces`, each ending a block; the stream then ended. Made with the libraries
    directly, not with the harness's writer."""
    import zlib
    import zstandard
    if codec == "zst":
        c = zstandard.ZstdCompressor(level=3).compressobj()
        flush, end = (lambda: c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)), c.flush
    else:
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        flush, end = (lambda: c.flush(zlib.Z_SYNC_FLUSH)), c.flush
    step = -(-len(data) // pieces) or 1
    out = b"".join(c.compress(data[i:i + step]) + flush() for i in range(0, len(data), step))
    return out + end()


def history_lines(run: Path) -> list[str]:
    """The lines of a run directory's history, compressed or not."""
    from harness.compression import read_bytes
    from harness.rundir import history_file
    return read_bytes(history_file(run)).decode("utf-8").splitlines()


def final_reads(run: Path):
    """A run directory's final reads (final.json.zst, or an older run's final.json)."""
    from harness.rundir import RunDir
    return RunDir(run).final


def run_workload(tmp_path: Path, workload: str, checker: str, *args: str):
    """`splitbrain run -w WORKLOAD ARGS` into tmp_path: (completed process, run directory,
    results.json, the named checker's entry in it)."""
    import json
    res = run_cli("run", "-w", workload, *args, "--results-dir", str(tmp_path))
    run = (tmp_path / "latest").resolve()
    results = json.loads((run / "results.json").read_text())
    return res, run, results, results["checkers"][checker]


def figure(checker: dict, name: str):
    """The value of one figure in a checker's results.json entry."""
    return next(f["value"] for f in checker["figures"] if f["name"] == name)


@contextlib.contextmanager
def running_topology(kind: str):
    """A real topology, up and healthy for the block; removed after it, leaving nothing."""
    from harness.topology import new_topology
    topo = new_topology(kind)
    try:
        topo.up(timeout=60)
        yield topo
    finally:
        topo.down()
        assert project_objects(topo.project) == []


@contextlib.contextmanager
def kept_run(spec):
    """A run with `keep=True`, then its topology for the block (attached by project name),
    removed after it — also when the run itself fails, so nothing outlives the test."""
    from harness.runner import Run
    from harness.rundir import RunDir
    from harness.topology import attach
    spec.keep = True
    try:
        outcome = Run(spec).execute()
    except BaseException:
        for test in Path(spec.results_dir).glob("*/*/test.json"):
            attach(json.loads(test.read_text())["project"]).down()
        raise
    topo = attach(RunDir(outcome.run_dir).test["project"])
    try:
        yield outcome, topo
    finally:
        topo.down()
