"""The staleness checker on generated histories whose answers are known by construction:
a simulated primary with replicas that apply its writes a known time late, hand-made
cases, and an O(n²) reference computed straight from the definitions."""

from __future__ import annotations

import json
import random
import re
import time

import pytest
from hypothesis import given, settings, strategies as st

from harness.checkers import CHECKERS
from harness.checkers.staleness import MAX_POINTS, StalenessChecker, check, per_read
from harness.history import pair_ops
from harness.report import RunView, build_report
from harness.roles import CheckResult
from harness.spec import TestSpec
from harness.stats import quantile

from .report_synth import XSS, find_chromium, js_errors, run_chromium

MS = 1_000_000
N2, N3 = "10.213.0.3:6379", "10.213.0.4:6379"


# ------------------------------------------------------------------ building histories

class H:
    """A history under construction: ops as (time, order) events, sorted on `ops()`."""

    def __init__(self):
        self.events: list[tuple[int, int, dict]] = []

    def _add(self, t, op):
        self.events.append((t, len(self.events), op))

    def write(self, p, key, value, start, end, typ="ok"):
        self._add(start, {"process": p, "type": "invoke", "f": "write", "key": key, "value": value})
        if end is not None:
            self._add(end, {"process": p, "type": typ, "f": "write", "key": key, "value": value})
        return self

    def read(self, p, key, value, start, end, node=N2, typ="ok"):
        self._add(start, {"process": p, "type": "invoke", "f": "read", "key": key, "value": None})
        if end is not None:
            done = {"process": p, "type": typ, "f": "read", "key": key,
                    "value": value if typ == "ok" else None}
            if typ == "ok":
                done["node"] = node
            self._add(end, done)
        return self

    def fault(self, kind, invoked, in_force, stop_invoked, stopped, shape="isolate-primary"):
        for t, f, v in ((invoked, "start", None), (in_force, "start", {"shape": shape}),
                        (stop_invoked, "stop", None), (stopped, "stop", {})):
            typ = "invoke" if v is None else "info"
            self._add(t, {"process": "nemesis", "type": typ, "f": f"{f}-{kind}", "value": v})
        return self

    def ops(self):
        out = []
        for i, (t, _, op) in enumerate(sorted(self.events, key=lambda e: (e[0], e[1]))):
            out.append(dict(op, time=t, index=i))
        return out


def simulate(seed, lags, n_keys=3, duration_ms=2000, readers=6, info_rate=0.0, fail_rate=0.0):
    """A primary and replicas {node: lag in ms}: one writer per key writes 1, 2, 3, ...
    (each applied on the primary at a random instant of its call, a failed one never, an
    indeterminate one maybe); a replica applies each write `lag` ms after the primary. Each
    read returns what its replica held at a random instant of its call. Every read is legal."""
    rng = random.Random(seed)
    h, applied = H(), {}              # key -> [(primary apply time, value)]
    for k in range(n_keys):
        key, t, value, seq = f"r{k}", rng.randint(0, 5) * MS, 0, []
        while t < duration_ms * MS:
            value += 1
            dur = rng.randint(1, 8) * MS + rng.randint(0, MS)
            x = rng.random()
            typ = "info" if x < info_rate else "fail" if x < info_rate + fail_rate else "ok"
            if typ == "ok" or (typ == "info" and rng.random() < 0.5):
                seq.append((t + rng.randint(0, dur), value))
            h.write(100 + k, key, value, t, t + dur, typ)
            t += dur + rng.randint(1, 15) * MS
        applied[key] = seq
    nodes = sorted(lags)
    for p in range(readers):
        t = rng.randint(0, 10) * MS
        while t < duration_ms * MS:
            key, node = f"r{rng.randrange(n_keys)}", nodes[p % len(nodes)]   # as Topology.replica_route
            dur = rng.randint(0, 3 * MS)
            at = t + rng.randint(0, dur)
            seen = [v for a, v in applied[key] if a + lags[node] * MS <= at]
            h.read(p, key, max(seen, default=0), t, t + dur, node)
            t += dur + rng.randint(1, 12) * MS
    return h.ops()


# ------------------------------------------------------------------ references

