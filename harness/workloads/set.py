"""`set`: every op adds a unique integer to one of K Redis sets (SADD).

With `--wait N:MS`, each add is followed by `WAIT N MS` on the same connection and is
acknowledged only if at least N replicas confirmed it; otherwise the op is `info` (it was
applied on the primary, but its durability is unknown). After healing, each set is read
in full from the converged primary (what the checker judges) and from every node (to
show divergence).
"""

from __future__ import annotations

import itertools
from typing import Any

from ..checkers.set_full import SetChecker
from ..clients import Session
from ..replies import Indeterminate
from ..roles import Checker, Workload
from .reads import read_everywhere


class SetWorkload(Workload):
    name = "set"

    def __init__(self, spec, topology, rng):
        super().__init__(spec, topology, rng)
        self.keys = [f"s{i}" for i in range(spec.keys)]
        self._next = itertools.count()  # next() on itertools.count is atomic under the GIL

    def checkers(self) -> list[Checker]:
        return [SetChecker()]

    def next_op(self, process: int) -> dict[str, Any]:
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
        return read_everywhere(self.topo, self.keys, "SMEMBERS", lambda v: sorted(int(x) for x in v), "sets")
