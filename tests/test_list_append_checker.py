"""The list-append checker on small histories whose anomalies are known by construction:
each class found, named, explained, and judged per consistency model."""

from __future__ import annotations

import pytest

from harness.checkers import list_append as la
from harness.history import HistoryError


def history(*txns):
    """txns: (process, micro-ops as completed, start, end[, type]); the invoke carries
    the micro-ops with reads as nil."""
    events = []
    for t in txns:
        p, mops, start, end = t[:4]
        kind = t[4] if len(t) > 4 else "ok"
        invoked = [[f, k, None if f == "r" else v] for f, k, v in mops]
        events.append((start, 1, {"type": "invoke", "process": p, "f": "txn", "value": invoked}))
        if end is not None:
            events.append((end, 0, {"type": kind, "process": p, "f": "txn",
                                    "value": mops if kind == "ok" else invoked}))
    events.sort(key=lambda e: e[:2])
    return [{**op, "time": t, "index": i} for i, (t, _, op) in enumerate(events)]


def final(**lists):
    return {"primary": {"node": "n1", "lists": {k: v for k, v in lists.items()}}}


def run(hist, fin=None, model="strict-serializable"):
    return la.check(hist, fin, model)


def test_serial_history_is_strict_serializable():
    h = history((0, [["append", "x", 1], ["r", "y", []]], 0, 10),
                (1, [["append", "y", 1], ["r", "x", [1]]], 20, 30),
                (0, [["r", "x", [1]], ["r", "y", [1]], ["append", "x", 2]], 40, 50),
                (1, [["r", "x", [1, 2]]], 45, 60))
    r = run(h, final(x=[1, 2], y=[1]))
    assert r["valid"] is True and r["anomaly_types"] == []
    assert r["strongest_model"] == "strict-serializable"
    assert r["graph"]["components"] == 0


def test_g0_write_cycle_explained():
    h = history((0, [["append", "x", 1], ["append", "y", 2]], 0, 10),
                (1, [["append", "x", 2], ["append", "y", 1]], 1, 11))
    r = run(h, final(x=[1, 2], y=[1, 2]))
    assert r["anomaly_types"] == ["G0"] and r["valid"] is False
    text = r["anomalies"]["G0"]["examples"][0]["text"]
    assert "appended 1 to key x" in text and "appended 1 to key y" in text
    assert all(v is False for v in r["models"].values())   # even read-uncommitted forbids G0


def test_g1c_cycle_through_reads():
    # T1 reads y's append by T2, T2 reads x's append by T1: each saw the other's write
    h = history((0, [["append", "x", 1], ["r", "y", [1]]], 0, 10),
                (1, [["append", "y", 1], ["r", "x", [1]]], 1, 11))
    r = run(h, final(x=[1], y=[1]))
    assert r["anomaly_types"] == ["G1c"]
    assert r["models"]["read-uncommitted"] is True and r["models"]["read-committed"] is False
    steps = r["anomalies"]["G1c"]["examples"][0]["steps"]
    assert sorted(s["kind"] for s in steps) == ["wr", "wr"]


def test_g_single_read_skew():
    # T1 sees T2's append to y but not its append to x
    h = history((0, [["r", "x", []], ["r", "y", [1]]], 0, 10),
                (1, [["append", "x", 1], ["append", "y", 1]], 1, 11))
    r = run(h, final(x=[1], y=[1]))
    assert r["anomaly_types"] == ["G-single"]
    assert r["models"]["read-committed"] is True and r["models"]["snapshot-isolation"] is False
    assert r["strongest_model"] == "read-committed"
    kinds = sorted(s["kind"] for s in r["anomalies"]["G-single"]["examples"][0]["steps"])
    assert kinds == ["rw", "wr"]


def test_g2_item_write_skew_is_allowed_by_snapshot_isolation():
    h = history((0, [["r", "y", []], ["append", "x", 1]], 0, 10),
                (1, [["r", "x", []], ["append", "y", 1]], 1, 11))
    r = run(h, final(x=[1], y=[1]))
    assert r["anomaly_types"] == ["G2-item"]
    assert r["models"]["snapshot-isolation"] is True and r["models"]["serializable"] is False
    r = run(h, final(x=[1], y=[1]), model="snapshot-isolation")
    assert r["valid"] is True and r["prohibited"] == []


def test_stale_read_after_completion_is_realtime_only():
    h = history((0, [["append", "x", 1]], 0, 10),
                (1, [["r", "x", []]], 20, 30))
    r = run(h, final(x=[1]))
    assert r["anomaly_types"] == ["G-single-realtime"]
    assert r["valid"] is False
    assert r["models"]["serializable"] is True and r["models"]["strong-session-serializable"] is True
    why = [s["why"] for s in r["anomalies"]["G-single-realtime"]["examples"][0]["steps"]]
    assert any("completed" in w and "before" in w for w in why)
    # the same two transactions overlapping in time: no anomaly at all
    h = history((0, [["append", "x", 1]], 0, 25), (1, [["r", "x", []]], 20, 30))
    assert run(h, final(x=[1]))["valid"] is True


def test_process_order_variant():
    # one process appends, then reads without its own append: needs process order
    h = history((0, [["append", "x", 1]], 0, 10), (0, [["r", "x", []]], 10, 20))
    r = run(h, final(x=[1]))
    # the completion and the next invoke share an instant: not real-time ordered
    assert r["anomaly_types"] == ["G-single-process"]
    assert r["models"]["serializable"] is True
    assert r["models"]["strong-session-serializable"] is False


