"""Time the linearizability checker on the Porcupine corpus (all 36 files, one process).

    python bench/check_corpus.py [--reps 7] [--corpus DIR]

Prints, per file, the median over repetitions of check_file (parse + check) and of the
check alone (history already in memory), the verdict, and totals. Exits 1 if any
verdict differs from the manifest. Targets: total <= 230 ms, no file > 200 ms
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

from harness.checkers.linearizable import check, check_file  # noqa: E402
from harness.history import read_history  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared/corpora/porcupine"


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
        path = a.corpus / e["file"]
        hist = read_history(path)
        full, only = [], []
        verdict = None
        for _ in range(a.reps):
            t = time.perf_counter()
            r = check_file(path, e["model"], use_fast_path=fast)
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            check(hist, e["model"], use_fast_path=fast)
            only.append(time.perf_counter() - t)
            verdict = r["verdict"]
        ok = verdict == e["expected"]
        wrong += not ok
        rows.append((e["file"], e["ops"], statistics.median(full), statistics.median(only),
                     verdict, ok))
    print(f"{'file':<20} {'ops':>5} {'file ms':>9} {'check ms':>9}  verdict")
    for name, ops, tf, tc, verdict, ok in rows:
        print(f"{name:<20} {ops:>5} {tf * 1e3:9.2f} {tc * 1e3:9.2f}  {verdict}{'' if ok else '  WRONG'}")
    tot_f = sum(r[2] for r in rows)
    tot_c = sum(r[3] for r in rows)
    slow = max(rows, key=lambda r: r[2])
    print(f"\ntotal (parse+check): {tot_f * 1e3:.1f} ms   total (check only): {tot_c * 1e3:.1f} ms")
    print(f"slowest file: {slow[0]} {slow[2] * 1e3:.1f} ms (parse+check)")
    print(f"verdicts: {len(rows) - wrong}/{len(rows)} as expected")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
