"""`set`: every op adds a unique integer to one of K Redis sets (SADD).

With `--wait N:MS`, each add is followed by `WAIT N MS` on the same connection and is
acknowledged only if at least N replicas confirmed it; otherwise the op is `info` (it was
applied on the primary, but its durability is unknown). After healing, each set is read
in full from the converged primary (what the checker judges) and from every node (to
show divergence).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import redis

from ..checkers.set_full import SetChecker
from ..clients import Session
from ..replies import Indeterminate
from ..roles import Checker, Workload


class SetWorkload(Workload):
    name = "set"

    def __init__(self, spec, topology, rng):
        super().__init__(spec, topology, rng)
        self.keys = [f"s{i}" for i in range(spec.keys)]
        self._next = itertools.count()  # next() on itertools.count is atomic under the GIL

    def checkers(self) -> list[Checker]:
        return [SetChecker()]

    def next_op(self) -> dict[str, Any]:
        v = next(self._next)
        return {"f": "add", "key": self.keys[v % len(self.keys)], "value": v}

    async def apply(self, session: Session, op: dict[str, Any]) -> tuple[Any, str]:
        cmds = [("SADD", op["key"], op["value"])]
        if self.spec.wait:
            cmds.append(("WAIT", *self.spec.wait))
        reply = await session.call(op["key"], *cmds)
        if self.spec.wait and int(reply.value) < self.spec.wait[0]:
            raise Indeterminate(f"WAIT: {reply.value} of {self.spec.wait[0]} replicas acknowledged")
        return op["value"], reply.node

    # ------------------------------------------------------------ final reads
    def final_reads(self) -> dict[str, Any]:
        primary = self._read_from_primary()
        nodes = {}
        for n in self.topo.nodes:
            try:
                nodes[n.name] = self._read_node(n)
            except (redis.RedisError, OSError) as e:
                nodes[n.name] = {"error": f"{type(e).__name__}: {e}"}
        return {"primary": primary, "nodes": nodes}

    def _read_from_primary(self, attempts: int = 20) -> dict[str, Any]:
        return asyncio.run(self._read_all(attempts))

    async def _read_all(self, attempts: int) -> dict[str, Any]:
        last = None
        for _ in range(attempts):
            session = Session(self.topo, timeout=2.0)
            try:
                sets, where = {}, set()
                for key in self.keys:
                    reply = await session.call(key, ("SMEMBERS", key))
                    sets[key] = sorted(int(x) for x in reply.value)
                    where.add(reply.node)
                return {"node": ",".join(sorted(where)), "sets": sets}
            except Exception as e:  # noqa: BLE001 - retried, then reported
                last = e
                await asyncio.sleep(0.5)
            finally:
                await session.close()
        raise RuntimeError(f"final read from the primary failed: {last}")

    def _read_node(self, node) -> dict[str, Any]:
        r = self.topo.replica_reader(node, timeout=2.0)
        info = r.info("replication")
        sets = {}
        for key in self.keys:
            try:
                sets[key] = sorted(int(x) for x in r.smembers(key))
            except redis.ResponseError:  # MOVED: this node does not serve the key
                continue
        r.close()
        return {"role": info.get("role"), "sets": sets}
