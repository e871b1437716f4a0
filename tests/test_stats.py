"""`stats.quantile`, `stats.run_stats` and `history.fault_windows` on hand-built histories."""

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.history import fault_windows, pair_ops
from harness.stats import stats_figures, quantile, run_stats, time_to_failover

MS = 1_000_000          # history times are nanoseconds


# ------------------------------------------------------------------------ quantile

values = st.lists(st.integers(-10**6, 10**6), min_size=2, max_size=40).map(sorted)


@given(values, st.integers(2, 20))
def test_quantile_matches_statistics_inclusive(xs, m):
    expected = statistics.quantiles(xs, n=m, method="inclusive")   # cut points at k/m
    for k in range(1, m):
        assert quantile(xs, k / m) == pytest.approx(expected[k - 1], rel=1e-9, abs=1e-6)


@given(values)
def test_quantile_at_a_rank_is_that_value(xs):
    n = len(xs)
    for k in range(n):
        assert quantile(xs, k / (n - 1)) == pytest.approx(xs[k], abs=1e-6)


@given(st.integers(-1000, 1000), st.integers(0, 1000), st.floats(0, 1))
def test_quantile_interpolates_linearly_between_two_values(a, d, p):
    assert quantile([a, a + d], p) == pytest.approx(a + d * p, abs=1e-9)


def test_quantile_edges():
    assert quantile([], 0.5) is None
    assert quantile([7], 0.0) == quantile([7], 0.99) == quantile([7], 1.0) == 7
    assert quantile([1, 2, 10], 0.0) == 1
    assert quantile([1, 2, 10], 1.0) == 10
    assert quantile([1, 2, 10], 0.75) == 6          # halfway between ranks 1 and 2
    with pytest.raises(ValueError):
        quantile([1, 2], 1.5)
    with pytest.raises(ValueError):
        quantile([1, 2], -0.1)


# ------------------------------------------------------------------------ run_stats

def op(process, type, t_ms, f="write", node=None):
    d = {"process": process, "type": type, "f": f, "time": t_ms * MS}
    if node:
        d["node"] = node
    return d


def nem(type, f, t_ms, value=None):
    return {"process": "nemesis", "type": type, "f": f, "time": t_ms * MS, "value": value}


# A partition in force from 30 ms (start completed) to 3000 ms (stop invoked).
HISTORY = [
    op(0, "invoke", 0), op(1, "invoke", 5),
    op(1, "fail", 8), op(0, "ok", 10, node="A"),                    # before: ok 10 ms from A, a fail
    nem("invoke", "start-partition", 20), nem("info", "start-partition", 30, {"shape": "x"}),
    op(0, "invoke", 35), op(1, "invoke", 40),                        # during: 4 ops, 2 ok
    op(1, "ok", 60, node="A"),                                       # ok 20 ms, still A
    op(2, "invoke", 100), op(2, "ok", 130, node="B"),                # ok 30 ms: B took over at 130 ms
    op(3, "invoke", 200), op(3, "fail", 210),
    op(0, "info", 2035),                                             # a timeout
    nem("invoke", "stop-partition", 3000), nem("info", "stop-partition", 3010, {}),
    op(1, "invoke", 3100), op(1, "ok", 3140, node="B"),              # after: ok 40 ms
]


def test_run_stats_on_a_known_history():
    s = run_stats(HISTORY)
    assert (s["ops"], s["ok"], s["fail"], s["info"]) == (7, 4, 2, 1)
    assert s["duration_s"] == 3.14                                   # first invoke 0 → last completion 3140 ms
    assert s["ops_per_s"] == round(7 / 3.14, 1)
    assert s["availability"] == round(4 / 7, 4)
    assert s["faults"] == 1
    assert s["availability_during_faults"] == 0.5                   # ops invoked at 35, 40, 100, 200 ms
    # ok latencies 10, 20, 30, 40 ms: p50 between 20 and 30, p90 = 30 + 0.7 * 10, p99 = 30 + 0.97 * 10
    assert s["latency_ms"] == {"p50": 25.0, "p90": 37.0, "p99": 39.7, "max": 40.0}
    assert s["failover_s"] == 0.1                                   # window start 30 ms → B's ok at 130 ms


def test_run_stats_without_faults():
    s = run_stats(HISTORY[:4])
    assert (s["ops"], s["ok"], s["fail"], s["faults"]) == (2, 1, 1, 0)
    assert "availability_during_faults" not in s and "failover_s" not in s


def test_run_stats_of_nothing():
    assert run_stats([]) == {"ops": 0}
    assert run_stats([nem("info", "start-partition", 1)]) == {"ops": 0}


