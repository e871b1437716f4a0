"""The client workers of a run: one asyncio task per logical process, on one event loop in
its own thread, each invoking the workload's ops through its own `Session` and recording
every invoke and completion; and the progress line.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .clients import ClientPauses, Session
from .history_writer import HistoryWriter
from .replies import classify
from .roles import Workload
from .topology import Topology


@dataclass
class Counters:
    ok: int = 0
    fail: int = 0
    info: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)

    @property
    def total(self) -> int:
        return self.ok + self.fail + self.info


class Workers:
    """`concurrency` client processes driving `workload` until `stop` is set."""

    def __init__(self, workload: Workload, topo: Topology, history: HistoryWriter, concurrency: int,
                 rate: float, timeout: float, pauses: ClientPauses | None = None):
        self.workload = workload
        self.pauses = pauses or ClientPauses()
        self.topo = topo
        self.history = history
        self.concurrency = concurrency
        self.gap = concurrency / rate if rate > 0 else 0.0
        self.timeout = timeout
        self.counters = Counters()
        self.stop = threading.Event()
        self._next_process = concurrency
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True,
                                        name="workers")

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        """Stop issuing ops; wait for the ones in flight (their socket timeout, then some)."""
        self.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout * 4 + 10)

    def _new_process(self) -> int:
        p = self._next_process      # only the event loop's thread calls this
        self._next_process += 1
        return p

    async def _main(self) -> None:
        tasks = [asyncio.create_task(self._worker(p)) for p in range(self.concurrency)]
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
        # Ops in flight get their socket timeout to finish; an op still open after that is
        # left as an invoke without completion, which reads as info.
        _, pending = await asyncio.wait(tasks, timeout=self.timeout * 4 + 2)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _worker(self, process: int) -> None:
        workload, history = self.workload, self.history
        session = Session(self.topo, self.timeout, process, self.pauses)
        next_at = time.monotonic()
        try:
            while not self.stop.is_set():
                if self.gap:
                    next_at += self.gap
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        if self.stop.is_set():
                            break
                op = workload.next_op(process)
                history.append({"process": process, "type": "invoke", **op})
                session.redirects.clear()
                try:
                    value, node = await workload.apply(session, op)
                    done = {"process": process, "type": "ok", "f": op["f"], "key": op.get("key"),
                            "value": value, "node": node}
                except Exception as e:  # noqa: BLE001 - every outcome goes into the history
                    try:
                        kind, err = classify(e)
                    except Exception:  # noqa: BLE001 - never lose a worker to a classifier bug
                        kind, err = "info", f"{type(e).__name__}: {e}"
                    done = {"process": process, "type": kind, "f": op["f"], "key": op.get("key"),
                            "value": op.get("value"), "error": err}
                if session.redirects:
                    # Which ops met a slot on the move (resharding, failover): kept on
                    # the op in the history, counted in the run's statistics.
                    done["redirects"] = list(session.redirects)
                history.append(done)
                self.counters.add(done["type"])
                if done["type"] == "info":
                    # An op of unknown outcome leaves its process hanging forever (Jepsen): a
                    # fresh process, with fresh connections, takes its place.
                    await session.close()
                    process = self._new_process()
                    session = Session(self.topo, self.timeout, process, self.pauses)
        finally:
            await session.close()


def progress_loop(counters: Counters, stop: threading.Event, out: Any, t0: float,
                  phase: Callable[[], str], fault: Callable[[], str]) -> None:
    """Print ops/s and counts every second on a terminal (in place), every 5 s otherwise."""
    last_n, last_t = 0, time.monotonic()
    tty = hasattr(out, "isatty") and out.isatty()
    every = 1.0 if tty else 5.0
    while not stop.wait(every):
        now = time.monotonic()
        rate = (counters.total - last_n) / (now - last_t)
        last_n, last_t = counters.total, now
        line = (f"[{now - t0:6.1f}s] {phase()}: {rate:7.0f} ops/s  ok {counters.ok}  "
                f"fail {counters.fail}  info {counters.info}  fault: {fault()}")
        print(("\r" + line + "\033[K") if tty else line, end="" if tty else "\n", file=out, flush=True)
    if tty:
        print(file=out)
