"""Topologies: start, inspect, reach and remove the Redis deployments in `compose/`.

A `Topology` is one Compose project (`splitbrain-<kind>-<id>`) on its own bridge network
with fixed addresses. The harness drives `docker compose` for up/down and the Docker SDK
for everything inside the nodes; it reaches Redis directly at the node addresses (nothing
is published on host ports). Every container and network carries the `io.splitbrain`
label, so `down_all` finds leftovers of crashed runs.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import redis

from .errors import EnvironmentProblem, UsageError
from .image import COMPOSE_DIR, NODE_IMAGE, require_node_image

LABEL = "io.splitbrain"
KINDS = ("sentinel", "cluster", "replicated")
MASTER_NAME = "mymaster"
SUBNET_BASE = "10.213"  # /24 networks 10.213.N.0 for N in 0..255, one per topology
SOCKET_TIMEOUT = 1.0
# Sentinel directives that belong to the monitored master ("sentinel <key> mymaster <v>").
SENTINEL_MASTER_KEYS = {
    "down-after-milliseconds", "failover-timeout", "parallel-syncs", "auth-pass", "auth-user",
    "notification-script", "client-reconfig-script", "master-reboot-down-after-period",
}

_client = None


def docker_client():
    """A Docker SDK client, or EnvironmentProblem (exit 3) saying what to run."""
    global _client
    if _client is None:
        import docker
        try:
            c = docker.from_env(timeout=60)
            c.ping()
        except Exception as e:  # noqa: BLE001 - any failure here means "no engine"
            raise EnvironmentProblem(
                f"no Docker engine reachable ({type(e).__name__}): run 'make setup' "
                f"(or start dockerd / Docker Desktop)") from None
        _client = c
    return _client


def parse_settings(pairs: tuple[str, ...] | list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` strings from a repeatable option into an ordered dict (exit 2 if malformed)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise UsageError(f"{option} {pair!r}: expected KEY=VALUE, e.g. {option} appendonly=yes")
        if "\n" in value:
            raise UsageError(f"{option} {pair!r}: a value may not contain a newline")
        out[key] = value
    return out


def _conf_line(key: str, value: str) -> str:
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


@dataclass
class Topology:
    kind: str
    project: str
    subnet: str                      # first three octets, e.g. "10.213.4"
    redis_conf: dict[str, str] = field(default_factory=dict)
    sentinel_conf: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    # ----------------------------------------------------------------- creation
    @classmethod
    def new(cls, kind: str, redis_conf: dict[str, str] | None = None,
            sentinel_conf: dict[str, str] | None = None) -> "Topology":
        if kind not in KINDS:
            raise UsageError(f"unknown topology {kind!r}: choose one of {', '.join(KINDS)}")
        if sentinel_conf and kind != "sentinel":
            raise UsageError(f"--sentinel-conf applies to the sentinel topology, not {kind}")
        project = f"splitbrain-{kind}-{secrets.token_hex(3)}"
        return cls(kind, project, "", dict(redis_conf or {}), dict(sentinel_conf or {}))

    @classmethod
    def attach(cls, project: str) -> "Topology":
        """The running topology of a Compose project (for status, down and nemeses)."""
        cs = docker_client().containers.list(
            all=True, filters={"label": [LABEL, f"com.docker.compose.project={project}"]})
        if not cs:
            raise UsageError(f"no splitbrain topology named {project!r} (see 'splitbrain status')")
        kind = cs[0].labels.get(f"{LABEL}.topology", "?")
        topo = cls(kind, project, "")
        topo._load_nodes(cs)
        return topo

    def compose_file(self) -> str:
        return str(COMPOSE_DIR / f"{self.kind}.yml")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["SB_PROJECT"] = self.project
        env["SB_SUBNET"] = self.subnet
        env["SB_IMAGE"] = NODE_IMAGE
        env["SB_REDIS_CONF"] = "\n".join(_conf_line(k, v) for k, v in self.redis_conf.items())
        sentinel_lines = []
        for k, v in self.sentinel_conf.items():
            if k == "quorum":
                env["SB_QUORUM"] = v
            elif k in SENTINEL_MASTER_KEYS:
                sentinel_lines.append(f"sentinel {k} {MASTER_NAME} {v}")
            else:
                sentinel_lines.append(_conf_line(k, v))
        env["SB_SENTINEL_CONF"] = "\n".join(sentinel_lines)
        return env

    def compose(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = ["docker", "compose", "-p", self.project, "-f", self.compose_file(), *args]
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
        """Start the topology and wait until it is healthy. Returns seconds to healthy."""
        docker_client()
        require_node_image()
        t0 = time.monotonic()
        for attempt in range(3):
            self.subnet = self._free_subnet()
            proc = self.compose("up", "-d", "--no-build", check=False, timeout=180)
            if proc.returncode == 0:
                break
            if "overlap" not in proc.stderr or attempt == 2:
                self.compose("down", "-v", "--remove-orphans", check=False)
                raise EnvironmentProblem(
                    f"docker compose up failed: {' | '.join(proc.stderr.strip().splitlines()[-3:])}")
            self.compose("down", "-v", "--remove-orphans", check=False)
        self._load_nodes()
        self.wait_healthy(timeout, progress)
        return time.monotonic() - t0

    def _load_nodes(self, containers=None) -> None:
        cs = containers or docker_client().containers.list(
            all=True, filters={"label": [LABEL, f"com.docker.compose.project={self.project}"]})
        nodes = []
        for c in cs:
            service = c.labels.get("com.docker.compose.service", c.name)
            if service == "init":
                continue
            nets = c.attrs["NetworkSettings"]["Networks"]
            ip = next((n.get("IPAddress") or (n.get("IPAMConfig") or {}).get("IPv4Address")
                       for n in nets.values()), "")
            nodes.append(Node(service, ip, c))
        nodes.sort(key=lambda n: int(n.name[1:]) if n.name[1:].isdigit() else 0)
        self.nodes = nodes
        if nodes and not self.subnet:
            self.subnet = nodes[0].ip.rsplit(".", 1)[0]
        if cs and self.kind == "":
            self.kind = cs[0].labels.get(f"{LABEL}.topology", "?")

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "-t", "1", check=False)

    # ----------------------------------------------------------------- access
    @property
    def gateway(self) -> str:
        """The host's address on the topology network: where the harness's clients come from."""
        return f"{self.subnet}.1"

    def node(self, name_or_ip: str) -> Node:
        for n in self.nodes:
            if name_or_ip in (n.name, n.ip, n.addr):
                return n
        raise KeyError(name_or_ip)

    def redis(self, node: Node, port: int = 6379, timeout: float = SOCKET_TIMEOUT) -> redis.Redis:
        return redis.Redis(host=node.ip, port=port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)

    def exec(self, node: Node, cmd: list[str] | str, check: bool = False) -> tuple[int, str]:
        """Run a command inside a node (not under libfaketime). Returns (exit code, output)."""
        res = node.container.exec_run(cmd if isinstance(cmd, list) else ["sh", "-c", cmd])
        out = res.output.decode(errors="replace") if res.output else ""
        if check and res.exit_code != 0:
            raise EnvironmentProblem(f"{node.name}: {cmd} failed: {out.strip()[-300:]}")
        return res.exit_code, out

    @property
    def redis_nodes(self) -> list[Node]:
        return self.nodes

    @property
    def sentinel_nodes(self) -> list[Node]:
        return self.nodes if self.kind == "sentinel" else []

    def info(self, node: Node, section: str = "replication") -> dict[str, Any] | None:
        try:
            return self.redis(node).info(section)
        except (redis.RedisError, OSError):
            return None

    def primary(self) -> Node | None:
        """The node the deployment currently treats as primary.

        Sentinel: the address most Sentinels name; Cluster: None (many primaries);
        replicated: the node whose INFO says role:master (n1 unless changed by hand).
        """
        if self.kind == "sentinel":
            votes: dict[str, int] = {}
            for s in self.sentinel_nodes:
                try:
                    ip, _ = self.redis(s, 26379).sentinel_get_master_addr_by_name(MASTER_NAME)
                    votes[ip] = votes.get(ip, 0) + 1
                except (redis.RedisError, OSError, TypeError):
                    continue
            if votes:
                ip = max(votes, key=votes.get)
                return self.node(ip) if any(n.ip == ip for n in self.nodes) else None
            return None
        if self.kind == "replicated":
            for n in self.nodes:
                info = self.info(n)
                if info and info.get("role") == "master":
                    return n
        return None

    # ----------------------------------------------------------------- health
    def problems(self) -> list[str]:
        """What is wrong right now, one line per node; empty when healthy and converged."""
        return {"sentinel": self._sentinel_problems, "cluster": self._cluster_problems,
                "replicated": self._replicated_problems}[self.kind]()

    def _replication_problems(self, primary_ip: str) -> list[str]:
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

    def _replicated_problems(self) -> list[str]:
        return self._replication_problems(f"{self.subnet}.11")

    def _sentinel_problems(self) -> list[str]:
        out, named = [], {}
        for s in self.sentinel_nodes:
            try:
                m = self.redis(s, 26379).sentinel_master(MASTER_NAME)
            except (redis.RedisError, OSError) as e:
                out.append(f"{s.name} ({s.ip}): Sentinel does not answer ({type(e).__name__})")
                continue
            named[s.name] = m["ip"]
            if m.get("is_sdown") or m.get("is_odown"):
                out.append(f"{s.name}: Sentinel sees the primary {m['ip']} as down")
            if m.get("num-slaves") != len(self.nodes) - 1:
                out.append(f"{s.name}: Sentinel sees {m.get('num-slaves')} replicas, not {len(self.nodes) - 1}")
            if m.get("num-other-sentinels") != len(self.sentinel_nodes) - 1:
                out.append(f"{s.name}: Sentinel sees {m.get('num-other-sentinels')} other Sentinels, "
                           f"not {len(self.sentinel_nodes) - 1}")
            if m.get("flags") not in (None, "master") and not m.get("is_master"):
                out.append(f"{s.name}: Sentinel flags {m.get('flags')}")
        ips = set(named.values())
        if len(ips) > 1:
            out.append("Sentinels disagree on the primary: " +
                       ", ".join(f"{k}→{v}" for k, v in sorted(named.items())))
        elif ips:
            out += self._replication_problems(ips.pop())
        return out

    def _cluster_problems(self) -> list[str]:
        out = []
        for n in self.nodes:
            try:
                r = self.redis(n)
                info = r.cluster("INFO")
                if isinstance(info, str):
                    info = dict(l.split(":", 1) for l in info.strip().splitlines() if ":" in l)
                state = str(info.get("cluster_state"))
                slots = int(info.get("cluster_slots_ok", 0))
                if state != "ok" or slots != 16384:
                    out.append(f"{n.name} ({n.ip}): cluster_state {state}, {slots}/16384 slots ok")
            except (redis.RedisError, OSError) as e:
                out.append(f"{n.name} ({n.ip}): does not answer ({type(e).__name__})")
        if not out:
            masters, replicas_of = self.cluster_shape()
            for m_id, m_addr in masters.items():
                if not replicas_of.get(m_id):
                    out.append(f"primary {m_addr} has no replica")
        return out

    def cluster_shape(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """(primary id → address, primary id → replica addresses) from CLUSTER NODES."""
        text, last = None, None
        for n in self.nodes:  # any node that answers: one may be killed, paused or cut off
            try:
                text = self.redis(n).execute_command("CLUSTER", "NODES")
                break
            except (redis.RedisError, OSError) as e:
                last = e
        if text is None:
            raise EnvironmentProblem(f"no cluster node answers CLUSTER NODES: {last}")
        return parse_cluster_nodes(text)

    def wait_healthy(self, timeout: float, progress: Callable[[str], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        while time.monotonic() < deadline:
            problems = self.problems()
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
            for what in ("redis", "sentinel"):
                _, err = self.exec(n, ["cat", f"/data/{what}.err"])
                if "FATAL CONFIG FILE ERROR" in err or "Bad directive" in err:
                    lines = [l.strip() for l in err.splitlines() if l.strip() and not l.startswith("***")]
                    return f"{n.name}: {what} rejected its configuration: {' '.join(lines)[:300]}"
        return None

    # ----------------------------------------------------------------- status
    def status(self) -> list[dict[str, Any]]:
        rows = []
        primary = self.primary() if self.kind != "cluster" else None
        for n in self.nodes:
            n.container.reload()
            info = self.info(n) or {}
            role = info.get("role", "down")
            rows.append({"node": n.name, "address": n.ip, "container": n.container.status,
                         "role": {"master": "primary", "slave": "replica"}.get(role, role),
                         "link": info.get("master_link_status", ""),
                         "sentinel-primary": "yes" if primary is n else ""})
        return rows

    def collect_logs(self, dest: str) -> None:
        """Copy each node's Redis/Sentinel logs and INFO into dest/ (best effort)."""
        os.makedirs(dest, exist_ok=True)
        for n in self.nodes:
            for f in ("redis.log", "sentinel.log", "redis.err", "sentinel.err"):
                rc, out = self.exec(n, ["cat", f"/data/{f}"])
                if rc == 0 and out:
                    with open(os.path.join(dest, f"{n.name}-{f}"), "w") as fh:
                        fh.write(out)


