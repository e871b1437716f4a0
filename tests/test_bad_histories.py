"""A history reader that cannot be fooled (issue 15): `splitbrain check FILE` answers every
file with exit 2 and one line naming the file and line, or with a verdict on a valid
history; never a traceback, never a verdict on something that is not a history.

The fuzz tests compare the real CLI with `oracle`, an independent statement of what a
history is (stdlib json, written out here, not harness code): random bytes, and valid
histories broken on purpose (CR and CRLF line ends, several objects on a line, cuts,
inserted bytes, wrongly typed fields, deep nesting, NaN and Infinity tokens, a BOM,
blank and empty files). The targeted tests pin the issue's examples.
"""

from __future__ import annotations

import json
import math
import os
import re
import traceback
import zlib
from pathlib import Path

import zstandard

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings, strategies as st

from cli import main
from harness import history as history_mod
from harness.analysis import run_checkers, workload_for
from harness.history import HistoryError, read_history
from harness.spec import TestSpec

from .conftest import compress

FUZZ = settings(max_examples=int(os.environ.get("SB_FUZZ", 150)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BOM = b"\xef\xbb\xbf"
NL = b"\n"
DEPTH = 100          # the deepest nesting a line may have, the op itself one level


# ============================================================================ the oracle

class Bad(Exception):
    pass


def _strict_float(text: str) -> float:
    v = float(text)
    if math.isinf(v):
        raise Bad("a number too large for a double")
    return v


def _int(text: str) -> int | float:
    v = int(text)       # a JSON integer beyond 64 bits is read as a double
    return v if -2 ** 63 <= v < 2 ** 64 else float(v)


def _no_constant(name: str):
    raise Bad(f"{name} is not JSON")


def _walk(v, depth: int = 1) -> int:
    """Nesting depth; refuses lone surrogates (not UTF-8)."""
    if isinstance(v, str):
        v.encode("utf-8")
        return 0
    if isinstance(v, dict):
        for k in v:
            k.encode("utf-8")
        v = list(v.values())
    if not isinstance(v, list):
        return 0
    return max([depth] + [_walk(x, depth + 1) for x in v])


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _valid_op(op) -> bool:
    if not isinstance(op, dict) or any(f not in op for f in ("type", "process", "f")):
        return False
    if op["type"] not in ("invoke", "ok", "fail", "info") or not isinstance(op["f"], str):
        return False
    p = op["process"]
    if isinstance(p, bool) or not isinstance(p, (int, str)):
        return False
    if "time" in op and not _number(op["time"]):
        return False
    if "index" in op and (isinstance(op["index"], bool) or not isinstance(op["index"], int)):
        return False
    key = op.get("key")
    return key is None or (isinstance(key, (str, int)) and not isinstance(key, bool))


def decompressed(data: bytes) -> bytes | None:
    """What zstd or gzip data holds (a stream without its end: what it holds so far);
    None if it is damaged or followed by bytes that are not more of it. The data as it
    is if it does not start with either's magic bytes."""
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        d = zstandard.ZstdDecompressor().decompressobj()
    elif data.startswith(b"\x1f\x8b"):
        d = zlib.decompressobj(31)
    else:
        return data
    try:
        out = d.decompress(data)
    except (zstandard.ZstdError, zlib.error):
        return None
    rest = d.unused_data if d.eof else b""
    if rest:
        more = decompressed(rest) if rest.startswith(data[:2]) else None
        return None if more is None else out + more
    return out


def oracle(data: bytes):
    """("valid", ops), ("invalid", what the message must name), or ("cut", ops): the last
    line lacks its newline and may be a cut-off op line (dropped) or garbage (refused).
    zstd or gzip data is judged by what it holds; damaged, it is refused."""
    inner = decompressed(data)
    if inner is None:
        return "invalid", "damaged"
    data = inner
    if data.startswith(BOM):
        data = data[3:]
    lines = data.split(b"\n")
    unterminated = lines.pop()        # b"" when the data ends with a newline
    numbered = [(i + 1, line, True) for i, line in enumerate(lines)]
    if unterminated:
        numbered.append((len(lines) + 1, unterminated, False))
    ops, open_ = [], {}
    for n, line, terminated in numbered:
        try:
            op = json.loads(line.decode("utf-8"), parse_constant=_no_constant,
                            parse_float=_strict_float, parse_int=_int)
            if _walk(op) > DEPTH:
                return "invalid", f"line {n}"
        except (ValueError, Bad, RecursionError, UnicodeError):
            if not line.strip():
                continue
            if not terminated and ops and line.lstrip().startswith(b"{"):
                return "cut", ops
            return "invalid", f"line {n}"
        if not _valid_op(op):
            return "invalid", f"line {n}"
        p = op["process"]
        if p != "nemesis":
            if op["type"] == "invoke":
                if p in open_:
                    return "invalid", f"line {n}"
                open_[p] = op["f"]
            elif open_.pop(p, None) != op["f"]:
                return "invalid", f"line {n}"
        ops.append(op)
    return ("valid", ops) if ops else ("invalid", "no ops")


# ============================================================================ the CLI

def check_cli(path: Path, model: str = "register"):
    return CliRunner().invoke(main, ["check", str(path), "--model", model, "--time-limit", "10"])


def answer(r) -> str:
    """The contract: no traceback; exit 2 is one line on stderr (returned); else a verdict."""
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(r.exception)))
    assert "Traceback" not in r.output + r.stderr
    assert r.exit_code in (0, 1, 2, 4), (r.exit_code, r.output, r.stderr)
    if r.exit_code == 2:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        return lines[0]
    assert r.stdout.split()[0] in ("linearizable:", "not", "unknown:", "verdict:"), r.stdout
    return ""


