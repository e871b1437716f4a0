"""How clients reach Redis, and what each reply or error means for the history.

Every worker drives commands through an explicit connection (`Session.call`), so the
harness knows whether a command was ever sent: an error while *connecting* means Redis
never saw it (`fail`); an error after sending is uncertain (`info`). redis-py's own retries
are switched off, because a silent retry would turn one op into two.

Discovery is the realistic one for each topology: Sentinel's `master_for`, `RedisCluster`'s
slot map, the fixed primary address for `replicated`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AioSentinel
from redis.asyncio.sentinel import MasterNotFoundError as AioMasterNotFoundError
from redis.sentinel import MasterNotFoundError as SyncMasterNotFoundError

from .topology import MASTER_NAME, Topology

E = redis.exceptions
MasterNotFoundError = (SyncMasterNotFoundError, AioMasterNotFoundError)
# Replies that prove the command was not applied. redis-py maps most of them to classes and
# strips the code from the message (a MovedError's text is "3999 10.0.0.1:6379"), so they
# are recognised by class; the rest (NOREPLICAS, ...) by the code that starts the message.
DEFINITE_FAILURE_CLASSES = (E.MovedError, E.AskError, E.TryAgainError, E.ClusterDownError,
                            E.ReadOnlyError, E.NoScriptError, E.ExecAbortError, E.BusyLoadingError,
                            E.ClusterCrossSlotError, E.NoPermissionError, E.OutOfMemoryError)
DEFINITE_FAILURE_CODES = ("NOREPLICAS", "WRONGTYPE", "ERR")


class NotSent(Exception):
    """The command never reached Redis (no connection could be made): the op failed."""


class Indeterminate(Exception):
    """The command may or may not have taken effect (e.g. WAIT saw too few replicas)."""


class Failed(Exception):
    """The command definitely did not take effect, for a workload-level reason."""


def no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def classify(exc: BaseException) -> tuple[str, str]:
    """(completion type, short error text) for an exception raised by an op."""
    text = f"{type(exc).__name__}: {exc}"[:200]
    if isinstance(exc, (NotSent, Failed, *DEFINITE_FAILURE_CLASSES)):
        return "fail", text
    if isinstance(exc, redis.ResponseError):
        code = str(exc).split(" ", 1)[0].upper()
        return ("fail" if code in DEFINITE_FAILURE_CODES else "info"), text
    if isinstance(exc, (*MasterNotFoundError, redis.exceptions.ClusterDownError,
                        redis.exceptions.SlotNotCoveredError)):
        return "fail", text
    return "info", text


@dataclass
class Reply:
    value: Any
    node: str


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


class Session:
    """One logical process's connections to the deployment (asyncio: all workers share one
    event loop, which is ~2.5x the throughput of a thread per worker with redis-py)."""

    def __init__(self, topo: Topology, timeout: float):
        self.topo = topo
        self.timeout = timeout
        self._kw = dict(socket_timeout=timeout, socket_connect_timeout=timeout, retry=no_retry(),
                        decode_responses=True)
        self._router: ClusterRouter | None = None
        self._pools: dict[tuple[str, int], aioredis.ConnectionPool] = {}
        self._pool = None
        if topo.kind == "sentinel":
            sentinel = AioSentinel([(n.ip, 26379) for n in topo.sentinel_nodes],
                                   sentinel_kwargs=dict(socket_timeout=timeout, socket_connect_timeout=timeout,
                                                        retry=no_retry()), **self._kw)
            self._pool = sentinel.master_for(MASTER_NAME, **self._kw).connection_pool
        elif topo.kind == "cluster":
            self._router = ClusterRouter.for_topology(topo, timeout)
        else:
            self._pool = aioredis.ConnectionPool(host=topo.nodes[0].ip, port=6379, **self._kw)

    async def _pool_for(self, key: str | None):
        if self._router is None:
            return self._pool
        if self._router.rc is None:
            await asyncio.to_thread(self._router.build)
        addr = self._router.address_for(key)
        pool = self._pools.get(addr)
        if pool is None:
            pool = self._pools[addr] = aioredis.ConnectionPool(host=addr[0], port=addr[1], **self._kw)
        return pool

    def _refresh(self, force: bool = False) -> None:
        if self._router is not None:
            # Fire and forget: the workers keep routing on the old map meanwhile.
            asyncio.get_running_loop().run_in_executor(None, self._router.refresh, force)

    async def call(self, key: str | None, *commands: tuple) -> Reply:
        """Send `commands` in order on one connection (so WAIT follows its write).

        Returns the last reply. Raises NotSent if no connection could be made, a redis-py
        error otherwise. Cluster MOVED replies refresh the slot map and are retried: MOVED
        means the command was not applied.
        """
        for attempt in range(3):
            pool = await self._pool_for(key)
            try:
                conn = await pool.get_connection()
            except (redis.ConnectionError, redis.TimeoutError, OSError, *MasterNotFoundError,
                    asyncio.TimeoutError) as e:
                self._refresh()
                raise NotSent(f"{type(e).__name__}: {e}") from None
            node = f"{conn.host}:{conn.port}"
            try:
                reply = None
                for cmd in commands:
                    await conn.send_command(*cmd)
                    reply = await conn.read_response()
                return Reply(reply, node)
            except redis.ResponseError as e:
                if isinstance(e, (E.MovedError, E.AskError)) and attempt < 2 and self._router:
                    await asyncio.to_thread(self._router.refresh, True)
                    continue
                raise
            except (redis.ConnectionError, redis.TimeoutError, OSError, asyncio.TimeoutError) as e:
                await conn.disconnect()
                self._refresh()
                # redis-py's Sentinel connection turns a READONLY reply into this error:
                # the old primary refused the write, so it definitely did not apply.
                if "previous master is now a slave" in str(e):
                    raise Failed(f"READONLY from {node}") from None
                raise
            finally:
                await pool.release(conn)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for pool in [self._pool, *self._pools.values()]:
            if pool is not None:
                try:
                    await pool.disconnect()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
