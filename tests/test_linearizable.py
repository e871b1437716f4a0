"""Linearizability checker: corpus verdicts, generated histories, reports, limits, and
the extent of a violation (every key checked, failing keys counted and named)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.checkers import histgen
from harness.checkers import linearizable as lin
from harness.checkers.linearizable import _Op, _search, check, check_file, failure_summary
from harness.checkers.models import MODELS, get_model
from harness.history import HistoryError, pair_ops, read_history

# vendored with its origin and licence (README.md there): a missing corpus is an error
CORPUS = Path(__file__).resolve().parent / "corpus/porcupine"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())


# ----------------------------------------------------------------------------- corpus

def test_vendored_corpus_is_complete():
    assert len(MANIFEST) == 36
    assert sorted(p.name for p in CORPUS.glob("*.jsonl")) == sorted(e["file"] for e in MANIFEST)
    notice = (CORPUS / "README.md").read_text()
    assert "Copyright (c) Anish Athalye" in notice
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in notice
    for e in MANIFEST:
        h = read_history(CORPUS / e["file"])
        assert sum(1 for x in h if x["type"] == "invoke") == e["ops"], e["file"]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_corpus_verdict(entry):
    r = check_file(CORPUS / entry["file"], entry["model"])
    assert r["verdict"] == entry["expected"]
    assert r["valid"] is (entry["expected"] == "linearizable")
    assert r["model"] == entry["model"]
    if r["valid"] is False:
        assert r["failures"]
        f = r["failures"][0]
        assert set(f) >= {"key", "prefix", "state_after_prefix", "unplaceable", "window"}
        assert f["unplaceable"] and "reason" in f["unplaceable"][0]
        assert r["failed_keys"] >= 1 and r["unknown_keys"] == []
        assert len(r["failed_key_names"]) == r["failed_keys"]
        assert {f["key"] for f in r["failures"]} <= set(r["failed_key_names"])
        assert not set(r["failed_key_names"]) & set(r["unchecked_keys"])
    else:
        assert r["failed_keys"] == 0 and r["failed_key_names"] == [] and r["failures"] == []
        assert r["unchecked_keys"] == [] and r["unknown_keys"] == []


def test_corpus_without_fast_path_and_tiny_memo():
    """The memo is only an optimisation: clearing it all the time changes no verdict."""
    m = get_model("register")
    for name in ("etcd_000.jsonl", "etcd_018.jsonl", "etcd_045.jsonl", "etcd_006.jsonl"):
        expected = next(e["expected"] for e in MANIFEST if e["file"] == name)
        ops = _key_ops(m, read_history(CORPUS / name))
        res = _search(m, ops, None, memo_cap=1)
        assert (res.verdict == "ok") == (expected == "linearizable"), name


def _key_ops(model, history):
    from harness.checkers.linearizable import _positioned
    out = []
    for op in pair_ops(_positioned(history)):
        if op.type == "fail":
            continue
        p = model.prepare(op)
        if p is not None:
            out.append(_Op(p, op.start, None if op.type == "info" else op.end, op))
    out.sort(key=lambda o: o.start)
    return out


# ----------------------------------------------------------------------------- generated

gen_params = st.fixed_dictionaries({
    "seed": st.integers(0, 10**6),
    "n_ops": st.integers(1, 60),
    "processes": st.integers(1, 7),
    "keys": st.integers(1, 3),
    "model": st.sampled_from(["register", "kv"]),
    "crash_rate": st.sampled_from([0.0, 0.05, 0.2]),
    "rw_only": st.booleans(),
})


def _gen(p):
    extra = {"cas_ratio": 0, "append_ratio": 0} if p["rw_only"] else {}
    return histgen.generate(p["n_ops"], p["processes"], keys=p["keys"], model=p["model"],
                            crash_rate=p["crash_rate"], seed=p["seed"], **extra)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen_params)
def test_generated_histories_are_linearizable(p):
    h = _gen(p)
    for fast in (True, False):
        r = check(h, p["model"], use_fast_path=fast)
        assert r["verdict"] == "linearizable", (fast, r)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen_params)
def test_corrupted_histories_are_not_linearizable(p):
    h = _gen(p)
    c = histgen.corrupt_stale_read(h, seed=p["seed"], model=p["model"])
    if c is None:
        return
    bad, read_index = c
    stale = next(e for e in bad if e["index"] == read_index)
    for fast in (True, False):
        r = check(bad, p["model"], use_fast_path=fast)
        assert r["verdict"] == "not-linearizable", fast
        assert r["valid"] is False
        keys = [f["key"] for f in r["failures"]]
        assert stale["key"] in keys
        f = r["failures"][keys.index(stale["key"])]
        assert f["unplaceable"] and isinstance(f["unplaceable"][0]["index"], int)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), st.sampled_from(["register", "kv"]))
def test_fast_path_agrees_with_search(seed, model):
    """Unique-value read/write histories with some reads perturbed to other written
    values (either verdict): the zone algorithm and the search must agree."""
    rng = random.Random(seed)
    h = histgen.generate(rng.randint(2, 40), rng.randint(2, 6), model=model, seed=seed,
                         crash_rate=0.15, cas_ratio=0, append_ratio=0)
    values = [e["value"] for e in h if e["f"] == "write"] + [None if model == "register" else ""]
    for e in h:
        if e["f"] == "read" and e["type"] == "ok" and rng.random() < 0.15:
            e["value"] = rng.choice(values)
    fast = check(h, model)["verdict"]
    slow = check(h, model, use_fast_path=False)["verdict"]
    assert fast == slow


# ----------------------------------------------------------------------------- reports

def _ops(*rows):
    """rows: (process, type, f, value[, key]) in history order."""
    out = []
    for i, row in enumerate(rows):
        p, t, f, v = row[:4]
        key = row[4] if len(row) > 4 else "r1"
        out.append({"index": i, "time": i, "process": p, "type": t, "f": f, "key": key, "value": v})
    return out


def test_stale_read_report_names_key_and_op():
    h = _ops((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "write", 2, "other"), (1, "ok", "write", 2, "other"),
             (0, "invoke", "write", 2), (0, "ok", "write", 2),
             (2, "invoke", "read", None), (2, "ok", "read", 1))
    for fast in (True, False):
        r = check(h, "register", use_fast_path=fast)
        assert r["valid"] is False and r["verdict"] == "not-linearizable"
        assert r["keys_checked"] == 2
        (f,) = r["failures"]
        assert f["key"] == "r1"
        assert f["prefix"] == [0, 4]
        assert f["state_after_prefix"] == "2"
        u = f["unplaceable"][0]
        assert (u["index"], u["process"], u["f"], u["value"]) == (6, 2, "read", 1)
        assert u["reason"] == "read 1, but the register holds 2"
        assert f["window"] == [6]  # the read alone: nothing ran concurrently with it


def test_window_lists_concurrent_ops():
    h = _ops((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (0, "invoke", "write", 2), (0, "ok", "write", 2),
             (3, "invoke", "write", 3), (1, "invoke", "read", None),
             (3, "ok", "write", 3), (1, "ok", "read", 1))
    for fast in (True, False):
        r = check(h, use_fast_path=fast)
        assert r["valid"] is False
        f = r["failures"][0]
        assert f["unplaceable"][0]["index"] == 5
        assert f["window"] == [4, 5]  # the concurrent write, and the read itself


def test_info_semantics():
    # a crashed write may take effect later, even after other ops
    h = _ops((0, "invoke", "write", 1), (0, "info", "write", 1),
             (1, "invoke", "read", None), (1, "ok", "read", None),
             (1, "invoke", "read", None), (1, "ok", "read", 1))
    assert check(h)["valid"] is True
    # ...or never
    h2 = _ops((0, "invoke", "write", 1), (0, "info", "write", 1),
              (1, "invoke", "read", None), (1, "ok", "read", None))
    assert check(h2)["valid"] is True
    # an invoke without completion is a crash too
    h3 = _ops((0, "invoke", "write", 5), (1, "invoke", "read", None), (1, "ok", "read", 5))
    assert check(h3)["valid"] is True
    # a failed write never happened
    h4 = _ops((0, "invoke", "write", 1), (0, "fail", "write", 1),
              (1, "invoke", "read", None), (1, "ok", "read", 1))
    assert check(h4)["valid"] is False
    # a crashed write takes effect at most once
    h5 = _ops((0, "invoke", "write", 1), (0, "ok", "write", 1),
              (1, "invoke", "write", 2), (1, "info", "write", 2),
              (2, "invoke", "read", None), (2, "ok", "read", 2),
              (2, "invoke", "write", 1), (2, "ok", "write", 1),
              (2, "invoke", "read", None), (2, "ok", "read", 2))
    assert check(h5)["valid"] is False


def test_cas_semantics():
    h = _ops((0, "invoke", "cas", [None, 1]), (0, "ok", "cas", [None, 1]))
    assert check(h)["valid"] is False          # cas on nil fails
    h = _ops((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (0, "invoke", "cas", [1, 2]), (0, "ok", "cas", [1, 2]),
             (1, "invoke", "read", None), (1, "ok", "read", 2))
    assert check(h)["valid"] is True
    h = _ops((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (0, "invoke", "cas", [3, 2]), (0, "ok", "cas", [3, 2]))
    r = check(h)
    assert r["valid"] is False
    assert "cas expected 3" in r["failures"][0]["unplaceable"][0]["reason"]


def test_kv_unset_key_reads_empty_or_null():
    h = _ops((0, "invoke", "read", None, "k"), (0, "ok", "read", None, "k"),
             (0, "invoke", "read", None, "k"), (0, "ok", "read", "", "k"),
             (0, "invoke", "append", "a", "k"), (0, "ok", "append", "a", "k"),
             (0, "invoke", "append", "b", "k"), (0, "ok", "append", "b", "k"),
             (1, "invoke", "read", None, "k"), (1, "ok", "read", "ab", "k"))
    assert check(h, "kv")["valid"] is True
    h[-1]["value"] = "ba"
    assert check(h, "kv")["valid"] is False


def test_time_limit_returns_unknown():
    # one key of kv_c50-bad needs millions of search steps
    h = [e for e in read_history(CORPUS / "kv_c50-bad.jsonl") if e["key"] == "0"]
    r = check(h, "kv", time_limit=0.01)
    assert r["valid"] == "unknown" and r["verdict"] == "unknown"
    assert r["unknown_keys"] == ["0"]
    assert r["failures"] == []
    assert r["failed_keys"] == 0 and r["failed_key_names"] == [] and r["unchecked_keys"] == []


def test_malformed_file_raises(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"index": 0, "process": 0, "type": "invoke", "f": "read"}\nnot json\n')
    with pytest.raises(HistoryError):
        check_file(p)


def test_unknown_op_and_model_raise():
    with pytest.raises(HistoryError):
        check(_ops((0, "invoke", "enqueue", 1), (0, "ok", "enqueue", 1)))
    with pytest.raises(HistoryError):
        check([], model="nope")


def test_empty_history_and_nemesis_ops():
    r = check([])
    assert r["valid"] is True and r["keys_checked"] == 0
    h = [{"index": 0, "time": 0, "process": "nemesis", "type": "info", "f": "start-partition"}]
    assert check(h)["valid"] is True
    assert set(MODELS) >= {"register", "kv"}


# ----------------------------------------------------------------------------- extent

def _plant(h, keys, seed, model):
    """`h` (from `histgen.generate`) with a provably stale read planted in each of `keys`:
    `corrupt_stale_read` on that key's events alone, so exactly those keys fail (keys are
    independent). None if some key offers no such read."""
    assert all(e["index"] == i for i, e in enumerate(h))
    out = list(h)
    for key in keys:
        sub = [e for e in h if e["key"] == key]
        c = histgen.corrupt_stale_read(sub, seed=seed, model=model)
        if c is None:
            return None
        changed = [(old, new) for old, new in zip(sub, c[0]) if old != new]
        assert len(changed) == 1 and changed[0][0]["f"] == "read"
        out[changed[0][0]["index"]] = changed[0][1]
    return out


def _merge(*histories):
    """Concatenate histories with disjoint process ids, re-indexed by position."""
    out = []
    for n, h in enumerate(histories):
        for e in h:
            d = dict(e, process=(n, e["process"]), index=len(out))
            d["time"] = d["index"]
            out.append(d)
    return out


def _keys_of(h):
    return list(dict.fromkeys(e["key"] for e in h))


extent_params = st.fixed_dictionaries({
    "seed": st.integers(0, 10**6),
    "n_keys": st.integers(1, 8),
    "model": st.sampled_from(["register", "kv"]),
    "crash_rate": st.sampled_from([0.0, 0.05, 0.15]),
    "rw_only": st.booleans(),
    "fast": st.booleans(),
})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extent_params, st.data())
def test_every_key_is_checked_and_exactly_the_corrupted_keys_fail(p, data):
    extra = {"cas_ratio": 0, "append_ratio": 0} if p["rw_only"] else {}
    h = histgen.generate(40 * p["n_keys"], 6, keys=p["n_keys"], model=p["model"],
                         crash_rate=p["crash_rate"], seed=p["seed"], **extra)
    keys = _keys_of(h)
    bad = data.draw(st.lists(st.sampled_from(keys), unique=True), label="corrupted keys")
    h = _plant(h, bad, p["seed"], p["model"])
    if h is None:
        return
    r = check(h, p["model"], use_fast_path=p["fast"])        # no time limit
    assert r["keys_checked"] == len(keys)
    assert r["failed_keys"] == len(bad)
    assert sorted(r["failed_key_names"]) == sorted(bad)
    assert sorted(f["key"] for f in r["failures"]) == sorted(bad)
    assert r["unchecked_keys"] == [] and r["unknown_keys"] == []
    assert r["verdict"] == ("not-linearizable" if bad else "linearizable")


@pytest.mark.parametrize("fast", [True, False])
def test_more_failing_keys_than_reports(fast, monkeypatch):
    h = histgen.generate(40 * 16, 5, keys=16, crash_rate=0.05, seed=7, cas_ratio=0)
    keys = _keys_of(h)
    bad = keys[1:14]                # 13 keys > MAX_FAILURES
    h = _plant(h, bad, 7, "register")
    r = check(h, use_fast_path=fast)
    assert r["failed_keys"] == 13 and r["failed_key_names"] == bad
    assert len(r["failures"]) == lin.MAX_FAILURES
    assert {f["key"] for f in r["failures"]} < set(bad)
    assert r["unchecked_keys"] == [] and r["unknown_keys"] == []
    monkeypatch.setattr(lin, "MAX_KEY_NAMES", 4)
    r = check(h, use_fast_path=fast)
    assert r["failed_keys"] == 13 and r["failed_key_names"] == bad[:4]
    assert failure_summary(r).startswith(f"not linearizable: 13 of 16 keys ({', '.join(bad[:4])}")


def test_limits_leave_keys_unchecked_only_when_they_stop_the_search():
    # keys w0, w1 are read/write with unique values (the fast path decides them); keys
    # c0..c3 have cas, so they need the search
    rw = histgen.generate(80, 4, keys=2, key_prefix="w", crash_rate=0.05, seed=3, cas_ratio=0)
    cas = histgen.generate(160, 5, keys=4, key_prefix="c", crash_rate=0.05, seed=4,
                           cas_ratio=0.4)
    cas_keys = _keys_of(cas)
    bad = _merge(_plant(rw, ["w1"], 3, "register"), cas)
    good = _merge(rw, cas)
    # time_limit 0: the search decides nothing
    r = check(bad, time_limit=0)
    assert r["verdict"] == "not-linearizable" and r["failed_key_names"] == ["w1"]
    assert sorted(r["unchecked_keys"]) == sorted(cas_keys) and r["unknown_keys"] == []
    assert failure_summary(r) == "not linearizable: 1 of 6 keys (w1); 4 keys undecided in the time limit"
    r = check(good, time_limit=0)
    assert r["verdict"] == "unknown" and r["valid"] == "unknown" and r["failed_keys"] == 0
    assert sorted(r["unknown_keys"]) == sorted(cas_keys) and r["unchecked_keys"] == []
    # extent_limit 0: stop at the first failing key, as Porcupine does
    r = check(bad, extent_limit=0)
    assert r["failed_key_names"] == ["w1"] and sorted(r["unchecked_keys"]) == sorted(cas_keys)
    # no limit: everything decided
    for h, failed in ((bad, ["w1"]), (good, [])):
        r = check(h)
        assert r["failed_key_names"] == failed
        assert r["unchecked_keys"] == [] and r["unknown_keys"] == []


def test_extent_limit_zero_stops_at_the_first_failing_key():
    h = histgen.generate(40 * 6, 5, keys=6, model="kv", crash_rate=0.05, seed=11)
    keys = _keys_of(h)
    h = _plant(h, keys[::2], 11, "kv")
    r = check(h, "kv", use_fast_path=False, extent_limit=0)
    assert r["failed_keys"] == 1 and r["failed_key_names"][0] in keys[::2]
    assert r["unknown_keys"] == []
    assert not set(r["unchecked_keys"]) & set(r["failed_key_names"])
    r = check(h, "kv", use_fast_path=False)
    assert r["failed_key_names"] == keys[::2] and r["unchecked_keys"] == []


def test_a_hard_key_does_not_starve_the_others():
    """A key whose search takes minutes (from the corpus) next to generated keys, all
    searched: within the time limit every generated key is decided, the corrupted ones
    fail, and only the hard key is left unchecked."""
    hard = [e for e in read_history(CORPUS / "kv_c50-bad.jsonl") if e["key"] == "0"]
    gen = histgen.generate(40 * 6, 5, keys=6, model="kv", key_prefix="g", crash_rate=0.05,
                           seed=5)
    keys = _keys_of(gen)
    gen = _plant(gen, keys[1:4], 5, "kv")
    r = check(_merge(hard, gen), "kv", use_fast_path=False, time_limit=2.0)
    assert r["verdict"] == "not-linearizable" and r["keys_checked"] == 7
    assert r["failed_key_names"] == keys[1:4]
    assert r["unchecked_keys"] == ["0"] and r["unknown_keys"] == []


def test_failure_summary():
    h = histgen.generate(60, 4, seed=2)
    assert failure_summary(check(h)) == f"linearizable: 1 keys, {check(h)['ops_checked']} ops"
    r = {"valid": "unknown", "keys_checked": 3, "unknown_keys": ["a", "b"]}
    assert failure_summary(r) == "unknown: 2 of 3 keys undecided in the time limit"
