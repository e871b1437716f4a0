"""The topology interface and what every kind shares: a Compose project on its own
bridge network with fixed addresses, nodes reached directly at their addresses (nothing
is published on host ports), commands run inside nodes through the Docker SDK.

A kind (sentinel, cluster, replicated) is one subclass that says how its nodes are
judged healthy, which node is primary, how clients reach the primary for a key, how to
force a failover and which daemons a node runs. Faults and workloads ask the topology,
never which kind it is.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..engine import LABEL, docker_client, project_containers
from ..errors import EnvironmentProblem, UsageError
from ..image import compose_dir, ensure_node_image, node_image
from ..servers import DEFAULT_SERVER, server as server_named

SUBNET_BASE = "10.213"  # /24 networks 10.213.N.0 for N in 0..255, one per topology
SOCKET_TIMEOUT = 1.0


def conf_line(key: str, value: str) -> str:
    # An empty value must reach Redis as "" (e.g. save="" disables RDB snapshots).
    return f'{key} {value if value.strip() else chr(34) * 2}'


@dataclass
class Node:
    name: str          # Compose service: n1, n2, ...
    ip: str
    container: Any     # docker.models.containers.Container

    @property
    def addr(self) -> str:
        return f"{self.ip}:6379"


def no_retry() -> Retry:
    """redis-py's own retries off: a silent retry would turn one op into two, and its
    default (10, with backoff up to 10 s) turns one look at a node cut off from the
    harness into a wait of many seconds."""
    return Retry(NoBackoff(), 0)


class Route(ABC):
    """How one client session reaches the node that serves a key (see `clients.Session`)."""

    @abstractmethod
    async def pool(self, key: str | None) -> Any:
        """The redis.asyncio connection pool to send a command on `key` to."""

    def after_error(self, force: bool = False) -> None:
        """A connection failed (or MOVED came back): refresh routing if the kind routes."""

    async def after_moved(self) -> bool:
        """MOVED: refresh routing now; True if the command is worth retrying."""
        return False

    async def pool_at(self, addr: tuple[str, int]) -> Any:
        """The pool to a given node, for an ASK redirect (a slot being migrated there);
        None where the topology has no slots to migrate."""
        return None

    async def close(self) -> None:
        """Close the connections this route opened."""


@dataclass
class Topology(ABC):
    project: str
    subnet: str = ""                   # first three octets, e.g. "10.213.4"
    redis_conf: dict[str, str] = field(default_factory=dict)
    sentinel_conf: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    #: Services beside the nodes that a workload asked for ("resource": a standalone Redis
    #: no fault touches, `resource.yml`), and the resource's node once it is up.
    extras: tuple[str, ...] = ()
    resource: Node | None = None
    #: What the nodes run (`servers.SERVERS`): which node image Compose starts.
    server: str = DEFAULT_SERVER
    #: Containers running but not in the deployment, so in no fault, health check or final
    #: read: the spares (label io.splitbrain.spare) until a membership fault joins them, and
    #: a primary it removed. `left_out` names them once such a fault has changed the set.
    outside: list[Node] = field(default_factory=list)
    left_out: set[str] | None = None

    kind: ClassVar[str] = ""
    #: The daemons every node runs ("redis", "sentinel"): what heal makes sure is running.
    daemons: ClassVar[tuple[str, ...]] = ("redis",)

    # ----------------------------------------------------------------- per kind
    @abstractmethod
    def problems(self) -> list[str]:
        """What is wrong right now, one line per node; empty when healthy and converged."""

    @abstractmethod
    def primaries(self) -> list[Node]:
        """The nodes the deployment currently treats as primary (empty if it cannot tell)."""

    @abstractmethod
    def route(self, timeout: float) -> Route:
        """A client's way to the primary of each key, as applications discover it."""

    @abstractmethod
    def replica_route(self, timeout: float, process: int) -> Route:
        """A client's way to a replica of each key, as applications that scale reads reach
        one. Each process keeps to one replica while its connection lasts (so what it
        reads there should never go back in time)."""

    @abstractmethod
    def failover(self, rng: Any) -> dict[str, Any]:
        """Force a failover as an operator would; return what was done."""

    def pick_primary(self, rng: Any) -> Node:
        """The node a fault aimed at "the primary" hits: one of the current primaries."""
        prims = self.primaries()
        return rng.choice(prims) if prims else rng.choice(self.nodes)

    def replica_reader(self, node: Node, timeout: float = 2.0) -> redis.Redis:
        """A client that reads what this node holds, replica or not."""
        return self.redis(node, timeout=timeout)

    def compose_env(self) -> dict[str, str]:
        """Extra environment for this kind's Compose file."""
        return {}

    @classmethod
    def validate(cls, redis_conf: dict[str, str], sentinel_conf: dict[str, str]) -> None:
        """Refuse (UsageError) settings this kind cannot take, before anything starts."""
        if sentinel_conf:
            raise UsageError(f"--sentinel-conf applies to the sentinel topology, not {cls.kind}")

    # ----------------------------------------------------------------- Compose
    def compose_file(self) -> str:
        return str(compose_dir() / f"{self.kind}.yml")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(SB_PROJECT=self.project, SB_SUBNET=self.subnet, SB_IMAGE=node_image(self.server),
                   SB_TOPOLOGY=self.kind, SB_REDIS_CONF="\n".join(conf_line(k, v) for k, v in self.redis_conf.items()))
        env.update(server_named(self.server).env())
        env.update(self.compose_env())
        return env

    def compose(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        files = [self.compose_file(), *(str(compose_dir() / f"{x}.yml") for x in self.extras)]
        cmd = ["docker", "compose", "-p", self.project, *(a for f in files for a in ("-f", f)), *args]
        try:
            proc = subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise EnvironmentProblem("the docker CLI is not installed: run 'make setup'") from None
        if check and proc.returncode != 0:
            err = proc.stderr.strip().splitlines()
            if any("is not a docker command" in line or "unknown shorthand flag" in line for line in err):
                raise EnvironmentProblem("docker compose v2 is missing: run 'make setup'")
            raise EnvironmentProblem(f"docker compose {args[0]} failed: {' | '.join(err[-3:])}")
        return proc

    def _free_subnet(self) -> str:
        used = set()
        for net in docker_client().networks.list():
            for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
                if cfg.get("Subnet"):
                    used.add(ipaddress.ip_network(cfg["Subnet"], strict=False))
        for n in range(256):
            cand = ipaddress.ip_network(f"{SUBNET_BASE}.{n}.0/24")
            if not any(cand.overlaps(u) for u in used):
                return f"{SUBNET_BASE}.{n}"
        raise EnvironmentProblem(f"no free /24 left in {SUBNET_BASE}.0.0/16: run 'splitbrain down --all'")

    def up(self, timeout: float = 60, progress: Callable[[str], None] | None = None) -> float:
        """Start the topology and wait until it is healthy. Returns seconds to healthy (the
        node image's build, on a server's first use, is not counted)."""
        docker_client()
        ensure_node_image(self.server, say=progress or (lambda line: print(line, file=sys.stderr, flush=True)))
        t0 = time.monotonic()
        for attempt in range(3):
            self.subnet = self._free_subnet()
            proc = self.compose("up", "-d", "--no-build", check=False, timeout=180)
            if proc.returncode == 0:
                break
            self.compose("down", "-v", "--remove-orphans", check=False)
            if "overlap" not in proc.stderr or attempt == 2:
                raise EnvironmentProblem(
                    f"docker compose up failed: {' | '.join(proc.stderr.strip().splitlines()[-3:])}")
        self.load_nodes()
        self.wait_healthy(timeout, progress)
        return time.monotonic() - t0

    def load_nodes(self, containers: list[Any] | None = None) -> None:
        nodes: list[Node] = []
        outside: list[Node] = []
        for c in containers or project_containers(self.project):
            service = c.labels.get("com.docker.compose.service", c.name)
            if service == "init":
                continue
            nets = c.attrs["NetworkSettings"]["Networks"]
            ip = next((n.get("IPAddress") or (n.get("IPAMConfig") or {}).get("IPv4Address")
                       for n in nets.values()), "")
            if service == "resource":     # never a node: no fault, health check or status
                self.resource = Node(service, ip, c)
                continue
            spare = c.labels.get("io.splitbrain.spare") == "1"
            out = spare if self.left_out is None else service in self.left_out
            (outside if out else nodes).append(Node(service, ip, c))
        for group in (nodes, outside):
            group.sort(key=lambda n: int(n.name[1:]) if n.name[1:].isdigit() else 0)
        self.nodes, self.outside = nodes, outside
        if nodes and not self.subnet:
            self.subnet = nodes[0].ip.rsplit(".", 1)[0]

    def set_outside(self, names: set[str]) -> None:
        """Which containers are out of the deployment from now on (a membership change)."""
        self.left_out = set(names)
        self.load_nodes()

    def down(self) -> None:
        # With the spares' profile, so that spares a fault started go too.
        self.compose("--profile", "spares", "down", "-v", "--remove-orphans", "-t", "1", check=False)

    # ----------------------------------------------------------------- access
    @property
    def gateway(self) -> str:
        """The host's address on the topology network: where the harness's clients come from."""
        return f"{self.subnet}.1"

    @property
    def sentinel_nodes(self) -> list[Node]:
        return self.nodes if "sentinel" in self.daemons else []

    def node(self, name_or_ip: str) -> Node:
        for n in self.nodes:
            if name_or_ip in (n.name, n.ip, n.addr):
                return n
        raise KeyError(name_or_ip)

    def redis(self, node: Node, port: int = 6379, timeout: float = SOCKET_TIMEOUT) -> redis.Redis:
        return redis.Redis(host=node.ip, port=port, socket_timeout=timeout, socket_connect_timeout=timeout,
                           retry=no_retry(), decode_responses=True)

    def exec(self, node: Node, cmd: list[str] | str, check: bool = False) -> tuple[int, str]:
        """Run a command inside a node (not under libfaketime). Returns (exit code, output)."""
        res = node.container.exec_run(cmd if isinstance(cmd, list) else ["sh", "-c", cmd])
        out = res.output.decode(errors="replace") if res.output else ""
        if check and res.exit_code != 0:
            raise EnvironmentProblem(f"{node.name}: {cmd} failed: {out.strip()[-300:]}")
        return res.exit_code, out

    def call(self, node: Node, *args: Any, port: int = 6379, timeout: float = 0.5) -> Any:
        """One command to a node: over the network, or (partitioned from the harness) with
        redis-cli inside the node. Raises RuntimeError if neither works."""
        try:
            r = self.redis(node, port=port, timeout=timeout)
            try:
                return r.execute_command(*args)
            finally:
                r.close()
        except (redis.RedisError, OSError) as e:
            net_err = e
        cmd = ["timeout", "2", "redis-cli", "-p", str(port), *[str(a) for a in args]]
        rc, out = self.exec(node, cmd)
        if rc != 0 or out.startswith(("ERR", "Could not connect")) or not out.strip():
            raise RuntimeError(f"{node.name}: {' '.join(map(str, args))}: {type(net_err).__name__}: "
                               f"{net_err}; in node: {out.strip()[:200]}")
        return out.strip()

    def each(self, nodes: list[Node], fn: Callable[[Node], Any]) -> list[Any]:
        """fn(node) on each node in parallel (threads), results in order."""
        if not nodes:
            return []
        with ThreadPoolExecutor(len(nodes)) as pool:
            return list(pool.map(fn, nodes))

    def info(self, node: Node, section: str = "replication") -> dict[str, Any] | None:
        try:
            return self.redis(node).info(section)
        except (redis.RedisError, OSError):
            return None

    # ----------------------------------------------------------------- processes
    def signal(self, node: Node, daemon: str, sig: str) -> tuple[int, str]:
        """Send SIG<sig> to a daemon ("redis" or "sentinel") inside its running container."""
        return self.exec(node, ["sb-node", "signal", daemon, sig])

    def start_daemon(self, node: Node, daemon: str = "redis") -> tuple[int, str]:
        """Start a daemon again inside its container: partitions and clock offsets stay."""
        return self.exec(node, ["sb-node", "start", daemon])

    # ----------------------------------------------------------------- health
    def replication_problems(self, primary_ip: str) -> list[str]:
        out = []
        for n in self.nodes:
            info = self.info(n)
            if info is None:
                out.append(f"{n.name} ({n.ip}): Redis does not answer")
            elif n.ip == primary_ip:
                if info.get("role") != "master":
                    out.append(f"{n.name} ({n.ip}): should be primary but is {info.get('role')}")
                elif info.get("connected_slaves", 0) != len(self.nodes) - 1:
                    out.append(f"{n.name} ({n.ip}): primary sees {info.get('connected_slaves')} "
                               f"of {len(self.nodes) - 1} replicas")
            elif info.get("role") != "slave" or info.get("master_host") != primary_ip:
                out.append(f"{n.name} ({n.ip}): not a replica of {primary_ip} "
                           f"(role {info.get('role')}, master {info.get('master_host')})")
            elif info.get("master_link_status") != "up":
                out.append(f"{n.name} ({n.ip}): replication link {info.get('master_link_status')}")
        return out

    def wait_healthy(self, timeout: float, progress: Callable[[str], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        while time.monotonic() < deadline:
            problems = self.problems()
            if self.resource is not None and self.info(self.resource) is None:
                problems.append(f"resource ({self.resource.ip}): Redis does not answer")
            if not problems:
                return
            config_error = self.config_error()
            if config_error:
                raise UsageError(config_error)
            if progress:
                progress(problems[0])
            time.sleep(0.25)
        raise EnvironmentProblem(f"{self.kind} topology {self.project} not healthy after "
                                 f"{timeout:.0f}s: {'; '.join(problems[:4])}")

    def config_error(self) -> str | None:
        """Redis's own words when a node refused its configuration, else None."""
        for n in self.nodes:
            for what in self.daemons:
                _, err = self.exec(n, ["cat", f"/data/{what}.err"])
                if "FATAL CONFIG FILE ERROR" in err or "Bad directive" in err:
                    lines = [l.strip() for l in err.splitlines() if l.strip() and not l.startswith("***")]
                    return f"{n.name}: {what} rejected its configuration: {' '.join(lines)[:300]}"
        return None

    # ----------------------------------------------------------------- status
    def status(self) -> list[dict[str, Any]]:
        rows = []
        primaries = {n.name for n in self.primaries()}
        for n in self.nodes:
            n.container.reload()
            info = self.info(n) or {}
            role = info.get("role", "down")
            rows.append({"node": n.name, "address": n.ip, "container": n.container.status,
                         "role": {"master": "primary", "slave": "replica"}.get(role, role),
                         "link": info.get("master_link_status", ""),
                         "primary": "yes" if n.name in primaries else ""})
        return rows

    def collect_logs(self, dest: str) -> None:
        """Copy each node's Redis/Sentinel logs into dest/ (best effort)."""
        os.makedirs(dest, exist_ok=True)
        for n in self.nodes:
            for d in self.daemons:
                for f in (f"{d}.log", f"{d}.err"):
                    rc, out = self.exec(n, ["cat", f"/data/{f}"])
                    if rc == 0 and out:
                        with open(os.path.join(dest, f"{n.name}-{f}"), "w") as fh:
                            fh.write(out)


__all__ = ["LABEL", "Node", "Route", "Topology", "conf_line"]
