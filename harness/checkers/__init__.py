"""Checkers: was this history allowed? Each is a `roles.Checker` subclass in its own
module, registered here by name (the name keys results.json and the report finds a
checker's template by it). Workloads choose and configure theirs (`Workload.checkers`).
"""

from __future__ import annotations

from ..roles import Checker
from .counter import CounterChecker
from .linearizability import Linearizability
from .list_append import ListAppendChecker
from .mutex import MutexChecker
from .queue import QueueChecker
from .set_full import SetChecker
from .staleness import StalenessChecker

CHECKERS: dict[str, type[Checker]] = {
    "set": SetChecker,
    "linearizable": Linearizability,
    "counter": CounterChecker,
    "queue": QueueChecker,
    "staleness": StalenessChecker,
    "list-append": ListAppendChecker,
    "mutex": MutexChecker,
}
