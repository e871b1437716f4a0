"""How fast the list-append checker decides 100,000-transaction histories, and where the
time goes.

Histories come from `append_gen` (strict-serializable by construction): 100,000
transactions of 4 micro-ops each from 20 processes over a pool of 200 keys; a key
retires after 32 appends (as the `append` workload does) or 100. A third case breaks
1% of the reads (each drops its last element when the writer had completed before the
reader began: a stale read), so the cycle search has real work. Each case runs in its own
process, so its peak memory is its own. The baseline, measured in the same process on the
same history: reading the JSONL file (`read_history`), the least any check must do.

    .venv/bin/python bench/txn_check.py [--txns N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness.checkers import append_gen, list_append  # noqa: E402
from harness.history import read_history  # noqa: E402

CASES = [("rotate after 32 appends", 32, 0.0), ("rotate after 100 appends", 100, 0.0),
         ("rotate after 32, 1% stale reads", 32, 0.01)]


def _stale(history: list[dict], share: float, seed: int = 7) -> int:
    """Drop the last element of `share` of the ok reads whose last element's writer had
    completed before the reader was invoked. Returns how many were changed."""
    rng, start, ended = random.Random(seed), {}, {}
    for op in history:
        if op["type"] == "invoke":
            start[op["process"]] = op["time"]
        elif op["type"] == "ok":
            for m in op["value"]:
                if m[0] == "append":
                    ended[(m[1], m[2])] = op["time"]
    changed, invoked = 0, {}
    for op in history:
        if op["type"] == "invoke":
            invoked[op["process"]] = op["time"]
            continue
        if op["type"] != "ok" or rng.random() >= share:
            continue
        seen = set()
        for m in op["value"]:
            if (m[0] == "r" and m[2] and m[1] not in seen
                    and ended.get((m[1], m[2][-1]), 1 << 62) < invoked[op["process"]]):
                m[2] = m[2][:-1]
                changed += 1
                break
            seen.add(m[1])
    return changed


def one(txns: int, rotate: int, stale: float) -> dict:
    history, final = append_gen.generate(n_txns=txns, processes=20, keys=200, max_writes_per_key=rotate,
                                         min_ops=4, max_ops=4, info_rate=0.01, fail_rate=0.01, seed=1)
    broken = _stale(history, stale) if stale else 0
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "history.jsonl")
        append_gen.write_jsonl(history, path)
        del history
        t = time.perf_counter()
        history = read_history(path)
        read_s = time.perf_counter() - t
    t = time.perf_counter()
    r = list_append.check(history, final)
    check_s = time.perf_counter() - t
    return {"read_s": read_s, "check_s": check_s, "phases": r["time_s"], "valid": r["valid"],
            "anomalies": r["anomaly_types"], "broken": broken, "graph": r["graph"],
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txns", type=int, default=100_000)
    ap.add_argument("--case", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.case is not None:
        _, rotate, stale = CASES[a.case]
        print(json.dumps(one(a.txns, rotate, stale)))
        return
    print(f"{a.txns:,} transactions × 4 micro-ops, 20 processes, 200 keys; CPU: {os.cpu_count()} cores")
    print("| case | check (s) | txns/s | read JSONL (s) | check ÷ read | infer / cycles / explain (s) "
          "| peak RSS (MB) | verdict |")
    print("|---|---|---|---|---|---|---|---|")
    for i, (name, _, _) in enumerate(CASES):
        out = subprocess.run([sys.executable, __file__, "--txns", str(a.txns), "--case", str(i)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        p = r["phases"]
        verdict = "valid" if r["valid"] is True else f"{r['valid']}: {', '.join(r['anomalies'][:4])}"
        if r["broken"]:
            verdict += f" ({r['broken']} reads broken; largest component {r['graph']['largest_component']:,})"
        print(f"| {name} | {r['check_s']:.2f} | {a.txns / r['check_s']:,.0f} | {r['read_s']:.2f} | "
              f"{r['check_s'] / r['read_s']:.2f} | {p['infer']} / {p['cycles']} / {p['explain']} | "
              f"{r['peak_mb']:.0f} | {verdict} |")


if __name__ == "__main__":
    main()