def judged(path: Path, data: bytes, model: str = "register") -> None:
    """Run the CLI on data and hold it to the oracle."""
    path.write_bytes(data)
    kind, detail = oracle(data)
    data = decompressed(data) or b""
    event(f"oracle: {kind}")
    line = answer(check_cli(path, model))
    if kind == "invalid":
        assert line, f"a verdict on what is not a history ({detail}): {data[:300]!r}"
        assert line.startswith(f"splitbrain: {path.name}") and detail in line, (line, detail)
        return
    if kind == "cut":
        # the last line lacks its newline: a cut-off op line is dropped, garbage refused (or
        # the ops before it, read, are refused by the model, as below)
        if line:
            assert f"line {data.count(NL) + 1}" in line or "op at index" in line, line
        if not line or "op at index" in line:
            assert read_history(path) == detail
        return
    # a valid history: judged, or refused by op when the model cannot interpret one (an f
    # it does not know, a cas value that is not a pair)
    assert not line or "op at index" in line, f"a valid history refused: {line}"
    assert read_history(path) == detail


# ============================================================================ strategies

ODD = [None, True, False, 0, 1, -1, 1.0, 1.5, 1e300, 9e18, -9e18, 2 ** 63, 2 ** 64, 10 ** 30,
       float("nan"), float("inf"), float("-inf"), "", "1", "true", "nemesis", [], [1], [[1]],
       {}, {"a": 1}, [True, 1]]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 40), st.sampled_from(ODD[:14]),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


def nested(depth: int):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


