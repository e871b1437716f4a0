"""Node images, one per server (`servers.SERVERS`): a Debian base with the server and the
fault tools, then `compose/Dockerfile` on top.

The base is found by trying, in order, never by guessing the host's distribution:
1. an image given with `--base` (an official `redis:7.4`, `valkey/valkey:8`, or one
   `docker load`ed);
2. debootstrap of the server's Debian release from a mirror — given with `--mirror`, or
   the Debian mirror this machine's apt already uses — with no registry at all;
3. the Debian image of that release from a registry (`debian:trixie-slim`), the
   Dockerfile then installing the packages with apt.
If none works: one line that says what to give, exit 3.
"""

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
from typing import Callable

from .engine import LABEL, docker_client
from .errors import EnvironmentProblem, UsageError
from .servers import DEFAULT_SERVER, Server, server as server_named

Say = Callable[[str], None] | None
APT_SOURCES = ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list")
#: Suites of the Debian archive (Ubuntu's are other names: jammy, noble, ...).
DEBIAN_SUITES = {"buster", "bullseye", "bookworm", "trixie", "forky", "sid",
                 "oldstable", "stable", "testing", "unstable"}
BASE_LABEL = f"{LABEL}.base"
CONTEXT_LABEL = f"{LABEL}.context"


def node_image(server: str = DEFAULT_SERVER) -> str:
    return f"splitbrain-node:{server}"


def local_base(server: str) -> str:
    return f"splitbrain-base:{server}"


def compose_dir() -> Path:
    """The Compose files and the node image's build context: package data of `harness`
    (a plain directory in every install, editable or not)."""
    d = resources.files("harness") / "compose"
    path = Path(str(d))
    if not (path / "Dockerfile").is_file():
        raise EnvironmentProblem(f"the node image's build context is missing ({path}): "
                                 f"reinstall splitbrain")
    return path


def context_digest(server: str = DEFAULT_SERVER, base: str | None = None) -> str:
    """Identifies what a node image was built from, so set-up rebuilds only on change."""
    h = hashlib.sha256(f"{server}\0{base or local_base(server)}".encode())
    for name in ("Dockerfile", "sb-node", "sb-clock.c"):
        h.update((compose_dir() / name).read_bytes())
    return h.hexdigest()[:16]


def apt_source_files() -> list[str]:
    """The apt sources to look for a Debian mirror in (SPLITBRAIN_APT_SOURCES, ':'-separated,
    for hosts that keep them elsewhere, and for tests)."""
    env = os.environ.get("SPLITBRAIN_APT_SOURCES")
    return env.split(":") if env is not None else list(APT_SOURCES)


def debian_mirror() -> str | None:
    """The Debian archive mirror this machine's apt already uses (never a hard-coded host);
    None when its sources name none (an Ubuntu host)."""
    for path in apt_source_files():
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError):
            continue
        entries = []   # (uri, suites)
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
                if uris and suites:
                    entries.append((uris.group(1), suites.group(1).split()))
        else:
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    entries.append((m.group(1), [m.group(2)]))
        for uri, suites in entries:
            # the main archive: a Debian suite that is not the security archive's
            if any(s.split("-")[0] in DEBIAN_SUITES and not s.endswith("-security") for s in suites) \
                    and "security" not in uri:
                return uri
    return None


def check_mirror(mirror: str) -> str:
    if not re.fullmatch(r"(https?|file)://[^\s]+", mirror):
        raise UsageError(f"--mirror {mirror[:60]!r}: expected a Debian mirror URL, e.g. "
                         f"http://deb.debian.org/debian")
    return mirror


def _run(cmd: list[str], what: str, say: Say, **kw) -> None:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-5:]
        raise EnvironmentProblem(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    if say:
        say(f"[image] {what}: {time.monotonic() - t0:.1f}s")


def debootstrap_base(srv: Server, mirror: str, say: Say) -> str:
    """debootstrap a minimal Debian of the server's release with the server and the fault
    tools (and a compiler for sb-clock); `docker import` it. 30–50 s, 150–400 MB."""
    if shutil.which("debootstrap") is None:
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"], "apt-get install debootstrap", say)
    root = Path(tempfile.mkdtemp(prefix="splitbrain-rootfs-"))
    try:
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(srv.all_packages)}",
              srv.suite, str(root), mirror], f"debootstrap {srv.suite} ({srv.name}) from {mirror}", say)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "-", local_base(srv.name)], "docker import", say, stdin=tar.stdout)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return local_base(srv.name)


