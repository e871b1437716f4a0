import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness.history import HistoryError, pair_ops, read_history
from harness.history_writer import HistoryWriter


def write_lines(path, lines):
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines))


def test_writer_numbers_stamps_and_reads_back(tmp_path):
    p = tmp_path / "h.jsonl"
    with HistoryWriter(p) as h:
        h.append({"process": 0, "type": "invoke", "f": "add", "key": "s0", "value": 1})
        h.append({"process": 0, "type": "ok", "f": "add", "key": "s0", "value": 1, "node": "n1"})
        h.append({"process": "nemesis", "type": "info", "f": "start-partition", "value": {"shape": "x"}})
    ops = read_history(p)
    assert [o["index"] for o in ops] == [0, 1, 2]
    assert ops[0]["time"] <= ops[1]["time"]
    paired = pair_ops(ops)
    assert len(paired) == 1 and paired[0].type == "ok" and paired[0].node == "n1"


def test_open_invoke_reads_as_info(tmp_path):
    p = tmp_path / "h.jsonl"
    write_lines(p, [{"process": 1, "type": "invoke", "f": "add", "value": 5}])
    (op,) = pair_ops(read_history(p))
    assert op.type == "info" and op.end is None


@pytest.mark.parametrize("lines, where, what", [
    (['{"process": 0, "type": "invoke", "f": "add"}', "{not json"], "line 2", "not valid JSON"),
    ([{"process": 0, "type": "begin", "f": "add"}], "line 1", "type 'begin'"),
    ([{"process": 0, "f": "add"}], "line 1", "missing field 'type'"),
    ([{"process": 0, "type": "ok", "f": "add"}], "line 1", "no open invoke"),
    ([{"process": 0, "type": "invoke", "f": "add"}, {"process": 0, "type": "invoke", "f": "add"}],
     "line 2", "still open"),
    ([{"process": 0, "type": "invoke", "f": "add"}, {"process": 0, "type": "ok", "f": "read"}],
     "line 2", "completes 'read'"),
    (["[1, 2]"], "line 1", "expected a JSON object"),
    ([{"process": [1], "type": "invoke", "f": "add"}], "line 1", "process must be"),
])
def test_malformed_history_names_the_line(tmp_path, lines, where, what):
    p = tmp_path / "bad.jsonl"
    write_lines(p, lines)
    with pytest.raises(HistoryError) as e:
        read_history(p)
    assert where in str(e.value) and what in str(e.value)