def reference(history):
    """Straight from the definitions, O(n²): {invoke index: (writes_behind, stale_ms)} and
    {invoke index: kind} of the impossible reads."""
    ops = pair_ops(history)
    writes = [o for o in ops if o.f == "write"]
    reads = [o for o in ops if o.f == "read" and o.type == "ok"]
    stale = {}
    for r in reads:
        acks = [w.end for w in writes if w.key == r.key and w.type == "ok" and w.invoke_value > r.value
                and w.end < r.start]
        stale[r.invoke_index] = (len(acks), round((r.start - min(acks)) / MS, 3) if acks else 0.0)
    kinds = {}
    for r in reads:
        of_v = [w for w in writes if w.key == r.key and w.invoke_value == r.value]
        if r.value != 0 and not of_v:
            kinds[r.invoke_index] = "never-written"
        elif r.value != 0 and all(w.type == "fail" for w in of_v):
            kinds[r.invoke_index] = "failed-write"
        elif r.value != 0 and min(w.start for w in of_v) > r.end:
            kinds[r.invoke_index] = "from-the-future"
    for r in reads:
        if r.invoke_index in kinds:
            continue
        earlier = [q.value for q in reads if q.process == r.process and q.key == r.key
                   and q.end < r.start and q.invoke_index not in kinds]
        u = max(earlier, default=None)
        if u is None or u <= r.value:
            continue
        if r.value == 0:
            kinds[r.invoke_index] = "went-back"
            continue
        v_done = max(w.end if w.type == "ok" else float("inf")
                     for w in writes if w.key == r.key and w.invoke_value == r.value and w.type != "fail")
        u_from = min(w.start for w in writes if w.key == r.key and w.invoke_value == u)
        if v_done < u_from:
            kinds[r.invoke_index] = "went-back"
    return stale, kinds


def random_history(rng, n_keys=2, writers=3, readers=4, n=120, grid=1):
    """Anything goes: concurrent writers (ok writes acknowledged out of value order), fail
    and info writes (some never completed), reads returning any plausible value (stale,
    fresh, from the future, never written), times on a coarse grid so that ties happen."""
    h = H()
    next_value = {f"r{k}": 0 for k in range(n_keys)}
    free = {p: rng.randint(0, 5) for p in range(writers + readers)}
    events = []
    for _ in range(n):
        p = rng.randrange(writers + readers)
        start = free[p] + rng.randint(0 if p >= writers else 1, 6)
        end = start + rng.randint(0, 12)
        free[p] = end + 1
        events.append((start, p, end))
    events.sort()
    for start, p, end in events:
        key = f"r{rng.randrange(n_keys)}"
        if p < writers:
            next_value[key] += 1
            typ = rng.choice(["ok", "ok", "ok", "fail", "info"])
            never = typ == "info" and rng.random() < 0.3
            h.write(p, key, next_value[key], start * grid, None if never else end * grid, typ)
            if never:
                free[p] = 10**9          # a process whose op never completed does nothing else
        else:
            v = rng.choice([0, max(0, next_value[key] - rng.randint(0, 4)), next_value[key],
                            next_value[key] + rng.randint(1, 3)])
            h.read(p, key, v, start * grid, end * grid, rng.choice([N2, N3]),
                   rng.choice(["ok"] * 8 + ["fail", "info"]))
    return h.ops()


# ------------------------------------------------------------------ by construction

