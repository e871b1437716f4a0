"""The mutex checker on hold sequences whose overlaps are known by construction: hand-made
cases for each rule (lease end, release, late write, unknown outcomes, the resource's
order, fencing), and generated schedules checked against a brute-force reference."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

from harness.checkers.mutex import MutexChecker, check
from harness.spec import TestSpec

MS = 1_000_000     # history times are ns


class H:
    """A history under construction: ops with explicit times (ms)."""

    def __init__(self) -> None:
        self.ops: list[dict[str, Any]] = []
        self.n: dict[Any, int] = {}

    def _add(self, t: float, process: Any, type_: str, f: str, key: Any, value: Any, **extra) -> None:
        self.ops.append({"index": len(self.ops), "time": int(t * MS), "process": process, "type": type_,
                         "f": f, "key": key, "value": value, **extra})

    def op(self, process, f, key, start, end, type_="ok", value=None, invoke_value=None, error=None) -> None:
        self._add(start, process, "invoke", f, key, invoke_value)
        if end is None:
            return
        extra = {"error": error} if error else {}
        self._add(end, process, type_, f, key, value if type_ == "ok" else invoke_value, **extra)

    def hold(self, process, lock, acq, rel=None, write=None, validity=10_000, token=None,
             node="n1", release_type="ok", write_type="ok", accepted=True) -> str:
        """acquire invoked at acq (ok 1 ms later); write invoked at `write`; release at `rel`."""
        self.n[process] = self.n.get(process, 0) + 1
        hid = f"{process}.{self.n[process]}"
        self.op(process, "acquire", lock, acq, acq + 1, value={
            "hold": hid, "lease_ms": validity, "validity_ms": validity, "granted_by": [node], "token": token})
        if write is not None:
            self.op(process, "write", lock, write, write + 1, write_type,
                    value={"hold": hid, "accepted": accepted}, invoke_value={"hold": hid, "token": token})
        if rel is not None:
            self.op(process, "release", lock, rel, rel + 1, release_type,
                    value={"hold": hid, "released": True}, invoke_value={"hold": hid})
        return hid

    def sorted(self) -> list[dict[str, Any]]:
        ops = sorted(self.ops, key=lambda o: (o["time"], o["index"]))
        for i, o in enumerate(ops):
            o["index"] = i
        return ops


def res(*entries) -> dict[str, Any]:
    out: dict[str, list] = {}
    for lock, hold in entries:
        out.setdefault(lock, []).append({"hold": hold, "token": None})
    return {"resource": out}


def test_serial_holds_are_valid():
    h = H()
    a = h.hold(0, "L0", 0, rel=100, write=50)
    b = h.hold(1, "L0", 200, rel=300, write=250)
    r = check(h.sorted(), res(("L0", a), ("L0", b)))
    assert r["valid"] is True and r["overlap_count"] == 0 and r["corrupted_count"] == 0
    assert r["acquisitions"] == 2 and r["writes"] == 2 and r["late_writes"] == 0


def test_two_believed_holders_overlap_for_the_right_time():
    h = H()
    h.hold(0, "L0", 0, rel=500, node="n1")
    h.hold(1, "L0", 300, rel=900, node="n2")       # acquired at 301, first released at 500
    r = check(h.sorted(), res())
    assert r["valid"] is False and r["overlap_count"] == 1
    o = r["overlaps"][0]
    assert o["ms"] == 199.0 and o["kind"] == "both believed they held it"
    assert o["first"]["granted_by"] == ["n1"] and o["second"]["granted_by"] == ["n2"]


def test_other_locks_and_the_same_process_never_overlap():
    h = H()
    h.hold(0, "L0", 0, rel=500)
    h.hold(1, "L1", 100, rel=400)
    assert check(h.sorted(), res())["overlap_count"] == 0


def test_the_lease_ends_a_hold_that_is_never_released():
    h = H()
    h.hold(0, "L0", 0, validity=1000)             # believed until 0 + 1000
    h.hold(1, "L0", 1000, rel=1500)               # acquired at 1001: after the lease
    assert check(h.sorted(), res())["overlap_count"] == 0
    h = H()
    h.hold(0, "L0", 0, validity=1000)
    h.hold(1, "L0", 900, rel=1500)                # acquired at 901: 99 ms before it ended
    r = check(h.sorted(), res())
    assert r["overlap_count"] == 1 and r["overlaps"][0]["ms"] == 99.0


def test_a_release_of_unknown_outcome_still_ends_the_hold_at_its_invoke():
    h = H()
    h.hold(0, "L0", 0, rel=100, release_type="info")
    h.hold(1, "L0", 200, rel=300)
    assert check(h.sorted(), res())["overlap_count"] == 0


def test_a_write_after_the_lease_extends_the_hold_to_the_write():
    h = H()
    a = h.hold(0, "L0", 0, write=3000, validity=1000)    # stalled past its lease, then wrote
    b = h.hold(1, "L0", 1500, rel=2000, write=1800)
    r = check(h.sorted(), res(("L0", b), ("L0", a)))
    assert r["overlap_count"] == 1 and r["late_writes"] == 1
    o = r["overlaps"][0]
    assert o["kind"] == "a client wrote after its lease ended"
    assert o["first"]["hold"] == a and o["ms"] == 499.0        # from 1501 to b's release at 2000
    # a's write landed after b's, and b's grant is the later one: corrupted
    assert r["corrupted_count"] == 1 and r["corrupted"][0]["hold"] == a
    # the same stall, but b acquired after a's write: no overlap, nothing corrupted
    h = H()
    a = h.hold(0, "L0", 0, write=3000, validity=1000)
    b = h.hold(1, "L0", 3500, rel=4000, write=3800)
    r = check(h.sorted(), res(("L0", a), ("L0", b)))
    assert r["overlap_count"] == 0 and r["corrupted_count"] == 0 and r["late_writes"] == 1


def test_an_acquire_of_unknown_outcome_is_ambiguous_not_an_overlap():
    h = H()
    h.op(0, "acquire", "L0", 0, 500, "info", error="TimeoutError")   # may hold L0 until 10 s
    h.hold(1, "L0", 1000, rel=2000)
    h.op(2, "acquire", "L0", 2500, None)                             # never completed
    r = check(h.sorted(), res())
    assert r["overlap_count"] == 0 and r["ambiguous_acquires"] == 2 and r["valid"] is True
    assert r["attempts"] == 3 and r["availability"] == 1 / 3


def test_busy_attempts_count_as_answered_and_as_waiting_time():
    h = H()
    h.hold(0, "L0", 0, rel=1000)
    h.op(1, "acquire", "L0", 100, 101, "fail", error="Failed: busy: held by another client")
    h.op(1, "acquire", "L0", 500, 501, "fail", error="Failed: busy: held by another client")
    h.hold(1, "L0", 1100, rel=1200)
    r = check(h.sorted(), res())
    assert r["busy"] == 2 and r["availability"] == 1.0
    assert sorted([r["acquire_p50_ms"], r["acquire_p99_ms"]]) == [1001.0, 1001.0]  # 100 → 1101


def test_a_write_before_a_later_grants_write_is_fine_after_it_is_corrupted():
    h = H()
    a = h.hold(0, "L0", 0, rel=100, write=50)
    b = h.hold(1, "L0", 200, rel=300, write=250)
    assert check(h.sorted(), res(("L0", a), ("L0", b)))["corrupted_count"] == 0
    r = check(h.sorted(), res(("L0", b), ("L0", a)))
    assert r["corrupted_count"] == 1 and r["valid"] is False
    assert r["corrupted"][0]["after"] == b


def test_tokens_order_the_grants_when_the_lock_gives_them():
    h = H()
    a = h.hold(0, "L0", 0, rel=100, write=50, token=7)
    b = h.hold(1, "L0", 200, rel=300, write=250, token=3)   # acknowledged later, lower token
    tok = {"resource": {"L0": [{"hold": b, "token": 3}, {"hold": a, "token": 7}]}}
    assert check(h.sorted(), tok)["corrupted_count"] == 0
    tok = {"resource": {"L0": [{"hold": a, "token": 7}, {"hold": b, "token": 3}]}}
    assert check(h.sorted(), tok)["corrupted_count"] == 1


def test_rejected_writes_and_duplicate_tokens_are_counted():
    h = H()
    h.hold(0, "L0", 0, rel=100, write=50, token=5, accepted=False)
    h.hold(1, "L0", 200, rel=300, write=250, token=5)
    r = check(h.sorted(), res())
    assert r["rejected_writes"] == 1 and r["duplicate_tokens"] == 1


def test_a_write_by_no_acknowledged_grant_is_corrupted():
    h = H()
    a = h.hold(0, "L0", 0, rel=100, write=50)
    r = check(h.sorted(), res(("L0", a), ("L0", "9.9")))
    assert r["corrupted_count"] == 1 and r["corrupted"][0]["why"] == "written under no acknowledged grant"


def test_without_the_resource_the_verdict_is_unknown_unless_holders_overlapped():
    h = H()
    h.hold(0, "L0", 0, rel=100)
    assert check(h.sorted(), None)["valid"] == "unknown"
    assert check(h.sorted(), {"resource": {}, "resource_error": "ConnectionError"})["valid"] == "unknown"
    h.hold(1, "L0", 50, rel=150)
    assert check(h.sorted(), None)["valid"] is False


def test_the_result_names_both_holders_and_the_fault_of_the_grant():
    h = H()
    h.ops.append({"index": 0, "time": 0, "process": "nemesis", "type": "info", "f": "start-partition",
                  "value": {"shape": "isolate-primary-with-clients"}})
    h.hold(0, "L0", 100, rel=5000, node="n1")
    h.ops.append({"index": 0, "time": 2000 * MS, "process": "nemesis", "type": "info", "f": "stop-partition",
                  "value": {}})
    h.hold(1, "L0", 3000, rel=3500, node="n3")
    r = MutexChecker().check(h.sorted(), res(), TestSpec(workload="lock"))
    assert r.valid is False and r.figure("overlaps") == 1
    # the grant was made during the partition; the overlap began after it healed
    assert "partition isolate-primary-with-clients #1" in r.details["overlaps"][0]["window"]
    assert "process 0" in r.explanation and "process 1" in r.explanation and "n3" in r.explanation
    assert [(c.name, c.status) for c in r.junit_cases()] == [
        ("mutex: no two clients hold a lock at once", "failure"),
        ("mutex: the resource accepted writes in grant order", "passed")]
    unread = MutexChecker().check(h.sorted(), None, TestSpec(workload="lock")).junit_cases()
    assert unread[1].status == "error" and "not judged" in unread[1].message


# ----------------------------------------------------------------- generated schedules

def reference_overlaps(holds: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Every pair of holds of one lock by different processes whose intervals meet: the
    checker's rule written as directly as possible (O(n²))."""
    out = set()
    for a in holds:
        for b in holds:
            if a is b or a["lock"] != b["lock"] or a["process"] == b["process"]:
                continue
            if (a["acquired"], a["hold"]) > (b["acquired"], b["hold"]):
                continue
            if max(a["acquired"], b["acquired"]) < min(a["until"], b["until"]):
                out.add((a["hold"], b["hold"]))
    return out


