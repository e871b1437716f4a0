"""The queue checker on generated histories whose answer is known by construction.

`simulate` runs concurrent producers and consumers against a model of one Redis Streams
consumer group per stream (XADD, XREADGROUP >, XACK, a drain at the end), each op taking
effect at a random instant inside its interval, and optionally failovers that roll the
model back to an earlier snapshot (entries, last-delivered id and pending list together,
so ids are handed out again). While it runs it keeps its own tally of what happened
(deliveries, redeliveries, acknowledgements seen by then), which the checker must match.
"""

from __future__ import annotations

import copy
import heapq
import json
import random
import time

from hypothesis import given, settings, strategies as st

from harness.checkers import CHECKERS
from harness.checkers.queue import MAX_LISTED, QueueChecker, check
from harness.report import build_report
from harness.roles import CheckResult
from harness.spec import TestSpec

NODE = "10.0.0.11:6379"
INF = float("inf")


# ------------------------------------------------------------------ the model and the simulation

class Group:
    """One stream and its consumer group, as Redis keeps them."""

    def __init__(self):
        self.entries: list[tuple[str, str]] = []
        self.next_id = 1
        self.last = 0                      # how many entries the group has delivered
        self.pel: dict[str, str] = {}      # pending id -> payload

    def xadd(self, payload):
        i = f"{self.next_id}-0"
        self.next_id += 1
        self.entries.append((i, payload))
        return i

    def xreadgroup(self, count):
        got = self.entries[self.last:self.last + count]
        self.last += len(got)
        self.pel.update(got)
        return [list(e) for e in got]

    def xack(self, ids):
        n = 0
        for i in dict.fromkeys(ids):
            if self.pel.pop(i, None) is not None:
                n += 1
        return n