@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 3), st.integers(1, 4), st.integers(20, 250))
def test_fast_staleness_and_impossible_reads_match_the_definitions(seed, n_keys, writers, n):
    rng = random.Random(seed)
    h = random_history(rng, n_keys=n_keys, writers=writers, n=n, grid=rng.choice([1, MS // 7]))
    stale, kinds = reference(h)
    assert per_read(h) == stale
    r = check(h, None)
    got = {x["index"]: x["kind"] for x in r["impossible"]}
    assert got == kinds
    assert r["impossible_count"] == len(kinds) and r["valid"] == (False if kinds else True if stale else "unknown")
    ms = sorted(v[1] for v in stale.values())
    behind = sorted(v[0] for v in stale.values())
    o = r["overall"]
    assert o["reads"] == len(stale) == r["read_count"]
    if stale:
        assert o["stale"] == sum(1 for b in behind if b)
        assert o["stale_ms_max"] == ms[-1] and o["writes_behind_max"] == behind[-1]
        assert o["stale_ms_p99"] == round(quantile(ms, 0.99), 3)
        assert o["writes_behind_p50"] == round(quantile(behind, 0.5), 3)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([0.0, 0.1, 0.3]), st.sampled_from([0.0, 0.2]))
def test_simulated_replicas_are_never_impossible_and_stale_less_than_their_lag(seed, info, fail):
    """A replica D ms behind the primary: a read that saw value v at x >= s missed only
    writes applied on the primary after x - D, so acknowledged after s - D: stale < D ms.
    With no lag nothing acknowledged before s can be missed."""
    lags = {N2: 0, N3: 40, "10.213.0.5:6379": 250}
    h = simulate(seed, lags, info_rate=info, fail_rate=fail)
    r = check(h, None)
    assert r["valid"] is True and r["impossible_count"] == 0, r["impossible"][:3]
    per = r["per_node"]
    assert per[N2]["stale"] == 0 and per[N2]["stale_ms_max"] == 0
    assert per[N3]["stale_ms_max"] < 40 and per["10.213.0.5:6379"]["stale_ms_max"] < 250
    assert per[N3]["stale"] > 0
    assert per["10.213.0.5:6379"]["stale_ms_p50"] > per[N3]["stale_ms_p50"]
    assert per["10.213.0.5:6379"]["writes_behind_max"] >= 5
    assert per_read(h) == reference(h)[0]


# ------------------------------------------------------------------ hand-made cases

def test_writes_behind_and_stale_ms_exactly():
    h = (H().write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS)
         .write(9, "r0", 3, 40 * MS, 50 * MS)
         .read(1, "r0", 0, 5 * MS, 6 * MS)        # nothing acknowledged yet: fresh
         .read(1, "r0", 0, 35 * MS, 36 * MS)      # 1 and 2 acknowledged at 10, 30 ms
         .read(2, "r0", 1, 60 * MS, 61 * MS)      # 2 and 3 missed; 2 acknowledged at 30 ms
         .read(3, "r0", 3, 60 * MS, 61 * MS)      # fresh
         .read(4, "r0", 2, 50 * MS, 52 * MS)      # 3 acknowledged at the very instant: not missed
         .ops())
    got = sorted(per_read(h).values())
    assert got == [(0, 0.0), (0, 0.0), (0, 0.0), (2, 25.0), (2, 30.0)]
    r = check(h, None)
    o = r["overall"]
    assert (o["reads"], o["stale"], o["stale_share"], o["stale_ms_max"], o["writes_behind_max"]) == \
        (5, 2, 0.4, 30.0, 2)
    assert o["stale_ms_p50"] == 0.0 and o["stale_ms_p99"] == round(quantile([0, 0, 0, 25, 30], 0.99), 3)
    assert r["valid"] is True and r["impossible_count"] == 0


def test_ok_writes_acknowledged_out_of_value_order():
    # write 2 is acknowledged (at 10 ms) long before write 1 (at 50 ms)
    h = (H().write(8, "r0", 1, 0, 50 * MS).write(9, "r0", 2, 1 * MS, 10 * MS)
         .read(1, "r0", 1, 40 * MS, 41 * MS).read(2, "r0", 0, 40 * MS, 41 * MS)
         .read(3, "r0", 0, 60 * MS, 61 * MS).ops())
    assert sorted(per_read(h).values()) == [(1, 30.0), (1, 30.0), (2, 50.0)]


def test_failed_and_indeterminate_writes_are_not_missed_writes():
    h = (H().write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS, "fail")
         .write(9, "r0", 3, 40 * MS, 50 * MS, "info").read(1, "r0", 1, 60 * MS, 61 * MS)
         .read(2, "r0", 3, 60 * MS, 61 * MS).read(3, "r0", 2, 60 * MS, 61 * MS).ops())
    r = check(h, None)
    assert sorted(per_read(h).values()) == [(0, 0.0)] * 3
    assert [x["kind"] for x in r["impossible"]] == ["failed-write"]
    assert r["reads_of_indeterminate_values"] == 1
    assert (r["write_ok_count"], r["write_fail_count"], r["write_info_count"]) == (1, 1, 1)


def test_never_written_and_from_the_future():
    h = (H().write(9, "r0", 1, 0, 10 * MS).write(9, "r1", 1, 0, 10 * MS)
         .read(1, "r0", 7, 20 * MS, 21 * MS)                # never written
         .read(2, "r0", 2, 20 * MS, 30 * MS)                # invoked at 30 ms: allowed (tie)
         .read(3, "r0", 3, 20 * MS, 30 * MS)                # invoked at 30 ms + 1 ns: future
         .write(9, "r0", 2, 30 * MS, 40 * MS).write(9, "r0", 3, 30 * MS + 1, 50 * MS)
         .read(4, "r2", 1, 20 * MS, 21 * MS)                # a key nobody wrote
         .read(5, "r1", "x", 20 * MS, 21 * MS)).ops()       # not a number
    r = check(h, None)
    got = {(x["process"], x["kind"]) for x in r["impossible"]}
    assert got == {(1, "never-written"), (3, "from-the-future"), (4, "never-written"),
                   (5, "never-written")}
    fut = next(x for x in r["impossible"] if x["kind"] == "from-the-future")
    assert fut["write_invoked_at"] == 30 * MS + 1 and fut["node"] == N2 and fut["key"] == "r0"
    assert r["valid"] is False and r["impossible_by_kind"] == {"never-written": 3, "from-the-future": 1}


