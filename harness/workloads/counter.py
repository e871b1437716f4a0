"""`counter`: INCRBY of small positive deltas and GET reads on `--keys` counters c0..cN.

About half the ops are reads (`{"f": "read", "key": k, "value": None}`, ok value the
integer read, 0 for nil), half increments (`{"f": "add", "key": k, "value": delta}`,
delta 1..MAX_DELTA from the run's seed). The ok value of an add is its delta, as
invoked: the INCRBY reply is not recorded, since with `--wait N:MS` each INCRBY is
followed by `WAIT N MS` on the same connection and `Session.call` returns the last
reply (WAIT's); the checker needs only the deltas. With WAIT, an increment that fewer
than N replicas confirmed is `info` (applied on the primary, durability unknown).

After healing, every counter is read from the converged primary (what the checker
judges) and from every node (to show divergence). Judged by `CounterChecker`.
"""

from __future__ import annotations

import random
from typing import Any

from ..checkers.counter import CounterChecker
from ..clients import Session
from ..replies import Indeterminate
from ..roles import Checker, Workload
from .reads import read_everywhere

MAX_DELTA = 5
READ_SHARE = 0.5


def _int(v: Any) -> int:
    return 0 if v is None else int(v)


class CounterWorkload(Workload):
    name = "counter"

    def __init__(self, spec, topology, rng: random.Random):
        super().__init__(spec, topology, random.Random(rng.random()))
        self.keys = [f"c{i}" for i in range(spec.keys)]

    def checkers(self) -> list[Checker]:
        return [CounterChecker()]

    def next_op(self, process: int) -> dict[str, Any]:
        key = self.keys[self.rng.randrange(len(self.keys))]
        if self.rng.random() < READ_SHARE:
            return {"f": "read", "key": key, "value": None}
        return {"f": "add", "key": key, "value": self.rng.randint(1, MAX_DELTA)}

    async def apply(self, session: Session, op: dict[str, Any]) -> tuple[Any, str]:
        key = op["key"]
        if op["f"] == "read":
            reply = await session.call(key, ("GET", key))
            return _int(reply.value), reply.node
        cmds = [("INCRBY", key, op["value"])]
        if self.spec.wait:
            cmds.append(("WAIT", *self.spec.wait))
        reply = await session.call(key, *cmds)
        if self.spec.wait and int(reply.value) < self.spec.wait[0]:
            raise Indeterminate(f"WAIT: {reply.value} of {self.spec.wait[0]} replicas acknowledged")
        return op["value"], reply.node

    # ------------------------------------------------------------ final reads
    def final_reads(self) -> dict[str, Any]:
        return read_everywhere(self.topo, self.keys, "GET", _int, "counters")
