"""Jepsen's EDN histories (`history.edn`), read into our ops and written from them.

Jepsen `prn`s one op map per line (jepsen.history.Op prints as the plain map `(into {}
op)`): `{:type :invoke, :f :txn, :value [[:append 5 1] [:r 5 nil]], :process 0, :time 12,
:index 0}`; older tools write one vector of op maps. Both are read (commas are whitespace;
CRLF and a BOM are fine). Keywords become strings without the colon (`:nemesis`
"nemesis", `:a/b` "a/b"), nil None, vectors and lists lists, sets sorted lists (by JSON
text if the elements do not compare), maps dicts with string keys (a keyword's name, else
the key's JSON text), chars and symbols strings, 1/4 and 2.5M floats. Unknown op keys are
kept; `:type` must be a keyword. Tags: `#inst`, `#uuid` give their text, a tagged map with
exactly :key and :value (`#jepsen.independent.Tuple{:key 1 :value 2}`) the pair [1, 2],
any other tag (`#object[...]`) its content; metadata is dropped. Jepsen makes independent
tuples as clojure.lang.MapEntry (jepsen.independent/tuple, since 2015), which prints as a
plain `[k v]` vector: the record form is only for other tools.

`keyed=True` (Jepsen independent tests, our kv and keyed register histories): a client
op's `:value [k v]` becomes key=k, value=v, unless the op has its own `:key` (even nil).
The ops are then validated by our JSONL reader itself, `read_history` on a temporary
JSONL copy. Every error is one HistoryError line naming the file and the line, or "op N"
(the N-th op, from 1) and its line when known.

Writing gives one op per line: :type, :f, :process and a txn's micro-op names as keywords
when they read back as themselves, other strings escaped (\\" \\\\ \\n \\t \\r, else
\\uXXXX for control characters), a keyed client op's value as `[key value]`: reading with
keyed=<any client op had a key> gives the ops back. In a keyed history a client op without
a key is written with `:key nil` (read back as key None; no reader tells it from absent).

The parser is edn_format (PLY based: correct, reads tags, but slow, about 1 ms an op). A
pre-scan bounds the nesting first (MAX_DEPTH: the library recurses), checks brackets and
strings, finds each op's line and the tags to register handlers for.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import math
import os
import re
import tempfile
import threading
import uuid
from typing import Any, Iterable, TextIO

import edn_format
import orjson

from .compression import CompressedDataError, read_bytes
from .history import MAX_DEPTH, NEMESIS, HistoryError, _display_name, _short, gc_paused, read_history

MAX_BYTES = 1 << 30
_SCAN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|(")|;[^\n]*|\\(?:u[0-9A-Fa-f]{4}|[a-z]+|.)'
                   r'|##[A-Za-z-]+|(#_|\^)|#([A-Za-z][\w.*+!?$%&=:#<>@/-]*)|([\[({])|([\])}])',
                   re.S)
_CLOSES = {"]": "[", ")": "(", "}": "{"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_*!?+<>=.-]*\Z")
_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f\x85\u2028\u2029]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_TYPE, _KEY, _VALUE, _PROCESS = (edn_format.Keyword(k) for k in ("type", "key", "value", "process"))
_NEMESIS_KW = edn_format.Keyword(NEMESIS)
_FIELDS = ("type", "f", "value", "process", "time", "index")    # written first, in this order
_LOCK = threading.Lock()    # edn_format's tag table is global: one parse at a time


class _Tagged:
    def __init__(self, value: Any):     # #tag value, for a tag edn_format does not know
        self.value = value


class _Bad(Exception):      # what is wrong with one op, said without its place
    pass


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _clip(text: str, limit: int = 100) -> str:
    """An exception's text for a one-line message."""
    text = " ".join(text.split())
    text = text if text.isprintable() else repr(text)[1:-1]
    return text if len(text) <= limit else text[:limit] + "..."