def test_monotonic_reads_went_back():
    h = (H().write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS)
         .read(1, "r0", 2, 40 * MS, 41 * MS, N2).read(1, "r0", 1, 50 * MS, 51 * MS, N3)
         .read(1, "r0", 0, 60 * MS, 61 * MS, N3)         # back to the initial value too
         .read(2, "r0", 2, 40 * MS, 41 * MS).read(3, "r0", 1, 50 * MS, 51 * MS)   # other processes
         .read(1, "r1", 0, 70 * MS, 71 * MS)).ops()      # another key
    r = check(h, None)
    assert [(x["value"], x["kind"]) for x in r["impossible"]] == [(1, "went-back"), (0, "went-back")]
    x = r["impossible"][0]
    assert (x["earlier_value"], x["earlier_node"], x["earlier_invoked_at"], x["earlier_completed_at"]) == \
        (2, N2, 40 * MS, 41 * MS)
    assert (x["node"], x["invoked_at"], x["completed_at"], x["process"]) == (N3, 50 * MS, 51 * MS, 1)
    # a read still running when the next began (another process) is no earlier read
    h2 = (H().write(9, "r0", 1, 0, 10 * MS).read(1, "r0", 1, 20 * MS, 40 * MS)
          .read(2, "r0", 0, 30 * MS, 31 * MS).ops())
    assert check(h2, None)["valid"] is True


def test_a_late_indeterminate_write_excuses_going_back_to_it():
    # write 2 times out (info) and lands after 3: the primary holds 3 then 2. Reading 3 and
    # then 2 is no anomaly; reading 3 and then 1 (acknowledged before 2 and 3) is.
    h = (H().write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS, "info")
         .write(10, "r0", 3, 40 * MS, 50 * MS)
         .read(1, "r0", 3, 60 * MS, 61 * MS).read(1, "r0", 2, 70 * MS, 71 * MS)
         .read(2, "r0", 3, 60 * MS, 61 * MS).read(2, "r0", 1, 70 * MS, 71 * MS).ops())
    r = check(h, None)
    assert [(x["process"], x["value"], x["kind"]) for x in r["impossible"]] == [(2, 1, "went-back")]


def test_an_impossible_read_does_not_flag_the_reads_after_it():
    h = (H().write(9, "r0", 1, 0, 10 * MS).read(1, "r0", 5, 20 * MS, 21 * MS)
         .read(1, "r0", 1, 30 * MS, 31 * MS).read(1, "r0", 1, 40 * MS, 41 * MS).ops())
    assert [x["kind"] for x in check(h, None)["impossible"]] == ["never-written"]


def test_no_ok_read_is_unknown_and_failed_reads_are_not_judged():
    h = H().write(9, "r0", 1, 0, 10 * MS).read(1, "r0", None, 20 * MS, 21 * MS, typ="fail") \
        .read(2, "r0", None, 20 * MS, 21 * MS, typ="info").read(3, "r0", None, 30 * MS, None).ops()
    res = StalenessChecker().check(h, None, TestSpec())
    assert res.valid == "unknown" and res.junit_cases()[0].status == "error"
    assert res.summary == "no ok replica read: staleness unknown; no impossible read"
    assert res.details["read_fail_count"] == 1 and res.details["read_info_count"] == 2
    assert res.figure("reads") == 0 and res.figure("stale_share") is None
    assert res.figure("stale_ms_p99") is None and res.figure("impossible_reads") == 0


