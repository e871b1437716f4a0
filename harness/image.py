"""The node image: a Debian base made locally with debootstrap (no registry), then
`compose/Dockerfile` on top of it (or on any Debian-based official image given as base)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

from .engine import LABEL, docker_client
from .errors import EnvironmentProblem

NODE_IMAGE = "splitbrain-node:latest"
LOCAL_BASE = "splitbrain-base:bookworm"
BASE_PACKAGES = "redis-server,redis-sentinel,redis-tools,iptables,iproute2,faketime,procps"
APT_SOURCES = ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list")


def compose_dir() -> Path:
    """The Compose files and the node image's build context: package data of `harness`
    (a plain directory in every install, editable or not)."""
    d = resources.files("harness") / "compose"
    path = Path(str(d))
    if not (path / "Dockerfile").is_file():
        raise EnvironmentProblem(f"the node image's build context is missing ({path}): "
                                 f"reinstall splitbrain")
    return path


def context_digest(base: str = LOCAL_BASE) -> str:
    """Identifies what the node image was built from, so set-up rebuilds only on change."""
    h = hashlib.sha256(base.encode())
    for name in ("Dockerfile", "sb-node"):
        h.update((compose_dir() / name).read_bytes())
    return h.hexdigest()[:16]


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (never a hard-coded host)."""
    for path in APT_SOURCES:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if path.endswith(".sources"):
            # deb822 stanzas: take the URIs of the stanza whose Suites include bookworm.
            for stanza in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
                if uris and suites and "bookworm" in suites.group(1).split() and "security" not in uris.group(1):
                    return uris.group(1)
        else:
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
                if m:
                    return m.group(1)
    raise EnvironmentProblem(
        "no Debian bookworm mirror in the apt sources; give a base image instead: "
        "splitbrain image build --base redis:7.2")


def _run(cmd: list[str], what: str, quiet: bool, **kw) -> None:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=quiet, text=True, **kw)
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-5:] if quiet else []
        raise EnvironmentProblem(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    if not quiet:
        print(f"[image] {what}: {time.monotonic() - t0:.1f}s")


def build_local_base(quiet: bool = False) -> None:
    """debootstrap a minimal bookworm with Redis and the fault tools; `docker import` it."""
    if shutil.which("debootstrap") is None:
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"], "apt-get install debootstrap", quiet)
    mirror = debian_mirror()
    root = Path(tempfile.mkdtemp(prefix="splitbrain-rootfs-"))
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
              "bookworm", str(root), mirror], f"debootstrap from {mirror}", quiet)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "-", LOCAL_BASE], "docker import", quiet, stdin=tar.stdout)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def image_exists(name: str) -> bool:
    import docker.errors
    try:
        docker_client().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_node_image(base: str | None = None, quiet: bool = False) -> str:
    """Build splitbrain-node:latest. Without `base`, on the local debootstrap base."""
    import docker.errors

    client = docker_client()
    if base is None:
        base = LOCAL_BASE
        if not image_exists(LOCAL_BASE):
            build_local_base(quiet)
    elif not image_exists(base):
        try:
            client.images.pull(base)
        except docker.errors.APIError as e:
            raise EnvironmentProblem(
                f"cannot pull base image {base!r} ({e.explanation or e}); without a registry, "
                f"run 'splitbrain image build' with no --base to build one locally") from None
    t0 = time.monotonic()
    try:
        client.images.build(path=str(compose_dir()), tag=NODE_IMAGE, buildargs={"BASE": base},
                            labels={LABEL: "1", f"{LABEL}.context": context_digest(base)},
                            rm=True, forcerm=True, pull=False)
    except docker.errors.BuildError as e:
        log = " ".join(str(x.get("stream", x.get("error", ""))).strip() for x in e.build_log)[-400:]
        raise EnvironmentProblem(f"node image build failed: {e.msg}: {log}") from None
    if not quiet:
        print(f"[image] {NODE_IMAGE} on {base}: {time.monotonic() - t0:.1f}s")
    return NODE_IMAGE


def node_image_versions() -> dict[str, str]:
    """Redis version inside the node image (for test.json)."""
    try:
        out = docker_client().containers.run(NODE_IMAGE, ["redis-server", "--version"], remove=True,
                                       labels={LABEL: "1"}, network_mode="none")
        m = re.search(rb"v=(\S+)", out)
        return {"redis": m.group(1).decode() if m else out.decode().strip()}
    except Exception:  # noqa: BLE001 - informational only
        return {}


def require_node_image() -> None:
    if not image_exists(NODE_IMAGE):
        raise EnvironmentProblem(f"the node image {NODE_IMAGE} is missing: run 'make setup' "
                                 f"(or 'splitbrain image build')")


os.environ.setdefault("DOCKER_BUILDKIT", "0")