def image_exists(name: str) -> bool:
    import docker.errors
    try:
        docker_client().images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def _pull(name: str) -> str | None:
    """None if pulled, else why not."""
    import docker.errors
    try:
        docker_client().images.pull(name)
        return None
    except docker.errors.APIError as e:
        return str(e.explanation or e).splitlines()[0][:160]


def find_base(srv: Server, base: str | None, mirror: str | None, say: Say) -> str:
    """The image to build `srv`'s node image on (see the module docstring for the order)."""
    if base is not None:
        if not image_exists(base):
            why = _pull(base)
            if why:
                raise EnvironmentProblem(
                    f"cannot pull base image {base!r} ({why}); without a registry, leave out "
                    f"--base and splitbrain builds one with debootstrap from a Debian mirror")
        return base
    if mirror is None and image_exists(local_base(srv.name)):
        return local_base(srv.name)     # debootstrapped before (an explicit --mirror makes a new one)
    mirror = mirror or debian_mirror()
    if mirror:
        return debootstrap_base(srv, mirror, say)
    if say:
        say(f"[image] no Debian mirror in the apt sources ({', '.join(apt_source_files())}); "
            f"trying the registry for {srv.registry_base}")
    why = _pull(srv.registry_base)
    if why is None:
        return srv.registry_base
    raise EnvironmentProblem(
        f"cannot build the {srv.name} node image: the apt sources name no Debian mirror and no "
        f"registry answers for {srv.registry_base} ({why}); give one: "
        f"'splitbrain image build --server {srv.name} --mirror URL' (a Debian mirror with "
        f"{srv.suite}) or '--base IMAGE' (an image with {srv.packages[0]}, e.g. from docker load)")


def build_node_image(server: str = DEFAULT_SERVER, base: str | None = None,
                     mirror: str | None = None, say: Say = print) -> str:
    """Build splitbrain-node:<server>; see the module docstring for where its base comes from."""
    import docker.errors

    srv = server_named(server)
    if mirror is not None:
        check_mirror(mirror)
    docker_client()
    base = find_base(srv, base, mirror, say)
    t0 = time.monotonic()
    tag = node_image(srv.name)
    try:
        docker_client().images.build(
            path=str(compose_dir()), tag=tag, rm=True, forcerm=True, pull=False,
            buildargs={"BASE": base, "SERVER_PACKAGES": " ".join(srv.packages), "CLOCK": srv.clock},
            labels={LABEL: "1", BASE_LABEL: base, CONTEXT_LABEL: context_digest(srv.name, base)})
    except docker.errors.BuildError as e:
        log = " ".join(str(x.get("stream", x.get("error", ""))).strip() for x in e.build_log)[-400:]
        raise EnvironmentProblem(f"node image build failed: {e.msg}: {log}") from None
    if say:
        say(f"[image] {tag} on {base}: {time.monotonic() - t0:.1f}s")
    return tag


def node_image_state(server: str = DEFAULT_SERVER) -> str:
    """"missing", "stale" (built from another Dockerfile or node script) or "current"."""
    import docker.errors
    try:
        labels = docker_client().images.get(node_image(server)).labels or {}
    except docker.errors.ImageNotFound:
        return "missing"
    base = labels.get(BASE_LABEL, local_base(server))
    return "current" if labels.get(CONTEXT_LABEL) == context_digest(server, base) else "stale"


def ensure_node_image(server: str = DEFAULT_SERVER, say: Say = print) -> str:
    """The server's node image, built first if it is missing or stale (on the base it was
    built on before, when that is still here)."""
    state = node_image_state(server)
    if state == "current":
        return node_image(server)
    if say:
        say(f"[image] {node_image(server)} is {state}: building it (first use of {server})")
    base = None
    if state == "stale":
        old = (docker_client().images.get(node_image(server)).labels or {}).get(BASE_LABEL)
        base = old if old and image_exists(old) else None
    return build_node_image(server, base, say=say)


os.environ.setdefault("DOCKER_BUILDKIT", "0")