def simulate(seed, procs=4, nkeys=2, n_ops=200, rollbacks=0, drain_overlap=False):
    """(history, final, truth). truth: the counts the checker must report."""
    rng = random.Random(seed)
    keys = [f"q{i}" for i in range(nkeys)]
    groups = {k: Group() for k in keys}
    history, heap, used, seq = [], [], set(), [0]
    sent = [0]

    def at(t):
        t = int(t)
        while t in used:         # distinct times: no tie decides anything here
            t += 1
        used.add(t)
        return t

    def push(t, kind, w):
        seq[0] += 1
        heapq.heappush(heap, (t, seq[0], kind, w))

    span = n_ops // procs * 60_000
    snaps = sorted(rng.randrange(span) for _ in range(2 * rollbacks))
    for ts, tr in zip(snaps[::2], snaps[1::2]):
        push(at(ts), "snap", None)
        push(at(tr), "rollback", None)
    workers = [{"pid": w, "held": [], "op": None} for w in range(procs)]
    for w in range(procs):
        push(at(rng.randint(1, 20_000)), "invoke", w)

    deliv, first_ack_end = {}, {}
    truth = {"before": 0, "after": 0}
    enq_type = {}
    invoked, snap = 0, None

    def delivered(e, start):
        deliv[e] = deliv.get(e, 0) + 1
        if deliv[e] > 1:
            truth["after" if first_ack_end.get(e, INF) < start else "before"] += 1

    while heap:
        t, _, kind, w = heapq.heappop(heap)
        if kind == "snap":
            snap = copy.deepcopy(groups)
            continue
        if kind == "rollback":
            if snap is not None:     # the primary fails over to a replica that lagged
                groups.update(copy.deepcopy(snap))
            continue
        ws = workers[w]
        if kind == "invoke":
            if invoked >= n_ops:
                continue
            invoked += 1
            if ws["held"] and rng.random() < 0.7:
                key, pairs = ws["held"].pop(0)
                f, value = "ack", pairs
            else:
                key = rng.choice(keys)
                if rng.random() < 0.5:
                    sent[0] += 1
                    f, value = "enqueue", f"m{sent[0]}"
                else:
                    f, value = "dequeue", None
            typ = rng.choices(["ok", "fail", "info"], [0.8, 0.1, 0.1])[0]
            op = {"f": f, "key": key, "value": value, "type": typ, "start": t,
                  "applied": typ == "ok" or (typ == "info" and rng.random() < 0.5),
                  "completes": typ != "info" or rng.random() < 0.7}
            ws["op"] = op
            if f == "enqueue":
                enq_type[value] = typ
            history.append({"process": ws["pid"], "type": "invoke", "f": f, "key": key,
                            "value": value, "time": t})
            push(at(t + rng.randint(1_000, 50_000)), "apply", w)
        elif kind == "apply":
            op = ws["op"]
            if op["applied"]:
                g = groups[op["key"]]
                if op["f"] == "enqueue":
                    op["result"] = g.xadd(op["value"])
                elif op["f"] == "dequeue":
                    op["result"] = g.xreadgroup(rng.randint(1, 3))
                else:
                    op["result"] = g.xack([i for i, _ in op["value"]])
            push(at(t + rng.randint(1_000, 50_000)), "complete", w)
        else:
            op = ws["op"]
            f, key, typ = op["f"], op["key"], op["type"]
            if op["completes"]:
                value = op["result"] if typ == "ok" else op["value"]
                history.append({"process": ws["pid"], "type": typ, "f": f, "key": key,
                                "value": value, "time": t, "node": NODE})
            if typ == "ok" and f == "dequeue":
                for i, p in op["result"]:
                    delivered((key, i, p), op["start"])
                if op["result"]:
                    ws["held"].append((key, op["result"]))
            if typ == "ok" and f == "ack" and op["result"] == len({i for i, _ in op["value"]}):
                for i, p in op["value"]:
                    first_ack_end.setdefault((key, i, p), t)
            if typ == "info":        # a new process takes over; what it held stays pending
                ws["pid"] += procs
                ws["held"] = []
            push(at(t + rng.randint(1_000, 20_000)), "invoke", w)

    streams = {}
    for k, g in groups.items():
        dl = g.xreadgroup(len(g.entries))
        claimed = [[i, p] for i, p in g.pel.items() if drain_overlap or [i, p] not in dl]
        for e in dict.fromkeys((k, *x) for x in dl + claimed):
            deliv[e] = deliv.get(e, 0) + 1
            if deliv[e] > 1:
                truth["after" if e in first_ack_end else "before"] += 1
        streams[k] = {"entries": [list(e) for e in g.entries], "delivered": dl, "claimed": claimed,
                      "group": True}
    final = {"primary": {"node": NODE, "streams": streams},
             "nodes": {"n1": {"role": "master", "streams": {k: {"length": len(g.entries)}
                                                           for k, g in groups.items()}}}}
    seen = {p for _, _, p in deliv}
    present = {p for s in streams.values() for _, p in s["entries"]}
    ok = {p for p, t in enq_type.items() if t == "ok"}
    info = {p for p, t in enq_type.items() if t == "info"}
    truth.update(enqueued=len(ok), delivered=len(seen), lost=len(ok - seen - present),
                 stranded=len((ok | info) & present - seen), recovered=len(info & seen))
    return history, final, truth


def assert_matches(r, truth):
    assert r["enqueued"] == truth["enqueued"]
    assert r["delivered"] == truth["delivered"]
    assert r["lost"] == truth["lost"] and r["stranded"] == truth["stranded"]
    assert r["recovered"] == truth["recovered"]
    assert r["redelivered_before_ack"] == truth["before"]
    assert r["redelivered_after_ack"] == truth["after"]
    assert r["unexpected"] == 0 and r["duplicated"] == 0
    bad = truth["lost"] + truth["stranded"] + truth["after"]
    assert r["valid"] is (bad == 0)


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 3), st.integers(5, 250),
       st.booleans())