def _scan(text: str, name: str) -> tuple[list[int], list[int], set[str], bool, int | None]:
    """Openers at depth 0 and 1, tag names, whether #_ or ^ occur, and where the nesting
    first passes MAX_DEPTH; raises for unbalanced brackets, open strings, MAX_DEPTH + 1."""
    stack: list[tuple[str, int]] = []
    top, inner, tags, exotic, deep = [], [], set(), False, None
    for m in _SCAN.finditer(text):
        quote, odd, tag, opener, closer = m.groups()
        if opener:
            if len(stack) > MAX_DEPTH:
                raise HistoryError(f"{name} line {_line(text, m.start())}: nested deeper than "
                                   f"{MAX_DEPTH} levels of vectors, lists, maps and sets")
            if len(stack) == MAX_DEPTH and deep is None:
                deep = m.start()
            (top if not stack else inner if len(stack) == 1 else []).append(m.start())
            stack.append((opener, m.start()))
        elif closer:
            if not stack or stack[-1][0] != _CLOSES[closer]:
                where = f"{name} line {_line(text, m.start())}: unbalanced brackets: '{closer}'"
                if not stack:
                    raise HistoryError(f"{where} with nothing open to close")
                o, at = stack[-1]
                raise HistoryError(f"{where} closes the '{o}' opened at line {_line(text, at)}")
            stack.pop()
        elif quote:
            raise HistoryError(f"{name} line {_line(text, m.start())}: a string that is never "
                               f"closed (no ending \")")
        elif tag:
            tags.add(tag)
        elif odd:
            exotic = True
    if stack:
        o, at = stack[-1]
        raise HistoryError(f"{name}: unbalanced brackets: the '{o}' opened at line "
                           f"{_line(text, at)} is never closed")
    return top, inner, tags, exotic, deep


def _parse(text: str, tags: set[str]) -> list[Any]:
    with _LOCK:
        added = [t for t in tags if t not in ("inst", "uuid")]
        for t in added:
            edn_format.add_tag(t, _Tagged)
        try:
            return edn_format.loads_all(text, write_ply_tables=False)
        finally:
            for t in added:
                edn_format.remove_tag(t)


def _parse_error(e: Exception, text: str, name: str) -> HistoryError:
    """A library exception as one line, at the place it names if it names one."""
    arg = e.args[0] if e.args else None
    pos = getattr(arg, "lexpos", None)
    if pos is None and (m := re.search(r"lexpos (\d+)", str(e))):
        pos = int(m.group(1))
    if isinstance(pos, int):
        token = getattr(arg, "value", None) if hasattr(arg, "lexpos") else text[pos:pos + 1]
        what = f"unexpected {_short(str(token), 30)}"
        return HistoryError(f"{name} line {_line(text, pos)}: not valid EDN: {what}")
    detail = _clip(str(e)) or type(e).__name__
    if isinstance(e, UnicodeDecodeError):
        detail = f"a string with a bad escape ({e.reason})"
    if detail == "EOF Reached":
        detail = "the file ends in the middle of a value"
    return HistoryError(f"{name}: not valid EDN: {detail}")


def _key(k: Any) -> str:
    """A map key as the string key of our dicts."""
    k = _plain(k)
    return k if type(k) is str else "nil" if k is None else orjson.dumps(k).decode()


def _plain(v: Any) -> Any:
    """A parsed EDN value as JSON data (nesting is bounded by the scan)."""
    t = type(v)
    if t is int or t is str or t is bool or v is None:
        return v
    if t is edn_format.Keyword:
        return v.name
    if t is edn_format.ImmutableList:
        return [_plain(x) for x in v[:]]    # a slice is a list: no per-item __getitem__
    if t is float or isinstance(v, (decimal.Decimal, fractions.Fraction)):
        if not math.isfinite(v):
            raise _Bad(f"a number that is not finite ({v}) has no JSON form")
        return float(v)
    if isinstance(v, (edn_format.Keyword, edn_format.Symbol)):
        return v.name
    if isinstance(v, str):      # edn_format.Char
        return str(v)
    if isinstance(v, (edn_format.ImmutableList, tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, edn_format.ImmutableDict):
        out: dict[str, Any] = {}
        for k, x in v.dict.items():     # not .items(): that hashes every keyword again
            s = _key(k)
            if s in out:
                raise _Bad(f"a map has two keys that both read as {_short(s)}")
            out[s] = _plain(x)
        return out
    if isinstance(v, frozenset):
        items = [_plain(x) for x in v]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=orjson.dumps)
    if isinstance(v, _Tagged):
        x = v.value
        if isinstance(x, edn_format.ImmutableDict) and set(x) == {_KEY, _VALUE}:
            return [_plain(x[_KEY]), _plain(x[_VALUE])]
        return _plain(x)
    if isinstance(v, edn_format.MetadataValue):
        return _plain(v.value)
    if isinstance(v, (datetime.date, uuid.UUID)):     # #inst, #uuid
        return v.isoformat() if isinstance(v, datetime.date) else str(v)
    raise _Bad(f"a value of unexpected kind {type(v).__name__}")


