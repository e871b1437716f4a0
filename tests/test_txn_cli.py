"""Transactions through the CLI: `check` of list-append histories in our JSONL and in
Jepsen's EDN (the same verdict both ways), Jepsen-style EDN written by hand, `export`,
and `check RUN_DIR --consistency-model` re-judging a run."""

from __future__ import annotations

import json
from pathlib import Path

from harness.checkers import append_gen, histgen
from harness.edn import read_edn_history, write_edn_history

from .conftest import run_cli
from .report_synth import make_run


def _stale(history):
    """Drop the last element of one read whose writer completed before the reader began:
    not strict-serializable, by construction."""
    start, ended = {}, {}
    for op in history:
        if op["type"] == "ok":
            for m in op["value"]:
                if m[0] == "append":
                    ended[(m[1], m[2])] = op["time"]
    for op in history:
        if op["type"] == "invoke":
            start[op["process"]] = op["time"]
        elif op["type"] == "ok":
            for m in op["value"]:
                if m[0] == "r" and m[2] and ended.get((m[1], m[2][-1]), 1 << 62) < start[op["process"]]:
                    if not any(x[1] == m[1] and x is not m for x in op["value"][:op["value"].index(m)]):
                        m[2] = m[2][:-1]
                        return history
    raise AssertionError("no read to make stale")


def _both(tmp_path: Path, history, name: str) -> tuple[Path, Path]:
    jsonl, edn = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.edn"
    append_gen.write_jsonl(history, jsonl)
    with open(edn, "w", encoding="utf-8") as fh:
        write_edn_history(history, fh)
    return jsonl, edn


def test_list_append_verdicts_are_the_same_from_jsonl_and_edn(tmp_path):
    valid, _ = append_gen.generate(n_txns=300, processes=5, keys=4, seed=3)
    broken = _stale(append_gen.generate(n_txns=300, processes=5, keys=4, seed=4)[0])
    for name, history, code in (("valid", valid, 0), ("broken", broken, 1)):
        outs = []
        for path in _both(tmp_path, history, name):
            res = run_cli("check", str(path), "--model", "list-append")
            assert res.returncode == code, res.stdout + res.stderr
            outs.append(res.stdout)
        assert outs[0] == outs[1]
    assert "strict-serializable: violated" in outs[0] and "a contradiction" in outs[0]


def test_keyed_register_verdicts_are_the_same_from_jsonl_and_edn(tmp_path):
    good = histgen.generate(n_ops=400, processes=5, keys=4, seed=5)
    bad, _ = histgen.corrupt_stale_read(histgen.generate(n_ops=400, processes=5, keys=4, seed=6))
    for name, history, code in (("good", good, 0), ("bad", bad, 1)):
        for path in _both(tmp_path, history, name):
            res = run_cli("check", str(path), "--model", "register")
            assert res.returncode == code, (path, res.stdout + res.stderr)
    # the EDN form is Jepsen's independent one, [key value] pairs, read back keyed
    edn = read_edn_history(tmp_path / "bad.edn", keyed=True)
    assert [op.get("key") for op in edn] == [op.get("key") for op in bad]


JEPSEN_STYLE = """\
[{:type :invoke, :f :txn, :value [[:append 1 1] [:append 2 1]], :process 0, :time 1000, :index 0}
 {:type :invoke, :f :txn, :value [[:r 1 nil] [:r 2 nil]], :process 1, :time 1500, :index 1}
 {:type :ok, :f :txn, :value [[:append 1 1] [:append 2 1]], :process 0, :time 2000, :index 2}
 {:type :ok, :f :txn, :value [[:r 1 []] [:r 2 [1]]], :process 1, :time 2500, :index 3}
 {:type :invoke, :f :txn, :value [[:append 1 2]], :process 2, :time 3000, :index 4}
 {:type :info, :f :txn, :value [[:append 1 2]], :process 2, :time 9000, :index 5, :error :timeout}
 {:type :info, :f :start-partition, :value :majority, :process :nemesis, :time 3500, :index 6}]
"""


def test_hand_written_jepsen_history_with_info_ops_and_keywords(tmp_path):
    path = tmp_path / "history.edn"
    path.write_text(JEPSEN_STYLE, encoding="utf-8")
    res = run_cli("check", str(path), "--model", "list-append")
    # process 1 saw key 2's append of process 0's transaction, but not its key 1 append
    assert res.returncode == 1, res.stdout + res.stderr
    assert "G-single" in res.stdout and "T1 < T2 (rw)" in res.stdout.replace("T2 < T1 (rw)", "T1 < T2 (rw)")
    res = run_cli("check", str(path), "--model", "list-append", "--consistency-model", "read-committed")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "read-committed: holds" in res.stdout


def test_export_writes_jepsen_edn_that_reads_back(tmp_path):
    run = make_run(tmp_path / "run", n_ops=300)
    out = tmp_path / "history.edn"
    res = run_cli("export", str(run), "--format", "edn", "-o", str(out))
    assert res.returncode == 0, res.stderr
    ops = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert f"wrote {len(ops)} ops" in res.stderr
    first = out.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("{") and ":type :invoke" in first
    back = read_edn_history(out, keyed=True)
    assert [(o["type"], o["process"], o["f"], o.get("key"), o.get("value")) for o in back] == \
           [(o["type"], o["process"], o["f"], o.get("key"), o.get("value")) for o in ops]
    res = run_cli("export", str(tmp_path / "nope"), "-o", str(tmp_path / "x.edn"))
    assert res.returncode == 2 and not (tmp_path / "x.edn").exists()


def test_recheck_against_another_consistency_model(tmp_path):
    run = make_run(tmp_path / "run", n_ops=50)
    test = json.loads((run / "test.json").read_text())
    test["workload"] = "append"
    (run / "test.json").write_text(json.dumps(test))
    # write skew: each transaction read, empty, the key the other appended to (G2-item)
    history = [
        {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "txn", "value": [["r", 2, None], ["append", 1, 1]]},
        {"index": 1, "time": 1, "process": 1, "type": "invoke", "f": "txn", "value": [["r", 1, None], ["append", 2, 1]]},
        {"index": 2, "time": 2, "process": 0, "type": "ok", "f": "txn", "value": [["r", 2, []], ["append", 1, 1]]},
        {"index": 3, "time": 3, "process": 1, "type": "ok", "f": "txn", "value": [["r", 1, []], ["append", 2, 1]]}]
    (run / "history.jsonl").write_text("".join(json.dumps(op) + "\n" for op in history))
    (run / "final.json").write_text(json.dumps({"primary": {"node": "n1", "lists": {"1": [1], "2": [1]}}}))
    res = run_cli("check", str(run))
    assert res.returncode == 1 and "G2-item" in res.stdout, res.stdout + res.stderr
    # the cycle in words under the checker's summary line
    assert "T1 < T2 (rw)" in res.stdout and "a contradiction" in res.stdout
    res = run_cli("check", str(run), "--consistency-model", "snapshot-isolation")
    assert res.returncode == 0, res.stdout + res.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["checkers"]["list-append"]["details"]["consistency_model"] == "snapshot-isolation"
    res = run_cli("check", str(run), "--consistency-model", "linearizable")
    assert res.returncode == 2 and "choose from" in res.stderr
