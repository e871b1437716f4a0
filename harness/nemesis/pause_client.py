"""`pause-client`: one client stalls where a workload says a stall hurts (a lock holder
just before it writes to the resource its lock protects), for longer than what is left
of its lease: the GC pause of Kleppmann's critique of Redis locks. Nothing in Redis is
touched; the stall is an `await` in the client's own task (`clients.ClientPauses`).

start() arms one stall and returns once a client has taken it (or after a while, with
"taken": false, if no client reached a pause point: a workload without any). stop()
waits for the stall to end by itself (so it always outlasts the lease) and disarms;
heal() ends any stall at once. Findings: `client_pause` windows {"node": "process P",
"start", "end"} for the report.
"""

from __future__ import annotations

import time
from typing import Any

from ..roles import Fault

EXTRA_S = (1.0, 4.0)     # how much longer than the lease left a stall lasts (seeded)
TAKE_TIMEOUT_S = 20.0    # how long start() waits for a client to reach a pause point


class PauseClientFault(Fault):
    kind = "pause-client"

    def __init__(self, ctx, name: str):
        super().__init__(ctx, name)
        self.current: dict[str, Any] | None = None

    def describe(self) -> str:
        return f"pause-client (process {self.current['process']})" if self.current else self.name

    def start(self) -> dict[str, Any]:
        pauses = self.ctx.pauses
        extra = round(self.ctx.rng.uniform(*EXTRA_S), 3)
        before = len(pauses.taken)
        pauses.arm(extra)
        deadline = time.monotonic() + TAKE_TIMEOUT_S
        while time.monotonic() < deadline and len(pauses.taken) == before:
            time.sleep(0.02)
        if len(pauses.taken) == before:
            pauses.release()
            return {"taken": False, "extra_s": extra}
        self.current = pauses.last()
        return {"taken": True, "process": self.current["process"], "pause_s": self.current["planned_s"],
                "extra_s": extra}

    def stop(self) -> dict[str, Any]:
        cur, self.current = self.current, None
        if cur is None:
            return {}
        deadline = time.monotonic() + cur["planned_s"] + 5
        while cur["end"] is None and time.monotonic() < deadline:   # the worker sets "end"
            time.sleep(0.05)
        self.ctx.pauses.release()
        return {"process": cur["process"]}

    def heal(self) -> None:
        self.current = None
        self.ctx.pauses.release()

    def findings(self) -> dict[str, Any]:
        end = self.ctx.history.now()
        return {"client_pause": [{"node": f"process {e['process']}", "start": e["start"],
                                  "end": e["end"] if e["end"] is not None else end}
                                 for e in self.ctx.pauses.taken]}
