"""`append`: Jepsen's list-append transactions, as MULTI/EXEC of RPUSH and LRANGE.

Each op is a transaction of 1–4 micro-ops, `["append", k, v]` (RPUSH) or `["r", k, nil]`
(LRANGE 0 -1), `{"f": "txn", "value": [...]}`; its ok value has the lists read. Keys are
integers in the history; appended values are 1, 2, 3, … per key, so every element read
names the one append that wrote it (what `ListAppendChecker` infers from).

Keys live in `ceil(--keys / 4)` groups of 4 slots. A transaction takes the keys of one
group, and every key of a group carries the group's hash tag (`la{g3}:17`), so on Cluster
one transaction stays in one slot, as MULTI requires. A key retires after
MAX_WRITES_PER_KEY appends and a fresh key takes its slot (as Jepsen's generator rotates
keys): lists stay short, reads cheap, and new keys keep getting their first writes.

`ok` when EXEC answered; `fail` when Redis refused before EXEC (a queued command got
MOVED, READONLY, CLUSTERDOWN, ...: `clients.Session` discards the transaction; EXEC then
answers EXECABORT, which is a fail too), or no connection was made; `info` when the answer
never came. With `--wait N:MS`, `WAIT` follows EXEC on the same connection; fewer than N
replicas make the transaction `info`. Final reads: every key ever used, LRANGE from the
converged primary and from every node (final.json `lists`, keyed by the key as a string).
"""

from __future__ import annotations

import math
import random
from typing import Any

from ..checkers.list_append import ListAppendChecker
from ..clients import Session
from ..replies import Indeterminate
from ..roles import Checker, Workload
from .reads import read_everywhere

SLOTS_PER_GROUP = 4
MAX_WRITES_PER_KEY = 32
MAX_OPS = 4
READ_SHARE = 0.5


def _ints(reply: Any) -> list[int]:
    return [int(x) for x in reply or []]


class AppendWorkload(Workload):
    name = "append"

    def __init__(self, spec, topology, rng: random.Random):
        super().__init__(spec, topology, random.Random(rng.random()))
        groups = max(1, math.ceil(spec.keys / SLOTS_PER_GROUP))
        self.slots = [[g * SLOTS_PER_GROUP + i for i in range(SLOTS_PER_GROUP)] for g in range(groups)]
        self.next_key = groups * SLOTS_PER_GROUP
        self.group_of: dict[int, int] = {k: g for g, ks in enumerate(self.slots) for k in ks}
        self.writes: dict[int, int] = {}

    def checkers(self) -> list[Checker]:
        return [ListAppendChecker(self.spec.consistency_model)]

    def redis_key(self, k: int) -> str:
        return f"la{{g{self.group_of[k]}}}:{k}"

    def next_op(self, process: int) -> dict[str, Any]:
        g = self.rng.randrange(len(self.slots))
        slots = self.slots[g]
        mops = []
        for _ in range(self.rng.randint(1, MAX_OPS)):
            i = self.rng.randrange(len(slots))
            k = slots[i]
            if self.rng.random() < READ_SHARE:
                mops.append(["r", k, None])
                continue
            n = self.writes.get(k, 0) + 1
            self.writes[k] = n
            mops.append(["append", k, n])
            if n >= MAX_WRITES_PER_KEY:         # retire the key: its slot gets a fresh one
                slots[i] = self.next_key
                self.group_of[self.next_key] = g
                self.next_key += 1
        return {"f": "txn", "value": mops}

    async def apply(self, session: Session, op: dict[str, Any]) -> tuple[Any, str]:
        mops = op["value"]
        cmds = [("RPUSH", self.redis_key(k), v) if f == "append" else ("LRANGE", self.redis_key(k), 0, -1)
                for f, k, v in mops]
        extra = [("WAIT", *self.spec.wait)] if self.spec.wait else []
        reply = await session.call(cmds[0][1], ("MULTI",), *cmds, ("EXEC",), *extra)
        results = reply.values[len(cmds) + 1]
        if not isinstance(results, list) or len(results) != len(cmds):
            raise Indeterminate(f"EXEC answered {str(results)[:80]}")
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:     # Redis does not roll back: the commands before it did apply
            raise Indeterminate(f"error inside EXEC: {errors[0]}")
        if extra and int(reply.value) < self.spec.wait[0]:
            raise Indeterminate(f"WAIT: {reply.value} of {self.spec.wait[0]} replicas acknowledged")
        done = [[f, k, _ints(r) if f == "r" else v] for (f, k, v), r in zip(mops, results)]
        return done, reply.node

    # ------------------------------------------------------------ final reads
    def final_reads(self) -> dict[str, Any]:
        keys = sorted(self.group_of)
        names = {self.redis_key(k): str(k) for k in keys}
        out = read_everywhere(self.topo, list(names), "LRANGE", _ints, "lists", args=(0, -1))

        def by_key(part: Any) -> Any:
            if isinstance(part, dict) and isinstance(part.get("lists"), dict):
                part["lists"] = {names[n]: v for n, v in part["lists"].items()}
            return part

        by_key(out["primary"])
        for node in out["nodes"].values():
            by_key(node)
        return out
