"""The nemesis schedule: a seeded thread that alternates quiet periods and faults."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from ..history import NEMESIS, HistoryWriter
from ..topology import Topology


@dataclass
class NemesisContext:
    topology: Topology
    history: HistoryWriter
    rng: random.Random

    def record(self, f: str, value: Any, time: int | None = None) -> None:
        op = {"process": NEMESIS, "type": "info", "f": f, "value": value}
        if time is not None:
            op["time"] = time
        self.history.append(op)


class Nemesis:
    """Runs the faults named in the spec: every `interval` seconds, heal or start one.

    The same seed gives the same sequence of choices. With `overlap`, a new fault may start
    while another is active (never two of the same kind at once).
    """

    def __init__(self, names: list[str], ctx: NemesisContext, interval: float, overlap: bool = False):
        from . import NEMESES
        from ..errors import UsageError
        unknown = [n for n in names if n not in NEMESES]
        if unknown:
            raise UsageError(f"unknown nemesis {', '.join(unknown)}: choose from {', '.join(sorted(NEMESES))}")
        if interval <= 0:
            raise UsageError("--nemesis-interval must be positive")
        self.ctx = ctx
        self.faults = [NEMESES[n](ctx, n) for n in names]
        self.interval = interval
        self.overlap = overlap
        self.active: list[Any] = []
        self.current = "none"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        if self.faults:
            self._thread.start()

    def _run(self) -> None:
        rng = self.ctx.rng
        try:
            while not self._stop.wait(self.interval):
                idle = [f for f in self.faults if f not in self.active]
                if self.active and (not self.overlap or not idle or rng.random() < 0.5):
                    fault = self.active.pop(0)
                    self.ctx.record(f"stop-{fault.kind}", fault.stop())
                elif idle:
                    fault = rng.choice(idle)
                    # The window opens when the fault begins to apply, not when it is done.
                    began = self.ctx.history.now()
                    self.ctx.record(f"start-{fault.kind}", fault.start(), time=began)
                    self.active.append(fault)
                self.current = ", ".join(f.describe() for f in self.active) or "none"
        except BaseException as e:  # noqa: BLE001 - reported by the runner, then healed
            self.error = e

    def stop(self) -> None:
        """Stop scheduling (the active faults stay until `heal`)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def heal(self) -> list[str]:
        """Undo everything, whatever state the schedule was in. Returns problems, if any."""
        self.stop()
        problems = []
        for fault in self.active:
            try:
                self.ctx.record(f"stop-{fault.kind}", fault.stop())
            except Exception as e:  # noqa: BLE001 - heal() below is the backstop
                problems.append(f"stop {fault.kind}: {e}")
        self.active.clear()
        self.current = "none"
        kinds_done = set()
        for fault in self.faults:
            if type(fault) in kinds_done:
                continue
            kinds_done.add(type(fault))
            try:
                fault.heal()
            except Exception as e:  # noqa: BLE001
                problems.append(f"heal {fault.kind}: {e}")
        self.ctx.record("heal", {"problems": problems})
        return problems

    def findings(self) -> dict[str, Any]:
        """What the faults observed (e.g. Sentinel TILT windows), merged into results.json.

        A fault class may define `findings(self) -> dict`; called once per kind after healing.
        """
        out: dict[str, Any] = {}
        seen = set()
        for fault in self.faults:
            if type(fault) in seen or not hasattr(fault, "findings"):
                continue
            seen.add(type(fault))
            try:
                out.update(fault.findings())
            except Exception as e:  # noqa: BLE001 - findings are informative, never fatal
                out[f"{fault.kind}_error"] = str(e)
        return out
