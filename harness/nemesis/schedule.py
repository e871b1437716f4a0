"""The nemesis schedule: a seeded thread that alternates quiet periods and faults.

Every action is recorded as Jepsen records a nemesis: an `invoke` of `start-<kind>` when
the nemesis begins to act, then an `info` completion carrying what was done once the
fault is in force (the same for `stop-<kind>`), so `history.fault_windows` can open a
window when the fault is really in force and close it when its undo begins.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ..clients import ClientPauses
from ..errors import UsageError
from ..history import NEMESIS
from ..history_writer import HistoryWriter
from ..roles import Fault
from ..topology import Topology


@dataclass
class NemesisContext:
    topology: Topology
    history: HistoryWriter
    rng: random.Random
    #: Stalls of client tasks (the `pause-client` fault arms them, the workers take them).
    pauses: ClientPauses = field(default_factory=ClientPauses)

    def __post_init__(self) -> None:
        self.pauses.now = self.history.now     # stalls are placed on the history's clock

    def record(self, f: str, value: Any, type: str = "info") -> None:
        self.history.append({"process": NEMESIS, "type": type, "f": f, "value": value})

    def act(self, f: str, action: Callable[[], Any]) -> Any:
        """Record the invoke of `f`, run `action`, record its completion with its result
        (or with the error, which is then raised)."""
        self.record(f, None, "invoke")
        try:
            value = action()
        except Exception as e:
            self.record(f, {"error": f"{type(e).__name__}: {e}"[:300]})
            raise
        self.record(f, value)
        return value


class Nemesis:
    """Runs the given faults: every `interval` seconds, stop one or start one.

    The same seed gives the same sequence of choices. Without `overlap`, one fault is
    active at a time; with it, faults of different kinds may be active together, never
    two of one kind (two partition shapes would flush each other's rules).
    """

    def __init__(self, faults: list[Fault], ctx: NemesisContext, interval: float, overlap: bool = False):
        if interval <= 0:
            raise UsageError("--nemesis-interval must be positive")
        self.ctx = ctx
        self.faults = faults
        self.interval = interval
        self.overlap = overlap
        self.active: list[Fault] = []
        self.current = "none"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self.error: BaseException | None = None

    def startable(self) -> list[Fault]:
        """The faults that may start now under the overlap rules."""
        if self.active and not self.overlap:
            return []
        busy = {f.kind for f in self.active}
        return [f for f in self.faults if f.kind not in busy]

    def step(self) -> None:
        """One scheduling decision: stop the oldest active fault, or start a new one."""
        rng = self.ctx.rng
        idle = self.startable()
        if self.active and (not idle or rng.random() < 0.5):
            fault = self.active.pop(0)
            self.ctx.act(f"stop-{fault.kind}", fault.stop)
        elif idle:
            fault = rng.choice(idle)
            self.active.append(fault)
            self.ctx.act(f"start-{fault.kind}", fault.start)
        self.current = ", ".join(f.describe() for f in self.active) or "none"

    def start(self) -> None:
        if self.faults:
            self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.step()
        except BaseException as e:  # noqa: BLE001 - reported by the runner, then healed
            self.error = e

    def stop(self) -> None:
        """Stop scheduling (the active faults stay until `heal`)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def kinds(self) -> list[Fault]:
        """One fault per kind (heal and findings run once per kind)."""
        return list({f.kind: f for f in reversed(self.faults)}.values())[::-1]

    def heal(self) -> list[str]:
        """Undo everything, whatever state the schedule was in. Returns problems, if any."""
        self.stop()
        problems = []
        for fault in self.active:
            try:
                self.ctx.act(f"stop-{fault.kind}", fault.stop)
            except Exception as e:  # noqa: BLE001 - heal() below is the backstop
                problems.append(f"stop {fault.kind}: {e}")
        self.active.clear()
        self.current = "none"
        for fault in self.kinds():
            try:
                fault.heal()
            except Exception as e:  # noqa: BLE001
                problems.append(f"heal {fault.kind}: {e}")
        self.ctx.record("heal", {"problems": problems})
        return problems

    def findings(self) -> dict[str, Any]:
        """What the faults observed (e.g. Sentinel TILT windows), merged into results.json."""
        out: dict[str, Any] = {}
        for fault in self.kinds():
            try:
                out.update(fault.findings())
            except Exception as e:  # noqa: BLE001 - findings are informative, never fatal
                out[f"{fault.kind}_error"] = str(e)
        return out
