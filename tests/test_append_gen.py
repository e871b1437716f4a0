"""The list-append history generator (harness/checkers/append_gen.py): well-formed ops,
and strict serializability checked against the serialization order it returns."""

from __future__ import annotations

import copy
import json

import pytest

from harness.checkers import append_gen
from harness.history import pair_ops, read_history

CONFIGS = [
    dict(n_txns=300, processes=5, keys=4, max_writes_per_key=10, seed=1),
    dict(n_txns=500, processes=8, keys=3, max_writes_per_key=5, max_ops=6, seed=2,
         info_rate=0.1, fail_rate=0.1, leave_open=True),
    dict(n_txns=400, processes=3, keys=2, max_writes_per_key=50, read_share=0.3, seed=3,
         info_rate=0.2, fail_rate=0.05),
    dict(n_txns=200, processes=12, keys=1, max_writes_per_key=1000, min_ops=2, max_ops=2,
         seed=4, leave_open=True, info_rate=0.05),
    dict(n_txns=300, processes=4, keys=5, read_share=0.0, seed=5, fail_rate=0.2),
    dict(n_txns=300, processes=4, keys=5, read_share=1.0, seed=6, info_rate=0.1),
    dict(n_txns=2000, processes=20, keys=20, max_writes_per_key=30, seed=7,
         info_rate=0.02, fail_rate=0.02, leave_open=True),
]
IDS = [f"seed{c['seed']}" for c in CONFIGS]


def txns(history):
    """Transactions as dicts: inv/comp (the ops; comp None when left open)."""
    open_, out = {}, []
    for e in history:
        if e["type"] == "invoke":
            t = {"inv": e, "comp": None}
            open_[e["process"]] = t
            out.append(t)
        else:
            open_.pop(e["process"])["comp"] = e
    return out


def replay_problems(history, final, order):
    """Everything that contradicts `order` being a strict serialization of `history`
    that yields `final` (an empty list when it is one)."""
    problems = []
    by_index = {t["inv"]["index"]: t for t in txns(history)}
    if len(set(order)) != len(order):
        problems.append("a transaction is applied twice")
    for t in by_index.values():
        typ = t["comp"]["type"] if t["comp"] else "open"
        if typ == "ok" and t["inv"]["index"] not in order:
            problems.append(f"ok txn {t['inv']['index']} never applied")
    store: dict[int, list[int]] = {}
    max_inv = -1
    for pos, i in enumerate(order):
        t = by_index.get(i)
        if t is None:
            problems.append(f"order names {i}, not an invoke")
            continue
        comp = t["comp"]
        if comp is not None and comp["type"] == "fail":
            problems.append(f"failed txn {i} applied")
        # real time: no earlier-serialized txn may have been invoked after this one completed
        if comp is not None and comp["type"] == "ok" and comp["time"] <= max_inv:
            problems.append(f"txn {i} completed before one serialized ahead of it was invoked")
        max_inv = max(max_inv, t["inv"]["time"])
        observed = comp["value"] if comp is not None and comp["type"] == "ok" else None
        for j, (f, k, v) in enumerate(t["inv"]["value"]):
            if f == "append":
                store.setdefault(k, []).append(v)
                if observed is not None and observed[j] != ["append", k, v]:
                    problems.append(f"txn {i} micro-op {j}: append changed to {observed[j]}")
            elif observed is not None and observed[j] != ["r", k, store.get(k, [])]:
                problems.append(f"txn {i} micro-op {j}: read {observed[j][2]}, "
                                f"replay gives {store.get(k, [])}")
    lists = final["primary"]["lists"]
    keys = {m[1] for t in by_index.values() for m in t["inv"]["value"]}
    if set(lists) != {str(k) for k in keys}:
        problems.append("the final read does not cover exactly the keys touched")
    for k in keys:
        if lists.get(str(k)) != store.get(k, []):
            problems.append(f"final list of {k}: {lists.get(str(k))}, replay gives {store.get(k, [])}")
    return problems


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_replay_in_serialization_order_reproduces_reads_and_final(cfg):
    h, final, order = append_gen.generate(**cfg, return_order=True)
    assert replay_problems(h, final, order) == []
    # not vacuous: reads saw something, and the order holds every ok transaction
    oks = [t for t in txns(h) if t["comp"] and t["comp"]["type"] == "ok"]
    assert len(order) >= len(oks) > 0
    if 0 < cfg.get("read_share", 0.5) < 1:
        assert any(m[0] == "r" and m[2] for t in oks for m in t["comp"]["value"])