def test_a_correct_group_is_valid_and_the_counts_are_exact(seed, procs, nkeys, n, overlap):
    h, final, truth = simulate(seed, procs, nkeys, n, drain_overlap=overlap)
    r = check(h, final)
    assert (truth["lost"], truth["stranded"], truth["after"]) == (0, 0, 0)
    assert_matches(r, truth)
    assert r["valid"] is True


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 6), st.integers(1, 3), st.integers(50, 300),
       st.integers(1, 4))
def test_failovers_that_roll_the_group_back_are_counted_exactly(seed, procs, nkeys, n, rollbacks):
    h, final, truth = simulate(seed, procs, nkeys, n, rollbacks)
    assert_matches(check(h, final), truth)


def test_the_simulation_does_produce_rollback_anomalies():
    """Guard against the property above passing vacuously: over some seeds, failovers do
    lose messages and redeliver acknowledged ones, and the checker says so."""
    totals = {"lost": 0, "after": 0, "before": 0}
    for seed in range(40):
        h, final, truth = simulate(seed, 4, 2, 300, 3)
        r = check(h, final)
        assert_matches(r, truth)
        for k in totals:
            totals[k] += truth[k]
    assert all(totals.values()), totals


# ------------------------------------------------------------------ injected anomalies

def base(seed=7):
    h, final, truth = simulate(seed, 4, 2, 400)
    assert check(h, final)["valid"] is True
    return h, final, truth


def drained_only(h, final):
    """A payload acknowledged by XADD that only the drain delivered: (stream, [id, payload])."""
    seen = {p for o in h if o["f"] == "dequeue" and o["type"] == "ok" for _, p in o["value"]}
    ok, invokes = set(), {}
    for o in h:
        if o["f"] == "enqueue":
            if o["type"] == "invoke":
                invokes[o["process"]] = o["value"]
            elif o["type"] == "ok":
                ok.add(invokes[o["process"]])
    for k, s in final["primary"]["streams"].items():
        for e in s["delivered"]:
            if e[1] in ok and e[1] not in seen:
                return k, e
    raise AssertionError("no drained-only message in this simulation")


def test_dropping_an_acknowledged_message_from_every_delivery_is_one_lost():
    h, final, truth = base()
    k, e = drained_only(h, final)
    s = final["primary"]["streams"][k]
    s["delivered"].remove(e)
    s["entries"].remove(e)
    r = check(h, final)
    assert r["valid"] is False and r["lost"] == truth["lost"] + 1 == 1 and r["stranded"] == 0
    assert r["delivered"] == truth["delivered"] - 1
    assert r["lost_rate"] == round(1 / truth["enqueued"], 6)
    (x,) = r["lost_messages"]
    assert (x["payload"], x["stream"], x["id"], x["window"]) == (e[1], k, e[0], "no fault")
    assert r["per_stream"][k]["lost"] == 1
    assert r["anomalies_by_window"] == {"no fault": {"lost": 1}}


def test_an_undelivered_message_still_in_the_stream_is_stranded_not_lost():
    h, final, truth = base()
    k, e = drained_only(h, final)
    final["primary"]["streams"][k]["delivered"].remove(e)
    r = check(h, final)
    assert r["valid"] is False and r["stranded"] == 1 and r["lost"] == 0
    assert r["stranded_messages"][0]["payload"] == e[1]


def confirmed_ack(h):
    """An ok XACK that counted every id it was given, and the first entry it acknowledged."""
    for o in h:
        if o["f"] == "ack" and o["type"] == "ok" and o["value"] >= 1:
            inv = next(i for i in reversed(h[:h.index(o)]) if i["process"] == o["process"])
            if o["value"] == len({i for i, _ in inv["value"]}):
                return o, inv["value"][0]
    raise AssertionError("no confirmed ack")


