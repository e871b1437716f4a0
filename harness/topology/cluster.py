"""`cluster`: 6 nodes, 3 primaries with a replica each. Clients route by a slot map, as
redis-py's RedisCluster does, shared by every session of a run."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.cluster import ClusterNode, RedisCluster

from ..errors import EnvironmentProblem
from ..replies import NotSent
from .base import Node, Route, Topology
from .routes import client_kwargs, no_retry

E = redis.exceptions
CLUSTER_FAILOVER_MODES = ("", "FORCE", "TAKEOVER")


def parse_cluster_nodes(text: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
    """CLUSTER NODES (raw text, or redis-py's parsed dict) → (primary id → address,
    primary id → replica addresses), leaving out failed, suspected (`fail?`) and
    address-less nodes."""
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
        node_id, addr, master = parts[0], parts[1].split("@")[0], parts[3]
        flags = set(parts[2].split(","))
        if flags & {"fail", "fail?", "noaddr"}:    # failed, or suspected by this node (fail?)
            continue
        if "master" in flags:
            masters[node_id] = addr
        elif "slave" in flags:
            replicas_of.setdefault(master, []).append(addr)
    return masters, replicas_of


class ClusterRouter:
    """One slot map per topology, shared by every session (as one application shares its
    cluster client): built once, refreshed after MOVED or connection errors, at most once a
    second, by whichever worker notices first; the others keep routing on the old map.

    It is redis-py's synchronous RedisCluster used only as a slot map: lookups are pure
    computation; building and refreshing talk to the network and run in a worker thread,
    never on the event loop.
    """

    _routers: dict[str, "ClusterRouter"] = {}
    _lock = threading.Lock()

    def __init__(self, topo: Topology, timeout: float):
        self.topo = topo
        self.kw = dict(socket_timeout=timeout, socket_connect_timeout=timeout, retry=no_retry())
        self.rc: RedisCluster | None = None
        self.refreshed = 0.0
        self.lock = threading.Lock()

    @classmethod
    def for_topology(cls, topo: Topology, timeout: float) -> "ClusterRouter":
        with cls._lock:
            r = cls._routers.get(topo.project)
            if r is None:
                r = cls._routers[topo.project] = cls(topo, timeout)
            return r

    def build(self) -> None:
        """Blocking: make the slot map if there is none yet."""
        with self.lock:
            if self.rc is None:
                try:
                    self.rc = RedisCluster(
                        startup_nodes=[ClusterNode(n.ip, 6379) for n in self.topo.nodes],
                        cluster_error_retry_attempts=0, require_full_coverage=False, **self.kw)
                except (redis.RedisError, E.RedisClusterException, OSError) as e:
                    raise NotSent(f"no cluster slot map: {e}") from None
                self.refreshed = time.monotonic()

    def address_for(self, key: str | None) -> tuple[str, int]:
        rc = self.rc
        if rc is None:
            raise NotSent("no cluster slot map yet")
        try:
            node = rc.get_node_from_key(key) if key is not None else rc.get_random_node()
        except (redis.RedisError, E.RedisClusterException) as e:
            raise NotSent(str(e)) from None
        return node.host, node.port

    def replica_address_for(self, key: str, pick: int) -> tuple[str, int, bool]:
        """The `pick`-th replica (modulo) of the key's slot in the map, or its primary if
        the map knows no replica (as redis-py's read_from_replicas falls back); and whether
        it is a replica."""
        rc = self.rc
        if rc is None:
            raise NotSent("no cluster slot map yet")
        nodes = rc.nodes_manager.slots_cache.get(rc.keyslot(key)) or []
        if not nodes:
            raise NotSent(f"no node serves the slot of {key!r} in the slot map")
        node = nodes[1:][pick % (len(nodes) - 1)] if len(nodes) > 1 else nodes[0]
        return node.host, node.port, len(nodes) > 1

    def refresh(self, force: bool = False) -> None:
        """Blocking: re-read the slot map (at most once a second unless forced)."""
        if (not force and time.monotonic() - self.refreshed < 1.0) or not self.lock.acquire(blocking=False):
            return
        try:
            if self.rc is not None:
                self.rc.nodes_manager.initialize()
        except Exception:  # noqa: BLE001 - keep routing on the old map
            pass
        finally:
            self.refreshed = time.monotonic()
            self.lock.release()


async def _readonly_on_connect(conn: Any) -> None:
    """A new connection to a replica: READONLY, or the replica answers MOVED."""
    await conn.on_connect()
    await conn.send_command("READONLY")
    await conn.read_response()


class ClusterRoute(Route):
    """A session's pools, one per node address, chosen by the shared slot map: to each
    key's primary, or with `replica` to one of its replicas (`pick`-th), READONLY."""

    def __init__(self, router: ClusterRouter, timeout: float, replica: bool = False, pick: int = 0):
        self.router = router
        self.kw = client_kwargs(timeout)
        if replica:
            self.kw["redis_connect_func"] = _readonly_on_connect
        self.replica, self.pick = replica, pick
        self.pools: dict[tuple[str, int], Any] = {}

    async def pool(self, key: str | None) -> Any:
        if self.router.rc is None:
            await asyncio.to_thread(self.router.build)
        if self.replica and key is not None:
            host, port, is_replica = self.router.replica_address_for(key, self.pick)
            addr = (host, port)
            if not is_replica:
                # CLUSTER SLOTS leaves out a replica until it has replicated something, so a
                # map made on a fresh cluster lists none: read it again (at most once a second).
                self.after_error()
        else:
            addr = self.router.address_for(key)
        return await self.pool_at(addr)

    async def pool_at(self, addr: tuple[str, int]) -> Any:
        pool = self.pools.get(addr)
        if pool is None:
            pool = self.pools[addr] = aioredis.ConnectionPool(host=addr[0], port=addr[1], **self.kw)
        return pool

    def after_error(self, force: bool = False) -> None:
        # Fire and forget: the workers keep routing on the old map meanwhile.
        asyncio.get_running_loop().run_in_executor(None, self.router.refresh, force)

    async def after_moved(self) -> bool:
        await asyncio.to_thread(self.router.refresh, True)
        return True

    async def close(self) -> None:
        for pool in self.pools.values():
            try:
                await pool.disconnect()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


class ClusterTopology(Topology):
    kind = "cluster"

    def shape(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """(primary id → address, primary id → replica addresses) from the first node that
        answers CLUSTER NODES (over the network or inside the node: some may be killed,
        paused or cut off); empty if none does."""
        for node in self.nodes:
            try:
                text = self.call(node, "CLUSTER", "NODES", timeout=0.5)
            except Exception:  # noqa: BLE001 - ask the next node
                continue
            return parse_cluster_nodes(text)
        return {}, {}

    def primaries(self) -> list[Node]:
        masters, _ = self.shape()
        return [self.node(a) for a in sorted(masters.values()) if any(n.addr == a for n in self.nodes)]

    def route(self, timeout: float) -> Route:
        return ClusterRoute(ClusterRouter.for_topology(self, timeout), timeout)

    def replica_route(self, timeout: float, process: int) -> Route:
        return ClusterRoute(ClusterRouter.for_topology(self, timeout), timeout, replica=True, pick=process)

    def replica_reader(self, node: Node, timeout: float = 2.0) -> redis.Redis:
        r = self.redis(node, timeout=timeout)
        r.execute_command("READONLY")
        return r

    def failover(self, rng: Any) -> dict[str, Any]:
        """`CLUSTER FAILOVER [FORCE|TAKEOVER]` on a random replica; the mode is random: plain
        (coordinated with the primary), FORCE (without its agreement) or TAKEOVER (without
        the cluster's either, bumping the epoch alone)."""
        _, replicas_of = self.shape()
        replicas = sorted(a for addrs in replicas_of.values() for a in addrs)
        if not replicas:
            return {"via": "cluster", "skipped": "no replica in the cluster"}
        node = self.node(rng.choice(replicas))
        mode = rng.choice(CLUSTER_FAILOVER_MODES)
        done: dict[str, Any] = {"via": "cluster", "replica": node.name, "mode": mode or "plain"}
        try:
            done["reply"] = str(self.call(node, "CLUSTER", "FAILOVER", *([mode] if mode else [])))
        except Exception as e:  # noqa: BLE001 - recorded; the schedule goes on
            done["error"] = str(e)[:200]
        return done

    def problems(self) -> list[str]:
        out = []
        for n in self.nodes:
            try:
                info = self.redis(n).cluster("INFO")
                if isinstance(info, str):
                    info = dict(l.split(":", 1) for l in info.strip().splitlines() if ":" in l)
                state = str(info.get("cluster_state"))
                slots = int(info.get("cluster_slots_ok", 0))
                if state != "ok" or slots != 16384:
                    out.append(f"{n.name} ({n.ip}): cluster_state {state}, {slots}/16384 slots ok")
            except (redis.RedisError, OSError) as e:
                out.append(f"{n.name} ({n.ip}): does not answer ({type(e).__name__})")
        if not out:
            masters, replicas_of = self.shape()
            if not masters:
                raise EnvironmentProblem("no cluster node answers CLUSTER NODES")
            for m_id, m_addr in masters.items():
                if not replicas_of.get(m_id):
                    out.append(f"primary {m_addr} has no replica")
        return out