def test_redirects_are_counted_from_the_completions_that_carry_them():
    ask = {**op(1, "ok", 30, node="B"), "redirects": ["ask", "moved"]}
    history = [op(0, "invoke", 0), {**op(0, "ok", 10, node="A"), "redirects": ["moved"]},
               op(1, "invoke", 20), ask,
               op(2, "invoke", 40), {**op(2, "fail", 50), "redirects": "ask"},        # not a list: ignored
               op(3, "invoke", 60), {**op(3, "ok", 70), "redirects": ["sideways", 3]}]  # unknown: ignored
    s = run_stats(history)
    assert s["redirects"] == {"moved": 2, "ask": 1}
    assert {f.name: f.value for f in stats_figures(s)}["redirects"] == 3
    assert "redirects" not in run_stats(history[:1] + [op(0, "ok", 10)])
    assert {f.name: f.value for f in stats_figures({"redirects": "junk"})}["redirects"] is None


def test_failover_ignores_an_op_invoked_before_the_window():
    history = [
        op(0, "invoke", 0), op(0, "ok", 10, node="A"),
        op(1, "invoke", 25),                                          # invoked before the window
        nem("invoke", "start-kill", 28), nem("info", "start-kill", 30),
        op(1, "ok", 50, node="B"),
        op(2, "invoke", 60), op(2, "ok", 530, node="B"),              # the first one that counts
    ]
    assert time_to_failover(pair_ops(history), fault_windows(history)) == 0.5


def test_no_failover_when_the_same_node_keeps_answering():
    history = [op(0, "invoke", 0), op(0, "ok", 10, node="A"),
               nem("info", "start-kill", 30), op(0, "invoke", 40), op(0, "ok", 50, node="A")]
    assert "failover_s" not in run_stats(history)


# ------------------------------------------------------------------------ fault_windows

def window(fault, start, end, invoked=None, value=None, stop_value=None, open=False):
    return {"fault": fault, "start": start * MS, "end": end * MS,
            "invoked": (start if invoked is None else invoked) * MS,
            "value": value, "stop_value": stop_value, "open": open}


def test_jepsen_style_pairs():
    history = [nem("invoke", "start-partition", 10), nem("info", "start-partition", 20, {"shape": "a"}),
               nem("invoke", "stop-partition", 50), nem("info", "stop-partition", 60, {"healed": 1})]
    assert fault_windows(history) == [window("partition", 20, 50, invoked=10,
                                             value={"shape": "a"}, stop_value={"healed": 1})]


def test_old_style_single_info_lines():
    history = [nem("info", "start-kill", 20, {"node": "n1"}), nem("info", "stop-kill", 50, {"node": "n1"})]
    assert fault_windows(history) == [window("kill", 20, 50, value={"node": "n1"}, stop_value={"node": "n1"})]


def test_window_never_stopped_ends_with_the_history():
    history = [nem("invoke", "start-clock", 10), nem("info", "start-clock", 20, {"skew": 5}),
               op(0, "invoke", 40), op(0, "ok", 90)]
    assert fault_windows(history) == [window("clock", 20, 90, invoked=10, value={"skew": 5}, open=True)]


def test_second_start_of_an_open_kind_is_ignored():
    history = [nem("invoke", "start-partition", 10), nem("info", "start-partition", 20, "first"),
               nem("invoke", "start-partition", 30), nem("info", "start-partition", 40, "second"),
               nem("invoke", "stop-partition", 50), nem("info", "stop-partition", 60, "stopped")]
    assert fault_windows(history) == [window("partition", 20, 50, invoked=10, value="first",
                                             stop_value="stopped")]


def test_stop_without_start_is_ignored():
    history = [nem("invoke", "stop-partition", 5), nem("info", "stop-partition", 6),
               nem("info", "stop-kill", 7),
               nem("invoke", "start-partition", 10), nem("info", "start-partition", 20),
               nem("invoke", "stop-partition", 50), nem("info", "stop-partition", 60)]
    assert fault_windows(history) == [window("partition", 20, 50, invoked=10)]


def test_kinds_overlap_and_are_sorted_by_start():
    history = [nem("info", "start-partition", 10), nem("info", "start-clock", 15),
               nem("info", "stop-partition", 30), nem("info", "stop-clock", 40),
               nem("info", "start-partition", 50), nem("info", "stop-partition", 60)]
    assert fault_windows(history) == [window("partition", 10, 30), window("clock", 15, 40),
                                      window("partition", 50, 60)]