@st.composite
def schedules(draw):
    """Holds by 4 processes on 2 locks, each process's holds one after another; some end by
    release, some by lease, some write late; some acquires end in info."""
    h, holds = H(), []
    for p in range(4):
        t = draw(st.integers(0, 50))
        for _ in range(draw(st.integers(0, 4))):
            lock = draw(st.sampled_from(["L0", "L1"]))
            if draw(st.booleans()) and draw(st.booleans()):
                h.op(p, "acquire", lock, t, t + 5, "info")        # ambiguous: never acts
                t += 20
                continue
            validity = draw(st.integers(10, 200))
            rel = draw(st.one_of(st.none(), st.integers(2, 250)))
            late = draw(st.one_of(st.none(), st.integers(0, 100)))
            write = None if late is None else t + validity + late
            rel_at = None if rel is None else t + rel
            if write is not None and rel_at is not None and rel_at < write:
                rel_at = write + 2
            hid = h.hold(p, lock, t, rel=rel_at, write=write, validity=validity)
            end = min(t + validity, rel_at) if rel_at is not None else t + validity
            until = max(end, write) if write is not None else end
            holds.append({"hold": hid, "lock": lock, "process": p, "acquired": t + 1, "until": until})
            t = max(until, (rel_at or 0) + 1, write + 1 if write else 0, t + validity) + draw(st.integers(1, 30))
    return h.sorted(), holds


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_generated_schedules_match_the_reference(sched):
    history, holds = sched
    r = check(history, res())
    got = {(o["first"]["hold"], o["second"]["hold"]) for o in r["overlaps"]}
    want = reference_overlaps(holds)
    assert r["overlap_count"] == len(want)
    if len(want) <= 50:
        assert got == want
    assert r["valid"] is (not want)


