"""The counter checker on generated histories whose answer is known by construction."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings, strategies as st

from harness.checkers import CHECKERS
from harness.checkers.counter import CounterChecker, check
from harness.report import build_report
from harness.roles import CheckResult
from harness.spec import TestSpec
from harness.workloads import WORKLOADS
from harness.workloads.counter import CounterWorkload

NODE = "10.0.0.11:6379"


def op(p, typ, f, key, value, t, node=None):
    o = {"time": t, "process": p, "type": typ, "f": f, "key": key, "value": value}
    if node and typ != "invoke":
        o["node"] = node
    return o


def history_of(intervals):
    """intervals: [(process, f, key, invoke value, type, ok value, start, end|None)] → a
    history sorted by time (an end of None: never completed)."""
    events = []
    for p, f, key, inv, typ, val, start, end in intervals:
        events.append(op(p, "invoke", f, key, inv, start))
        if end is not None:
            events.append(op(p, typ, f, key, val if typ == "ok" else inv, end, NODE))
    events.sort(key=lambda o: o["time"])
    for i, o in enumerate(events):
        o["index"] = i
    return events


def final_of(counters, nodes=None):
    f = {"primary": {"node": "n1", "counters": counters}}
    if nodes is not None:
        f["nodes"] = nodes
    return f


def serial(ops, key="c0"):
    """ops: [(f, type, value)] one after another by one process each, 10 ns apart."""
    out, t = [], 0
    for i, (f, typ, v) in enumerate(ops):
        out.append((i, f, key, v if f == "add" else None, typ, v, t, t + 5))
        t += 10
    return history_of(out)


# ------------------------------------------------------------------ by construction

@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.integers(1, 3), st.integers(5, 120))
def test_concurrent_legal_reads_are_valid_and_bounds_are_exact(seed, procs, nkeys, n):
    """Processes run adds and reads concurrently; each add's effect happens at a random
    instant inside its interval (info adds: maybe never, fail adds: never), and each read
    returns the counter at a random instant inside its own. Every such read is legal; the
    checker must accept it, and the bounds it computes contain it."""
    rng = random.Random(seed)
    t_free = [0] * procs
    intervals, effects, read_at = [], [], []
    for _ in range(n):
        p = rng.randrange(procs)
        start = t_free[p] + rng.randint(1, 30)
        end = start + rng.randint(1, 100)
        t_free[p] = end
        key = f"c{rng.randrange(nkeys)}"
        if rng.random() < 0.5:
            d = rng.randint(1, 5)
            typ = rng.choice(["ok", "ok", "ok", "info", "fail"])
            applied = typ == "ok" or (typ == "info" and rng.random() < 0.5)
            if applied:
                effects.append((rng.uniform(start, end), key, d))
            intervals.append((p, "add", key, d, typ, d, start, end))
        else:
            read_at.append((len(intervals), rng.uniform(start, end), key))
            intervals.append((p, "read", key, None, "ok", None, start, end))
    for i, t, key in read_at:
        value = sum(d for te, k, d in effects if k == key and te < t)
        intervals[i] = intervals[i][:5] + (value,) + intervals[i][6:]
    final = {}
    for _, k, d in effects:
        final[k] = final.get(k, 0) + d
    r = check(history_of(intervals), final_of(final))
    assert r["valid"] is True, r["reads_out_of_bounds"]
    assert r["lost"] == 0 and r["reads_out_of_bounds_count"] == 0
    assert r["read_count"] == len(read_at)
    ok_sum = sum(iv[3] for iv in intervals if iv[1] == "add" and iv[4] == "ok")
    assert r["acknowledged_sum"] == ok_sum
    assert r["attempted_sum"] == sum(iv[3] for iv in intervals if iv[1] == "add" and iv[4] != "fail")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ok", "info", "fail"]), st.integers(1, 5)), max_size=40),
       st.integers(0, 200))
def test_final_value_below_the_ok_sum_is_lost_by_the_difference(adds, missing):
    ok_sum = sum(d for t, d in adds if t == "ok")
    info_sum = sum(d for t, d in adds if t == "info")
    missing = min(missing, ok_sum)
    value = ok_sum - missing
    r = check(serial([("add", t, d) for t, d in adds]), final_of({"c0": value}))
    assert r["lost"] == missing and r["valid"] == (missing == 0)
    assert r["lost_rate"] == (round(missing / ok_sum, 6) if ok_sum else 0.0)
    assert r["per_key"]["c0"]["lower"] == ok_sum and r["per_key"]["c0"]["upper"] == ok_sum + info_sum
    # anything up to ok + info is legal; beyond is out of bounds (and not "lost")
    assert check(serial([("add", t, d) for t, d in adds]), final_of({"c0": ok_sum + info_sum}))["valid"]
    r = check(serial([("add", t, d) for t, d in adds]), final_of({"c0": ok_sum + info_sum + 1}))
    assert r["valid"] is False and r["lost"] == 0 and r["final_out_of_bounds"][0]["off_by"] == 1


# ------------------------------------------------------------------ single cases

def test_read_below_the_acknowledged_sum_is_out_of_bounds():
    h = serial([("add", "ok", 3), ("add", "ok", 2), ("read", "ok", 4)])
    r = check(h, final_of({"c0": 5}))
    assert r["valid"] is False and r["reads_out_of_bounds_count"] == 1 and r["reads_below_count"] == 1
    (x,) = r["reads_out_of_bounds"]
    assert (x["key"], x["value"], x["lower"], x["upper"], x["off_by"]) == ("c0", 4, 5, 5, -1)
    assert x["process"] == 2 and x["node"] == NODE and x["window"] == "no fault"
    assert check(serial([("add", "ok", 3), ("add", "ok", 2), ("read", "ok", 5)]), final_of({"c0": 5}))["valid"]


def test_read_above_the_attempted_sum_is_out_of_bounds():
    r = check(serial([("add", "ok", 3), ("read", "ok", 4), ("add", "ok", 1)]), final_of({"c0": 4}))
    assert r["valid"] is False and r["reads_above_count"] == 1
    x = r["reads_out_of_bounds"][0]
    assert (x["lower"], x["upper"], x["off_by"]) == (3, 3, 1)
    assert r["lost"] == 0


def test_concurrent_add_widens_both_sides_only_as_far_as_it_may():
    # add 5 over [0, 100]; reads over [10, 20] may see 0 or 5; a read starting after 100 must see 5
    h = history_of([(0, "add", "c0", 5, "ok", 5, 0, 100),
                    (1, "read", "c0", None, "ok", 0, 10, 20),
                    (2, "read", "c0", None, "ok", 5, 30, 40),
                    (3, "read", "c0", None, "ok", 0, 110, 120)])
    r = check(h, final_of({"c0": 5}))
    assert [(x["value"], x["lower"], x["upper"]) for x in r["reads_out_of_bounds"]] == [(0, 5, 5)]
    assert r["bound_width_max"] == 5 and r["bound_width_mean"] == round(10 / 3, 3)


def test_ties_count_in_the_reads_favour():
    # acknowledged at the instant the read begins: not required; invoked at the instant it ends: allowed
    h = history_of([(0, "add", "c0", 2, "ok", 2, 0, 10), (1, "read", "c0", None, "ok", 0, 10, 20),
                    (2, "add", "c0", 3, "ok", 3, 20, 30), (3, "read", "c0", None, "ok", 5, 10, 20)])
    assert check(h, final_of({"c0": 5}))["valid"] is True


def test_info_increments_widen_the_upper_bound_only():
    h = history_of([(0, "add", "c0", 4, "info", None, 0, 10), (1, "read", "c0", None, "ok", 0, 20, 30),
                    (2, "read", "c0", None, "ok", 4, 40, 50), (3, "add", "c0", 7, "info", None, 60, None)])
    r = check(h, final_of({"c0": 0}))
    assert r["valid"] is True and r["lost"] == 0
    assert r["per_key"]["c0"]["lower"] == 0 and r["per_key"]["c0"]["upper"] == 11
    assert r["info_count"] == 2 and r["acknowledged_sum"] == 0 and r["attempted_sum"] == 11
    assert check(h, final_of({"c0": 11}))["valid"] is True
    r = check(h, final_of({"c0": 12}))
    assert r["valid"] is False and r["final_out_of_bounds_count"] == 1


def test_failed_increments_count_in_neither_bound():
    h = serial([("add", "fail", 4), ("read", "ok", 0), ("add", "ok", 1), ("read", "ok", 1)])
    r = check(h, final_of({"c0": 1}))
    assert r["valid"] is True and r["fail_count"] == 1 and r["attempted_sum"] == 1
    assert (r["per_key"]["c0"]["lower"], r["per_key"]["c0"]["upper"]) == (1, 1)
    r = check(serial([("add", "fail", 4), ("read", "ok", 4)]), final_of({"c0": 4}))
    assert r["reads_above_count"] == 1 and r["final_out_of_bounds_count"] == 1


def test_failed_and_info_reads_are_not_judged():
    h = serial([("add", "ok", 2), ("read", "fail", 99), ("read", "info", 99)])
    r = check(h, final_of({"c0": 2}))
    assert r["valid"] is True and r["read_count"] == 0 and r["read_fail_count"] == 1
    assert r["read_info_count"] == 1 and r["bound_width_mean"] is None


def test_no_final_read_is_unknown_unless_a_read_is_out_of_bounds():
    h = serial([("add", "ok", 2), ("read", "ok", 2)])
    for final in (None, {}, {"primary": {}}):
        res = CounterChecker().check(h, final, TestSpec())
        assert res.valid == "unknown" and "no final read" in res.summary
        assert res.figure("lost") is None and res.junit_cases()[0].status == "error"
    assert check(serial([("add", "ok", 2), ("read", "ok", 1)]), None)["valid"] is False


def test_missing_keys_read_as_zero_and_per_node_divergence():
    h = serial([("add", "ok", 2), ("add", "ok", 3)], key="c0") + \
        [dict(o, process=o["process"] + 10, time=o["time"] + 1000) for o in serial([("add", "ok", 4)], key="c1")]
    nodes = {"n1": {"role": "master", "counters": {"c0": 5, "c1": 4}},
             "n2": {"role": "slave", "counters": {"c0": 2}},
             "n3": {"error": "ConnectionError: boom"}}
    r = check(h, final_of({"c0": 5}, nodes))
    assert r["lost"] == 4 and r["lost_keys"] == 1 and r["per_key"]["c1"]["final"] == 0
    assert r["per_node"]["n1"] == {"role": "master", "total": 9, "missing_acknowledged": 0}
    assert r["per_node"]["n2"]["missing_acknowledged"] == 3
    assert r["per_node"]["n3"] == {"error": "ConnectionError: boom"}


def test_reads_out_of_bounds_are_placed_in_fault_windows():
    h = serial([("add", "ok", 1)] * 3 + [("read", "ok", 0)] + [("read", "ok", 3)])
    h += [{"process": "nemesis", "type": "info", "f": "start-partition", "time": 25,
           "value": {"shape": "isolate-primary"}},
          {"process": "nemesis", "type": "info", "f": "stop-partition", "time": 38, "value": {}}]
    h.sort(key=lambda o: o["time"])
    r = check(h, final_of({"c0": 3}))
    (x,) = r["reads_out_of_bounds"]
    assert x["value"] == 0 and "isolate-primary #1" in x["window"]
    assert r["reads_out_of_bounds_by_window"] == {x["window"]: 1}
    assert r["reads_by_window"] == {x["window"]: 1, "no fault": 1}


def test_negative_deltas_bound_correctly():
    h = history_of([(0, "add", "c0", 5, "ok", 5, 0, 10), (1, "add", "c0", -2, "info", None, 20, 30),
                    (2, "read", "c0", None, "ok", 3, 40, 50), (3, "read", "c0", None, "ok", 5, 40, 50),
                    (4, "read", "c0", None, "ok", 6, 40, 50)])
    r = check(h, final_of({"c0": 5}))
    assert [x["value"] for x in r["reads_out_of_bounds"]] == [6]
    assert (r["per_key"]["c0"]["lower"], r["per_key"]["c0"]["upper"]) == (3, 5)


# ------------------------------------------------------------------ the CheckResult

def test_check_result_figures_summary_and_junit():
    h = serial([("add", "ok", 3), ("add", "ok", 2), ("read", "ok", 4), ("add", "info", 1)])
    res = CounterChecker().check(h, final_of({"c0": 1}), TestSpec())
    assert res.checker == "counter" and res.valid is False
    assert {f.name for f in res.figures} == set(CounterChecker.figures)
    assert res.figure("lost") == 4 and res.figure("lost_rate") == 0.8
    assert res.figure("acknowledged") == 5 and res.figure("reads_out_of_bounds") == 1
    assert res.figure("reads") == 1
    lost = next(f for f in res.figures if f.name == "lost")
    assert lost.format == "int" and "max" in lost.aggregate
    assert res.summary == ("lost 4 of 5 acknowledged increments (80.00%) on 1 of 1 keys; "
                           "1 of 1 reads out of bounds (1 below, 0 above)")
    (case,) = res.junit_cases()
    assert case.name == "counter" and case.status == "failure" and case.message == res.summary
    back = CheckResult.from_json("counter", json.loads(json.dumps(res.to_json())))
    assert back.valid is False and back.figure("lost") == 4

    ok = CounterChecker().check(serial([("add", "ok", 3), ("read", "ok", 3)]), final_of({"c0": 3}), TestSpec())
    assert ok.valid is True and ok.junit_cases()[0].status == "passed"
    assert ok.summary == "no acknowledged increment lost (of 3); all 1 reads within bounds"


def test_lists_are_capped():
    h = serial([("add", "ok", 1)] + [("read", "ok", 0)] * 1200)
    r = check(h, final_of({"c0": 1}))
    assert r["reads_out_of_bounds_count"] == 1200 and len(r["reads_out_of_bounds"]) == 1000


def test_large_history_is_fast():
    """200k events over 10 keys, 20 processes overlapping: seconds (a quadratic check would
    take hours); the bound is loose because CI machines are shared."""
    import time
    rng = random.Random(1)
    events, t, totals = [], 0, {}
    for i in range(100_000):
        p, key = i % 20, f"c{rng.randrange(10)}"
        if rng.random() < 0.5:
            d = rng.randint(1, 5)
            events.append({"process": p, "type": "invoke", "f": "add", "key": key, "value": d, "time": t})
            events.append({"process": p, "type": "ok", "f": "add", "key": key, "value": d, "time": t + 15})
            totals[key] = totals.get(key, 0) + d
        else:
            events.append({"process": p, "type": "invoke", "f": "read", "key": key, "value": None, "time": t})
            events.append({"process": p, "type": "ok", "f": "read", "key": key, "value": 0, "time": t + 15})
        t += 1
    events.sort(key=lambda o: o["time"])
    began = time.perf_counter()
    r = check(events, final_of(totals))
    assert r["attempt_count"] + r["read_count"] == 100_000 and r["valid"] is False
    assert time.perf_counter() - began < 20


# ------------------------------------------------------------------ registry and report

def test_registered_and_chosen_by_the_workload():
    assert CHECKERS["counter"] is CounterChecker and WORKLOADS["counter"] is CounterWorkload
    w = CounterWorkload(TestSpec(workload="counter", keys=3), None, random.Random(1))
    assert [type(c) for c in w.checkers()] == [CounterChecker]
    ops = [w.next_op(0) for _ in range(2000)]
    assert {o["key"] for o in ops} == {"c0", "c1", "c2"}
    adds = [o for o in ops if o["f"] == "add"]
    assert 800 < len(adds) < 1200 and {o["value"] for o in adds} == {1, 2, 3, 4, 5}
    assert all(o["value"] is None for o in ops if o["f"] == "read")
    w2 = CounterWorkload(TestSpec(workload="counter", keys=3), None, random.Random(1))
    assert [w2.next_op(0) for _ in range(2000)] == ops   # seeded


def test_report_section_and_marks(tmp_path):
    h = serial([("add", "ok", 3), ("add", "ok", 2), ("read", "ok", 4), ("read", "ok", 5)])
    res = CounterChecker().check(h, final_of({"c0": 1}, {"n1": {"role": "master", "counters": {"c0": 1}}}),
                                 TestSpec())
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(o) + "\n" for o in h))
    (tmp_path / "test.json").write_text(json.dumps(TestSpec(workload="counter").to_json()))
    (tmp_path / "results.json").write_text(json.dumps(
        {"valid": res.valid, "checkers": {"counter": res.to_json()}, "stats": {}}))
    page = build_report(tmp_path).read_text(encoding="utf-8")
    assert "Reads out of bounds (1)" in page and "Counters after the run" in page
    assert "lost increments" in page and "shown generically" not in page
    assert "read out of bounds" in page and "READ c0 = 4 outside [5, 5]" in page


def test_apply_records_the_delta_and_wait_short_of_replicas_is_indeterminate():
    import asyncio

    import pytest

    from harness.clients import Reply
    from harness.replies import Indeterminate, classify

    class FakeSession:
        def __init__(self, replies):
            self.replies, self.sent = replies, []

        async def call(self, key, *cmds):
            self.sent.append(cmds)
            return Reply(self.replies.pop(0), "10.0.0.11:6379")

    w = CounterWorkload(TestSpec(workload="counter"), None, random.Random(1))
    s = FakeSession(["17", None, "4"])
    assert asyncio.run(w.apply(s, {"f": "add", "key": "c1", "value": 3})) == (3, "10.0.0.11:6379")
    assert asyncio.run(w.apply(s, {"f": "read", "key": "c1", "value": None})) == (0, "10.0.0.11:6379")
    assert asyncio.run(w.apply(s, {"f": "read", "key": "c1", "value": None}))[0] == 4
    assert s.sent == [(("INCRBY", "c1", 3),), (("GET", "c1"),), (("GET", "c1"),)]

    w = CounterWorkload(TestSpec(workload="counter", wait=(2, 100)), None, random.Random(1))
    s = FakeSession([2, 1])
    assert asyncio.run(w.apply(s, {"f": "add", "key": "c0", "value": 5}))[0] == 5
    with pytest.raises(Indeterminate) as e:
        asyncio.run(w.apply(s, {"f": "add", "key": "c0", "value": 5}))
    assert classify(e.value)[0] == "info"
    assert s.sent[0] == (("INCRBY", "c0", 5), ("WAIT", 2, 100))
