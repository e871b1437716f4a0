"""`lock`: clients take locks and use them to protect a resource, as services do.

Each client process loops over one hold of a lock: `acquire` (one attempt, not blocking;
a busy lock is a `fail` and the process tries again after 20-100 ms, up to PATIENCE_S,
then picks another lock) → `hold` (its work, seeded: from a few ms to seconds, log-
uniform, always shorter than the lease) → `write` (one append to the protected resource)
→ `release`. Locks are `--keys` names L0, L1, ...; the lease is LEASE_S. The code under
test is `--lock-impl` (`workloads.locks`). Every step is an op, its value naming the hold
("P.N": process P's Nth) so the checker can join them:

    acquire ok  {"hold", "lease_ms", "validity_ms", "granted_by", "token"}
    hold ok     {"hold", "ms", "paused_ms"}      (a `pause-client` stall is taken at its end)
    write ok    {"hold", "accepted"}             (accepted false: the fencing check refused it)
    release ok  {"hold", "released"}             (released false: no longer held)

The protected resource is a standalone Redis (`topology.resource`) that no fault touches:
a write appends {"hold", "process", "token"} to the list `res:<lock>`; with `--fencing`
it is one script that refuses a token lower than the highest the resource has seen
(Kleppmann's storage check). Final reads: every list, in order. Judged by `MutexChecker`.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from typing import Any

import redis
import redis.asyncio as aioredis

from ..checkers.mutex import MutexChecker
from ..clients import Session
from ..replies import Failed
from ..roles import Checker, Workload
from ..topology.routes import client_kwargs
from .locks import Grant, lock_impl_class

LEASE_S = 10.0
HOLD_MS = (5.0, 8000.0)
RETRY_S = (0.02, 0.1)
PATIENCE_S = 10.0

FENCED_WRITE = """
local highest = tonumber(redis.call('GET', KEYS[2]) or '-1')
if tonumber(ARGV[2]) < highest then return {0, highest} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('RPUSH', KEYS[1], ARGV[1])
return {1, tonumber(ARGV[2])}
"""


class LockWorkload(Workload):
    name = "lock"
    services = ("resource",)

    def __init__(self, spec, topology, rng: random.Random):
        super().__init__(spec, topology, random.Random(rng.random()))
        impl = lock_impl_class(spec.lock_impl, spec.topology, spec.fencing)
        self.impl = impl(topology, spec.client_timeout) if topology is not None else None
        self.locks = [f"L{i}" for i in range(spec.keys)]
        self.state: dict[int, dict[str, Any]] = {}     # process → where it is in its loop
        self._resource: Any = None

    def checkers(self) -> list[Checker]:
        return [MutexChecker()]

    # ------------------------------------------------------------ the loop
    def next_op(self, process: int) -> dict[str, Any]:
        st = self.state.setdefault(process, {"phase": "acquire", "n": 0})
        if st["phase"] == "acquire":
            now = time.monotonic()
            if "lock" not in st or now - st.get("since", now) > PATIENCE_S:
                st["lock"] = self.locks[self.rng.randrange(len(self.locks))]
                st["since"] = now
            st["retry_s"] = self.rng.uniform(*RETRY_S)
            return {"f": "acquire", "key": st["lock"], "value": None}
        hold = st["hold"]
        if st["phase"] == "hold":
            ms = math.exp(self.rng.uniform(math.log(HOLD_MS[0]), math.log(HOLD_MS[1])))
            return {"f": "hold", "key": st["lock"], "value": {"hold": hold, "ms": round(ms, 1)}}
        if st["phase"] == "write":
            return {"f": "write", "key": st["lock"], "value": {"hold": hold, "token": st["grant"].token}}
        return {"f": "release", "key": st["lock"], "value": {"hold": hold}}

    async def apply(self, session: Session, op: dict[str, Any]) -> tuple[Any, str]:
        st = self.state[session.process]
        f = op["f"]
        try:
            if f == "acquire":
                return await self._acquire(session, st)
            if f == "hold":
                return await self._hold(session, st, op["value"]["ms"])
            if f == "write":
                return await self._write(st)
            return await self._release(session, st)
        finally:
            # Whatever happened, the loop goes on: an unknown write is still followed by
            # a release; a failed release leaves the lease to expire.
            st["phase"] = {"hold": "write", "write": "release", "release": "acquire"}.get(f, st["phase"])

    async def _acquire(self, session: Session, st: dict[str, Any]) -> tuple[Any, str]:
        t0 = time.monotonic()
        grant = await self.impl.acquire(session, st["lock"], LEASE_S)
        if grant is None:
            await asyncio.sleep(st["retry_s"])     # back off before the next attempt
            raise Failed("busy: held by another client")
        st["n"] += 1
        st.update(phase="hold", grant=grant, hold=f"{session.process}.{st['n']}",
                  until=t0 + grant.validity_ms / 1000)
        st.pop("since", None)
        return {"hold": st["hold"], **grant.to_json()}, ",".join(grant.granted_by)

    async def _hold(self, session: Session, st: dict[str, Any], ms: float) -> tuple[Any, str]:
        t0 = time.monotonic()
        await asyncio.sleep(ms / 1000)
        # The GC pause: taken here, just before the write, if the nemesis armed one.
        paused = await session.pause_point(st["until"] - time.monotonic())
        return {"hold": st["hold"], "ms": round((time.monotonic() - t0) * 1000, 1),
                "paused_ms": round(paused * 1000, 1)}, "client"

    async def _write(self, st: dict[str, Any]) -> tuple[Any, str]:
        r = self._resource_client()
        grant: Grant = st["grant"]
        entry = json.dumps({"hold": st["hold"], "token": grant.token})
        key = f"res:{st['lock']}"
        if self.spec.fencing:
            ok, highest = await r.eval(FENCED_WRITE, 2, key, key + ":fence", entry, grant.token)
            return {"hold": st["hold"], "accepted": bool(ok), "highest": highest}, "resource"
        await r.rpush(key, entry)
        return {"hold": st["hold"], "accepted": True}, "resource"

    async def _release(self, session: Session, st: dict[str, Any]) -> tuple[Any, str]:
        grant: Grant = st.pop("grant")
        st.pop("lock", None)
        released = await self.impl.release(session, grant)
        return {"hold": st["hold"], "released": released}, ",".join(grant.granted_by)

    def _resource_client(self) -> Any:
        if self._resource is None:     # made in the workers' event loop, on first use
            # Never retried: a write sent twice would be two entries.
            self._resource = aioredis.Redis(host=self.topo.resource.ip, **client_kwargs(5.0))
        return self._resource

    # ------------------------------------------------------------ final reads
    def final_reads(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resource": {}}
        r = self.topo.redis(self.topo.resource, timeout=5.0)
        try:
            for name in self.locks:
                out["resource"][name] = [json.loads(e) for e in r.lrange(f"res:{name}", 0, -1)]
        except (redis.RedisError, OSError, ValueError) as e:
            out["resource_error"] = f"{type(e).__name__}: {e}"
        finally:
            r.close()
        return out
