"""How clients reach Redis, and what each reply or error means for the history.

Every worker drives commands through an explicit connection (`Session.call`), so the
harness knows whether a command was ever sent: an error while *connecting* means Redis
never saw it (`fail`); an error after sending is uncertain (`info`). redis-py's own retries
are switched off, because a silent retry would turn one op into two.

Discovery is the realistic one for each topology: Sentinel's `master_for`, `RedisCluster`'s
slot map, the fixed primary address for `replicated`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from .topology import MASTER_NAME, Topology

E = redis.exceptions
# Replies that prove the command was not applied. redis-py maps most of them to classes and
# strips the code from the message (a MovedError's text is "3999 10.0.0.1:6379"), so they
# are recognised by class; the rest (NOREPLICAS, ...) by the code that starts the message.
DEFINITE_FAILURE_CLASSES = (E.MovedError, E.AskError, E.TryAgainError, E.ClusterDownError,
                            E.ReadOnlyError, E.NoScriptError, E.ExecAbortError, E.BusyLoadingError,
                            E.ClusterCrossSlotError, E.NoPermissionError, E.OutOfMemoryError)
DEFINITE_FAILURE_CODES = ("NOREPLICAS", "READONLY", "CLUSTERDOWN", "MOVED", "ASK", "TRYAGAIN",
                          "MASTERDOWN", "LOADING", "NOSCRIPT", "EXECABORT", "WRONGTYPE", "ERR", "OOM")


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
    if isinstance(exc, (MasterNotFoundError, redis.exceptions.ClusterDownError,
                        redis.exceptions.SlotNotCoveredError)):
        return "fail", text
    return "info", text


@dataclass
class Reply:
    value: Any
    node: str


class ClusterRouter:
    """One slot map per topology, shared by every session (as one application shares its
    RedisCluster): built once, refreshed after MOVED or connection errors, at most once a
    second, by whichever worker notices first; the others keep routing on the old map."""

    _routers: dict[str, "ClusterRouter"] = {}
    _lock = threading.Lock()

    def __init__(self, topo: Topology, kw: dict):
        self.topo, self.kw = topo, kw
        self.rc: RedisCluster | None = None
        self.refreshed = 0.0
        self.lock = threading.Lock()

    @classmethod
    def for_topology(cls, topo: Topology, kw: dict) -> "ClusterRouter":
        with cls._lock:
            r = cls._routers.get(topo.project)
            if r is None:
                r = cls._routers[topo.project] = cls(topo, kw)
            return r

    def pool_for(self, key: str | None):
        with self.lock:
            if self.rc is None:
                try:
                    self.rc = RedisCluster(
                        startup_nodes=[ClusterNode(n.ip, 6379) for n in self.topo.nodes],
                        cluster_error_retry_attempts=0, require_full_coverage=False, **self.kw)
                except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as e:
                    raise NotSent(f"no cluster slot map: {e}") from None
                self.refreshed = time.monotonic()
            rc = self.rc
        try:
            node = rc.get_node_from_key(key) if key is not None else rc.get_random_node()
        except (redis.RedisError, redis.exceptions.RedisClusterException) as e:
            self.refresh()
            raise NotSent(str(e)) from None
        if node.redis_connection is None:
            rc.nodes_manager.create_redis_connections([node])
        return node.redis_connection.connection_pool

    def refresh(self) -> None:
        if time.monotonic() - self.refreshed < 1.0 or not self.lock.acquire(blocking=False):
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
    """One logical process's connection(s) to the deployment."""

    def __init__(self, topo: Topology, timeout: float):
        self.topo = topo
        self.timeout = timeout
        kw = dict(socket_timeout=timeout, socket_connect_timeout=timeout, retry=no_retry(),
                  decode_responses=True)
        self._router: ClusterRouter | None = None
        self._pool = None
        if topo.kind == "sentinel":
            sentinel = Sentinel([(n.ip, 26379) for n in topo.sentinel_nodes],
                                sentinel_kwargs=dict(socket_timeout=timeout, socket_connect_timeout=timeout,
                                                     retry=no_retry()), **kw)
            self._pool = sentinel.master_for(MASTER_NAME, **kw).connection_pool
        elif topo.kind == "cluster":
            self._router = ClusterRouter.for_topology(topo, kw)
        else:
            self._pool = redis.ConnectionPool(host=topo.nodes[0].ip, port=6379, **kw)

    def _pool_for(self, key: str | None):
        return self._router.pool_for(key) if self._router else self._pool

    def call(self, key: str | None, *commands: tuple) -> Reply:
        """Send `commands` in order on one connection (so WAIT follows its write).

        Returns the last reply. Raises NotSent if no connection could be made, a redis-py
        error otherwise. Cluster MOVED replies refresh the slot map and are retried: MOVED
        means the command was not applied.
        """
        for attempt in range(3):
            pool = self._pool_for(key)
            try:
                conn = pool.get_connection()
            except (redis.ConnectionError, redis.TimeoutError, OSError, MasterNotFoundError) as e:
                self._refresh()
                raise NotSent(f"{type(e).__name__}: {e}") from None
            node = f"{conn.host}:{conn.port}"
            try:
                reply = None
                for cmd in commands:
                    conn.send_command(*cmd)
                    reply = conn.read_response()
                return Reply(reply, node)
            except redis.ResponseError as e:
                if isinstance(e, (E.MovedError, E.AskError)) and attempt < 2 and self._router:
                    self._router.refreshed = 0.0
                    self._refresh()
                    continue
                raise
            except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
                conn.disconnect()
                self._refresh()
                # redis-py's Sentinel connection turns a READONLY reply into this error:
                # the old primary refused the write, so it definitely did not apply.
                if "previous master is now a slave" in str(e):
                    raise Failed(f"READONLY from {node}") from None
                raise
            finally:
                pool.release(conn)
        raise AssertionError("unreachable")

    def _refresh(self) -> None:
        if self._router:
            self._router.refresh()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.disconnect()
