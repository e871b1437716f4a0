"""The locking code the `lock` workload tests (`--lock-impl`), behind one small interface:
`acquire` once without blocking (a Grant, or None when another client holds the lock)
and `release`. Each names the node(s) that granted the lock and the lease it computed.

* `redis-py`: redis-py's own `Lock` (SET NX PX with a random token, Lua release), on the
  key's primary as the topology routes to it: what most Python services use.
* `redlock`: pottery's Redlock (`AIORedlock`, its asyncio form) over every node of the
  `independent` topology: a majority of five standalone primaries.
  pottery is the maintained Redlock on PyPI (3.0.1, 2025; redlock-py and redlock were last
  released in 2015-2018); it does not return the validity time it computed, so it is
  computed here from the Redlock description's drift allowance.
* `fenced`: one Lua script, SET NX PX plus INCR of the lock's token counter, written here
  because no library offers fencing tokens; release deletes the key if it still holds
  the grant's value.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import redis
import redis.asyncio as aioredis
from ..errors import UsageError
from ..replies import Failed
from ..topology.routes import client_kwargs

# pottery logs every master's error at ERROR level; Python's last-resort handler would
# print them under the progress line. The history keeps what matters.
logging.getLogger("pottery").addHandler(logging.NullHandler())
logging.getLogger("pottery").propagate = False

#: Redlock's allowance for clock drift between the client and the masters: 1 % of the
#: lease plus 2 ms (the algorithm's description; pottery uses the same).
DRIFT_FACTOR, DRIFT_MIN_S = 0.01, 0.002


@dataclass
class Grant:
    """A lock a client holds: what goes into the history, plus the handle to release it."""

    lease_ms: int
    validity_ms: float          # from the start of the acquire, as the client computes it
    granted_by: list[str]
    token: int | None = None
    handle: Any = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"lease_ms": self.lease_ms, "validity_ms": round(self.validity_ms, 1),
                "granted_by": self.granted_by, "token": self.token}


def lock_key(name: str) -> str:
    # One hash tag for the lock and its token counter: one Cluster slot, one script.
    return "{lock:" + name + "}"


class LockImpl(ABC):
    name: ClassVar[str] = ""
    #: Gives fencing tokens (what --fencing needs).
    tokens: ClassVar[bool] = False
    #: The topologies it runs on (None: any).
    topologies: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, topo: Any, timeout: float):
        self.topo = topo
        self.timeout = timeout

    @abstractmethod
    async def acquire(self, session: Any, name: str, lease_s: float) -> Grant | None:
        """One attempt, not blocking: a Grant, or None if another client holds it."""

    @abstractmethod
    async def release(self, session: Any, grant: Grant) -> bool:
        """Give it back: False if it was no longer held under this grant."""


# ------------------------------------------------------------------ redis-py's Lock

class RedisPyLock(LockImpl):
    name = "redis-py"

    async def acquire(self, session: Any, name: str, lease_s: float) -> Grant | None:
        key = lock_key(name)
        # One connection for the whole hold, as a service keeps its client: the node it
        # reached is the node that granted the lock.
        client = aioredis.Redis(connection_pool=await session.route.pool(key), single_connection_client=True)
        lock = client.lock(key, timeout=lease_s, blocking=False, thread_local=False)
        try:
            got = await lock.acquire(blocking=False)
        except redis.ResponseError as e:
            await client.aclose()
            if isinstance(e, (redis.exceptions.MovedError, redis.exceptions.AskError)):
                await session.route.after_moved()
            raise
        except BaseException:
            await client.aclose()
            session.route.after_error()
            raise
        conn = client.connection
        node = f"{conn.host}:{conn.port}" if conn is not None else "?"
        if not got:
            await client.aclose()
            return None
        # redis-py's Lock keeps no validity of its own: the lease counts from the request.
        return Grant(int(lease_s * 1000), lease_s * 1000, [node], handle=(client, lock))

    async def release(self, session: Any, grant: Grant) -> bool:
        client, lock = grant.handle
        try:
            await lock.release()
            return True
        except redis.exceptions.LockNotOwnedError:
            return False
        finally:
            await client.aclose()


# ------------------------------------------------------------------ fenced (written here)

FENCED_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
"""
FENCED_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class FencedLock(LockImpl):
    name = "fenced"
    tokens = True

    async def acquire(self, session: Any, name: str, lease_s: float) -> Grant | None:
        key, value = lock_key(name), secrets.token_hex(8)
        reply = await session.call(key, ("EVAL", FENCED_ACQUIRE, 2, key, key + ":token", value,
                                         int(lease_s * 1000)))
        if reply.value is None:
            return None
        return Grant(int(lease_s * 1000), lease_s * 1000, [reply.node], int(reply.value), (key, value))

    async def release(self, session: Any, grant: Grant) -> bool:
        key, value = grant.handle
        reply = await session.call(key, ("EVAL", FENCED_RELEASE, 1, key, value))
        return bool(reply.value)