def test_replay_check_catches_corruption():
    """The replay check is not vacuous: a changed read, a changed final list, a shuffled
    order and a wrong real-time order are each reported."""
    h, final, order = append_gen.generate(**CONFIGS[0], return_order=True)
    bad = copy.deepcopy(h)
    e = next(e for e in bad if e["type"] == "ok" and any(m[0] == "r" and m[2] for m in e["value"]))
    m = next(m for m in e["value"] if m[0] == "r" and m[2])
    m[2] = m[2][:-1]
    assert any("read" in p for p in replay_problems(bad, final, order))

    bad_final = copy.deepcopy(final)
    lst = next(v for v in bad_final["primary"]["lists"].values() if v)
    lst.reverse() if len(lst) > 1 else lst.append(10**6)
    assert any("final list" in p for p in replay_problems(h, bad_final, order))

    assert replay_problems(h, final, order[::-1])
    # swapping two real-time-ordered txns whose effects commute is still caught
    ts = {t["inv"]["index"]: t for t in txns(h)}
    for a in range(len(order) - 1):
        t1, t2 = ts[order[a]], ts[order[a + 1]]
        if (t1["comp"]["type"] == "ok" and t1["comp"]["time"] < t2["inv"]["time"]
                and not {m[1] for m in t1["inv"]["value"]} & {m[1] for m in t2["inv"]["value"]}):
            swapped = order[:a] + [order[a + 1], order[a]] + order[a + 2:]
            assert any("completed before" in p for p in replay_problems(h, final, swapped))
            break
    else:
        pytest.fail("no commuting real-time-ordered pair to swap")


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_well_formed(cfg):
    h, final = append_gen.generate(**cfg)
    assert [e["index"] for e in h] == list(range(len(h)))
    times = [e["time"] for e in h]
    assert all(type(t) is int for t in times) and times[0] >= 0
    assert all(a < b for a, b in zip(times, times[1:])), "times must increase with index"
    assert {e["f"] for e in h} == {"txn"}
    assert {e["type"] for e in h} <= {"invoke", "ok", "fail", "info"}
    # per process: invoke, completion, invoke, ... ; nothing after an info or an open invoke
    last = {}
    for e in h:
        prev = last.get(e["process"])
        if e["type"] == "invoke":
            assert prev is None or prev["type"] in ("ok", "fail"), e
        else:
            assert prev is not None and prev["type"] == "invoke" and prev["f"] == e["f"], e
        last[e["process"]] = e
    ts = txns(h)
    assert len(ts) == cfg["n_txns"]
    open_ = [t for t in ts if t["comp"] is None]
    if not cfg.get("leave_open"):
        assert not open_
    for t in open_:
        assert last[t["inv"]["process"]] is t["inv"]
    lo, hi = cfg.get("min_ops", 1), cfg.get("max_ops", 4)
    for t in ts:
        inv = t["inv"]["value"]
        assert lo <= len(inv) <= hi
        for f, k, v in inv:
            assert type(k) is int and (f == "r" and v is None or f == "append" and type(v) is int)
        comp = t["comp"]
        if comp is None:
            continue
        if comp["type"] == "ok":
            assert len(comp["value"]) == len(inv)
            for (f, k, v), got in zip(inv, comp["value"]):
                assert got[:2] == [f, k]
                assert got[2] == v if f == "append" else type(got[2]) is list
        else:
            assert comp["value"] == inv and comp["value"] is not inv
    # after an info its process is replaced by a fresh id: the old one + processes
    procs = cfg.get("processes", 5)
    info_done = set()
    for e in h:
        p = e["process"]
        if e["type"] == "info":
            info_done.add(p)
        elif e["type"] == "invoke" and p >= procs:
            assert p - procs in info_done, e
    assert {e["process"] for e in h if e["process"] < procs} == set(range(procs))


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_appends_unique_and_keys_retired(cfg):
    h, final = append_gen.generate(**cfg)
    limit = cfg.get("max_writes_per_key", 100)
    appended: dict[int, list[int]] = {}
    live: set[int] = set()           # keys touched so far that are not yet retired
    for t in txns(h):
        for f, k, v in t["inv"]["value"]:
            live.add(k)
            if f == "append":
                appended.setdefault(k, []).append(v)
                if len(appended[k]) == limit:
                    live.discard(k)
            assert len(live) <= cfg.get("keys", 10)
    for k, vs in appended.items():
        assert vs == list(range(1, len(vs) + 1)), k       # unique per key, in invoke order
        assert len(vs) <= limit
    for k, lst in final["primary"]["lists"].items():
        assert len(set(lst)) == len(lst) and set(lst) <= set(appended.get(int(k), []))
    total = sum(map(len, appended.values()))
    if total > cfg.get("keys", 10) * limit:
        assert len(appended) > cfg.get("keys", 10)         # keys were retired and replaced


