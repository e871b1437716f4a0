"""Benchmark report.html on a big run: build time, file size, Chromium load/render time.

    .venv/bin/python bench/report_size.py [--ops 100000] [--keep DIR]

Generates a synthetic run dir with N client ops (tests/report_synth.py: a Sentinel run with
a partition, lost writes, a linearizability failure), builds its report and prints:
build time, report size (target < 20 MB), and how long headless Chromium takes to load and
draw it (target < 3 s): the page's own figure (performance.now() when its script has drawn
every chart and the next frame was painted, written into #report-status), and the wall time of
`chromium --dump-dom` on the report minus that on a trivial page (browser start-up). Both
are wall-clock figures: on a loaded machine (the script prints the load average when it
exceeds the core count) they are inflated.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.report import build_report  # noqa: E402
from tests.report_synth import find_chromium, js_errors, make_run, run_chromium  # noqa: E402

SIZE_TARGET_MB = 20.0
LOAD_TARGET_S = 3.0


def chromium_dump(binary: str, profile: Path, url: str) -> tuple[float, str, str]:
    """(wall seconds, DOM, stderr) of one `chromium --dump-dom` run."""
    t = time.perf_counter()
    r = run_chromium(binary, profile, url, "--dump-dom", timeout=120)
    return time.perf_counter() - t, r.stdout, r.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=100_000, help="client ops in the history")
    ap.add_argument("--repeat", type=int, default=3, help="browser loads to time")
    ap.add_argument("--keep", type=Path, help="write the run dir here and keep it")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="splitbrain-bench-"))
    run_dir = args.keep or tmp / "run"
    try:
        t = time.perf_counter()
        make_run(run_dir, n_ops=args.ops, concurrency=20, duration_s=max(20.0, args.ops / 800))
        gen_s = time.perf_counter() - t
        lines = sum(1 for _ in open(run_dir / "history.jsonl"))
        t = time.perf_counter()
        page = build_report(run_dir)
        build_s = time.perf_counter() - t
        size_mb = page.stat().st_size / 1e6
        print(f"history:        {lines:,} lines ({args.ops:,} ops requested), "
              f"{(run_dir / 'history.jsonl').stat().st_size / 1e6:.1f} MB, generated in {gen_s:.1f}s")
        print(f"build time:     {build_s:.2f}s")
        print(f"report size:    {size_mb:.2f} MB  (target < {SIZE_TARGET_MB:.0f} MB: "
              f"{'ok' if size_mb < SIZE_TARGET_MB else 'OVER'})")

        binary = find_chromium()
        if binary is None:
            print("chromium:       not found (scripts/install-chromium.sh); load time not measured")
            return 0 if size_mb < SIZE_TARGET_MB else 1
        trivial = tmp / "trivial.html"
        trivial.write_text("<!DOCTYPE html><html><body><p>hello</p></body></html>")
        base, wall, page_ms = [], [], []
        status = None
        for i in range(args.repeat):
            b, _, _ = chromium_dump(binary, tmp / f"profile-b{i}", trivial.as_uri())
            w, dom, err = chromium_dump(binary, tmp / f"profile-r{i}", page.as_uri())
            base.append(b)
            wall.append(w)
            m = re.search(r'id="report-status" data-status="([^"]*)"(?: data-render-ms="(\d+)")?', dom)
            status = m.group(1) if m else None
            if m and m.group(2):
                page_ms.append(int(m.group(2)) / 1000)
            if js_errors(err):
                print("JavaScript errors:", *js_errors(err), sep="\n  ")
        load_s = statistics.median(w - b for w, b in zip(wall, base))
        print(f"chromium:       {Path(binary).name}, page status {status!r}")
        print(f"page render:    {statistics.median(page_ms) if page_ms else float('nan'):.2f}s "
              f"(navigation start to all charts drawn, by the page's clock; median of {len(page_ms)})")
        print(f"load wall time: {load_s:.2f}s  (dump-dom of the report {statistics.median(wall):.2f}s "
              f"minus a trivial page {statistics.median(base):.2f}s)  (target < {LOAD_TARGET_S:.0f}s: "
              f"{'ok' if load_s < LOAD_TARGET_S else 'OVER'})")
        load1 = os.getloadavg()[0]
        if load1 > (os.cpu_count() or 1):
            print(f"note: load average {load1:.1f} on {os.cpu_count()} cores: wall times are "
                  f"inflated by other work on this machine")
        ok = size_mb < SIZE_TARGET_MB and load_s < LOAD_TARGET_S and status == "ok"
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the run dir too, unless --keep put it elsewhere


if __name__ == "__main__":
    sys.exit(main())