def test_a_delivery_after_an_acknowledged_xack_is_an_anomaly():
    h, final, truth = base()
    ack, (i, p) = confirmed_ack(h)
    t = max(o["time"] for o in h)
    h = h + [{"process": 999, "type": "invoke", "f": "dequeue", "key": ack["key"], "value": None, "time": t + 1000},
             {"process": 999, "type": "ok", "f": "dequeue", "key": ack["key"], "value": [[i, p]],
              "time": t + 3000, "node": "10.0.0.12:6379"}]
    r = check(h, final)
    assert r["valid"] is False and r["redelivered_after_ack"] == 1
    assert r["redelivered_before_ack"] == truth["before"]
    (x,) = r["redeliveries_after_ack"]
    assert (x["payload"], x["id"], x["via"], x["process"], x["node"]) == (p, i, "dequeue", 999, "10.0.0.12:6379")
    assert x["acked_at"] == ack["time"] and x["delivered_at"] == t + 3000
    assert x["after_ack"] == t + 3000 - ack["time"] and x["ack_process"] == ack["process"]
    res = QueueChecker().check(h, final, TestSpec())
    cases = {c.name: c.status for c in res.junit_cases()}
    assert cases["queue: no redelivery after an acknowledged XACK"] == "failure"
    assert cases["queue: no acknowledged message lost"] == "passed"


def test_a_never_enqueued_payload_delivered_is_unexpected():
    h, final, truth = base()
    t = max(o["time"] for o in h)
    h = h + [{"process": 999, "type": "invoke", "f": "dequeue", "key": "q1", "value": None, "time": t + 1},
             {"process": 999, "type": "ok", "f": "dequeue", "key": "q1", "value": [["99999-0", "ghost"]],
              "time": t + 2}]
    r = check(h, final)
    assert r["valid"] is False and r["unexpected"] == 1 and r["delivered"] == truth["delivered"] + 1
    (x,) = r["unexpected_messages"]
    assert (x["payload"], x["reason"], x["seen"], x["stream"], x["id"]) == \
        ("ghost", "never enqueued", "dequeue", "q1", "99999-0")


# ------------------------------------------------------------------ hand-written cases

def history_of(intervals):
    """intervals: [(process, f, key, invoke value, type, ok value, start, end|None)]."""
    events = []
    for p, f, key, inv, typ, val, start, end in intervals:
        events.append({"process": p, "type": "invoke", "f": f, "key": key, "value": inv, "time": start})
        if end is not None:
            events.append({"process": p, "type": typ, "f": f, "key": key,
                           "value": val if typ == "ok" else inv, "time": end, "node": NODE})
    events.sort(key=lambda o: o["time"])
    for i, o in enumerate(events):
        o["index"] = i
    return events


def drain(entries=(), delivered=(), claimed=(), group=True, key="q0"):
    return {"primary": {"node": NODE, "streams": {key: {
        "entries": [list(e) for e in entries], "delivered": [list(e) for e in delivered],
        "claimed": [list(e) for e in claimed], "group": group}}}}


E1 = ["1-0", "m1"]


def test_redelivery_with_only_an_info_or_short_ack_is_before_ack():
    for ack_type, ack_value in (("info", None), ("fail", None), ("ok", 0)):
        h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                        (1, "dequeue", "q0", None, "ok", [E1], 20, 30),
                        (1, "ack", "q0", [E1], ack_type, ack_value, 40, 50),
                        (2, "dequeue", "q0", None, "ok", [E1], 60, 70)])
        r = check(h, drain([E1]))
        assert r["valid"] is True, ack_type
        assert (r["redelivered_before_ack"], r["redelivered_after_ack"]) == (1, 0)
        assert r["short_ack_count"] == (ack_type == "ok")
    # the same with an ok XACK counting the id: after ack
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (1, "dequeue", "q0", None, "ok", [E1], 20, 30),
                    (1, "ack", "q0", [E1], "ok", 1, 40, 50),
                    (2, "dequeue", "q0", None, "ok", [E1], 60, 70)])
    r = check(h, drain([E1]))
    assert r["valid"] is False and (r["redelivered_before_ack"], r["redelivered_after_ack"]) == (0, 1)
    assert r["redeliveries_after_ack"][0]["after_ack"] == 20


