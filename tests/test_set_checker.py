"""The set checker on generated histories whose answer is known by construction."""

import random

from hypothesis import given, settings, strategies as st

from harness.checkers.set_full import SetChecker, check
from harness.history import fault_windows
from harness.spec import TestSpec


def make_history(outcomes, t0=0):
    """outcomes: list of (element, type, key). Each op is invoked then completed in turn."""
    h, t = [], t0
    for i, (e, typ, key) in enumerate(outcomes):
        p = i % 5
        h.append({"index": len(h), "time": t, "process": p, "type": "invoke", "f": "add", "key": key, "value": e})
        t += 10
        h.append({"index": len(h), "time": t, "process": p, "type": typ, "f": "add", "key": key, "value": e,
                  "node": "10.0.0.11:6379"})
        t += 10
    return h


def final_of(elements_by_key):
    return {"primary": {"node": "n1", "sets": {k: sorted(v) for k, v in elements_by_key.items()}}}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ok", "fail", "info"]), st.booleans()), min_size=1, max_size=60),
       st.integers(0, 5))
def test_counts_match_construction(spec, n_unexpected):
    outcomes, present = [], {"s0": set(), "s1": set()}
    lost = recovered = failed_present = 0
    for e, (typ, survives) in enumerate(spec):
        key = f"s{e % 2}"
        outcomes.append((e, typ, key))
        if survives:
            if typ == "fail":
                continue  # a failed add never shows up (that case is tested separately)
            present[key].add(e)
            recovered += typ == "info"
        elif typ == "ok":
            lost += 1
    for u in range(n_unexpected):
        present["s0"].add(10_000 + u)
    r = check(make_history(outcomes), final_of(present))
    acked = sum(1 for t, _ in spec if t == "ok")
    assert r["attempt_count"] == len(spec)
    assert r["acknowledged_count"] == acked
    assert r["lost_count"] == lost
    assert r["recovered_count"] == recovered
    assert r["unexpected_count"] == n_unexpected
    assert r["valid"] == (lost == 0 and n_unexpected == 0)
    assert r["lost_rate"] == (round(lost / acked, 6) if acked else 0.0)
    assert {x["element"] for x in r["lost"]} == {e for e, (t, s) in enumerate(spec) if t == "ok" and not s}


def test_failed_but_present_and_duplicates_are_anomalies():
    h = make_history([(1, "fail", "s0"), (2, "ok", "s0")])
    r = check(h, final_of({"s0": {1, 2}}))
    assert r["failed_present_count"] == 1 and r["valid"] is False
    r = check(h, {"primary": {"sets": {"s0": [2], "s1": [2]}}})
    assert r["duplicate_count"] == 1 and r["valid"] is False


def test_lost_writes_are_placed_in_fault_windows():
    h = make_history([(e, "ok", "s0") for e in range(10)])
    # a partition from t=50 to t=120 covers the acks of elements 2..5 (acked at 30+20k)
    h.insert(5, {"process": "nemesis", "type": "info", "f": "start-partition", "time": 50,
                 "value": {"shape": "isolate-primary"}})
    h.append({"process": "nemesis", "type": "info", "f": "stop-partition", "time": 120, "value": {}})
    h.sort(key=lambda o: o["time"])
    windows = fault_windows(h)
    assert [(w["fault"], w["start"], w["end"]) for w in windows] == [("partition", 50, 120)]
    r = check(h, final_of({"s0": {0, 1, 6, 7, 8, 9}}))
    assert r["lost_count"] == 4
    (label,) = [k for k in r["lost_by_window"] if k != "no fault"]
    assert "isolate-primary" in label and r["lost_by_window"][label] == 4


def test_no_final_read_is_unknown():
    assert check(make_history([(1, "ok", "s0")]), {})["valid"] == "unknown"


def test_random_large_history_is_fast_and_exact():
    rng = random.Random(7)
    outcomes = [(e, rng.choice(["ok", "ok", "ok", "info", "fail"]), f"s{e % 10}") for e in range(50_000)]
    keep = {f"s{i}": set() for i in range(10)}
    for e, t, k in outcomes:
        if t == "ok" and e % 97:
            keep[k].add(e)
    r = check(make_history(outcomes), final_of(keep))
    assert r["lost_count"] == sum(1 for e, t, _ in outcomes if t == "ok" and e % 97 == 0)


def test_checker_result_carries_verdict_summary_figures_and_junit():
    h = make_history([(1, "ok", "s0"), (2, "ok", "s0"), (3, "fail", "s0")])
    r = SetChecker().check(h, final_of({"s0": {1}}), TestSpec())
    assert r.checker == "set" and r.valid is False
    assert r.summary.startswith("lost 1 of 2 acknowledged writes (50.00%)")
    assert {f.name: f.value for f in r.figures} == {"attempted": 3, "acknowledged": 2, "lost": 1,
                                                     "lost_rate": 0.5}
    assert {f.name for f in r.figures} == set(SetChecker.figures)
    (case,) = r.junit_cases()
    assert case.status == "failure" and case.message == r.summary
    assert r.details["lost"][0]["element"] == 2
    ok = SetChecker().check(h, final_of({"s0": {1, 2}}), TestSpec())
    assert ok.valid is True and ok.junit_cases()[0].status == "passed"
    unknown = SetChecker().check(h, {}, TestSpec())
    assert unknown.valid == "unknown" and unknown.junit_cases()[0].status == "error"