def test_aborted_read_g1a():
    h = history((0, [["append", "x", 1]], 0, 10, "fail"),
                (1, [["r", "x", [1]]], 20, 30))
    r = run(h)
    assert r["anomaly_types"] == ["G1a"]
    assert r["models"]["read-uncommitted"] is True and r["models"]["read-committed"] is False


def test_intermediate_read_g1b():
    h = history((0, [["append", "x", 1], ["append", "x", 2]], 0, 10),
                (1, [["r", "x", [1]]], 1, 11))
    r = run(h, final(x=[1, 2]))
    assert "G1b" in r["anomaly_types"]
    assert r["models"]["read-committed"] is False


def test_internal_inconsistency():
    h = history((0, [["r", "x", []], ["append", "x", 1], ["r", "x", [2]]], 0, 10),
                (1, [["append", "x", 2]], 0, 5))
    r = run(h)
    assert "internal" in r["anomaly_types"]
    e = r["anomalies"]["internal"]["examples"][0]
    assert e["read"] == [2] and e["expected"] == [1]


def test_duplicates_garbage_and_incompatible_orders():
    h = history((0, [["append", "x", 1]], 0, 10),
                (1, [["r", "x", [1, 1]]], 20, 30),
                (2, [["r", "y", [9]]], 20, 30),
                (0, [["append", "z", 1]], 40, 50),
                (1, [["append", "z", 2]], 40, 50),
                (2, [["r", "z", [1]]], 60, 70),
                (3, [["r", "z", [2]]], 60, 70))
    r = run(h)
    assert {"duplicate-elements", "garbage-read", "incompatible-order"} <= set(r["anomaly_types"])
    assert r["anomalies"]["garbage-read"]["examples"][0]["value"] == 9
    assert r["incompatible_orders"] == 1


def test_lost_append_needs_the_final_read():
    h = history((0, [["append", "x", 1]], 0, 10), (1, [["append", "x", 2]], 20, 30),
                (0, [["r", "x", [1, 2]]], 40, 50))
    r = run(h, final(x=[1]))
    assert r["lost_appends"] == 1 and "lost-append" in r["anomaly_types"]
    assert r["anomalies"]["lost-append"]["examples"][0]["value"] == 2
    # a final read that lost x=2 also contradicts the read of [1, 2]? no: [1] is a prefix
    assert "incompatible-order" not in r["anomaly_types"]
    r = run(h, None)
    assert r["valid"] is True and r["final_read"] is False


def test_diverged_primary_gives_incompatible_order_and_lost_appends():
    # the old primary took x=2, the new one x=3: the final read [1, 3] contradicts [1, 2]
    h = history((0, [["append", "x", 1]], 0, 10), (1, [["append", "x", 2]], 20, 30),
                (0, [["r", "x", [1, 2]]], 40, 50), (2, [["append", "x", 3]], 60, 70))
    r = run(h, final(x=[1, 3]))
    assert {"incompatible-order", "lost-append"} <= set(r["anomaly_types"])


def test_info_transaction_may_have_committed():
    # an indeterminate append that a read saw took effect; unobserved, it constrains nothing
    h = history((0, [["append", "x", 1]], 0, 10, "info"), (1, [["r", "x", [1]]], 20, 30),
                (2, [["append", "y", 1]], 0, 10, "info"))
    r = run(h, final(x=[1], y=[]))
    assert r["valid"] is True and r["info_count"] == 2


def test_open_invoke_reads_as_info():
    h = history((0, [["append", "x", 1]], 0, None), (1, [["r", "x", [1]]], 20, 30))
    assert run(h)["valid"] is True


@pytest.mark.parametrize("value, message", [
    ([["write", "x", 1]], "micro-op"),
    ([["append", True, 1]], "key"),
    ([["append", "x", 1.5]], "appended value"),
    ("x", "list of micro-ops"),
])
def test_malformed_transactions_are_refused(value, message):
    h = [{"type": "invoke", "process": 0, "f": "txn", "value": value, "index": 0, "time": 0},
         {"type": "ok", "process": 0, "f": "txn", "value": value, "index": 1, "time": 1}]
    with pytest.raises(HistoryError, match=message):
        run(h)


def test_value_appended_twice_is_refused():
    h = history((0, [["append", "x", 1]], 0, 10), (1, [["append", "x", 1]], 20, 30))
    with pytest.raises(HistoryError, match="twice"):
        run(h)


def test_ok_value_must_match_the_invoke():
    h = history((0, [["append", "x", 1]], 0, 10))
    h[1]["value"] = [["append", "x", 2]]
    with pytest.raises(HistoryError, match="does not match"):
        run(h)


def test_unobserved_appends_follow_the_whole_order_and_are_explained():
    # Elle's rule: T1's append of y=1, never read, came after T2's read of y = [] (the whole
    # order): rw T2 → T1; and x reads [1 2]: ww T1 → T2. A G-single, explained by the rule.
    h = history((0, [["append", "x", 1], ["append", "y", 1]], 0, 10),
                (1, [["append", "x", 2], ["r", "y", []]], 1, 11),
                (2, [["r", "x", [1, 2]]], 20, 30))
    r = run(h)
    assert r["anomaly_types"] == ["G-single"]
    why = " ".join(s["why"] for s in r["anomalies"]["G-single"]["examples"][0]["steps"])
    assert "was never read" in why and why.count("(") >= 1
