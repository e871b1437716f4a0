"""The history: every operation a run observed, as Jepsen-style JSONL (ARCHITECTURE.md).

Ops are plain dicts. A history file is written by one `HistoryWriter`
(harness/history_writer.py) while a run goes, zstd-compressed, and read back by
`read_history`, which takes it compressed (zstd, gzip) or plain, validates every line
and names the first bad one.
"""

from __future__ import annotations


import gc
import orjson
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from .compression import CompressedDataError, open_decompressed
from .errors import UsageError

NEMESIS = "nemesis"
OP_TYPES = ("invoke", "ok", "fail", "info")
MAX_LINE = 16 << 20     # bytes in one line of a history; an op line is a few hundred
MAX_DEPTH = 100         # nesting of arrays and objects in one line, the op itself included


class HistoryError(UsageError):
    """A malformed history file; the message names the file and line."""


def _short(value: Any, limit: int = 60) -> str:
    """repr of a value for an error message: one line, at most about `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _display_name(path: str | os.PathLike) -> str:
    """The file's name as an error message shows it: on one line, whatever it contains."""
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    return name if name.isprintable() else repr(name)


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects in a parsed value (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        stack.extend((x, d + 1) for x in v if isinstance(x, (list, dict)))
    return deepest


def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float       # a boolean is not a number


def _check_op(op: Any, where: str) -> None:
    """Raise HistoryError saying what is wrong with a parsed line (the slow path of
    `iter_history`: it runs only for lines the inline checks did not pass)."""
    if not isinstance(op, dict):
        raise HistoryError(f"{where}: expected a JSON object, got {type(op).__name__}")
    for field in ("type", "process", "f"):
        if field not in op:
            raise HistoryError(f"{where}: missing field {field!r}")
    if op["type"] not in OP_TYPES:
        raise HistoryError(f"{where}: type {_short(op['type'])} is not one of {', '.join(OP_TYPES)}")
    process = op["process"]
    if type(process) is not int and type(process) is not str:
        raise HistoryError(f"{where}: process must be an integer or a string such as \"nemesis\", "
                           f"got {_short(process)}")
    if type(op["f"]) is not str:
        raise HistoryError(f"{where}: f must be a string, got {_short(op['f'])}")
    if "time" in op and not _is_number(op["time"]):
        raise HistoryError(f"{where}: time must be a number, got {_short(op['time'])}")
    if "index" in op and type(op["index"]) is not int:
        raise HistoryError(f"{where}: index must be an integer, got {_short(op['index'])}")
    key = op.get("key")
    if key is not None and type(key) is not str and type(key) is not int:
        # Keys group ops into independent histories: 1, 1.0 and true must not be one key,
        # nor [1] and "[1]"; only strings and integers are unambiguous identifiers.
        raise HistoryError(f"{where}: key must be a string or an integer, got {_short(key)}")


def _json_error(where: str, line: bytes, e: orjson.JSONDecodeError) -> HistoryError:
    """What is wrong with a line that is not one JSON value, in words a person can act on."""
    if b"\r" in line.rstrip(b"\r\t "):
        return HistoryError(f"{where}: not one JSON value: it holds a carriage return (\\r) before "
                            f"its end (CR line endings? a history has one op per \\n-terminated line)")
    if "after document" in e.msg:
        return HistoryError(f"{where}: several JSON values on one line (at column {e.colno}); "
                            f"a history has one op per line")
    if line.startswith(_BOM):
        return HistoryError(f"{where}: a byte-order mark after the start of the file")
    return HistoryError(f"{where}: not valid JSON ({e.msg} at column {e.colno})")


def _cut_short(line: bytes) -> bool:
    """Is this unparsable line a prefix of a valid op line, as a harness killed in the middle
    of a write leaves it? (Cut inside a multi-byte character, or anywhere in the JSON.)"""
    if not line.lstrip().startswith(b"{"):
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        if u.end != len(line) or u.reason != "unexpected end of data":
            return False
        line = line[:u.start]
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return e.msg == "unexpected end of data"
    return False


_BOM = b"\xef\xbb\xbf"
_KEY_TYPES = frozenset((str, int, type(None)))
_CHUNK = 1 << 20


def iter_history(path: str | os.PathLike, allow_empty: bool = False,
                 name: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield validated ops from a JSONL history, raising HistoryError at the first bad line.
    The file may be zstd- or gzip-compressed (told by its first bytes: harness.compression);
    lines are numbered in what it holds, so the messages are those of its plain twin.

    One JSON object per line, lines ending in \\n (\\r\\n too); blank lines are skipped, a
    UTF-8 byte-order mark at the start is ignored. Client ops must pair up: a process
    invokes, then completes with the same f, before it invokes again. The nemesis's ops are
    not paired. An invoke left open at the end of the file is legal (read as info by
    `pair_ops`). Fields: type, process (integer, or a string: "nemesis" is the nemesis),
    f (string) are required; time (a number), index (an integer) and key (a string or an
    integer) are optional; value is any JSON value. No line is longer than MAX_LINE bytes
    or nests arrays and objects deeper than MAX_DEPTH (the op itself is one level).

    What is not a history is refused, never read as an empty one: a file without a single
    op (unless `allow_empty`: then an empty file, or one of blank lines, gives no ops),
    plain text, CR-only line ends, several objects on a line. The one tolerance: the last
    line, if it lacks its newline, follows at least one op and is a cut-off op line, is
    dropped silently: a harness killed mid-write leaves just that (a crash loses at most
    the tail, never the file).

    Messages name the file by its basename, or by `name` if given (a caller that
    converted another format to a temporary file names the original).
    """
    name = _display_name(path) if name is None else name
    try:
        fh = open_decompressed(path)
    except OSError as e:
        raise HistoryError(f"{name}: cannot read history: {e.strerror or e}") from None
    try:    # a small plain file is read in one piece no bigger than itself
        size = os.fstat(fh.fileno()).st_size if fh.codec is None else 0
    except (OSError, ValueError):
        size = 0
    chunk_size = size + 1 if 0 < size < _CHUNK else _CHUNK
    pending: dict[Any, str] = {}
    types = set(OP_TYPES)
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    # Locals, builtins included: this loop runs once per op of histories of millions.
    tp, ln, key_types, depth_bytes = type, len, _KEY_TYPES, 2 * MAX_DEPTH
    lineno = blank = 0  # every line that is not blank is an op (or raises): ops = lineno - blank
    rest = b""          # the line read in part so far (no newline yet)
    eof = False
    with fh:
        while not eof:
            # Read in chunks, not lines: a line is never held past MAX_LINE (/dev/zero, a
            # binary file), and splitting a chunk costs little more than reading lines.
            if ln(rest) > MAX_LINE:
                raise HistoryError(f"{name} line {lineno + 1}: longer than {MAX_LINE >> 20} MiB: "
                                   f"not a history line")
            try:
                chunk = fh.read(chunk_size)
            except OSError as e:
                raise HistoryError(f"{name}: cannot read history: {e.strerror or e}") from None
            except CompressedDataError as e:
                raise HistoryError(f"{name}: cannot read history after line {lineno}: {e}") from None
            if chunk:
                lines = (rest + chunk if rest else chunk).split(b"\n")
                rest = lines.pop()
                if lines and ln(lines[0]) > MAX_LINE:
                    raise HistoryError(f"{name} line {lineno + 1}: longer than {MAX_LINE >> 20} "
                                       f"MiB: not a history line")
            else:
                eof = True
                lines = [rest] if rest else []      # the last line, without its newline
            if not lineno and lines and lines[0].startswith(_BOM):
                lines[0] = lines[0][3:]
            for line in lines:
                lineno += 1
                try:
                    op = loads(line)
                except decode_error as e:
                    if not line.strip():
                        blank += 1
                        continue
                    if eof and lineno - 1 > blank and _cut_short(line):
                        return
                    raise _json_error(f"{name} line {lineno}", line, e) from None
                # Nesting is bounded so that nothing downstream recurses without end. A line
                # nesting d levels holds at least 2d bytes and d opening brackets: most
                # lines are too short to need even the count.
                if (ln(line) > depth_bytes and line.count(b"[") + line.count(b"{") > MAX_DEPTH
                        and _depth(op) > MAX_DEPTH):
                    raise HistoryError(f"{name} line {lineno}: nested deeper than {MAX_DEPTH} "
                                       f"levels of arrays and objects")
                # The common case is checked inline; _check_op explains what is wrong.
                if (tp(op) is not dict or tp(kind := op.get("type")) is not str or kind not in types
                        or tp(process := op.get("process")) is not int
                        or tp(op.get("f")) is not str or tp(op.get("time", 0)) is not int
                        or tp(op.get("index", 0)) is not int
                        or tp(op.get("key")) not in key_types):
                    _check_op(op, f"{name} line {lineno}")
                    kind, process = op["type"], op["process"]
                    if process == NEMESIS:
                        yield op
                        continue
                if kind == "invoke":
                    if process in pending:
                        raise HistoryError(
                            f"{name} line {lineno}: process {_short(process)} invokes "
                            f"{_short(op['f'])} while its {_short(pending[process])} is still open")
                    pending[process] = op["f"]
                else:
                    f = pending.pop(process, None)
                    if f is None:
                        raise HistoryError(f"{name} line {lineno}: {kind} for process "
                                           f"{_short(process)} with no open invoke")
                    if f != op["f"]:
                        raise HistoryError(f"{name} line {lineno}: process {_short(process)} "
                                           f"completes {_short(op['f'])} but invoked {_short(f)}")
                yield op
    if lineno == blank and not allow_empty:
        empty = (f" ({fh.codec} data that holds nothing, or cut off before its first block)"
                 if fh.codec else " (an empty file)")
        raise HistoryError(f"{name}: no ops in it{empty if not lineno else ''}: not a history")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a block that builds millions of small
    objects without cycles (its passes over them cost a third to two thirds of the time);
    restore it as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_history(path: str | os.PathLike, allow_empty: bool = False,
                 name: str | None = None) -> list[dict[str, Any]]:
    """Read and validate a whole history file (see `iter_history`).

    The cyclic garbage collector is paused meanwhile: ops are millions of small dicts that
    cannot form cycles, and its passes over them took up to half the time (a 1M-op
    register history: 5.8 s with them, 3.0 s without)."""
    with gc_paused():
        return list(iter_history(path, allow_empty, name))


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


_NOTHING = object()


def op_error(op: Operation, what: str, value: Any = _NOTHING) -> HistoryError:
    """A HistoryError about a paired op that its checker cannot interpret (a value its
    workload never writes), naming the op by the `index` of its invoke line."""
    shown = "" if value is _NOTHING else f", got {_short(value)}"
    return HistoryError(f"op at index {op.invoke_index} (process {_short(op.process)}, "
                        f"{_short(op.f)}): {what}{shown}")


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