def test_killed_writer_leaves_a_readable_file(tmp_path):
    """SIGKILL the writing process mid-run: every op written more than a moment ago is there."""
    p = tmp_path / "h.jsonl"
    code = (
        "import sys, time\n"
        "from harness.history_writer import HistoryWriter\n"
        f"h = HistoryWriter({str(p)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    h.append({'process': 0, 'type': 'invoke', 'f': 'add', 'value': i})\n"
        "    h.append({'process': 0, 'type': 'ok', 'f': 'add', 'value': i})\n"
        "    i += 1\n"
        "    if i == 500: print('ready', flush=True)\n"
        "    time.sleep(0.0005)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ops = read_history(p)  # a kill may cut the very last line; the reader drops only that
    assert len(ops) >= 1000


def test_cut_last_line_is_dropped_but_a_bad_middle_line_is_an_error(tmp_path):
    p = tmp_path / "h.jsonl"
    good = json.dumps({"process": 0, "type": "invoke", "f": "add", "value": 1})
    p.write_text(good + "\n" + '{"process": 0, "ty')
    assert len(read_history(p)) == 1
    p.write_text(good + "\n" + '{"process": 0, "ty' + "\n" + good + "\n")
    with pytest.raises(HistoryError, match="line 2"):
        read_history(p)


# ---------------------------------------------------------------- compressed histories

OPS = [{"process": p, "type": t, "f": "add", "key": f"s{p}", "value": i}
       for i in range(300) for p in range(3) for t in ("invoke", "ok")]


@pytest.mark.parametrize("name", ["h.jsonl.zst", "h.jsonl.gz", "h.jsonl"])
def test_writer_compresses_by_suffix_and_the_reader_takes_any(tmp_path, name):
    p = tmp_path / name
    with HistoryWriter(p) as h:
        for op in OPS:
            h.append(dict(op))
    magic = {"h.jsonl.zst": b"\x28\xb5\x2f\xfd", "h.jsonl.gz": b"\x1f\x8b", "h.jsonl": b'{"'}[name]
    assert p.read_bytes().startswith(magic)
    ops = read_history(p)
    assert [o["index"] for o in ops] == list(range(len(OPS)))
    assert [{k: v for k, v in o.items() if k not in ("index", "time")} for o in ops] == OPS
    # read by what it is, not by its name
    renamed = tmp_path / "renamed.jsonl"
    p.rename(renamed)
    assert read_history(renamed) == ops


def test_writer_refuses_an_existing_file(tmp_path):
    p = tmp_path / "h.jsonl.zst"
    p.write_bytes(b"x")
    with pytest.raises(FileExistsError):
        HistoryWriter(p)


def test_writer_flushes_whole_blocks_as_it_goes(tmp_path):
    """Before close, what was flushed is readable: the stream has no end yet."""
    p = tmp_path / "h.jsonl.zst"
    h = HistoryWriter(p)
    for op in OPS[:10]:
        h.append(dict(op))
    time.sleep(3 * HistoryWriter.FLUSH_EVERY)
    assert len(read_history(p)) == 10
    h.close()
    assert len(read_history(p)) == 10


KILLED_WRITER = (
    "import sys, time\n"
    "from harness.history_writer import HistoryWriter\n"
    "h = HistoryWriter(sys.argv[1])\n"
    "i = 0\n"
    "while True:\n"
    "    h.append({'process': 0, 'type': 'invoke', 'f': 'add', 'value': i})\n"
    "    h.append({'process': 0, 'type': 'ok', 'f': 'add', 'value': i})\n"
    "    i += 1\n"
    "    if i % 500 == 0:\n"
    "        time.sleep(2 * h.FLUSH_EVERY)   # flushed by the time this is printed\n"
    "        print(i, flush=True)\n"
    "    time.sleep(0.0002)\n")


@pytest.mark.parametrize("name", ["h.jsonl.zst", "h.jsonl.gz"])
def test_killed_compressing_writer_leaves_every_flushed_op(tmp_path, name):
    """SIGKILL mid-write: the compressed stream has no end, and every op flushed before
    the kill is read back, in order; only a cut-off last line may be dropped."""
    p = tmp_path / name
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(p)], stdout=subprocess.PIPE,
                            text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    flushed = 0
    while flushed < 1500:
        flushed = int(proc.stdout.readline())
    time.sleep(0.05)        # mid-write: between flushes, ops still in the list
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ops = read_history(p)
    assert len(ops) >= 2 * flushed
    assert [o["index"] for o in ops] == list(range(len(ops)))
    assert [o["value"] for o in ops[::2]] == list(range(len(ops) // 2))


def test_damaged_compressed_history_is_one_clear_error(tmp_path):
    p = tmp_path / "h.jsonl.zst"
    with HistoryWriter(p) as h:
        for op in OPS:
            h.append(dict(op))
    data = p.read_bytes()
    p.write_bytes(data[:4] + b"garbage" * 20)
    with pytest.raises(HistoryError, match=r"^h\.jsonl\.zst: cannot read history after line 0: "
                                           r"damaged zstd data near byte \d+ \("):
        read_history(p)
    p.write_bytes(data + b"trailing")
    with pytest.raises(HistoryError, match="bytes after its end"):
        read_history(p)
    p.write_bytes(data + data)      # two frames, as `cat a.zst b.zst` makes
    assert len(read_history(p)) == 2 * len(OPS)