def test_redelivery_by_a_dequeue_invoked_before_the_ack_completed_is_allowed():
    # invoked at 50, the instant the XACK returned (ties in Redis's favour), and before it
    for start in (45, 50):
        h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                        (1, "dequeue", "q0", None, "ok", [E1], 20, 30),
                        (1, "ack", "q0", [E1], "ok", 1, 40, 50),
                        (2, "dequeue", "q0", None, "ok", [E1], start, 70)])
        r = check(h, drain([E1]))
        assert r["valid"] is True and r["redelivered_before_ack"] == 1


def test_pending_after_an_acknowledged_xack_is_redelivered_in_the_drain():
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (1, "dequeue", "q0", None, "ok", [E1], 20, 30),
                    (1, "ack", "q0", [E1], "ok", 1, 40, 50)])
    r = check(h, drain([E1], claimed=[E1]))
    assert r["valid"] is False and r["redelivered_after_ack"] == 1
    x = r["redeliveries_after_ack"][0]
    assert (x["via"], x["window"], x["delivered_at"], x["after_ack"]) == ("drain-claimed", "drain", None, None)
    # unacknowledged and claimed by the drain: a redelivery before ack; in both drain lists: once
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (1, "dequeue", "q0", None, "ok", [E1], 20, 30)])
    r = check(h, drain([E1], delivered=[E1], claimed=[E1]))
    assert r["valid"] is True and r["redelivered_before_ack"] == r["redelivered_before_ack_in_drain"] == 1


def test_info_enqueues_delivered_are_recovered_failed_ones_unexpected():
    h = history_of([(0, "enqueue", "q0", "m1", "info", None, 0, 10),
                    (1, "enqueue", "q0", "m2", "info", None, 5, None),
                    (2, "enqueue", "q0", "m3", "info", None, 6, 9),
                    (3, "dequeue", "q0", None, "ok", [E1, ["2-0", "m2"]], 20, 30)])
    r = check(h, drain([E1, ["2-0", "m2"]], claimed=[]))
    assert r["valid"] is True and r["recovered"] == 2 and r["enqueued"] == 0 and r["lost"] == 0
    h = history_of([(0, "enqueue", "q0", "m1", "fail", None, 0, 10),
                    (3, "dequeue", "q0", None, "ok", [E1], 20, 30)])
    r = check(h, drain([E1]))
    assert r["valid"] is False and r["unexpected_messages"][0]["reason"] == "enqueue failed"
    # failed, never delivered but in the stream: unexpected too (seen in the final stream)
    r = check(history_of([(0, "enqueue", "q0", "m1", "fail", None, 0, 10)]), drain([E1]))
    assert r["unexpected"] == 1 and r["unexpected_messages"][0]["seen"] == "final stream"
    assert r["stranded"] == 0


def test_one_payload_under_two_ids_is_duplicated():
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (1, "dequeue", "q0", None, "ok", [E1, ["2-0", "m1"]], 20, 30)])
    r = check(h, drain([E1, ["2-0", "m1"]]))
    assert r["valid"] is False and r["duplicated"] == 1 and r["redelivered_before_ack"] == 0
    assert r["duplicated_messages"][0]["entries"] == ["q0 1-0", "q0 2-0"]
    # one id reused for another payload (after a failover) is two entries, not a duplicate
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (0, "enqueue", "q0", "m2", "ok", "1-0", 20, 30),
                    (1, "dequeue", "q0", None, "ok", [E1], 12, 18),
                    (1, "ack", "q0", [E1], "ok", 1, 19, 19.5),
                    (2, "dequeue", "q0", None, "ok", [["1-0", "m2"]], 40, 50)])
    r = check(h, drain([["1-0", "m2"]]))
    assert r["valid"] is True and r["duplicated"] == 0 and r["redelivered_after_ack"] == 0