def _op(form: Any, keyed: bool) -> dict[str, Any]:
    if not isinstance(form, edn_format.ImmutableDict):
        raise _Bad(f"expected an op map such as {{:type :invoke, :f :read, ...}}, got "
                   f"{_short(_plain(form))}")
    kind = form.get(_TYPE)
    if kind is not None and not isinstance(kind, edn_format.Keyword):
        raise _Bad(f":type must be a keyword such as :invoke, got {_short(_plain(kind))}")
    op = _plain(form)
    if keyed and op.get("process") != NEMESIS and "key" not in op:
        value = op.get("value")
        if type(value) is not list or len(value) != 2:
            raise _Bad(f"keyed history, but :value is not a [key value] pair: "
                       f"{_short(value) if 'value' in op else 'no :value'}")
        op["key"], op["value"] = value
    return op


def _looks_keyed(forms: list[Any]) -> bool:
    """Is every client op's :value a [key value] pair (a Jepsen independent history)?
    A single register's reads are nil when invoked, so one never looks so."""
    values = [f.get(_VALUE) for f in forms if isinstance(f, edn_format.ImmutableDict)
              and f.get(_PROCESS) != _NEMESIS_KW]
    return bool(values) and all(isinstance(v, (edn_format.ImmutableList, tuple)) and len(v) == 2
                                for v in values)


def read_edn_history(path: str | os.PathLike, keyed: bool | None = False) -> list[dict[str, Any]]:
    """Read a Jepsen EDN history (see the module docstring) as validated ops; `keyed=None`:
    keyed if every client op's value is a [key value] pair.

    The cyclic garbage collector is paused meanwhile, as in `read_history` (the parser's
    objects and ours form no cycles; its passes took a third of the time)."""
    with gc_paused():
        return _read(path, keyed)


