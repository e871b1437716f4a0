"""Workloads: which ops clients issue and what each reply means. Each is a
`roles.Workload` subclass in its own module, registered here by its `--workload` name.
"""

from __future__ import annotations

from ..roles import Workload
from .append import AppendWorkload
from .counter import CounterWorkload
from .lock import LockWorkload
from .queue import QueueWorkload
from .register import RegisterWorkload
from .replica_read import ReplicaReadWorkload
from .set import SetWorkload

WORKLOADS: dict[str, type[Workload]] = {
    "set": SetWorkload,
    "register": RegisterWorkload,
    "counter": CounterWorkload,
    "queue": QueueWorkload,
    "replica-read": ReplicaReadWorkload,
    "append": AppendWorkload,
    "lock": LockWorkload,
}