def test_no_final_drain_is_unknown_and_lost_not_judged():
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (0, "enqueue", "q0", "m2", "ok", "2-0", 20, 30),
                    (1, "dequeue", "q0", None, "ok", [E1], 40, 50)])
    for final in (None, {}, {"primary": {}}, {"primary": {"streams": {"q0": {"entries": []}}}}):
        res = QueueChecker().check(h, final, TestSpec())
        assert res.valid == "unknown", final
        assert res.figure("lost") is None and res.figure("lost_rate") is None
        assert res.figure("enqueued") == 2 and res.figure("delivered") == 1
        assert "not judged" in res.summary
        cases = {c.name: c.status for c in res.junit_cases()}
        assert cases["queue: no acknowledged message lost"] == "error"
        assert cases["queue: no unexpected message"] == "passed"
    # an anomaly the history shows alone is still an anomaly
    h2 = h + history_of([(1, "ack", "q0", [E1], "ok", 1, 60, 70), (2, "dequeue", "q0", None, "ok", [E1], 80, 90)])
    assert check(h2, None)["valid"] is False
    # one stream drained, another not: judged where it can be, unknown overall
    h3 = h + [dict(o, key="q1", value="m9" if o["type"] == "invoke" else "1-0", process=7, time=o["time"] + 100)
              for o in history_of([(0, "enqueue", "q1", "m9", "ok", "1-0", 0, 10)])]
    r = check(h3, drain([E1, ["2-0", "m2"]], delivered=[["2-0", "m2"]]))
    assert r["valid"] == "unknown" and r["lost"] == 0 and r["lost_not_judged"] == 1 and "q1" in r["error"]


def test_a_group_gone_at_the_end_is_reported():
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (1, "dequeue", "q0", None, "ok", [E1], 20, 30),
                    (1, "ack", "q0", [E1], "ok", 1, 40, 50)])
    r = check(h, drain([E1], delivered=[E1], group=False))
    assert r["group_missing"] == ["q0"] and r["redelivered_after_ack"] == 1
    assert r["redeliveries_after_ack"][0]["via"] == "drain-delivered"
    assert "consumer group gone at the end on q0" in QueueChecker().check(h, drain([E1], delivered=[E1], group=False),
                                                                         TestSpec()).summary


def nemesis(kind, start, stop, shape):
    return [{"process": "nemesis", "type": "invoke", "f": f"start-{kind}", "time": start - 2, "value": None},
            {"process": "nemesis", "type": "info", "f": f"start-{kind}", "time": start, "value": {"shape": shape}},
            {"process": "nemesis", "type": "invoke", "f": f"stop-{kind}", "time": stop, "value": None},
            {"process": "nemesis", "type": "info", "f": f"stop-{kind}", "time": stop + 2, "value": {}}]


def test_anomalies_are_placed_in_fault_windows():
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),          # lost, no fault
                    (0, "enqueue", "q0", "m2", "ok", "2-0", 100, 130),       # lost, in the partition
                    (0, "enqueue", "q0", "m3", "ok", "3-0", 140, 150),
                    (1, "dequeue", "q0", None, "ok", [["3-0", "m3"]], 152, 155),
                    (1, "ack", "q0", [["3-0", "m3"]], "ok", 1, 160, 170),
                    (2, "dequeue", "q0", None, "ok", [["3-0", "m3"]], 300, 320)])   # in the kill
    h += nemesis("partition", 120, 200, "isolate-primary") + nemesis("kill", 310, 400, "primary")
    h.sort(key=lambda o: o["time"])
    r = check(h, drain([["3-0", "m3"]]))
    lost = {x["payload"]: x["window"] for x in r["lost_messages"]}
    assert lost["m1"] == "no fault" and "isolate-primary #1" in lost["m2"]
    (x,) = r["redeliveries_after_ack"]
    assert "kill primary #2" in x["window"] and x["acked_at"] == 170 and x["after_ack"] == 150
    part, kill = lost["m2"], x["window"]
    assert r["anomalies_by_window"] == {"no fault": {"lost": 1}, part: {"lost": 1},
                                        kill: {"redelivered_after_ack": 1}}
    assert r["enqueued_by_window"] == {"no fault": 1, part: 2}   # m3 was acknowledged inside it too


