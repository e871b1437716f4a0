"""How a client process reaches Redis: one `Session` per logical process.

Every worker drives commands through an explicit connection (`Session.call`), so the
harness knows whether a command was ever sent: an error while *connecting* means Redis
never saw it (`fail`); an error after sending is uncertain (`info`); see `replies`.
Where each key's primary is, is the topology's business (`Topology.route`): Sentinel's
`master_for`, the Cluster's slot map, the fixed primary of `replicated`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from .replies import Failed, MasterNotFoundError, NotSent
from .topology import Topology

E = redis.exceptions
CONNECT_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError, asyncio.TimeoutError)
REDIRECTS = 16      # redirects followed for one command, as redis-py's cluster client (its TTL)


@dataclass
class Reply:
    value: Any          # the last command's reply
    node: str
    values: list[Any] = field(default_factory=list)   # every command's reply, in order


class ClientPauses:
    """Client stalls the nemesis asks for (a GC pause, Kleppmann's example) and the
    workers take at the points where a workload says a stall would hurt
    (`Session.pause_point`). Shared by the nemesis's thread and the workers' loop.

    `arm(extra_s)`: the next client to reach a pause point stalls for the time it names
    (e.g. what is left of its lock's lease) plus `extra_s`. `release()` ends every stall
    and disarms. Every stall taken is kept as {"process", "start", "end"} (history ns).
    """

    def __init__(self, now: Any = time.monotonic_ns):
        self._lock = threading.Lock()
        self._armed: float | None = None
        self._cancel = threading.Event()
        self.now = now
        self.taken: list[dict[str, Any]] = []

    def arm(self, extra_s: float) -> None:
        with self._lock:
            self._cancel.clear()
            self._armed = extra_s

    def release(self) -> None:
        with self._lock:
            self._armed = None
            self._cancel.set()

    def last(self) -> dict[str, Any] | None:
        with self._lock:
            return self.taken[-1] if self.taken else None

    async def pause_point(self, process: int, hint_s: float) -> float:
        """Stall here if a pause is armed: for `hint_s` + the armed extra, or until
        released. Returns the seconds stalled."""
        with self._lock:
            extra, self._armed = self._armed, None
            if extra is None:
                return 0.0
            entry = {"process": process, "start": self.now(), "end": None,
                     "planned_s": round(max(0.0, hint_s) + extra, 3)}
            self.taken.append(entry)
        t0 = time.monotonic()
        deadline = t0 + entry["planned_s"]
        while time.monotonic() < deadline and not self._cancel.is_set():
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        with self._lock:
            entry["end"] = self.now()
        return time.monotonic() - t0


class Session:
    """One logical process's connections to the deployment (asyncio: all workers share one
    event loop, which is ~2.5x the throughput of a thread per worker with redis-py)."""

    def __init__(self, topo: Topology, timeout: float, process: int = -1,
                 pauses: ClientPauses | None = None):
        self.topo = topo
        self.timeout = timeout
        self.process = process       # the logical process it serves (-1: the harness's own)
        self.pauses = pauses or ClientPauses()
        self.route = topo.route(timeout)
        self._replicas: Any = None      # made on the first read from a replica
        #: MOVED and ASK redirects followed since the worker last emptied it (per op).
        self.redirects: list[str] = []

    async def pause_point(self, hint_s: float = 0.0) -> float:
        """Where a stall of this client would hurt: takes a pause the nemesis armed."""
        return await self.pauses.pause_point(self.process, hint_s)

    def replica_route(self) -> Any:
        if self._replicas is None:
            self._replicas = self.topo.replica_route(self.timeout, self.process)
        return self._replicas

    async def call(self, key: str | None, *commands: tuple, replica: bool = False) -> Reply:
        """Send `commands` in order on one connection (so WAIT follows its write); to the
        key's primary, or with `replica` to the replica this process reads from
        (`Topology.replica_route`).

        A MULTI ... EXEC transaction goes in one write (`_transaction`); an error reply
        to a queued command aborts it at EXEC (nothing applied) and is raised.

        Returns the replies (`value` is the last). Raises NotSent if no connection could be made, a redis-py
        error otherwise (an error reply is tagged with its command as `sb_command`).
        Redirects mean the command was not applied, and are followed as redis-py's cluster
        client follows them, up to `REDIRECTS` in a row: MOVED refreshes the slot map and
        retries on the node named; ASK (the key's slot is being migrated and the key has
        left) retries on the node named after ASKING, without touching the map. Each is
        appended to `redirects`.
        """
        route = self.replica_route() if replica else self.route
        sent_to: tuple[str, int] | None = None     # where the last redirect named
        asking = False
        for attempt in range(REDIRECTS + 1):
            pool = await (route.pool_at(sent_to) if sent_to else route.pool(key))
            try:
                conn = await pool.get_connection()
            except (*CONNECT_ERRORS, *MasterNotFoundError) as e:
                route.after_error()
                raise NotSent(f"{type(e).__name__}: {e}") from None
            node = f"{conn.host}:{conn.port}"
            try:
                if asking:
                    # ASKING lets the importing node serve the next command (the whole
                    # MULTI block, which keeps the flag until EXEC) for a slot it does not own yet.
                    await conn.send_command("ASKING")
                    await conn.read_response()
                if commands and commands[0][0] == "MULTI":
                    replies = await self._transaction(conn, commands)
                else:
                    replies = []
                    for cmd in commands:
                        await conn.send_command(*cmd)
                        try:
                            replies.append(await conn.read_response())
                        except redis.ResponseError as e:
                            e.sb_command = cmd[0]
                            raise
                return Reply(replies[-1] if replies else None, node, replies)
            except redis.ResponseError as e:
                # MovedError is a subclass of AskError in redis-py: MOVED is tested first.
                if attempt < REDIRECTS and isinstance(e, E.MovedError) and await route.after_moved():
                    self.redirects.append("moved")
                    # Straight to the node MOVED names, as redis-py does: the map's refresh
                    # is at most once a second, and a slot on the move may be newer than it.
                    sent_to = e.node_addr if await route.pool_at(e.node_addr) is not None else None
                    asking = False
                    continue
                if attempt < REDIRECTS and isinstance(e, E.AskError) and await route.pool_at(e.node_addr) is not None:
                    self.redirects.append("ask")
                    sent_to, asking = e.node_addr, True
                    continue
                raise
            except CONNECT_ERRORS as e:
                await conn.disconnect()
                route.after_error()
                # redis-py's Sentinel connection turns a READONLY reply into this error:
                # the old primary refused the write, so it definitely did not apply.
                if "previous master is now a slave" in str(e):
                    raise Failed(f"READONLY from {node}") from None
                raise
            finally:
                await pool.release(conn)
        raise AssertionError("unreachable")

    @staticmethod
    async def _transaction(conn: Any, commands: tuple) -> list[Any]:
        """MULTI ... EXEC (and what follows it) sent in one write, the replies read after:
        one round trip instead of one per command. A queued command that Redis refuses
        (MOVED, READONLY, ...) makes EXEC answer EXECABORT, so nothing applied and the
        connection has left MULTI; the first error is raised."""
        await conn.send_packed_command(conn.pack_commands(commands))
        replies, first = [], None
        for cmd in commands:
            try:
                replies.append(await conn.read_response())
            except redis.ResponseError as e:
                e.sb_command = cmd[0]
                replies.append(e)
                first = first or e
        if first is not None:
            raise first
        return replies

    async def close(self) -> None:
        await self.route.close()
        if self._replicas is not None:
            await self._replicas.close()
