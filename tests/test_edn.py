"""Jepsen EDN histories (harness/edn.py): Jepsen-style files read into our ops, ops written
back one map per line, round trips (hypothesis, and the vendored corpus), and malformed
files, each refused with one HistoryError line that says what is wrong and where."""

from __future__ import annotations

import io
import os
from pathlib import Path

import edn_format
import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.edn import edn_text, read_edn_history, write_edn_history
from harness.history import MAX_DEPTH, HistoryError, read_history

CORPUS = Path(__file__).parent / "corpus" / "porcupine"
FUZZ = settings(max_examples=int(os.environ.get("SB_FUZZ", 150)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def edn_file(tmp_path: Path, text: str | bytes, name: str = "history.edn") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# ====================================================================== Jepsen's files

LIST_APPEND = """\
{:type :invoke, :f :txn, :value [[:append 5 1] [:r 5 nil]], :process 0, :time 123, :index 0}
{:type :invoke, :f :start-partition, :value :majority, :process :nemesis, :time 130, :index 1}
{:type :ok, :f :txn, :value [[:append 5 1] [:r 5 [1]]], :process 0, :time 456, :index 2}
{:type :info, :f :start-partition, :value [:isolated {"n1" #{"n3" "n2"}}], :process :nemesis, :time 460, :index 3}
{:type :invoke, :f :txn, :value [[:r 6 nil] [:append 6 2]], :process 1, :time 500, :index 4}
{:type :info, :f :txn, :value [[:r 6 nil] [:append 6 2]], :process 1, :time 900, :index 5, :error [:timeout "read \\"timed\\" out"]}
{:type :invoke, :f :txn, :value [[:r 5 nil]], :process 2, :time 950, :index 6}
"""


def test_list_append_one_op_per_line(tmp_path):
    ops = read_edn_history(edn_file(tmp_path, LIST_APPEND))
    assert ops == [
        {"type": "invoke", "f": "txn", "value": [["append", 5, 1], ["r", 5, None]],
         "process": 0, "time": 123, "index": 0},
        {"type": "invoke", "f": "start-partition", "value": "majority", "process": "nemesis",
         "time": 130, "index": 1},
        {"type": "ok", "f": "txn", "value": [["append", 5, 1], ["r", 5, [1]]],
         "process": 0, "time": 456, "index": 2},
        {"type": "info", "f": "start-partition", "value": ["isolated", {"n1": ["n2", "n3"]}],
         "process": "nemesis", "time": 460, "index": 3},
        {"type": "invoke", "f": "txn", "value": [["r", 6, None], ["append", 6, 2]],
         "process": 1, "time": 500, "index": 4},
        {"type": "info", "f": "txn", "value": [["r", 6, None], ["append", 6, 2]], "process": 1,
         "time": 900, "index": 5, "error": ["timeout", 'read "timed" out']},
        # left open at the end: legal, as in our JSONL histories
        {"type": "invoke", "f": "txn", "value": [["r", 5, None]], "process": 2, "time": 950,
         "index": 6},
    ]


REGISTER_VECTOR = """[{:type :invoke, :f :write, :value 3, :process 0, :time 1, :index 0}
 {:type :invoke, :f :read, :value nil, :process 1, :time 2, :index 1}
 {:type :ok, :f :write, :value 3, :process 0, :time 3, :index 2}
 {:type :ok, :f :read, :value 3, :process 1, :time 4, :index 3}
 {:type :invoke, :f :cas, :value [3 4], :process 0, :time 5, :index 4}
 {:type :fail, :f :cas, :value [3 4], :process 0, :time 6, :index 5}]
"""


def test_register_history_as_one_vector(tmp_path):
    ops = read_edn_history(edn_file(tmp_path, REGISTER_VECTOR))
    assert [(o["type"], o["f"], o["value"]) for o in ops] == [
        ("invoke", "write", 3), ("invoke", "read", None), ("ok", "write", 3),
        ("ok", "read", 3), ("invoke", "cas", [3, 4]), ("fail", "cas", [3, 4])]
    assert [o["index"] for o in ops] == list(range(6))
    assert all("key" not in o for o in ops)


def test_whole_history_on_one_line_without_commas(tmp_path):
    text = REGISTER_VECTOR.replace(",", "").replace("\n", " ")
    assert read_edn_history(edn_file(tmp_path, text)) == read_edn_history(
        edn_file(tmp_path, REGISTER_VECTOR, "other.edn"))


INDEPENDENT = """\
{:type :invoke, :f :cas, :value [3 [1 2]], :process 0, :time 10, :index 0}
{:type :invoke, :f :read, :value [4 nil], :process 1, :time 11, :index 1}
{:type :info, :f :start, :value nil, :process :nemesis, :time 12, :index 2}
{:type :fail, :f :cas, :value [3 [1 2]], :process 0, :time 13, :index 3}
{:type :ok, :f :read, :value #jepsen.independent.Tuple{:key 4, :value 7}, :process 1, :time 14, :index 4}
{:type :invoke, :f :write, :value ["k" 5], :process 0, :time 15, :index 5}
{:type :info, :f :write, :value ["k" 5], :process 0, :time 16, :index 6, :error :timeout}
"""


def test_independent_keyed_register_history(tmp_path):
    ops = read_edn_history(edn_file(tmp_path, INDEPENDENT), keyed=True)
    assert [(o["type"], o["f"], o.get("key"), o["value"]) for o in ops] == [
        ("invoke", "cas", 3, [1, 2]), ("invoke", "read", 4, None),
        ("info", "start", None, None),          # the nemesis's ops carry no tuple
        ("fail", "cas", 3, [1, 2]), ("ok", "read", 4, 7),
        ("invoke", "write", "k", 5), ("info", "write", "k", 5)]
    assert "key" not in ops[2]
    assert ops[6]["error"] == "timeout"


def test_independent_history_read_unkeyed_keeps_the_tuples(tmp_path):
    ops = read_edn_history(edn_file(tmp_path, INDEPENDENT))
    assert ops[0]["value"] == [3, [1, 2]] and "key" not in ops[0]
    assert ops[4]["value"] == [4, 7]        # the record reads as the [key value] it stands for


def test_keyed_op_that_is_no_tuple_is_named(tmp_path):
    text = INDEPENDENT.replace(":value [4 nil]", ":value 4")
    with pytest.raises(HistoryError) as e:
        read_edn_history(edn_file(tmp_path, text), keyed=True)
    assert str(e.value) == ("history.edn op 2 (line 2): keyed history, but :value is not a "
                            "[key value] pair: 4")
    with pytest.raises(HistoryError, match=r"op 1 \(line 1\): key must be a string or an "
                                           r"integer, got 1\.5"):
        read_edn_history(edn_file(tmp_path, "{:type :invoke :f :r :value [1.5 2] :process 0}"),
                         keyed=True)


def test_values_of_every_edn_kind(tmp_path):
    text = ('{:type :invoke, :f :read, :process 0, :value '
            '{:kw :a/b, "s" "x", 1 2, nil 3, [1 2] 4, :set #{3 1 2}, :mixed #{"a" 1}, '
            ':list (1 (2)), :char \\c, :sym foo, :ratio 1/4, :dec 2.5M, :big 12N, :hex 0x10, '
            ':inst #inst "2020-01-02T03:04:05Z", :uuid #uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", '
            ':obj #object[java.lang.Thread 0x1a "main"], :err #error {:cause "boom"}, '
            ':meta ^{:tag 1} [5], :gone [1 #_ 2 3], :esc "tab\\there\\nand \\\\ \\u00e9"}}'
            ' ; a comment\n')
    (op,) = read_edn_history(edn_file(tmp_path, text))
    assert op["value"] == {
        "kw": "a/b", "s": "x", "1": 2, "nil": 3, "[1,2]": 4, "set": [1, 2, 3],
        "mixed": ["a", 1],      # not comparable: in the order of their JSON text
        "list": [1, [2]], "char": "c", "sym": "foo", "ratio": 0.25, "dec": 2.5, "big": 12,
        "hex": 16, "inst": "2020-01-02T03:04:05+00:00",
        "uuid": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "obj": ["java.lang.Thread", 26, "main"],
        "err": {"cause": "boom"}, "meta": [5], "gone": [1, 3], "esc": "tab\there\nand \\ é"}


def test_crlf_line_ends_and_a_byte_order_mark(tmp_path):
    text = "\ufeff" + LIST_APPEND.replace("\n", "\r\n")
    assert read_edn_history(edn_file(tmp_path, text)) == read_edn_history(
        edn_file(tmp_path, LIST_APPEND, "plain.edn"))


def test_tag_handlers_do_not_outlive_the_read(tmp_path):
    read_edn_history(edn_file(tmp_path, "{:type :invoke :f :r :process 0 :value #my.Rec{:a 1}}"))
    with pytest.raises(NotImplementedError):
        edn_format.loads("#my.Rec{:a 1}", write_ply_tables=False)


def test_no_temporary_file_is_left(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    read_edn_history(edn_file(tmp_path, LIST_APPEND))
    with pytest.raises(HistoryError):
        read_edn_history(edn_file(tmp_path, LIST_APPEND * 2))      # process 2 invokes twice
    assert list(scratch.iterdir()) == []


def test_read_history_names_the_file_it_is_told(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"type": "ok", "f": "read", "process": 0}\n')
    with pytest.raises(HistoryError, match=r"^orig\.edn line 1: ok for process 0 with no open"):
        read_history(path, name="orig.edn")
    with pytest.raises(HistoryError, match=r"^x\.jsonl line 1: "):
        read_history(path)


# ====================================================================== writing

def test_edn_text_is_jepsen_style():
    assert edn_text({"type": "invoke", "f": "txn", "value": [["append", 5, 1], ["r", 5, None]],
                     "process": 0, "time": 123, "index": 0}) == (
        "{:type :invoke, :f :txn, :value [[:append 5 1] [:r 5 nil]], :process 0, :time 123, "
        ":index 0}")
    assert edn_text({"index": 7, "time": 5, "type": "info", "process": "nemesis",
                     "f": "start-partition", "value": {"n1": ["n2"], "a b": True, "k": 1.5},
                     "node": "n1"}) == (
        '{:type :info, :f :start-partition, :value {:n1 ["n2"], "a b" true, :k 1.5}, '
        ':process :nemesis, :time 5, :index 7, :node "n1"}')
    # a keyed client op, Jepsen-independent style; the key becomes part of the value
    assert edn_text({"type": "ok", "f": "cas", "key": "x", "value": [1, 2], "process": 3}) == (
        '{:type :ok, :f :cas, :value ["x" [1 2]], :process 3}')
    assert edn_text({"type": "ok", "f": "read", "key": None, "value": 1, "process": 3}) == (
        "{:type :ok, :f :read, :value 1, :process 3, :key nil}")


def test_strings_are_escaped():
    text = edn_text({"type": "ok", "f": "odd f", "process": 0,
                     "value": 'q"b\\n\nt\tr\r\x01\x7f\u2028é'})
    assert text == ('{:type :ok, :f "odd f", '
                    ':value "q\\"b\\\\n\\nt\\tr\\r\\u0001\\u007f\\u2028é", :process 0}')
    assert "\n" not in text
    assert edn_format.loads(text, write_ply_tables=False)[edn_format.Keyword("value")] == (
        'q"b\\n\nt\tr\r\x01\x7f\u2028é')


def test_writer_refuses_what_edn_cannot_hold():
    with pytest.raises(ValueError):
        edn_text({"type": "ok", "f": "r", "process": 0, "value": float("nan")})
    with pytest.raises(TypeError):
        edn_text({"type": "ok", "f": "r", "process": 0, "value": object()})


def exact(ops: list[dict]) -> bytes:
    return orjson.dumps(ops, option=orjson.OPT_SORT_KEYS)


def round_trip(tmp_path: Path, ops: list[dict], name: str = "rt.edn") -> list[dict]:
    buf = io.StringIO()
    write_edn_history(ops, buf)
    keyed = any(o["process"] != "nemesis" and o.get("key") is not None for o in ops)
    return read_edn_history(edn_file(tmp_path, buf.getvalue(), name), keyed=keyed)


def test_round_trip_of_the_handwritten_histories(tmp_path):
    for i, (text, keyed) in enumerate([(LIST_APPEND, False), (REGISTER_VECTOR, False),
                                       (INDEPENDENT, True)]):
        ops = read_edn_history(edn_file(tmp_path, text, f"in{i}.edn"), keyed=keyed)
        assert round_trip(tmp_path, ops, f"out{i}.edn") == ops


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.jsonl")), ids=lambda p: p.name)
def test_round_trip_of_the_corpus(tmp_path, path):
    ops = read_history(path)
    assert exact(round_trip(tmp_path, ops)) == exact(ops)


def test_the_corpus_is_there():
    assert len(list(CORPUS.glob("*.jsonl"))) >= 30


# Any history our JSONL reader accepts: client ops paired per process, nemesis ops
# anywhere, a last invoke possibly left open, any JSON values and extra fields.
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
_names = (st.sampled_from(["read", "write", "cas", "txn", "append", "r", "w", "start-kill"])
          | st.text(max_size=6))
_micro = st.tuples(st.sampled_from(["append", "r", "w"]) | st.text(max_size=3),
                   st.integers(-5, 5) | st.text(max_size=3), _json).map(list)
_extra = st.dictionaries(st.sampled_from(["node", "error", "a b", ":x", "ünï"])
                         | st.text(max_size=5), _json, max_size=2)
_keys = st.integers(-2 ** 63, 2 ** 64 - 1) | st.text(max_size=5)


@st.composite
def histories(draw):
    keyed = draw(st.booleans())
    processes = draw(st.lists(st.integers(0, 2 ** 40) | st.sampled_from(["p1", "x y", ""]),
                              min_size=1, max_size=4, unique=True))
    open_: dict = {}
    ops = []
    for index in range(draw(st.integers(1, 14))):
        process = draw(st.sampled_from(processes + ["nemesis"]))
        if process == "nemesis":
            op = {"type": draw(st.sampled_from(["invoke", "info"])), "f": draw(_names)}
        elif process in open_:
            op = {"type": draw(st.sampled_from(["ok", "fail", "info"])), "f": open_.pop(process)}
        else:
            op = {"type": "invoke", "f": draw(_names)}
            open_[process] = op["f"]
        op["process"] = process
        if draw(st.booleans()):
            op["value"] = draw(st.lists(_micro, max_size=3) if op["f"] == "txn" else _json)
        if draw(st.booleans()):
            op["time"] = draw(st.integers(0, 2 ** 63) | st.floats(0, 1e12))
        if draw(st.booleans()):
            op["index"] = index
        if keyed and process != "nemesis":
            key = draw(st.none() | _keys | _keys)
            if key is not None or draw(st.booleans()):
                op["key"] = key
        elif draw(st.booleans()):
            op["key"] = draw(st.none() | (_keys if process == "nemesis" else st.none()))
        op.update({k: v for k, v in draw(_extra).items() if k not in op and k not in (
            "type", "f", "value", "process", "time", "index", "key")})
        ops.append(op)
    return ops


@FUZZ
@given(ops=histories())
def test_round_trip_property(tmp_path, ops):
    path = tmp_path / "h.jsonl"
    path.write_bytes(b"".join(orjson.dumps(op) + b"\n" for op in ops))
    accepted = read_history(path)           # what our JSONL reader accepts ...
    back = round_trip(tmp_path, accepted)   # ... comes back equal
    keyed = any(o["process"] != "nemesis" and o.get("key") is not None for o in accepted)
    # in a keyed history a client op without a key is written, and read, with key None
    expected = [{**o, "key": None} if keyed and o["process"] != "nemesis" and "key" not in o
                else o for o in accepted]
    assert back == expected
    assert exact(back) == exact(expected)   # and of the same types: 1, 1.0 and true differ


# ====================================================================== malformed files

A = "{:type :invoke, :f :read, :value nil, :process 0}"
B = "{:type :ok, :f :read, :value 1, :process 0}"


@pytest.mark.parametrize("text, message", [
    (b"", "history.edn: an empty file: not a history"),
    (b" \n,\n\t", "history.edn: an empty file: not a history"),
    (b"; just a comment\n", "history.edn: no ops in it: not a history"),
    (b"[]", "history.edn: no ops in it: not a history"),
    (f"{A}\n{B[:-1]}\n", "history.edn: unbalanced brackets: the '{' opened at line 2 is never "
                         "closed"),
    (f"{A}\n{B}}}\n", "history.edn line 2: unbalanced brackets: '}' with nothing open to close"),
    (f"{A}\n{{:type :ok, :f :read, :value [1}}, :process 0}}\n",
     "history.edn line 2: unbalanced brackets: '}' closes the '[' opened at line 2"),
    (f'{A}\n{{:type :ok, :f :read, :value "1, :process 0}}\n',
     'history.edn line 2: a string that is never closed (no ending ")'),
    (f"{A}\n{B}\n42\n", "history.edn op 3: expected an op map such as {:type :invoke, :f :read, "
                        "...}, got 42"),
    (f"[{A} [:not :an :op]]", "history.edn op 2 (line 1): expected an op map such as {:type "
                              ":invoke, :f :read, ...}, got ['not', 'an', 'op']"),
    (A + "\n" + B.replace(":type :ok", ':type "ok"') + "\n",
     "history.edn op 2 (line 2): :type must be a keyword such as :invoke, got 'ok'"),
    (f"{A}\n{B.replace(':ok', ':done')}\n",
     "history.edn op 2 (line 2): type 'done' is not one of invoke, ok, fail, info"),
    (f"{A}\n{A}\n", "history.edn op 2 (line 2): process 0 invokes 'read' while its 'read' is "
                    "still open"),
    (f"{B}\n", "history.edn op 1 (line 1): ok for process 0 with no open invoke"),
    ("{:type :invoke, :process 0}", "history.edn op 1 (line 1): missing field 'f'"),
    ("{:type :invoke, :f :r, :process 1.5}", "history.edn op 1 (line 1): process must be an "
                                             "integer or a string"),
    ("{:type :invoke, :f :r, :time :later, :process 0}",
     "history.edn op 1 (line 1): time must be a number, got 'later'"),
    ("{:type :invoke, :f :read, :process}",
     "history.edn: not valid EDN: Even number of terms required for map"),
    ("{:type :invoke, :f :read, :process 0} #foo", "history.edn: not valid EDN: the file ends in "
                                                   "the middle of a value"),
    ("{:type :invoke, :f :read, :process 0}\n{:type :ok # :f}",
     "history.edn line 2: not valid EDN: unexpected '#'"),
    ('{:type :invoke, :f :read, :value "\\uZZZZ", :process 0}',
     "history.edn: not valid EDN: a string with a bad escape (truncated \\uXXXX escape)"),
    ("{:type :invoke, :f :read, :value ##NaN, :process 0}",
     "history.edn op 1 (line 1): a number that is not finite (nan) has no JSON form"),
    ("{:type :invoke, :f :read, :value 123456789012345678901234567890, :process 0}",
     "history.edn op 1 (line 1): cannot read this op: Integer exceeds 64-bit range"),
    ('{:type :invoke, :f :read, :value {:a 1 "a" 2}, :process 0}',
     "history.edn op 1 (line 1): a map has two keys that both read as 'a'"),
    ("{:type :invoke, :f :r, :process 0, :value " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}",
     "history.edn line 1: nested deeper than 100 levels of vectors, lists, maps and sets"),
    ("{:type :invoke, :f :r, :process 0, :value #{" + "(" * 10 ** 5 + ")" * 10 ** 5 + "}}",
     "history.edn line 1: nested deeper than 100 levels"),
    (b"{:type :invoke, :f :read, :process 0}\n\x00\xff\xfe garbage",
     "history.edn line 2: not UTF-8 text (byte 0xff): not an EDN history"),
    (b"{:type :invoke, :f :read, :process 0}\x00", "history.edn line 1: not valid EDN: "
                                                   "unexpected '\\x00'"),
])
def test_malformed_files_are_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(HistoryError) as e:
        read_edn_history(edn_file(tmp_path, text))
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


def test_deepest_nesting_allowed_is_the_jsonl_readers(tmp_path):
    depth = MAX_DEPTH - 1       # the op map is one level
    value = "[" * depth + "]" * depth
    (op,) = read_edn_history(edn_file(tmp_path, "{:type :invoke :f :r :process 0 :value %s}"
                                      % value))
    (again,) = read_edn_history(edn_file(tmp_path, "[{:type :invoke :f :r :process 0 :value "
                                         "%s}]" % value, "vector.edn"))
    assert op == again and op["value"] == orjson.loads(value.replace("][", "],["))


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(HistoryError, match=r"^missing\.edn: cannot read history: No such file"):
        read_edn_history(tmp_path / "missing.edn")
    with pytest.raises(HistoryError, match=r": cannot read history: Is a directory"):
        read_edn_history(tmp_path)


_valid = LIST_APPEND.encode()


@FUZZ
@given(data=st.binary(max_size=300) | st.builds(
    lambda cut, junk, at: _valid[:at] + junk + _valid[at + cut:],
    st.integers(0, 8), st.binary(max_size=4) | st.sampled_from([b"[", b"}", b'"', b"#", b"\\",
                                                                 b"#_", b"^", b";", b"\r", b":"]),
    st.integers(0, len(_valid))))
def test_any_bytes_give_ops_or_one_history_error(tmp_path, data):
    path = edn_file(tmp_path, data)
    try:
        ops = read_edn_history(path)
    except HistoryError as e:
        assert "\n" not in str(e) and str(e).startswith("history.edn")
    else:
        assert ops and all(o["type"] in ("invoke", "ok", "fail", "info") for o in ops)