@st.composite
def valid_history(draw) -> list[dict]:
    """A small history the reader must accept (not necessarily linearizable)."""
    n = draw(st.integers(1, 14))
    procs = draw(st.lists(st.one_of(st.integers(0, 5), st.sampled_from(["p1", "p2"])),
                          min_size=1, max_size=4, unique=True))
    keys = draw(st.lists(st.one_of(st.sampled_from(["k", "1", ""]), st.integers(-2, 2)),
                         min_size=1, max_size=3))
    ops, open_ = [], {}
    for i in range(n):
        if draw(st.integers(0, 9)) == 0:
            ops.append({"process": "nemesis", "type": draw(st.sampled_from(["invoke", "info"])),
                        "f": draw(st.sampled_from(["start-partition", "stop-partition"])),
                        "value": draw(VALUES)})
            continue
        p = draw(st.sampled_from(procs))
        if p in open_:
            op = {"process": p, "type": draw(st.sampled_from(["ok", "fail", "info"])), "f": open_.pop(p)}
        else:
            f = draw(st.sampled_from(["read", "write", "write", "cas"]))
            open_[p] = f
            op = {"process": p, "type": "invoke", "f": f}
        op["key"] = draw(st.sampled_from(keys))
        op["value"] = (draw(st.lists(VALUES, min_size=2, max_size=2)) if op["f"] == "cas"
                       else draw(VALUES))
        if draw(st.booleans()):
            op["time"] = draw(st.one_of(st.integers(0, 10 ** 12), st.sampled_from([1e300, 9e18, 0.5, -1])))
        if draw(st.booleans()):
            op["index"] = i
        ops.append(op)
    return ops


def dumps(op: dict, spaced: bool) -> bytes:
    text = json.dumps(op) if spaced else json.dumps(op, separators=(",", ":"))
    return text.encode("utf-8")


@st.composite
def broken(draw) -> bytes:
    """A valid history, then up to three of the ways a file stops being one (or does not)."""
    ops = draw(valid_history())
    spaced = draw(st.booleans())
    lines = [dumps(op, spaced) for op in ops]
    hows = draw(st.lists(st.sampled_from(MUTATIONS), max_size=3))
    for how in sorted(hows, key=lambda h: h not in ("field", "drop", "deep")):   # ops first
        if how == "field":
            i = draw(st.integers(0, len(lines) - 1))
            op = json.loads(lines[i])
            op[draw(st.sampled_from(["type", "process", "f", "time", "value", "key", "index"]))] = \
                draw(st.sampled_from(ODD))
            lines[i] = dumps(op, spaced)
        elif how == "drop":
            i = draw(st.integers(0, len(lines) - 1))
            op = json.loads(lines[i])
            op.pop(draw(st.sampled_from(["type", "process", "f"])), None)
            lines[i] = dumps(op, spaced)
        elif how == "deep":
            i = draw(st.integers(0, len(lines) - 1))
            op = json.loads(lines[i])
            op[draw(st.sampled_from(["value", "error"]))] = nested(draw(st.sampled_from([DEPTH - 1, DEPTH, 500])))
            lines[i] = dumps(op, spaced)
        elif how == "join" and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 2))
            lines[i:i + 2] = [lines[i] + draw(st.sampled_from([b"", b" ", b"\r", b"\t"])) + lines[i + 1]]
        elif how == "duplicate":
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
        elif how == "blank":
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from([b"", b"  ", b"\t", b"\r"])))
        elif how == "junk":
            lines.insert(draw(st.integers(0, len(lines))), draw(JUNK))
    data = b"".join(line + b"\n" for line in lines)
    for how in draw(st.lists(st.sampled_from(BYTE_MUTATIONS), max_size=2)):
        if how == "cr":
            data = data.replace(b"\n", b"\r")
        elif how == "crlf":
            data = b"".join(x + (b"\r\n" if draw(st.booleans()) else b"\n") for x in data.split(b"\n")[:-1])
        elif how == "cut" and data:
            data = data[:draw(st.integers(0, len(data) - 1))]
        elif how == "no-newline":
            data = data.rstrip(b"\n")
        elif how == "insert":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
        elif how == "bom":
            data = BOM + data if draw(st.booleans()) else data.replace(b"\n", b"\n" + BOM, 1)
        elif how == "empty":
            data = draw(st.sampled_from([b"", b"\n", b"\n\n", b"  \n", b"\r\n", BOM]))
    return data