def test_no_faults_every_txn_ok():
    h, final, order = append_gen.generate(n_txns=500, processes=6, keys=5, info_rate=0, fail_rate=0,
                                          seed=11, return_order=True)
    ts = txns(h)
    assert len(ts) == 500 and all(t["comp"]["type"] == "ok" for t in ts)
    assert sorted(order) == sorted(t["inv"]["index"] for t in ts)
    assert {e["process"] for e in h} == set(range(6))


def test_faults_present_with_rates():
    h, final, order = append_gen.generate(n_txns=2000, processes=5, info_rate=0.1, fail_rate=0.1,
                                          seed=12, return_order=True, leave_open=True)
    ts = txns(h)
    kinds = [t["comp"]["type"] if t["comp"] else "open" for t in ts]
    assert 100 < kinds.count("fail") < 300 and 100 < kinds.count("info") < 300
    assert "open" in kinds
    applied = set(order)
    infos = [t["inv"]["index"] for t, k in zip(ts, kinds) if k == "info"]
    n = sum(i in applied for i in infos)
    assert 0.3 < n / len(infos) < 0.7                     # info: applied half the time
    assert not applied & {t["inv"]["index"] for t, k in zip(ts, kinds) if k == "fail"}


def test_own_appends_visible():
    h, _ = append_gen.generate(n_txns=3000, processes=5, keys=3, max_ops=6, seed=13)
    seen = 0
    for t in txns(h):
        if t["comp"]["type"] != "ok":
            continue
        mine: dict[int, list[int]] = {}
        for f, k, v in t["comp"]["value"]:
            if f == "append":
                mine.setdefault(k, []).append(v)
            elif k in mine:
                assert v[-len(mine[k]):] == mine[k]
                seen += 1
    assert seen > 10


def test_transactions_overlap():
    """Like a real run: at an invoke, most other processes have a transaction in flight."""
    h, _ = append_gen.generate(n_txns=2000, processes=5, seed=14)
    in_flight, at_invoke = 0, []
    for e in h:
        if e["type"] == "invoke":
            at_invoke.append(in_flight)
            in_flight += 1
        else:
            in_flight -= 1
    assert sum(at_invoke) / len(at_invoke) > 3


def test_roundtrip_through_read_history(tmp_path):
    h, final = append_gen.generate(n_txns=500, processes=5, info_rate=0.1, fail_rate=0.1,
                                   seed=15, leave_open=True)
    append_gen.write_jsonl(h, tmp_path / "history.jsonl")
    append_gen.write_final(final, tmp_path / "final.json")
    back = read_history(tmp_path / "history.jsonl")
    assert back == h
    assert json.loads((tmp_path / "final.json").read_text()) == final
    ops = pair_ops(back)
    assert len(ops) == 500 and all(o.f == "txn" for o in ops)
    assert sum(o.end is None for o in ops) == sum(t["comp"] is None for t in txns(h)) > 0


def test_deterministic_for_a_seed():
    a = append_gen.generate(**CONFIGS[1], return_order=True)
    b = append_gen.generate(**CONFIGS[1], return_order=True)
    assert a == b
    c = append_gen.generate(**{**CONFIGS[1], "seed": 99}, return_order=True)
    assert c[0] != a[0]
    assert len(append_gen.generate(n_txns=10)) == 2


@pytest.mark.parametrize("bad", [dict(processes=0), dict(keys=0), dict(max_writes_per_key=0),
                                 dict(min_ops=0), dict(min_ops=3, max_ops=2), dict(n_txns=-1)])
def test_bad_parameters(bad):
    with pytest.raises(ValueError):
        append_gen.generate(**bad)


def test_empty():
    h, final, order = append_gen.generate(n_txns=0, return_order=True)
    assert h == [] and order == [] and final == {"primary": {"node": "sim", "lists": {}}}
