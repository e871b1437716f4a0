"""`register`: GET / SET / CAS on independent keys, checked for linearizability.

Ops go to `--keys` keys active at once; each key gets at most `OPS_PER_KEY` invocations,
then a fresh key takes its slot (as Jepsen's independent keys do): that keeps each key's
linearizability search small, while a key lives `keys * OPS_PER_KEY / rate` seconds — long
enough to span a failover, which is when stale reads show up.
Written values are unique per key, so every read names the write it saw.

CAS is a Lua script, not WATCH/MULTI: the script runs atomically on the server in one
round trip, and its reply says for certain whether it swapped (1) or not (0 → `fail`).
A WATCH/MULTI CAS needs three round trips and aborts under contention, which would add
client-side retries and ambiguity that are not Redis's.
"""

from __future__ import annotations

import itertools
import random
import threading
from typing import Any

from ..checkers.linearizability import Linearizability
from ..clients import Session
from ..replies import Failed
from ..roles import Checker, Workload

OPS_PER_KEY = 200
CAS_SCRIPT = ("local v = redis.call('GET', KEYS[1]) "
              "if v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0")


class RegisterWorkload(Workload):
    name = "register"

    def __init__(self, spec, topology, rng: random.Random):
        super().__init__(spec, topology, random.Random(rng.random()))
        self._lock = threading.Lock()
        self._slots = [(i, 0) for i in range(max(1, spec.keys))]   # (key id, ops so far)
        self._next_key = itertools.count(len(self._slots))
        self._values = itertools.count(1)
        self._last: dict[str, int] = {}     # a recently seen value per key, to aim CAS at

    def next_op(self, process: int) -> dict[str, Any]:
        with self._lock:
            slot = self.rng.randrange(len(self._slots))
            key_id, used = self._slots[slot]
            if used >= OPS_PER_KEY:
                key_id, used = next(self._next_key), 0
            self._slots[slot] = (key_id, used + 1)
            key = f"r{key_id}"
            roll = self.rng.random()
            if roll < 0.5:
                return {"f": "read", "key": key, "value": None}
            value = next(self._values)
            if roll < 0.8:
                return {"f": "write", "key": key, "value": value}
            expected = self._last.get(key, value - 1)
            return {"f": "cas", "key": key, "value": [expected, value]}

    async def apply(self, session: Session, op: dict[str, Any]) -> tuple[Any, str]:
        key, f = op["key"], op["f"]
        if f == "read":
            reply = await session.call(key, ("GET", key))
            value = None if reply.value is None else int(reply.value)
        elif f == "write":
            reply = await session.call(key, ("SET", key, op["value"]))
            value = op["value"]
        else:
            expected, new = op["value"]
            reply = await session.call(key, ("EVAL", CAS_SCRIPT, 1, key, expected, new))
            if int(reply.value) != 1:
                raise Failed(f"cas: register was not {expected}")
            value = op["value"]
        if value is not None:
            with self._lock:
                self._last[key] = value if f != "cas" else value[1]
        return value, reply.node

    def checkers(self) -> list[Checker]:
        return [Linearizability("register")]
