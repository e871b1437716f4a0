"""Recording a history while a run goes: `HistoryWriter` (read back by harness.history)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import orjson

from .compression import Appender


class HistoryWriter:
    """Appends ops to a history file, numbering them and stamping harness-monotonic time.

    Thread-safe: every client worker and the nemesis share one writer. The file is
    compressed by its suffix (.zst, .gz; see harness.compression) or plain. An op becomes
    a line in a list under the lock, and nothing more: a background thread takes the
    list every FLUSH_EVERY seconds and compresses and writes it outside the lock, ending
    a compressed block each time, so the workers never wait for the compressor and a
    killed harness loses at most the last fraction of a second, never the file (the OS
    holds what was written).
    """

    FLUSH_EVERY = 0.2

    def __init__(self, path: str | os.PathLike, start_ns: int | None = None):
        self.path = os.fspath(path)
        self._out = Appender(self.path)
        self._lock = threading.Lock()         # the ops' order: index, time, place in the list
        self._write_lock = threading.Lock()   # one writer of the file at a time
        self._lines: list[bytes] = []
        self._index = 0
        self.start_ns = time.monotonic_ns() if start_ns is None else start_ns
        self._closed = False
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="history-flush", daemon=True)
        self._flusher.start()

    def now(self) -> int:
        """Nanoseconds since the run started, on the harness's monotonic clock."""
        return time.monotonic_ns() - self.start_ns

    def append(self, op: dict[str, Any]) -> dict[str, Any]:
        """Stamp `op` with index and time (unless it carries a time) and write it."""
        with self._lock:
            if self._closed:
                return op
            op["index"] = self._index
            if "time" not in op:
                op["time"] = time.monotonic_ns() - self.start_ns
            self._index += 1
            self._lines.append(orjson.dumps(op, default=str))
        return op

    def _flush(self) -> None:
        """Write what was appended since the last flush (the caller holds _write_lock)."""
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            lines.append(b"")
            self._out.write(b"\n".join(lines))

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.FLUSH_EVERY):
            with self._write_lock:
                if self._closed:
                    return
                self._flush()

    def close(self) -> None:
        self._stop.set()
        with self._write_lock:
            if self._closed:
                return
            with self._lock:
                self._closed = True       # appends from now on are dropped
            self._flush()
            self._out.close()

    def __enter__(self) -> "HistoryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