def test_reads_are_placed_in_the_fault_window_in_force_when_invoked():
    h = (H().fault("partition", 95 * MS, 100 * MS, 200 * MS, 210 * MS)
         .write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS)
         .read(1, "r0", 0, 90 * MS, 150 * MS)           # invoked before the window
         .read(2, "r0", 1, 100 * MS, 101 * MS)          # at its start: inside
         .read(3, "r0", 0, 150 * MS, 151 * MS)          # inside
         .read(4, "r0", 2, 200 * MS, 201 * MS)          # at its end (stop invoked): inside
         .read(5, "r0", 3, 205 * MS, 206 * MS)          # after: never written
         .ops())
    r = check(h, None)
    (label,) = [k for k in r["by_window"] if k != "no fault"]
    assert label == "partition isolate-primary #1 (0.1-0.2s)"
    inside, outside = r["by_window"][label], r["by_window"]["no fault"]
    assert (inside["reads"], inside["stale"], inside["stale_ms_max"]) == (3, 2, 140.0)
    assert (outside["reads"], outside["stale"], outside["stale_ms_max"]) == (2, 1, 80.0)
    assert r["during_faults"]["reads"] == 3
    assert r["impossible"][0]["window"] == "no fault" and r["impossible_by_window"] == {"no fault": 1}
    h2 = H().fault("kill", 0, 1, 300 * MS, 301 * MS, shape="") .write(9, "r0", 1, 0, 10 * MS) \
        .read(1, "r0", 9, 50 * MS, 51 * MS).ops()
    (x,) = check(h2, None)["impossible"]
    assert x["window"].startswith("kill #1")


def test_overlapping_windows_count_a_read_in_each():
    h = (H().fault("partition", 0, 10 * MS, 100 * MS, 101 * MS)
         .fault("kill", 40 * MS, 50 * MS, 200 * MS, 201 * MS)
         .write(9, "r0", 1, 0, 1 * MS).read(1, "r0", 0, 60 * MS, 61 * MS).ops())
    r = check(h, None)
    assert sorted(v["reads"] for v in r["by_window"].values()) == [1, 1]
    assert "no fault" not in r["by_window"] and r["during_faults"]["reads"] == 1


def test_per_node_distributions():
    h = (H().write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS)
         .read(1, "r0", 2, 40 * MS, 41 * MS, N2).read(2, "r0", 1, 40 * MS, 41 * MS, N3)
         .read(3, "r0", 0, 50 * MS, 51 * MS, N3).ops())
    p = check(h, None)["per_node"]
    assert p[N2] == {"reads": 1, "stale": 0, "stale_share": 0.0, "stale_ms_p50": 0.0, "stale_ms_p99": 0.0,
                     "stale_ms_max": 0.0, "writes_behind_p50": 0.0, "writes_behind_p99": 0.0,
                     "writes_behind_max": 0}
    # N3: 1 at 40 ms misses 2 (acknowledged at 30 ms); 0 at 50 ms misses 1 and 2 (10, 30 ms)
    assert (p[N3]["reads"], p[N3]["stale"], p[N3]["stale_ms_max"], p[N3]["writes_behind_max"]) == (2, 2, 40.0, 2)
    assert p[N3]["stale_ms_p50"] == 25.0 and p[N3]["writes_behind_p50"] == 1.5


def test_convergence_after_the_run():
    final = {"primary": {"node": "10.213.0.2:6379", "values": {"r0": 5, "r1": 3}},
             "nodes": {"n1": {"role": "master", "values": {"r0": 5, "r1": 3}},
                       "n2": {"role": "slave", "values": {"r0": 4, "r1": 3}},
                       "n3": {"role": "slave", "values": {"r0": 5}},
                       "n4": {"error": "ConnectionError: boom"}}}
    c = check(H().write(9, "r0", 1, 0, 1).ops(), final)["convergence"]
    assert c["primary"] == "10.213.0.2:6379" and c["key_count"] == 2 and c["converged"] is False
    n = c["per_node"]
    assert n["n1"]["converged"] is True and n["n1"]["equal"] == 2
    assert (n["n2"]["converged"], n["n2"]["differing"], n["n2"]["examples"]) == (False, 1, ["r0: 4 (primary 5)"])
    assert (n["n3"]["missing"], n["n3"]["examples"]) == (1, ["r1: missing (primary 3)"])
    assert n["n4"] == {"error": "ConnectionError: boom"}
    assert "convergence" not in check(H().write(9, "r0", 1, 0, 1).ops(), None)
    assert "convergence" not in check(H().write(9, "r0", 1, 0, 1).ops(), {"primary": {"error": "x"}})


def test_the_chart_series_keep_every_spike():
    rng = random.Random(3)
    h = H().write(9, "r0", 1, 0, 1)
    spikes = {rng.randrange(800) + 800 * j for j in range(25)}
    for i in range(20_000):      # a read every ms from one replica, fresh but for the spikes
        h.read(1000 + i if i in spikes else i % 7, "r0", 0 if i in spikes else 1, (10 + i) * MS,
               (10 + i) * MS + 1)
    r = check(h.ops(), None)
    (s,) = r["series"]
    assert s["name"] == N2 and s["reads"] == 20_000 and len(s["x"]) == len(s["y"]) <= MAX_POINTS
    assert sorted(y for y in s["y"] if y) == sorted(round((10 + i) * MS / MS - 0.000001, 3) for i in spikes)
    assert s["x"] == sorted(s["x"]) and 0.01 <= s["x"][0] and s["x"][-1] <= 20.01
    small = check(H().write(9, "r0", 1, 0, 1).read(1, "r0", 1, 2 * MS, 3 * MS).ops(), None)["series"]
    assert small == [{"name": N2, "x": [0.002], "y": [0.0], "reads": 1}]