def parse_cluster_nodes(text: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
    """CLUSTER NODES (raw text, or redis-py's parsed dict) → (primary id → address,
    primary id → replica addresses), leaving out failed and address-less nodes."""
    if isinstance(text, dict):
        lines = [f"{v['node_id']} {k} {v['flags']} {v['master_id']}" for k, v in text.items()]
    else:
        lines = str(text).strip().splitlines()
    masters: dict[str, str] = {}
    replicas_of: dict[str, list[str]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        node_id, addr, flags, master = parts[0], parts[1].split("@")[0], parts[2], parts[3]
        if "fail" in flags or "noaddr" in flags:
            continue
        if "master" in flags:
            masters[node_id] = addr
        elif "slave" in flags:
            replicas_of.setdefault(master, []).append(addr)
    return masters, replicas_of


def list_projects() -> dict[str, str]:
    """Compose project → topology kind, for every splitbrain container on this engine."""
    out = {}
    for c in docker_client().containers.list(all=True, filters={"label": LABEL}):
        p = c.labels.get("com.docker.compose.project")
        if p:
            out[p] = c.labels.get(f"{LABEL}.topology", "?")
    return out


def down_all() -> list[str]:
    """Remove every container, network and volume splitbrain ever made on this engine."""
    client = docker_client()
    removed = []
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        try:
            c.remove(force=True, v=True)
            removed.append(f"container {c.name}")
        except Exception:  # noqa: BLE001 - already gone
            pass
    for n in client.networks.list(filters={"label": LABEL}):
        try:
            n.remove()
            removed.append(f"network {n.name}")
        except Exception:  # noqa: BLE001
            pass
    for v in client.volumes.list(filters={"label": LABEL}):
        try:
            v.remove(force=True)
            removed.append(f"volume {v.name}")
        except Exception:  # noqa: BLE001
            pass
    return removed
