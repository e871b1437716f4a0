import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness.history import HistoryError, HistoryWriter, pair_ops, read_history


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
        "from harness.history import HistoryWriter\n"
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
