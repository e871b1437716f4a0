"""`queue`: Redis Streams as a job queue, one consumer group per stream.

Even processes produce, odd ones consume, each on a random stream of `q0..qN`. Producers
`XADD` unique payloads (`{"f": "enqueue", "key": q, "value": payload}`, ok value the entry
id). Consumers read one entry at a time with `XREADGROUP ... COUNT 1 ... >` as consumer
`p<process>` (`{"f": "dequeue", "key": q, "value": None}`, ok value the `[id, payload]`
pairs delivered), and the same process's next op acknowledges them
(`{"f": "ack", "key": q, "value": [[id, payload], ...]}`, `XACK`, ok value how many XACK
acknowledged). A consumer spends two ops per message and a producer one, so a backlog
builds up as in a queue whose workers fall behind: what a failover can lose is what is
waiting in it, not only what is in flight. Keeping delivery and acknowledgement apart in the history is what lets the
checker tell a redelivery *before* an acknowledged XACK (at-least-once: allowed) from one
*after* it (the group's state rolled back). A process that ends in `info` never acks what
it held: those entries stay pending, as with a crashed consumer.

A consumer that gets NOGROUP (the stream, or its group, is gone: e.g. created on a primary
that lost it in a failover) creates the group from the stream's start, as a consumer
would, and that dequeue fails. With `--wait N:MS`, `WAIT` follows each XADD and XACK.

After healing, the drain reads what the primary holds: every entry (`XRANGE`), everything
never delivered (`XREADGROUP >` as consumer `drain`), everything pending (`XAUTOCLAIM`).
Judged by `QueueChecker`.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from typing import Any

import redis

from ..checkers.queue import QueueChecker
from ..clients import Session
from ..replies import Failed, Indeterminate
from ..roles import Checker, Workload
from .reads import read_everywhere

GROUP = "g"
BATCH = 1                  # entries per XREADGROUP
DRAIN_BATCH = 1000


def _entries(reply: Any) -> list[list[Any]]:
    """XREADGROUP's reply ({stream: [[id, [field, value, ...]], ...]} in RESP3, redis-py's
    default; [[stream, entries], ...] in RESP2; nil when nothing is new) → [[id, payload]]."""
    pairs = reply.items() if isinstance(reply, dict) else reply or []
    return [e for _stream, items in pairs for e in _entry_list(items)]


def _payload(fields: Any) -> Any:
    fields = fields or []
    return dict(zip(fields[::2], fields[1::2])).get("payload")


def _entry_list(reply: Any) -> list[list[Any]]:
    """An entry list ([[id, [field, value, ...]], ...]) → [[id, payload]] (payload None for
    an entry deleted while pending)."""
    return [[e[0], _payload(e[1])] for e in reply or [] if e]


class QueueWorkload(Workload):
    name = "queue"

    def __init__(self, spec, topology, rng: random.Random):
        super().__init__(spec, topology, random.Random(rng.random()))
        self.keys = [f"q{i}" for i in range(spec.keys)]
        self.sent = 0
        self.unacked: dict[int, list[tuple[str, list]]] = defaultdict(list)

    def checkers(self) -> list[Checker]:
        return [QueueChecker()]

    def next_op(self, process: int) -> dict[str, Any]:
        held = self.unacked.get(process)
        if held:
            key, entries = held.pop(0)
            return {"f": "ack", "key": key, "value": entries}
        key = self.keys[self.rng.randrange(len(self.keys))]
        if process % 2 == 0:
            self.sent += 1
            return {"f": "enqueue", "key": key, "value": f"m{self.sent}"}
        return {"f": "dequeue", "key": key, "value": None}

    def _with_wait(self, cmd: tuple) -> list[tuple]:
        return [cmd, ("WAIT", *self.spec.wait)] if self.spec.wait else [cmd]

    def _check_wait(self, reply: Any) -> None:
        if self.spec.wait and int(reply.value) < self.spec.wait[0]:
            raise Indeterminate(f"WAIT: {reply.value} of {self.spec.wait[0]} replicas acknowledged")

    async def apply(self, session: Session, op: dict[str, Any]) -> tuple[Any, str]:
        key, f = op["key"], op["f"]
        if f == "enqueue":
            reply = await session.call(key, *self._with_wait(("XADD", key, "*", "payload", op["value"])))
            self._check_wait(reply)
            return reply.values[0], reply.node
        if f == "ack":
            ids = [e[0] for e in op["value"]]
            reply = await self._no_group(session, key, self._with_wait(("XACK", key, GROUP, *ids)))
            self._check_wait(reply)
            return int(reply.values[0]), reply.node
        cmd = ("XREADGROUP", "GROUP", GROUP, f"p{session.process}", "COUNT", BATCH, "STREAMS", key, ">")
        reply = await self._no_group(session, key, [cmd])
        got = _entries(reply.value)
        if got:
            self.unacked[session.process].append((key, got))
        return got, reply.node

    async def _no_group(self, session: Session, key: str, cmds: list[tuple]) -> Any:
        try:
            return await session.call(key, *cmds)
        except redis.ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
        # The stream or its group is gone: make the group (from the stream's start, so
        # nothing already in it is skipped), as a consumer would. This op did nothing.
        try:
            await session.call(key, ("XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM"))
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        raise Failed(f"NOGROUP on {key}: created consumer group {GROUP}")

    # ------------------------------------------------------------ final reads
    def final_reads(self) -> dict[str, Any]:
        out = read_everywhere(self.topo, self.keys, "XLEN", int, "lengths")
        for node in out["nodes"].values():
            if "lengths" in node:
                node["streams"] = {k: {"length": n} for k, n in node.pop("lengths").items()}
        out["primary"] = asyncio.run(self._drain())
        return out

    async def _drain(self, attempts: int = 20) -> dict[str, Any]:
        """Everything each stream holds and the group still owes, from the primary.
        Retried whole: entries a failed attempt delivered are pending, so claimed again."""
        last = None
        for _ in range(attempts):
            session = Session(self.topo, timeout=2.0)
            try:
                streams, where = {}, set()
                for key in self.keys:
                    streams[key] = await self._drain_stream(session, key, where)
                return {"node": ",".join(sorted(where)), "streams": streams}
            except Exception as e:  # noqa: BLE001 - retried, then reported
                last = e
                await asyncio.sleep(0.5)
            finally:
                await session.close()
        raise RuntimeError(f"draining the streams from the primary failed: {last}")

    async def _drain_stream(self, session: Session, key: str, where: set) -> dict[str, Any]:
        reply = await session.call(key, ("XRANGE", key, "-", "+"))
        where.add(reply.node)
        entries, group = _entry_list(reply.value), True
        delivered, claimed = [], []
        while True:
            read = ("XREADGROUP", "GROUP", GROUP, "drain", "COUNT", DRAIN_BATCH, "STREAMS", key, ">")
            try:
                reply = await session.call(key, read)
            except redis.ResponseError as e:
                if "NOGROUP" not in str(e) or not group:
                    raise
                group = False     # gone at the end: a consumer would make it and read all
                await session.call(key, ("XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM"))
                continue
            got = _entries(reply.value)
            if not got:
                break
            delivered += got
        cursor = "0-0"
        while True:
            reply = await session.call(key, ("XAUTOCLAIM", key, GROUP, "drain", 0, cursor,
                                             "COUNT", DRAIN_BATCH))
            cursor = reply.value[0]
            claimed += _entry_list(reply.value[1])
            if cursor == "0-0":
                break
        # Claimed by `drain` includes what `drain` itself just read: keep only the rest.
        seen = {e[0] for e in delivered}
        claimed = [e for e in claimed if e[0] not in seen]
        return {"entries": entries, "delivered": delivered, "claimed": claimed, "group": group}
