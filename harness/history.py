"""The history: every operation a run observed, as Jepsen-style JSONL (ARCHITECTURE.md).

Ops are plain dicts. A history file is written by one `HistoryWriter` while a run goes
(append-only, flushed per op, so a killed harness leaves a readable file) and read back by
`read_history`, which validates every line and names the first bad one.
"""

from __future__ import annotations


import orjson
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from .errors import UsageError

NEMESIS = "nemesis"
OP_TYPES = ("invoke", "ok", "fail", "info")


class HistoryError(UsageError):
    """A malformed history file; the message names the file and line."""


class HistoryWriter:
    """Appends ops to a JSONL file, numbering them and stamping harness-monotonic time.

    Thread-safe: every client worker and the nemesis share one writer. Lines go to a
    buffer that a background thread flushes to the OS every FLUSH_EVERY seconds (the page
    cache survives a killed harness), so a crash loses at most the last fraction of a
    second, never the file, and the hot path makes no system call.
    """

    FLUSH_EVERY = 0.2

    def __init__(self, path: str | os.PathLike, start_ns: int | None = None):
        self.path = os.fspath(path)
        self._file = open(self.path, "ab", buffering=1 << 20)
        self._lock = threading.Lock()
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
            self._file.write(orjson.dumps(op, default=str) + b"\n")
        return op

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.FLUSH_EVERY):
            with self._lock:
                if self._closed:
                    return
                self._file.flush()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()

    def __enter__(self) -> "HistoryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_op(op: Any, where: str) -> None:
    if not isinstance(op, dict):
        raise HistoryError(f"{where}: expected a JSON object, got {type(op).__name__}")
    for field in ("type", "process", "f"):
        if field not in op:
            raise HistoryError(f"{where}: missing field {field!r}")
    if op["type"] not in OP_TYPES:
        raise HistoryError(f"{where}: type {op['type']!r} is not one of {', '.join(OP_TYPES)}")
    process = op["process"]
    if isinstance(process, bool) or not isinstance(process, (int, str)):
        raise HistoryError(f"{where}: process must be an integer or \"nemesis\", got {process!r}")
    if not isinstance(op["f"], str):
        raise HistoryError(f"{where}: f must be a string, got {op['f']!r}")
    t = op.get("time")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))):
        raise HistoryError(f"{where}: time must be a number, got {t!r}")