MUTATIONS = ["field", "field", "drop", "deep", "join", "duplicate", "blank", "junk"]
BYTE_MUTATIONS = ["cr", "crlf", "cut", "cut", "no-newline", "insert", "bom", "empty"]
JUNK = st.sampled_from([b"not a history", b"{", b"[]", b"null", b"5", b'"x"', b"{}", b"\x00\xff",
                        b'{"a": NaN}', b'{"time": Infinity}', b'"\\ud800"', b"# comment",
                        b'{"process": 0, "type": "invoke", "f": "read"} {"x": 1}'])


# ============================================================================ fuzz

@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_are_refused_by_line(tmp_path, data):
    judged(tmp_path / "random.jsonl", data)


@FUZZ
@given(data=broken(), model=st.sampled_from(["register", "register", "kv"]))
def test_broken_histories_are_refused_or_judged_as_the_oracle_says(tmp_path, data, model):
    judged(tmp_path / "h.jsonl", data, model)


@FUZZ
@given(text=st.text(max_size=120))
def test_plain_text_is_not_a_history(tmp_path, text):
    judged(tmp_path / "notes.txt", text.encode("utf-8"))


@FUZZ
@given(ops=valid_history(), spaced=st.booleans(), at=st.floats(0, 1), text=st.text(min_size=1, max_size=8))
def test_a_history_cut_anywhere_reads_as_its_whole_lines(tmp_path, ops, spaced, at, text):
    """A harness killed mid-write leaves a prefix of the file: every whole line is read, a
    cut last line (inside a multi-byte character too) is dropped; a file that is only the
    start of its first line is refused."""
    ops[-1]["value"] = text                  # multi-byte characters at the cut
    lines = [dumps(op, spaced) + b"\n" for op in ops]
    data = b"".join(lines)
    cut = data[:int(at * (len(data) - 1))]
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)
    whole = cut.count(b"\n")
    complete = whole + (cut[cut.rfind(b"\n") + 1:] == lines[whole].rstrip(b"\n"))
    line = answer(check_cli(path))
    if complete or whole:
        assert not line or "op at index" in line, line
        assert read_history(path) == [json.loads(x, parse_int=_int) for x in lines[:complete]]
    else:
        assert ("line 1" in line and "not valid JSON" in line) if cut else "no ops" in line


# ============================================================================ the issue's examples

W1 = [{"process": 0, "type": "invoke", "f": "write", "key": "k", "value": 1},
      {"process": 0, "type": "ok", "f": "write", "key": "k", "value": 1}]


def read_of(value, key="k") -> list[dict]:
    return [{"process": 1, "type": "invoke", "f": "read", "key": key, "value": None},
            {"process": 1, "type": "ok", "f": "read", "key": key, "value": value}]


STALE = W1 + read_of(2)          # not linearizable: nobody wrote 2


def jsonl(ops, end: str = "\n") -> bytes:
    return "".join(json.dumps(op) + end for op in ops).encode()


def refused(tmp_path, data: bytes, *words: str, name: str = "h.jsonl") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    line = answer(check_cli(path))
    assert line.startswith(f"splitbrain: {name}"), line
    for w in words:
        assert w in line, line
    return line


def verdict(tmp_path, data: bytes) -> int:
    path = tmp_path / "h.jsonl"
    path.write_bytes(data)
    r = check_cli(path)
    assert answer(r) == "", r.stderr
    return r.exit_code


