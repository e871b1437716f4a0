"""Time the linearizability checker on the Porcupine corpus (all 36 files, one process).

    python bench/check_corpus.py [--reps 7] [--corpus DIR] [--no-fast-path]

The corpus defaults to the copy vendored under tests/corpus/porcupine. Prints, per file,
the median over repetitions of check_file (parse + check) and of the check alone
(history already in memory), both as `check` runs by default: every key is checked,
after a violation for at most EXTENT_LIMIT_S more (no time limit is given). The
"verdict ms" column is the check alone with extent_limit=0, which stops at the first
failing key as Porcupine does: the time to the verdict. Then the verdict, failing keys
out of all keys, and keys left unchecked. Exits 1 if any verdict differs from the
manifest. Targets for the time to the verdict: total <= 230 ms, no file > 200 ms
(Porcupine in Go: 230 ms total, etcd_002 slowest at 188 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.checkers.linearizable import EXTENT_LIMIT_S, check, check_file  # noqa: E402
from harness.history import read_history  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1] / "tests/corpus/porcupine"


def _median_time(fn, reps):
    times, r = [], None
    for _ in range(reps):
        t = time.perf_counter()
        r = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), r


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    ap.add_argument("--no-fast-path", action="store_true")
    a = ap.parse_args()
    manifest = json.loads((a.corpus / "manifest.json").read_text())
    fast = not a.no_fast_path
    rows = []
    wrong = 0
    for e in manifest:
        path, model = a.corpus / e["file"], e["model"]
        hist = read_history(path)
        tf, r = _median_time(lambda: check_file(path, model, use_fast_path=fast), a.reps)
        tc, _ = _median_time(lambda: check(hist, model, use_fast_path=fast), a.reps)
        tv, rv = _median_time(lambda: check(hist, model, use_fast_path=fast, extent_limit=0),
                              a.reps)
        ok = r["verdict"] == e["expected"] and rv["verdict"] == e["expected"]
        wrong += not ok
        rows.append((e["file"], e["ops"], tf, tc, tv, r, ok))
    print(f"(extent of a violation searched for at most {EXTENT_LIMIT_S:g} s)")
    print(f"{'file':<20} {'ops':>5} {'file ms':>9} {'check ms':>9} {'verdict ms':>10}  "
          f"{'verdict':<17} {'failed':>7} {'unchecked':>9}")
    for name, ops, tf, tc, tv, r, ok in rows:
        print(f"{name:<20} {ops:>5} {tf * 1e3:9.2f} {tc * 1e3:9.2f} {tv * 1e3:10.2f}  "
              f"{r['verdict']:<17} {r['failed_keys']:>3}/{r['keys_checked']:<3} "
              f"{len(r['unchecked_keys']):>9}{'' if ok else '  WRONG'}")
    tot_f, tot_c, tot_v = (sum(r[i] for r in rows) for i in (2, 3, 4))
    slow = max(rows, key=lambda r: r[2])
    slow_v = max(rows, key=lambda r: r[4])
    print(f"\ntotal (parse+check): {tot_f * 1e3:.1f} ms   total (check only): {tot_c * 1e3:.1f} ms"
          f"   total (to the verdict): {tot_v * 1e3:.1f} ms")
    print(f"slowest file: {slow[0]} {slow[2] * 1e3:.1f} ms (parse+check); to the verdict: "
          f"{slow_v[0]} {slow_v[4] * 1e3:.1f} ms")
    print(f"verdicts: {len(rows) - wrong}/{len(rows)} as expected")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