def iter_history(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Yield validated ops from a JSONL history, raising HistoryError at the first bad line.

    Client ops must pair up: a process invokes, then completes with the same f, before it
    invokes again. The nemesis's ops are not paired. An invoke left open at the end of the
    file is legal (read as info by `pair_ops`).
    """
    name = os.path.basename(os.fspath(path))
    pending: dict[Any, str] = {}
    types = set(OP_TYPES)
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise HistoryError(f"{path}: cannot read history: {e.strerror or e}") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            try:
                op = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                if not line.strip():
                    continue
                if not line.endswith(b"\n"):
                    # Only a file's last line can lack its newline: a harness killed mid-write
                    # cut it. Everything before it is intact (ARCHITECTURE.md: a crash loses at
                    # most the tail, never the file).
                    return
                raise HistoryError(f"{name} line {lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
            # The common case is checked inline; _check_op explains what is wrong.
            if type(op) is not dict or op.get("type") not in types or type(op.get("f")) is not str:
                _check_op(op, f"{name} line {lineno}")
            process = op.get("process")
            if type(process) is not int:
                _check_op(op, f"{name} line {lineno}")
                if process == NEMESIS:
                    yield op
                    continue
            t = op.get("time")
            if t is not None and type(t) is not int:
                _check_op(op, f"{name} line {lineno}")
            if op["type"] == "invoke":
                if process in pending:
                    raise HistoryError(
                        f"{name} line {lineno}: process {process} invokes {op['f']!r} while its "
                        f"{pending[process]!r} is still open")
                pending[process] = op["f"]
            else:
                f = pending.pop(process, None)
                if f is None:
                    raise HistoryError(
                        f"{name} line {lineno}: {op['type']} for process {process} with no open invoke")
                if f != op["f"]:
                    raise HistoryError(
                        f"{name} line {lineno}: process {process} completes {op['f']!r} but invoked {f!r}")
            yield op


def read_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and validate a whole history file (see `iter_history`)."""
    return list(iter_history(path))


@dataclass(slots=True)
class Operation:
    """One client operation: its invoke and its completion joined.

    `type` is the completion's type (`info` for an invoke that never completed);
    `value` is the completion's value for ok ops, the invoke's otherwise. `end` is None
    for an op that never completed (it may have taken effect any time after `start`).
    """

    process: Any
    f: str
    key: Any
    type: str
    value: Any
    invoke_value: Any
    start: float
    end: float | None
    invoke_index: int
    complete_index: int | None
    node: Any = None


def pair_ops(history: Iterable[dict[str, Any]]) -> list[Operation]:
    """Join each client invoke with its completion, in invoke order. Nemesis ops are skipped."""
    ops: list[Operation] = []
    open_ops: dict[Any, Operation] = {}
    for pos, op in enumerate(history):
        process = op["process"]
        if process == NEMESIS:
            continue
        t = op.get("time", pos)
        idx = op.get("index", pos)
        if op["type"] == "invoke":
            o = Operation(process, op["f"], op.get("key"), "info", op.get("value"),
                          op.get("value"), t, None, idx, None)
            open_ops[process] = o
            ops.append(o)
        else:
            o = open_ops.pop(process, None)
            if o is None:
                continue
            o.type = op["type"]
            o.end = t
            o.complete_index = idx
            o.node = op.get("node")
            if op["type"] == "ok":
                o.value = op.get("value")
    return ops


def fault_windows(history: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The windows in which each fault was in force: the one pairing of nemesis ops that
    the checkers, the statistics and the report all use.

    The nemesis writes, Jepsen-style, an `invoke` of `start-<kind>` when it begins to act
    and an `info` completion when the fault is in force (and the same for `stop-<kind>`).
    A window runs from the start's completion ("in force") to the stop's invoke ("stop
    invoked"); `invoked` is when the start began. Histories written before invokes were
    recorded (one `info` line per start or stop) read the same way. A start while a
    window of its kind is open is ignored (the first one counts; the schedule never does
    this); a window never stopped ends with the history. Times are the history's (ns).

    Returns [{"fault": kind, "start", "end", "invoked", "value", "stop_value", "open"}]
    sorted by start.
    """
    open_: dict[str, dict[str, Any]] = {}
    pending_invoke: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    end_time = 0
    for op in history:
        t = op.get("time", 0)
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            end_time = max(end_time, t)
        if op.get("process") != NEMESIS:
            continue
        f = op.get("f") or ""
        invoke = op.get("type") == "invoke"
        if f.startswith("start-") and len(f) > 6:
            kind = f[6:]
            if invoke:
                pending_invoke.setdefault(kind, t)
            elif kind not in open_:
                open_[kind] = {"fault": kind, "start": t, "invoked": pending_invoke.pop(kind, t),
                               "value": op.get("value"), "stop_value": None, "open": False}
            else:
                pending_invoke.pop(kind, None)
        elif f.startswith("stop-") and len(f) > 5:
            kind = f[5:]
            w = open_.get(kind)
            if w is None:
                continue
            if invoke or "end" not in w:
                w.setdefault("end", max(t, w["start"]))
            if not invoke:
                w["stop_value"] = op.get("value")
                out.append(open_.pop(kind))
    for w in open_.values():
        if "end" not in w:
            w["end"] = max(end_time, w["start"])
            w["open"] = True
        out.append(w)
    out.sort(key=lambda w: (w["start"], w["fault"]))
    return out