@pytest.mark.parametrize("data, words", [
    (jsonl(STALE, "\r"), ("line 1", "carriage return")),
    (jsonl(STALE, "\r").rstrip(b"\r"), ("line 1", "carriage return")),
    (jsonl(STALE, " "), ("line 1", "several JSON values on one line")),
    (jsonl(STALE, "").rstrip(), ("line 1", "several JSON values on one line")),
    (jsonl(STALE[:2]) + json.dumps(STALE[2]).encode() + json.dumps(STALE[3]).encode() + b"\n",
     ("line 3", "several JSON values")),
    (b"this is not a history\nat all\n", ("line 1", "not valid JSON")),
    (b"this is not a history", ("line 1", "not valid JSON")),
    (b"", ("no ops", "empty file")),
    (b"\n \n\t\r\n", ("no ops",)),
    (b'{"process": 0, "type": "invoke", "f": "wri', ("line 1", "not valid JSON")),
    (jsonl(STALE) + b"trailing garbage", ("line 5", "not valid JSON")),
    (jsonl(STALE) + b'{"process": 9} {"process": 9', ("line 5", "several JSON values")),
    (jsonl(STALE).replace(b'"value": 2', b'"value": NaN'), ("line 4", "not valid JSON")),
    (jsonl(STALE).replace(b'"value": 2', b'"value": Infinity'), ("line 4", "not valid JSON")),
    (jsonl(STALE).replace(b'"value": 2', b'"value": 1e400'), ("line 4", "not valid JSON")),
    (jsonl(STALE[:1]) + BOM + jsonl(STALE[1:]), ("line 2", "byte-order mark")),
    (jsonl(STALE).replace(b'"key": "k"', b'"key": 1.0', 1), ("line 1", "key must be a string or an integer")),
    (jsonl(STALE).replace(b'"key": "k"', b'"key": true', 1), ("line 1", "key must be a string or an integer")),
    (jsonl(STALE).replace(b'"key": "k"', b'"key": [1]', 1), ("line 1", "key must be a string or an integer")),
    (jsonl(STALE).replace(b'"process": 1', b'"process": true', 1), ("line 3", "process must be")),
    (jsonl(STALE).replace(b'"process": 1', b'"process": 1.0', 1), ("line 3", "process must be")),
    (jsonl([{**STALE[0], "time": True}]), ("line 1", "time must be a number")),
    (jsonl([{**STALE[0], "time": None}]), ("line 1", "time must be a number")),
    (jsonl([{**STALE[0], "time": "5"}]), ("line 1", "time must be a number")),
    (jsonl([{**STALE[0], "index": 1.0}]), ("line 1", "index must be an integer")),
    (jsonl([{**STALE[0], "type": ["ok"]}]), ("line 1", "type ['ok'] is not one of")),
    (jsonl([{**STALE[0], "f": None}]), ("line 1", "f must be a string")),
    (jsonl([{**STALE[0], "value": nested(DEPTH)}]), ("line 1", f"nested deeper than {DEPTH}")),
    (jsonl([{**STALE[0], "value": nested(500)}]), ("line 1", f"nested deeper than {DEPTH}")),
    (jsonl(STALE[:1]) + b'{"process": 2, "error": ' + b"[" * 2000 + b"]" * 2000 + b"}\n",
     ("line 2", "not valid JSON")),
    (b"\x00\x01\x02\xff\xfe\n", ("line 1", "not valid JSON")),
    (jsonl([{**STALE[0], "value": "x" * 100}]).replace(b"xxx", b"\xff\xfe\xfd", 1), ("line 1",)),
])
@pytest.mark.parametrize("codec", [None, "zst", "gz"])
def test_what_is_not_a_history_is_refused_by_line(tmp_path, data, words, codec):
    """The same words, line numbers included, whether the file is plain or compressed."""
    if codec is None:
        refused(tmp_path, data, *words)
        return
    if not data:
        words = ("no ops", f"{'zstd' if codec == 'zst' else 'gzip'} data that holds nothing")
    refused(tmp_path, compress(data, codec, pieces=3), *words, name=f"h.jsonl.{codec}")


@pytest.mark.parametrize("codec", ["zst", "gz"])
@pytest.mark.parametrize("damage, words", [
    (lambda z: z[:6] + b"garbage after the magic bytes", "damaged"),
    (lambda z: z + b"more", "damaged"),
    (lambda z: z[:10], "no ops"),
])
def test_a_damaged_compressed_file_is_one_line(tmp_path, codec, damage, words):
    refused(tmp_path, damage(compress(jsonl(STALE), codec)), words, name=f"h.jsonl.{codec}")