# ------------------------------------------------------------------ the CheckResult

def test_check_result_figures_summary_and_junit():
    h = history_of([(0, "enqueue", "q0", "m1", "ok", "1-0", 0, 10),
                    (0, "enqueue", "q0", "m2", "ok", "2-0", 20, 30),
                    (1, "dequeue", "q0", None, "ok", [E1], 40, 50),
                    (1, "ack", "q0", [E1], "ok", 1, 60, 70),
                    (2, "dequeue", "q0", None, "ok", [E1], 80, 90)])
    res = QueueChecker().check(h, drain([E1, ["3-0", "m3"]], delivered=[["3-0", "m3"]]), TestSpec())
    assert res.checker == "queue" and res.valid is False
    assert [f.name for f in res.figures] == list(QueueChecker.figures) == [
        "enqueued", "lost", "lost_rate", "stranded", "redelivered_before_ack", "redelivered_after_ack",
        "unexpected", "duplicated", "delivered"]
    assert res.figure("stranded") == 0
    assert (res.figure("enqueued"), res.figure("lost"), res.figure("lost_rate")) == (2, 1, 0.5)
    assert (res.figure("redelivered_after_ack"), res.figure("redelivered_before_ack")) == (1, 0)
    assert (res.figure("unexpected"), res.figure("duplicated"), res.figure("delivered")) == (1, 0, 2)
    figs = {f.name: f for f in res.figures}
    assert all("max" in figs[n].aggregate for n in ("lost", "redelivered_after_ack", "unexpected"))
    assert figs["lost_rate"].format == "pct" and figs["enqueued"].format == "int"
    assert res.summary == ("lost 1 of 2 acknowledged messages (50.00%); 1 redelivered after an "
                           "acknowledged XACK; 1 unexpected (never enqueued or enqueue failed); "
                           "0 redelivered before ack (allowed)")
    cases = {c.name: c.status for c in res.junit_cases()}
    assert cases == {"queue: no acknowledged message lost": "failure",
                     "queue: no message stranded in its stream": "passed",
                     "queue: no redelivery after an acknowledged XACK": "failure",
                     "queue: no unexpected message": "failure",
                     "queue: no duplicated message": "passed"}
    back = CheckResult.from_json("queue", json.loads(json.dumps(res.to_json())))
    assert back.valid is False and back.figure("lost") == 1 and len(back.junit_cases()) == 5

    h, final, truth = base()
    ok = QueueChecker().check(h, final, TestSpec())
    assert ok.valid is True and all(c.status == "passed" for c in ok.junit_cases())
    assert ok.summary == (f"no acknowledged message lost (of {truth['enqueued']:,}); no redelivery "
                          f"after an acknowledged XACK; {truth['before']:,} redelivered before ack (allowed)")


def test_lists_are_capped():
    n = MAX_LISTED + 200
    h = history_of([(i, "enqueue", "q0", f"m{i}", "ok", f"{i}-0", i * 10, i * 10 + 5) for i in range(n)])
    r = check(h, drain())
    assert r["lost"] == n and len(r["lost_messages"]) == MAX_LISTED
    assert r["lost_messages"][0]["payload"] == "m0"


