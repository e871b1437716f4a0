"""Nemeses: faults injected while the workload runs, each with an undo.

A fault is one module with a class of this shape, registered in NEMESES by the names the
CLI accepts (`--nemesis NAME[,NAME...]`):

    fault = NEMESES[name](ctx, name)
    value = fault.start()   # inject one instance; returns what was done (goes in the history)
    value = fault.stop()    # undo that instance
    fault.heal()            # undo every trace of this kind of fault, idempotently: runs at the
                            # end of every run, on Ctrl-C, SIGTERM and errors

`fault.kind` names its history ops: `start-<kind>` / `stop-<kind>`.
"""

from __future__ import annotations

from .clock import ClockFault
from .failover import FailoverFault
from .partition import SHAPES, PartitionFault
from .process import NAMES as PROCESS_NAMES, ProcessFault, RestartFastFault
from .schedule import Nemesis, NemesisContext

NEMESES: dict[str, type] = {"partition": PartitionFault}
NEMESES.update({shape: PartitionFault for shape in SHAPES})
NEMESES.update({name: ClockFault for name in ("clock", "clock-bump", "clock-strobe", "clock-reset")})
NEMESES.update({name: ProcessFault for name in PROCESS_NAMES if name != "restart-fast"})
NEMESES["restart-fast"] = RestartFastFault
NEMESES["failover"] = FailoverFault

__all__ = ["NEMESES", "Nemesis", "NemesisContext"]