@FUZZ
@given(data=broken(), codec=st.sampled_from(["zst", "gz"]), pieces=st.integers(1, 5),
       cut=st.none() | st.floats(0, 1))
def test_compressed_histories_are_answered_as_their_plain_twins(tmp_path, data, codec, pieces, cut):
    """Compressed, a history gets the plain file's answer (line numbers included); cut
    anywhere, as a killed harness leaves it, the answer of the plain prefix it holds."""
    z = compress(data, codec, pieces)
    if cut is not None:
        z = z[:int(cut * len(z))]
    held = decompressed(z)
    plain, packed = tmp_path / "h.jsonl", tmp_path / "h.jsonl.z"
    plain.write_bytes(held)
    packed.write_bytes(z)
    a, b = check_cli(plain), check_cli(packed)
    if held:
        untimed = [re.sub(r"\([0-9.e+-]+s\)", "", r.stdout) for r in (a, b)]
        assert a.exit_code == b.exit_code and untimed[0] == untimed[1]
        assert answer(a).replace("h.jsonl", "h.jsonl.z", 1) == answer(b)
    else:
        assert "no ops" in answer(b)


def test_the_issue_examples_were_linearizable_and_now_are_refused(tmp_path):
    assert verdict(tmp_path, jsonl(STALE)) == 1        # the history itself: not linearizable
    for data in (jsonl(STALE, "\r"), jsonl(STALE, " "), b"plain text\n", b"plain text"):
        refused(tmp_path, data, "line 1")


def test_a_history_with_windows_line_ends_or_a_bom_is_still_one(tmp_path):
    assert verdict(tmp_path, jsonl(STALE, "\r\n")) == 1
    assert verdict(tmp_path, BOM + jsonl(STALE)) == 1
    assert verdict(tmp_path, b"\n" + jsonl(STALE).replace(b"\n", b"\n\n")) == 1


def test_a_cut_last_line_is_dropped_only_after_an_op_and_only_if_cut(tmp_path):
    cut = jsonl(STALE) + json.dumps(W1[0]).encode()[:25]
    assert verdict(tmp_path, cut) == 1
    multibyte = jsonl(STALE) + '{"process": 5, "type": "invoke", "f": "write", "value": "é'.encode()[:-1]
    assert verdict(tmp_path, multibyte) == 1
    refused(tmp_path, jsonl(STALE) + b"[1, 2", "line 5")                  # not an op line
    refused(tmp_path, jsonl(STALE) + b'{"process": 5}}', "line 5")         # not a prefix
    refused(tmp_path, json.dumps(W1[0]).encode()[:25], "line 1")           # nothing before it


@pytest.mark.parametrize("written, read, linearizable", [
    (1, True, False), (True, 1, False), (0, False, False), (False, 0, False), (1, "1", False),
    ("true", True, False), (None, False, False), ([1], [True], False), ({"a": 1}, [["a", 1]], False),
    ({"a": True}, {"a": 1}, False), ([], {}, False),
    (1, 1.0, True), (1.0, 1, True), (True, True, True), ({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]}, True),
    ({"b": 1, "a": 2}, {"a": 2, "b": 1}, True), (1e300, 1e300, True),
])
def test_values_compare_by_json_type_and_value(tmp_path, written, read, linearizable):
    """A boolean is not a number, a string not a number, an object not an array of pairs;
    numbers compare by value (1 and 1.0 are the same JSON number)."""
    ops = [{**W1[0], "value": written}, {**W1[1], "value": written}] + read_of(read)
    assert verdict(tmp_path, jsonl(ops)) == (0 if linearizable else 1)
    cas = ops[:2] + [{"process": 1, "type": "invoke", "f": "cas", "key": "k", "value": [read, 7]},
                     {"process": 1, "type": "ok", "f": "cas", "key": "k", "value": [read, 7]}]
    assert verdict(tmp_path, jsonl(cas)) == (0 if linearizable else 1)


