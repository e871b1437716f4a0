"""Property tests of the list-append checker on generated histories (append_gen:
strict-serializable by construction), and on the same histories with one anomaly
injected on purpose, whose presence is known by construction."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from harness.checkers import append_gen
from harness.checkers import list_append as la

params = st.fixed_dictionaries({
    "n_txns": st.integers(1, 250), "processes": st.integers(1, 8), "keys": st.integers(1, 6),
    "max_writes_per_key": st.integers(2, 20), "max_ops": st.integers(1, 5),
    "read_share": st.sampled_from([0.0, 0.3, 0.5, 0.8]),
    "info_rate": st.sampled_from([0.0, 0.05, 0.2]), "fail_rate": st.sampled_from([0.0, 0.05, 0.2]),
    "leave_open": st.booleans(), "seed": st.integers(0, 2 ** 32)})
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ok_txns(history):
    """(invoke op, completion op) of every ok transaction."""
    open_, out = {}, []
    for op in history:
        if op["type"] == "invoke":
            open_[op["process"]] = op
        elif op["type"] == "ok":
            out.append((open_.pop(op["process"]), op))
        else:
            open_.pop(op["process"], None)
    return out


@SETTINGS
@given(params)
def test_generated_histories_are_strict_serializable(p):
    history, final = append_gen.generate(**p, min_ops=1)
    r = la.check(history, final)
    assert r["anomaly_types"] == [], r["anomalies"]
    assert r["valid"] is True and r["strongest_model"] == "strict-serializable"


@SETTINGS
@given(params)
def test_an_acknowledged_append_removed_from_the_final_read_is_lost(p):
    history, final = append_gen.generate(**p, min_ops=1)
    appends = [(m[1], m[2]) for _, ok in _ok_txns(history) for m in ok["value"] if m[0] == "append"]
    assume(appends)
    key, value = appends[len(appends) // 2]
    final = copy.deepcopy(final)
    final["primary"]["lists"][str(key)].remove(value)
    r = la.check(history, final)
    assert r["valid"] is False
    assert any(x["key"] == key and x["value"] == value
               for x in r["anomalies"]["lost-append"]["examples"])


@SETTINGS
@given(params)
def test_a_read_of_a_failed_append_is_g1a(p):
    history, final = append_gen.generate(**p, min_ops=1)
    read = {(m[1], x) for _, ok in _ok_txns(history) for m in ok["value"] if m[0] == "r" for x in m[2]}
    # an ok transaction whose append some read saw now says it failed
    victims = [(inv, ok) for inv, ok in _ok_txns(history)
               if any(m[0] == "append" and (m[1], m[2]) in read for m in ok["value"])]
    assume(victims)
    inv, ok = victims[0]
    history = copy.deepcopy(history)
    for op in history:
        if op["index"] == ok["index"]:
            op["type"], op["value"] = "fail", copy.deepcopy(inv["value"])
    r = la.check(history, final)
    assert "G1a" in r["anomaly_types"] and r["models"]["read-committed"] is False


@SETTINGS
@given(params)
def test_a_read_missing_an_append_completed_before_it_began_is_a_cycle(p):
    history, final = append_gen.generate(**p, min_ops=1)
    txns = _ok_txns(history)
    writer_end = {(m[1], m[2]): ok["time"] for _, ok in txns for m in ok["value"] if m[0] == "append"}
    # a read whose last element was appended by a transaction that completed before the
    # reader was invoked, and that read nothing else of its own on that key
    stale = [(inv, ok, i) for inv, ok in txns for i, m in enumerate(ok["value"])
             if m[0] == "r" and m[2] and writer_end.get((m[1], m[2][-1]), inv["time"]) < inv["time"]
             and not any(x[1] == m[1] for x in ok["value"][:i])]
    assume(stale)
    inv, ok, i = stale[0]
    history = copy.deepcopy(history)
    for op in history:
        if op["index"] == ok["index"]:
            op["value"][i][2] = op["value"][i][2][:-1]
    r = la.check(history, final)
    assert r["valid"] is False
    cycles = [n for n in r["anomaly_types"] if n.startswith("G")]
    assert cycles, r["anomaly_types"]
    example = r["anomalies"][cycles[0]]["examples"][0]
    assert example["steps"] and "a contradiction" in example["text"]


@SETTINGS
@given(params)
def test_a_duplicated_element_and_a_garbage_element_are_named(p):
    history, final = append_gen.generate(**p, min_ops=1)
    lists = final["primary"]["lists"]
    keys = [k for k, v in lists.items() if v]
    assume(keys)
    final = copy.deepcopy(final)
    final["primary"]["lists"][keys[0]].append(lists[keys[0]][0])
    final["primary"]["lists"][keys[-1]].append(10 ** 9)
    r = la.check(history, final)
    assert {"duplicate-elements", "garbage-read"} <= set(r["anomaly_types"])
