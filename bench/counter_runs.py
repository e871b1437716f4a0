"""The `counter` workload's measured figures: Sentinel Case II by default and with
`--wait 1:100`, and fault-free runs on every topology. Each run through the CLI; prints
one line of the counter checker's figures per run. About 6 minutes:

    .venv/bin/python bench/counter_runs.py [--only NAME ...] [--results DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "splitbrain")

CASE_II = ["-t", "sentinel", "-n", "isolate-primary-with-clients", "--time-limit", "30",
           "--nemesis-interval", "10"]
RUNS = {
    "case-ii-default": (CASE_II, 1),
    "case-ii-wait-1-100": ([*CASE_II, "--wait", "1:100"], 1),
    **{f"no-faults-{t}": (["-t", t, "--time-limit", "10"], 3) for t in ("sentinel", "cluster", "replicated")},
}


def figures(results: dict) -> dict:
    c = (results.get("checkers") or {}).get("counter") or {}
    out = {f["name"]: f["value"] for f in c.get("figures") or []}
    d = c.get("details") or {}
    out.update({k: d.get(k) for k in ("attempted_sum", "info_count", "fail_count", "reads_below_count",
                                      "reads_above_count", "bound_width_mean", "bound_width_max",
                                      "reads_out_of_bounds_by_window")})
    out["valid"] = c.get("valid")
    st = results.get("stats") or {}
    out.update({"ops": st.get("ops"), "availability_during_faults": st.get("availability_during_faults")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", choices=list(RUNS))
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=None, help="override the runs per setting")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    base = a.results or Path(tempfile.mkdtemp(prefix="counter-runs-"))
    for name in a.only or RUNS:
        args, repeat = RUNS[name]
        for i in range(a.repeat or repeat):
            out = base / f"{name}-{i}"
            t = time.monotonic()
            res = subprocess.run([CLI, "run", "-w", "counter", *args, "--seed", str(a.seed + i),
                                  "--results-dir", str(out)], cwd=ROOT, capture_output=True, text=True)
            took = time.monotonic() - t
            try:
                results = json.loads(((out / "latest").resolve() / "results.json").read_text())
            except (OSError, ValueError) as e:
                print(f"{name} #{i}: exit {res.returncode}, no results ({e})\n{res.stderr[-2000:]}", flush=True)
                continue
            summary = ((results.get("checkers") or {}).get("counter") or {}).get("summary")
            print(f"{name} #{i}: exit {res.returncode}, {took:.0f}s wall; {summary}\n"
                  f"  {json.dumps(figures(results))}", flush=True)
    print(f"results in {base}")


if __name__ == "__main__":
    main()
