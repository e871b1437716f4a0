"""Workloads: which operations clients issue and what each reply means.

A workload is one module with a class registered here. The runner only uses this
interface:

    workload = WORKLOADS[name](spec, topology, rng)
    op = workload.next_op()                 # {"f": ..., "key": ..., "value": ...}; thread-safe
    value, node = await workload.apply(session, op)   # run it (a coroutine); ok value, or raise
    final = workload.final_reads()          # after healing: what the deployment holds
    workload.checkers                       # names in harness.checkers.CHECKERS
"""

from __future__ import annotations

from .register import RegisterWorkload
from .set import SetWorkload

WORKLOADS = {
    "set": SetWorkload,
    "register": RegisterWorkload,
}
