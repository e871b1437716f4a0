"""Generate and time hard linearizability cases (unique written values throughout).

    python bench/hard_cases.py [--seed 1] [--cas]

(a) 300 ops, 1 register, 10 processes, 5% crashed, one stale read   -> reject, < 1 s
(b) 2,000 ops, 1 register, 20 processes, 3% crashed, linearizable   -> < 1 s
(c) 10,000 ops, 1 register, 6 processes, one stale read             -> reject, < 1 s
(d) kv: 50,000 ops, 30 processes, 200 keys, 2% crashed, parsed from JSONL -> < 5 s
(e) 10,000 ops, 1 key, 6 processes, linearizable                    -> < 5 s
(f) the kv history of (d) with a stale read planted in 20 of its keys (in memory)
    -> reject, naming exactly those 20 keys (every key is checked), < 5 s

Register cases use read/write (add --cas for read/write/cas, which the read-mapped fast
path cannot take: the general search decides those). Each case also runs with the fast
path off (the general search alone) for comparison. Prints times (untraced) and peak
memory (tracemalloc, in a second run), and the process's max RSS at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.checkers import histgen  # noqa: E402
from harness.checkers.linearizable import check, check_file  # noqa: E402


def run(label, fn, expect, memory=True, failed=None):
    """Time fn() (without tracing), then run it again under tracemalloc for peak memory.
    `failed`: the failing keys expected, if known."""
    t = time.perf_counter()
    r = fn()
    dt = time.perf_counter() - t
    peak_s = ""
    if memory:
        tracemalloc.start()
        fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_s = f"peak {peak / 2**20:6.1f} MiB"
    ok = r["verdict"] == expect and (failed is None or (
        r["failed_key_names"] == failed and not r["unchecked_keys"]))
    extra = ""
    if r["failures"]:
        f = r["failures"][0]
        extra = (f" key={f['key']} prefix={len(f['prefix'])} "
                 f"unplaceable={f['unplaceable'][0]['index']}")
        if r["keys_checked"] > 1:
            extra += (f" failed_keys={r['failed_keys']}/{r['keys_checked']}"
                      f" unchecked={len(r['unchecked_keys'])}")
    print(f"  {label:<36} {dt:8.3f} s  {peak_s}  "
          f"{r['verdict']}{'' if ok else '  WRONG, expected ' + expect}{extra}", flush=True)
    if failed is not None and not ok:
        print(f"    WRONG failing keys: {r['failed_key_names']}, expected {failed}")
    return dt


def plant(history, keys, seed):
    """A copy of a kv `history` from histgen with a provably stale read planted in each
    of `keys` (corrupt_stale_read on that key's events alone; keys are independent)."""
    out = list(history)
    for key in keys:
        sub = [e for e in history if e["key"] == key]
        new, _ = histgen.corrupt_stale_read(sub, seed=seed, model="kv")
        for old, e in zip(sub, new):
            if old != e:
                out[old["index"]] = e
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cas", action="store_true", help="register cases use cas too")
    ap.add_argument("--no-slow", action="store_true", help="skip the fast-path-off runs")
    a = ap.parse_args()
    cas = 0.15 if a.cas else 0.0
    seed = a.seed
    cases = []

    h = histgen.generate(300, 10, crash_rate=0.05, seed=seed, cas_ratio=cas)
    bad, _ = histgen.corrupt_stale_read(h, seed=seed)
    cases.append(("(a) 300 ops/10 procs, stale read", bad, "register", "not-linearizable"))
    h = histgen.generate(2000, 20, crash_rate=0.03, seed=seed, cas_ratio=cas)
    cases.append(("(b) 2000 ops/20 procs", h, "register", "linearizable"))
    h = histgen.generate(10000, 6, crash_rate=0.02, seed=seed, cas_ratio=cas)
    bad, _ = histgen.corrupt_stale_read(h, seed=seed)
    cases.append(("(c) 10000 ops/6 procs, stale read", bad, "register", "not-linearizable"))
    h = histgen.generate(10000, 6, crash_rate=0.02, seed=seed + 1, cas_ratio=cas)
    cases.append(("(e) 10000 ops/6 procs, 1 key", h, "register", "linearizable"))

    print("register cases" + (" (read/write/cas)" if a.cas else " (read/write)"))
    for label, hist, model, expect in cases:
        run(label, lambda: check(hist, model), expect)
        if not a.no_slow:
            run("    same, search only", lambda: check(hist, model, use_fast_path=False), expect,
                memory=False)

    print("kv case (read/write/append, parse included)")
    kvh = histgen.generate(50000, 30, keys=200, model="kv", crash_rate=0.02, seed=seed,
                           key_prefix="k")
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "kv.jsonl")
        histgen.write_jsonl(kvh, p)
        print(f"  history file: {os.path.getsize(p) / 2**20:.1f} MiB, {len(kvh)} lines")
        run("(d) kv 50000 ops/30 procs/200 keys", lambda: check_file(p, "kv"), "linearizable")
        kvrw = histgen.generate(50000, 30, keys=200, model="kv", crash_rate=0.02, seed=seed,
                                key_prefix="k", append_ratio=0)
        histgen.write_jsonl(kvrw, p)
        run("(d') same, read/write only", lambda: check_file(p, "kv"), "linearizable")
    keys = list(dict.fromkeys(e["key"] for e in kvh))
    bad_keys = keys[::10]
    bad = plant(kvh, bad_keys, seed)
    run(f"(f) (d) with {len(bad_keys)} keys corrupted", lambda: check(bad, "kv"),
        "not-linearizable", failed=bad_keys)
    print(f"max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