def _read(path: str | os.PathLike, keyed: bool | None) -> list[dict[str, Any]]:
    name = _display_name(path)
    try:    # compressed (zstd, gzip) or not, by its first bytes
        data = read_bytes(path, MAX_BYTES)
    except (OSError, CompressedDataError) as e:
        raise HistoryError(f"{name}: cannot read history: {getattr(e, 'strerror', None) or e}") from None
    if len(data) > MAX_BYTES:
        raise HistoryError(f"{name}: larger than {MAX_BYTES >> 20} MiB: not read")
    try:    # a CR is whitespace here (CRLF line ends): prn escapes a CR inside a string
        text = data.decode("utf-8-sig").replace("\r", " ")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise HistoryError(f"{name} line {line}: not UTF-8 text (byte 0x{data[e.start]:02x}): "
                           f"not an EDN history") from None
    if not text.strip(" \t\n,"):
        raise HistoryError(f"{name}: an empty file: not a history")
    top, inner, tags, exotic, deep = _scan(text, name)
    try:
        forms = _parse(text, tags)
    except Exception as e:      # the library's own errors, and whatever it did not foresee
        raise _parse_error(e, text, name) from None
    if len(forms) == 1 and isinstance(forms[0], (edn_format.ImmutableList, tuple)):
        forms, opens = list(forms[0]), inner         # one vector of ops
    else:
        forms, opens = forms, top
        if deep is not None:
            raise HistoryError(f"{name} line {_line(text, deep)}: nested deeper than "
                               f"{MAX_DEPTH} levels of vectors, lists, maps and sets")
    if not forms:
        raise HistoryError(f"{name}: no ops in it: not a history")
    if keyed is None:
        keyed = _looks_keyed(forms)
    lines = len(opens) == len(forms) and not exotic

    def where(n: int) -> str:
        return f"{name} op {n}" + (f" (line {_line(text, opens[n - 1])})" if lines else "")

    fd, tmp = tempfile.mkstemp(suffix=".jsonl", prefix="edn-")
    try:
        with os.fdopen(fd, "wb") as out:
            for n, form in enumerate(forms, 1):
                try:
                    out.write(orjson.dumps(_op(form, keyed)) + b"\n")
                except _Bad as e:
                    raise HistoryError(f"{where(n)}: {e}") from None
                except Exception as e:      # orjson: "Integer exceeds 64-bit range"
                    raise HistoryError(f"{where(n)}: cannot read this op: "
                                       f"{_clip(str(e)) or type(e).__name__}") from None
        try:
            return read_history(tmp, name=name)
        except HistoryError as e:   # "NAME line N" of the JSONL copy is our op N
            m = re.match(re.escape(name) + r" line (\d+)(.*)", str(e), re.S)
            if m is None:
                raise
            raise HistoryError(where(int(m.group(1))) + m.group(2)) from None
    finally:
        os.unlink(tmp)


def _edn(v: Any) -> str:
    t = type(v)
    if v is None or t is bool:
        return "nil" if v is None else "true" if v else "false"
    if t is str:
        return '"' + _ESCAPE.sub(lambda m: _ESCAPES.get(m[0]) or f"\\u{ord(m[0]):04x}", v) + '"'
    if t is int or t is float and math.isfinite(v):
        return repr(v)
    if t is list or t is tuple:
        return "[" + " ".join(map(_edn, v)) + "]"
    if t is dict:
        return "{" + ", ".join(f"{_name(k)} {_edn(x)}" for k, x in v.items()) + "}"
    raise (ValueError if t is float else TypeError)(f"cannot write {_short(v)} in EDN")


def _name(v: Any) -> str:
    """A keyword if `v` is a string that reads back as itself, else the value."""
    return ":" + v if type(v) is str and _IDENT.match(v) else _edn(v)


def _micro(m: Any) -> str:
    """A txn's micro-op [f k v], its f a keyword."""
    ok = type(m) is list and m
    return "[" + " ".join([_name(m[0]), *map(_edn, m[1:])]) + "]" if ok else _edn(m)


def edn_text(op: dict[str, Any]) -> str:
    """One op as a Jepsen-style EDN map (no newline)."""
    wrap = op.get("process") != NEMESIS and op.get("key") is not None and "value" in op
    parts = [f":type {_name(op['type'])}"] if "type" in op else []
    if "f" in op:
        parts.append(f":f {_name(op['f'])}")
    if "value" in op:
        value = op["value"]
        text = ("[" + " ".join(map(_micro, value)) + "]"
                if op.get("f") == "txn" and isinstance(value, list) else _edn(value))
        parts.append(f":value [{_edn(op['key'])} {text}]" if wrap else f":value {text}")
    for field in ("process", "time", "index"):
        if field in op:
            parts.append(f":{field} {_name(op[field])}")
    for k, x in op.items():
        if k not in _FIELDS and not (wrap and k == "key"):
            parts.append(f"{_name(k)} {_edn(x)}")
    return "{" + ", ".join(parts) + "}"


def write_edn_history(ops: Iterable[dict[str, Any]], fh: TextIO) -> None:
    """Write ops as an EDN history, one map per line (see `edn_text`)."""
    ops = list(ops)
    keyed = any(op.get("process") != NEMESIS and op.get("key") is not None for op in ops)
    for op in ops:
        if keyed and "key" not in op and op.get("process") != NEMESIS:
            op = {**op, "key": None}
        fh.write(edn_text(op) + "\n")