def test_keys_compare_by_type_and_value(tmp_path):
    """1 and "1" are two keys: a read of key "1" cannot see the write to key 1."""
    assert verdict(tmp_path, jsonl([{**o, "key": 1} for o in W1] + read_of(1, key="1"))) == 1
    assert verdict(tmp_path, jsonl([{**o, "key": 1} for o in W1] + read_of(1, key=1))) == 0


def test_nesting_up_to_the_bound_is_read(tmp_path):
    ops = [{**W1[0], "value": nested(DEPTH - 1)}, {**W1[1], "value": nested(DEPTH - 1)}]
    assert verdict(tmp_path, jsonl(ops + read_of(nested(DEPTH - 1)))) == 0
    assert verdict(tmp_path, jsonl(ops + read_of(nested(DEPTH - 2)))) == 1


def test_dev_zero_and_an_overlong_line_are_refused_without_reading_them_whole(tmp_path, monkeypatch):
    line = answer(check_cli(Path("/dev/zero")))
    assert "zero line 1: longer than 16 MiB" in line
    monkeypatch.setattr(history_mod, "MAX_LINE", 1000)
    monkeypatch.setattr(history_mod, "_CHUNK", 64)
    long_op = {**W1[0], "value": "x" * 2000}
    refused(tmp_path, jsonl(STALE[:2] + [long_op]), "line 3", "longer than")
    refused(tmp_path, jsonl(STALE[:2]) + json.dumps(long_op).encode(), "line 3", "longer than")
    assert verdict(tmp_path, jsonl(STALE + [{**W1[0], "value": "x" * 900}])) == 1


def test_a_file_name_with_a_newline_is_still_one_line(tmp_path):
    refused(tmp_path, b"nope\n", "line 1", name="a\nb.jsonl".replace("\n", "\\n"))
    path = tmp_path / "a\nb.jsonl"
    path.write_bytes(b"nope\n")
    assert "line 1" in answer(check_cli(path))


def test_huge_times_and_string_processes_are_a_history(tmp_path):
    ops = [{**o, "time": t} for o, t in zip(STALE, (9e18, 1e300, -5, 0.5))]
    assert verdict(tmp_path, jsonl(ops)) == 1
    ops = [{**o, "process": f"p{o['process']}"} for o in STALE]
    assert verdict(tmp_path, jsonl(ops)) == 1


# ============================================================================ check RUN_DIR

def run_dir(tmp_path, workload: str, ops: list[dict], final: dict | None) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    (d / "test.json").write_text(json.dumps(TestSpec(workload=workload, seed=1, time_limit=1).to_json()))
    for i, op in enumerate(ops):
        op.setdefault("time", i * 1000)
        op["index"] = i
    (d / "history.jsonl").write_bytes(jsonl(ops))
    if final is not None:
        (d / "final.json").write_text(json.dumps(final))
    return d


def pair(f: str, value, done=None, p: int = 0, key: str = "s0", kind: str = "ok") -> list[dict]:
    return [{"process": p, "type": "invoke", "f": f, "key": key, "value": value},
            {"process": p, "type": kind, "f": f, "key": key, "value": value if done is None else done}]


GOOD_SET = {"primary": {"sets": {"s0": [1]}}}
GOOD_COUNTER = {"primary": {"counters": {"c0": 1}}}