def test_large_history_is_fast():
    """~300k events over 4 streams and 20 processes: seconds (quadratic would be hours)."""
    rng = random.Random(1)
    events, t, ids = [], 0, {}
    pending = {k: [] for k in ("q0", "q1", "q2", "q3")}
    held = {}
    for i in range(150_000):
        p = i % 20
        if held.get(p):
            key, got = held.pop(p)
            events += [{"process": p, "type": "invoke", "f": "ack", "key": key, "value": got, "time": t},
                       {"process": p, "type": "ok", "f": "ack", "key": key, "value": len(got), "time": t + 15}]
        elif rng.random() < 0.5:
            key = rng.choice(list(pending))
            ids[key] = ids.get(key, 0) + 1
            pending[key].append([f"{ids[key]}-0", f"m{i}"])
            events += [{"process": p, "type": "invoke", "f": "enqueue", "key": key, "value": f"m{i}", "time": t},
                       {"process": p, "type": "ok", "f": "enqueue", "key": key, "value": f"{ids[key]}-0",
                        "time": t + 15}]
        else:
            key = rng.choice(list(pending))
            got, pending[key] = pending[key][:3], pending[key][3:]
            if got:
                held[p] = (key, got)
            events += [{"process": p, "type": "invoke", "f": "dequeue", "key": key, "value": None, "time": t},
                       {"process": p, "type": "ok", "f": "dequeue", "key": key, "value": got, "time": t + 15}]
        t += 20
    final = {"primary": {"streams": {k: {"entries": v, "delivered": v, "claimed": [], "group": True}
                                     for k, v in pending.items()}}}
    began = time.perf_counter()
    r = check(events, final)
    assert time.perf_counter() - began < 20
    assert r["valid"] is True and r["lost"] == 0 and r["enqueued"] > 50_000


# ------------------------------------------------------------------ report

def test_report_section_marks_and_escaping(tmp_path, monkeypatch):
    monkeypatch.setitem(CHECKERS, "queue", QueueChecker)
    evil = "<script>alert(1)</script>"
    h = history_of([(0, "enqueue", "q0", evil, "ok", "1-0", 0, 10_000_000),
                    (0, "enqueue", "q0", "m3", "ok", "3-0", 20_000_000, 30_000_000),
                    (1, "dequeue", "q0", None, "ok", [["3-0", "m3"]], 40_000_000, 50_000_000),
                    (1, "ack", "q0", [["3-0", "m3"]], "ok", 1, 60_000_000, 70_000_000),
                    (2, "dequeue", "q0", None, "ok", [["3-0", "m3"]], 80_000_000, 90_000_000)])
    final = drain([["3-0", "m3"]])
    final["nodes"] = {"n1": {"role": "master", "streams": {"q0": {"length": 1}}},
                      "n2": {"error": "ConnectionError: <boom>"}}
    res = QueueChecker().check(h, final, TestSpec())
    view = QueueChecker().view(res, type("R", (), {"seconds": staticmethod(lambda t: t / 1e9),
                                                  "time_text": staticmethod(lambda t: f"{t}"),
                                                  "short": staticmethod(lambda v, n=60: str(v))})())
    assert {m["name"] for m in view["marks"]} == {"lost message", "redelivered after ack"}
    assert [m["t"] for m in view["marks"] if m["name"] == "redelivered after ack"] == [0.09]
    assert view["nodes"][0][:5] == ["n1", "master", 1, "q0: 1", 0]

    (tmp_path / "history.jsonl").write_text("".join(json.dumps(o) + "\n" for o in h))
    (tmp_path / "test.json").write_text(json.dumps(TestSpec().to_json()))
    (tmp_path / "results.json").write_text(json.dumps(
        {"valid": res.valid, "checkers": {"queue": res.to_json()}, "stats": {}}))
    page = build_report(tmp_path).read_text(encoding="utf-8")
    assert "shown generically" not in page
    assert "Lost messages (1)" in page and "Redelivered after an acknowledged XACK (1)" in page
    assert "Streams" in page and "Stream lengths on each node after the run" in page
    assert "redelivered after ack" in page and "REDELIVERED m3 (3-0)" in page
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "ConnectionError: &lt;boom&gt;" in page