# ------------------------------------------------------------------ Redlock (pottery)

class PotteryRedlock(LockImpl):
    name = "redlock"
    topologies = ("independent",)

    def __init__(self, topo: Any, timeout: float):
        super().__init__(topo, timeout)
        self.masters: dict[str, Any] = {}      # made in the workers' event loop, on first use

    def _masters(self) -> dict[str, Any]:
        if not self.masters:
            self.masters = {n.name: aioredis.Redis(host=n.ip, **client_kwargs(self.timeout))
                            for n in self.topo.nodes}
        return self.masters

    async def acquire(self, session: Any, name: str, lease_s: float) -> Grant | None:
        from pottery import AIORedlock, QuorumIsImpossible   # imported where used: ~0.3 s
        masters = self._masters()
        lock = AIORedlock(key=lock_key(name), masters=set(masters.values()), auto_release_time=lease_s,
                          raise_on_redis_errors=True)
        try:
            got = await lock.acquire(blocking=False)
        except QuorumIsImpossible as e:
            raise Failed(f"quorum impossible: {len(e.redis_errors)} masters failed") from None
        if not got:
            return None
        validity_s = lease_s - lease_s * DRIFT_FACTOR - DRIFT_MIN_S
        # Which masters hold this grant (pottery does not say): asked right after, so a
        # master that lost it since (a clock jump) is not named.
        values = await asyncio.gather(*(c.get(lock.key) for c in masters.values()), return_exceptions=True)
        holders = [node for node, v in zip(masters, values) if v == lock._uuid]   # noqa: SLF001 - observing only
        return Grant(int(lease_s * 1000), validity_s * 1000, holders, handle=lock)

    async def release(self, session: Any, grant: Grant) -> bool:
        from pottery import QuorumIsImpossible, ReleaseUnlockedLock
        try:
            await grant.handle.release()
            return True
        except ReleaseUnlockedLock:
            return False
        except QuorumIsImpossible as e:
            raise Failed(f"quorum impossible: {len(e.redis_errors)} masters failed") from None


LOCK_IMPLS: dict[str, type[LockImpl]] = {c.name: c for c in (RedisPyLock, PotteryRedlock, FencedLock)}


def lock_impl_class(name: str, topology: str, fencing: bool) -> type[LockImpl]:
    """The implementation --lock-impl names, refused (UsageError) where it cannot run."""
    cls = LOCK_IMPLS.get(name)
    if cls is None:
        raise UsageError(f"--lock-impl {name!r}: choose from {', '.join(LOCK_IMPLS)}")
    if cls.topologies and topology not in cls.topologies:
        raise UsageError(f"--lock-impl {name} runs on --topology {' or '.join(cls.topologies)}, "
                         f"not {topology}")
    if fencing and not cls.tokens:
        raise UsageError(f"--fencing needs a lock that gives fencing tokens (--lock-impl "
                         f"{', '.join(n for n, c in LOCK_IMPLS.items() if c.tokens)}): {name} gives none")
    return cls