@pytest.mark.parametrize("workload, ops, final, words", [
    ("set", pair("add", True), GOOD_SET, "a set element must be an integer or a string, got True"),
    ("set", pair("add", [1]), GOOD_SET, "a set element"),
    ("set", pair("add", 1.0), GOOD_SET, "a set element"),
    ("set", pair("add", 1), {"primary": {"sets": {"s0": [True]}}}, "final.json"),
    ("set", pair("add", 1), {"primary": {"sets": [1]}}, "final.json"),
    ("counter", pair("add", True, key="c0"), GOOD_COUNTER, "an increment must be an integer"),
    ("counter", pair("add", 1.5, key="c0"), GOOD_COUNTER, "an increment must be an integer"),
    ("counter", pair("add", "1", key="c0"), GOOD_COUNTER, "an increment must be an integer"),
    ("counter", pair("add", 1, key="c0") + pair("read", None, True, key="c0"), GOOD_COUNTER,
     "a counter read must be an integer or null"),
    ("counter", pair("add", 1, key="c0"), {"primary": {"counters": {"c0": "1"}}}, "final.json"),
    ("queue", pair("enqueue", True, "1-0", key="q0"), None, "a payload must be a string or an integer"),
    ("queue", pair("enqueue", [1], "1-0", key="q0"), None, "a payload"),
    ("queue", pair("dequeue", None, [["1-0"]], key="q0"), None, "the dequeue value must be a list of [id, payload]"),
    ("queue", pair("dequeue", None, "1-0", key="q0"), None, "the dequeue value"),
    ("queue", pair("ack", [[1, "m1"]], 1, key="q0"), None, "the ack value"),
    ("register", pair("cas", [1], key="r0"), None, "cas value must be [expected, new]"),
    ("register", pair("enqueue", 1, key="r0"), None, "the register model knows"),
])
def test_a_run_whose_history_its_checkers_cannot_read_is_refused(tmp_path, workload, ops, final, words):
    d = run_dir(tmp_path, workload, ops, final)
    r = CliRunner().invoke(main, ["check", str(d)])
    line = answer(r)
    assert r.exit_code == 2 and words in line, line


@pytest.mark.parametrize("workload, ops, final, code", [
    ("set", pair("add", 1), GOOD_SET, 0),
    ("set", pair("add", 1), {"primary": {"sets": {"s0": []}}}, 1),
    ("set", pair("add", "1"), GOOD_SET, 1),            # "1" is not 1: lost, and 1 unexpected
    ("counter", pair("add", 1, key="c0"), GOOD_COUNTER, 0),
    ("counter", pair("add", 1, key="c0"), {"primary": {"counters": {"c0": 0}}}, 1),
    ("set", pair("add", 1), [1, 2], 4),                 # final.json not an object: no final read
])
def test_a_run_with_a_valid_history_gets_a_verdict(tmp_path, workload, ops, final, code):
    r = CliRunner().invoke(main, ["check", str(run_dir(tmp_path, workload, ops, final))])
    assert answer(r) == "" and r.exit_code == code, r.output


def test_a_run_with_an_empty_history_is_not_judged(tmp_path):
    d = run_dir(tmp_path, "set", [], GOOD_SET)
    line = answer(CliRunner().invoke(main, ["check", str(d)]))
    assert "history.jsonl: no ops" in line


def test_the_runner_still_reads_a_checker_refusal_as_unknown():
    """A run's own history that a checker refuses is a harness bug, not bad input: the
    run's verdict is unknown (`check RUN_DIR` refuses it instead, above)."""
    spec = TestSpec(workload="set", seed=1)
    out = run_checkers(workload_for(spec), pair("add", True), GOOD_SET, spec)
    assert out["set"].valid == "unknown" and "a set element" in out["set"].summary
    with pytest.raises(HistoryError):
        run_checkers(workload_for(spec), pair("add", True), GOOD_SET, spec, input_errors=True)


def test_allow_empty_reads_an_empty_file_as_no_ops_but_never_garbage(tmp_path):
    """For a run's own history (a run killed before its first op): nothing is no ops, but
    what is there must still be a history."""
    path = tmp_path / "h.jsonl"
    for data in (b"", b"\n\n"):
        path.write_bytes(data)
        assert read_history(path, allow_empty=True) == []
        with pytest.raises(HistoryError, match="no ops"):
            read_history(path)
    path.write_bytes(b'{"process": 0, "type": "invo')
    with pytest.raises(HistoryError, match="line 1"):
        read_history(path, allow_empty=True)