def test_lists_are_capped():
    h = H().write(9, "r0", 1, 0, 1)
    for i in range(1200):
        h.read(i, "r0", 99, (2 + i) * MS, (2 + i) * MS + 1)
    r = check(h.ops(), None)
    assert r["impossible_count"] == 1200 and len(r["impossible"]) == 1000
    assert r["first_impossible_at"] == 2 * MS and r["last_impossible_at"] == 1201 * MS


def test_large_history_is_fast():
    """300k ops (150k writes on 10 keys, 150k reads from 3 replicas): seconds, where an
    O(n²) check would take hours. The bound is loose: CI machines are shared."""
    rng = random.Random(1)
    events, t = [], 0
    value = [0] * 10
    for i in range(150_000):
        k = i % 10
        value[k] += 1
        events += [{"process": 1000 + k, "type": "invoke", "f": "write", "key": f"r{k}", "value": value[k],
                    "time": t},
                   {"process": 1000 + k, "type": "ok", "f": "write", "key": f"r{k}", "value": value[k],
                    "time": t + 20}]
        p = i % 20
        events += [{"process": p, "type": "invoke", "f": "read", "key": f"r{k}", "value": None, "time": t + 1},
                   {"process": p, "type": "ok", "f": "read", "key": f"r{k}", "node": f"n{i % 3}",
                    "value": max(0, value[k] - rng.randint(0, 30)), "time": t + 30}]
        t += 10
    events.sort(key=lambda o: o["time"])
    began = time.perf_counter()
    r = check(events, None)
    elapsed = time.perf_counter() - began
    assert r["read_count"] == 150_000 and r["overall"]["stale"] > 100_000
    assert elapsed < 30, elapsed


# ------------------------------------------------------------------ the CheckResult

def test_check_result_figures_summary_and_junit():
    h = (H().write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS)
         .read(1, "r0", 0, 2030 * MS, 2031 * MS).read(2, "r0", 2, 40 * MS, 41 * MS)
         .read(3, "r0", 2, 50 * MS, 51 * MS).read(4, "r0", 2, 60 * MS, 61 * MS)).ops()
    res = StalenessChecker().check(h, None, TestSpec())
    assert res.checker == "staleness" and res.valid is True
    names = ["reads", "stale_share", "stale_ms_p50", "stale_ms_p99", "stale_ms_max", "writes_behind_p50",
             "writes_behind_p99", "writes_behind_max", "impossible_reads"]
    assert [f.name for f in res.figures] == names == list(StalenessChecker.figures)
    fig = {f.name: f for f in res.figures}
    assert (fig["reads"].value, fig["reads"].format) == (4, "int")
    assert (fig["stale_share"].value, fig["stale_share"].format) == (0.25, "pct")
    assert fig["stale_ms_max"].value == 2020.0 and fig["stale_ms_max"].format == "ms"
    assert fig["stale_ms_max"].aggregate == ("max", "mean") and fig["stale_ms_p99"].aggregate == ("mean", "max")
    assert fig["writes_behind_max"].aggregate == ("max", "mean") and fig["writes_behind_max"].value == 2
    assert fig["impossible_reads"].aggregate == ("mean", "max") and fig["impossible_reads"].value == 0
    assert fig["stale_ms_p50"].value == 0.0 and fig["writes_behind_p50"].value == 0.0
    assert fig["stale_ms_p99"].value == 1959.4        # 2020 × 0.97: (n - 1) × 0.99 = 2.97
    assert res.summary == ("4 replica reads: 25.0% stale, p50 0 ms, p99 1,959 ms, max 2,020 ms behind "
                           "(max 2 writes); no impossible read")
    assert res.junit_cases()[0].status == "passed"
    back = CheckResult.from_json("staleness", json.loads(json.dumps(res.to_json())))
    assert back.figure("stale_ms_max") == 2020.0 and back.valid is True

    bad = StalenessChecker().check(h + H().read(7, "r0", 9, 3000 * MS, 3001 * MS).ops(), None, TestSpec())
    assert bad.valid is False and bad.figure("impossible_reads") == 1
    assert bad.summary.endswith("; 1 impossible read (1 never-written)")
    assert bad.junit_cases()[0].status == "failure"


