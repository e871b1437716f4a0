"""`replica-read`: increasing writes per key through the primary, reads from replicas.

Applications scale reads by sending them to replicas (redis-py's Sentinel `slave_for`,
Cluster replicas after READONLY); replication is asynchronous, so those reads are stale.
This workload measures how stale: each key `r0..rN` is written 1, 2, 3, ... (`{"f":
"write", "key": k, "value": v}`, ok value v) through the primary, at most one write per key
in flight, so the primary applies a key's values in order; reads (`{"f": "read", "key": k,
"value": None}`, ok value the integer read, 0 for a missing key) go to the replica this
process reads from (`Topology.replica_route`), recorded as the op's node.

With `--wait N:MS` each write is followed by `WAIT N MS`; a write fewer than N replicas
confirmed is `info`. Judged by `StalenessChecker`.
"""

from __future__ import annotations

import random
from typing import Any

from ..checkers.staleness import StalenessChecker
from ..clients import Session
from ..replies import Indeterminate
from ..roles import Checker, Workload
from .reads import read_everywhere

READ_SHARE = 0.5


def _int(v: Any) -> int:
    return 0 if v is None else int(v)


class ReplicaReadWorkload(Workload):
    name = "replica-read"

    def __init__(self, spec, topology, rng: random.Random):
        super().__init__(spec, topology, random.Random(rng.random()))
        self.keys = [f"r{i}" for i in range(spec.keys)]
        self.next_value = dict.fromkeys(self.keys, 0)
        self.writing: set[str] = set()      # keys with a write in flight

    def checkers(self) -> list[Checker]:
        return [StalenessChecker()]

    def next_op(self, process: int) -> dict[str, Any]:
        key = self.keys[self.rng.randrange(len(self.keys))]
        if self.rng.random() < READ_SHARE or key in self.writing:
            return {"f": "read", "key": key, "value": None}
        self.writing.add(key)
        self.next_value[key] += 1
        return {"f": "write", "key": key, "value": self.next_value[key]}

    async def apply(self, session: Session, op: dict[str, Any]) -> tuple[Any, str]:
        key = op["key"]
        if op["f"] == "read":
            reply = await session.call(key, ("GET", key), replica=True)
            return _int(reply.value), reply.node
        try:
            cmds = [("SET", key, op["value"])]
            if self.spec.wait:
                cmds.append(("WAIT", *self.spec.wait))
            reply = await session.call(key, *cmds)
        finally:
            self.writing.discard(key)
        if self.spec.wait and int(reply.value) < self.spec.wait[0]:
            raise Indeterminate(f"WAIT: {reply.value} of {self.spec.wait[0]} replicas acknowledged")
        return op["value"], reply.node

    def final_reads(self) -> dict[str, Any]:
        return read_everywhere(self.topo, self.keys, "GET", _int, "values")
