"""Nemeses: faults injected while the workload runs, each with an undo. Each kind is a
`roles.Fault` subclass in its own module, registered here under the `--nemesis` names
that choose it (a shape, a target, a mode); the Fault is built as `cls(ctx, name)`.
"""

from __future__ import annotations

from ..errors import UsageError
from ..roles import Fault
from .clock import ClockFault
from .failover import FailoverFault
from .partition import SHAPES, PartitionFault
from .pause_client import PauseClientFault
from .process import NAMES as PROCESS_NAMES, ProcessFault, RestartFastFault
from .membership import MembershipFault
from .reshard import ReshardFault
from .schedule import Nemesis, NemesisContext
from .sentinel_members import SentinelScaleUpFault

NEMESES: dict[str, type[Fault]] = {"partition": PartitionFault}
NEMESES.update({shape: PartitionFault for shape in SHAPES})
NEMESES.update({name: ClockFault for name in ("clock", "clock-bump", "clock-jump", "clock-strobe", "clock-reset")})
NEMESES.update({name: ProcessFault for name in PROCESS_NAMES if name != "restart-fast"})
NEMESES["restart-fast"] = RestartFastFault
NEMESES["failover"] = FailoverFault
NEMESES["pause-client"] = PauseClientFault
NEMESES["reshard"] = NEMESES["reshard-kill"] = ReshardFault
NEMESES["add-primary"] = NEMESES["remove-primary"] = MembershipFault
NEMESES["sentinel-scale-up"] = NEMESES["sentinel-scale-up-safe"] = SentinelScaleUpFault


def check_names(names: list[str], topology: str | None = None) -> None:
    """Every name is a known fault, and one that applies to `topology` (if given)."""
    unknown = [n for n in names if n not in NEMESES]
    if unknown:
        raise UsageError(f"unknown nemesis {', '.join(unknown)}: choose from {', '.join(sorted(NEMESES))}")
    for n in names:
        only = NEMESES[n].topologies
        if topology is not None and only and topology not in only:
            raise UsageError(f"--nemesis {n} applies to the {' and '.join(only)} topology only, "
                             f"not to {topology}")


def build_faults(names: list[str], ctx: NemesisContext) -> list[Fault]:
    check_names(names)
    return [NEMESES[n](ctx, n) for n in names]


__all__ = ["NEMESES", "Nemesis", "NemesisContext", "build_faults", "check_names"]
