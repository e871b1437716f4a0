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
    ok = subprocess.run(["docker", "image", "inspect", "splitbrain-node:latest"], capture_output=True)
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