# ------------------------------------------------------------------ the report

def _run_dir(tmp_path, history, final=None):
    res = StalenessChecker().check(history, final, TestSpec())
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(o) + "\n" for o in history))
    (tmp_path / "test.json").write_text(json.dumps(TestSpec().to_json()))
    (tmp_path / "results.json").write_text(json.dumps(
        {"valid": res.valid, "checkers": {"staleness": res.to_json()}, "stats": {}}))
    return tmp_path


def _page_data(page):
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def _hostile_history():
    return (H().fault("partition", 15 * MS, 20 * MS, 60 * MS, 65 * MS)
            .write(9, "r0", 1, 0, 10 * MS).write(9, "r0", 2, 20 * MS, 30 * MS)
            .read(1, "r0", 0, 40 * MS, 41 * MS, XSS).read(2, "r0", 2, 50 * MS, 51 * MS, N3)
            .read(2, "r0", 1, 70 * MS, 71 * MS, XSS)).ops()


def test_xy_chart_dict(tmp_path):
    run = RunView(_run_dir(tmp_path, _hostile_history()))
    a = run.xy_chart("t", "x", "y", [{"name": XSS, "x": (1, 2), "y": [3, 4]}])
    b = run.xy_chart("u", "x", "y", [], mode="lines", time_axis=False)
    assert a == {"kind": "xy", "id": "chart-1", "title": "t", "x_label": "x", "y_label": "y",
                 "mode": "markers", "time_axis": True, "series": [{"name": XSS, "x": [1, 2], "y": [3, 4]}]}
    assert b["id"] == "chart-2" and b["mode"] == "lines" and b["time_axis"] is False and b["series"] == []


def test_report_section_chart_marks_and_escaping(tmp_path, monkeypatch):
    monkeypatch.setitem(CHECKERS, "staleness", StalenessChecker)
    final = {"primary": {"node": "10.213.0.2:6379", "values": {"r0": 2}},
             "nodes": {XSS: {"role": "slave", "values": {"r0": 1}}}}
    page = build_report(_run_dir(tmp_path, _hostile_history(), final)).read_text(encoding="utf-8")
    assert XSS not in page
    text = re.sub(r"<script\b.*?</script>", "", page, flags=re.S)
    section = text[text.index('id="checker-staleness"'):text.index('id="faults"')]
    assert "shown generically" not in section
    assert '<div class="chart xy" id="chart-1"></div>' in section
    assert "<h4>Impossible reads (1)</h4>" in section and "went back from 2" in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section        # the node, in the tables
    assert "By replica" in section and "<h4>Over time</h4>" in section
    assert "does each node hold the primary" in section and "r0: 1 (primary 2)" in section
    assert "from the primary (10.213.0.2:6379) and from each node; keys compared: 1." in section
    assert "Other fields" in section and "write_ok_count" in section
    data = _page_data(page)
    (chart,) = data["charts"]
    assert chart["kind"] == "xy" and chart["id"] == "chart-1" and chart["time_axis"] is True
    assert chart["mode"] == "markers" and chart["y_label"] == "stale (ms behind)"
    assert [s["name"] for s in chart["series"]] == [N3, XSS]          # by name
    assert chart["series"][1] == {"name": XSS, "x": [0.04, 0.07], "y": [30.0, 40.0]}
    (mark,) = [m for m in data["marks"] if m["name"] == "impossible replica read"]
    assert mark["t"] == 0.071 and mark["p"] == 2 and XSS in mark["text"]
    assert len(data["windows"]) == 1       # what report.js shades on the xy chart's time axis


def test_report_section_of_a_crashed_or_readless_check(tmp_path, monkeypatch):
    from harness.report.sections import render_section

    monkeypatch.setitem(CHECKERS, "staleness", StalenessChecker)
    run = RunView(_run_dir(tmp_path, H().write(9, "r0", 1, 0, 1).ops()))
    crashed = render_section("staleness", CheckResult.crashed("staleness", "boom <b>").to_json(), run)
    assert not crashed.warning and "boom &lt;b&gt;" in crashed.html and 'class="figs"' not in crashed.html
    empty = render_section("staleness", run.results["checkers"]["staleness"], run)
    assert not empty.warning and not empty.charts and 'class="chart' not in empty.html
    assert '<div class="v">0</div><div class="l">replica reads</div>' in empty.html