def test_a_fault_counts_from_its_invoke_a_clock_jump_bites_before_it_is_measured():
    h = H()
    h.hold(0, "L0", 0, rel=5000)
    h.ops.append({"index": 0, "time": 1000 * MS, "process": "nemesis", "type": "invoke", "f": "start-clock",
                  "value": None})
    h.hold(1, "L0", 2000, rel=2500)
    h.ops.append({"index": 0, "time": 3000 * MS, "process": "nemesis", "type": "info", "f": "start-clock",
                  "value": {"mode": "jump"}})
    r = check(h.sorted(), res())
    assert r["overlap_count"] == 1 and r["overlaps"][0]["window"].startswith("clock #1")


def test_with_no_fault_at_work_the_last_one_before_the_first_grant_is_named():
    h = H()
    h.ops.append({"index": 0, "time": 0, "process": "nemesis", "type": "info", "f": "start-partition",
                  "value": {"shape": "isolate-primary-with-clients"}})
    h.ops.append({"index": 0, "time": 1000 * MS, "process": "nemesis", "type": "info", "f": "stop-partition",
                  "value": {}})
    h.hold(0, "L0", 3000, rel=5000)
    h.hold(1, "L0", 4000, rel=4500)
    r = check(h.sorted(), res())
    assert r["overlaps"][0]["window"] == ("no fault (the last, partition isolate-primary-with-clients #1 "
                                          "(0.0-1.0s), ended 2.0s before the first grant)")