# A DOM just large enough for report.js: every element answers everything; Plotly records
# what it was asked to draw. Run with node on the page's own data.
_NODE_HARNESS = r"""
const fs = require("fs");
const [script, dataPath] = process.argv.slice(2);
function any() {
  const f = function () { return p; };
  const p = new Proxy(f, { get: (t, k) => k === "then" ? undefined : k === Symbol.toPrimitive ? () => 0
                                        : k in t ? t[k] : p, apply: () => p, set: () => true });
  return p;
}
const els = {}, attrs = {};
function el(id) {
  if (!els[id]) {
    els[id] = {
      id, clientWidth: 1200, style: {},
      textContent: id === "report-data" ? fs.readFileSync(dataPath, "utf8") : "",
      querySelector: () => ({ insertBefore() {}, appendChild() {} }), addEventListener() {}, on() {},
      getBoundingClientRect: () => ({ left: 0, top: 0, width: 1200 }),
      setAttribute: (k, v) => { attrs[id + "." + k] = v; },
      _fullLayout: { xaxis: { range: [0, 1] }, yaxis: { range: [0, 1] },
                     _size: { l: 0, t: 0, w: 100, h: 100 } } };
  }
  return els[id];
}
const calls = [];
global.window = { addEventListener() {}, devicePixelRatio: 1 };
global.performance = { now: () => 1 };
global.requestAnimationFrame = (f) => setTimeout(f, 0);
global.document = { getElementById: el, createElement: () => ({ style: {}, getContext: () => any() }) };
global.Plotly = {
  newPlot: (gd, traces, layout) => {
    const e = typeof gd === "string" ? el(gd) : gd;
    calls.push({ id: e.id, traces, layout });
    return Promise.resolve(e);
  },
  relayout: () => Promise.resolve() };
eval(fs.readFileSync(script, "utf8"));
setTimeout(() => { process.stdout.write(JSON.stringify({ calls, attrs })); }, 50);
"""


def test_report_js_draws_the_xy_chart_with_the_fault_windows(tmp_path, monkeypatch):
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("no node binary")
    monkeypatch.setitem(CHECKERS, "staleness", StalenessChecker)
    page = build_report(_run_dir(tmp_path, _hostile_history())).read_text(encoding="utf-8")
    (tmp_path / "data.json").write_text(json.dumps(_page_data(page)))
    (tmp_path / "harness.js").write_text(_NODE_HARNESS)
    script = Path(__file__).resolve().parent.parent / "harness" / "report_assets" / "report.js"
    out = subprocess.run([node, str(tmp_path / "harness.js"), str(script), str(tmp_path / "data.json")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["attrs"].get("report-status.data-status") == "ok", got
    (xy,) = [c for c in got["calls"] if c["id"] == "chart-1"]
    assert [t["name"] for t in xy["traces"]] == [N3, "&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert all(t["mode"] == "markers" and t["type"] == "scatter" for t in xy["traces"])
    assert xy["traces"][1]["x"] == [0.04, 0.07] and xy["traces"][1]["y"] == [30.0, 40.0]
    lay = xy["layout"]
    assert lay["xaxis"]["title"]["text"] == "read invoked (seconds since start)"
    assert lay["yaxis"]["title"]["text"] == "stale (ms behind)"
    assert lay["title"]["text"] == "staleness over time"
    rects = [s for s in lay["shapes"] if s["type"] == "rect"]
    assert [(s["x0"], s["x1"]) for s in rects] == [(0.02, 0.06)]     # the partition, shaded
    timeline = next(c for c in got["calls"] if c["id"] == "timeline")
    assert [s for s in timeline["layout"]["shapes"] if s["type"] == "rect"] == rects


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="no chromium binary found")
def test_report_draws_in_chromium(tmp_path, monkeypatch):
    monkeypatch.setitem(CHECKERS, "staleness", StalenessChecker)
    h = simulate(5, {N2: 0, N3: 120}, duration_ms=3000)
    h += H().fault("partition", 900 * MS, 1000 * MS, 1800 * MS, 1850 * MS).ops()
    h.sort(key=lambda o: o["time"])
    page = build_report(_run_dir(tmp_path, h))
    r = run_chromium(find_chromium(), tmp_path / "profile", page.as_uri(), "--virtual-time-budget=15000",
                     "--dump-dom")
    assert r.returncode == 0 and not js_errors(r.stderr), r.stderr[-2000:]
    assert 'data-status="ok"' in r.stdout
    chart = r.stdout[r.stdout.index('id="chart-1"'):]
    assert "main-svg" in chart[:5000]       # Plotly drew into it
