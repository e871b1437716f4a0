"""The real runs behind the README's "Measured" figures, one after another, each summed up
in a line or two (the figures the README quotes). Takes about 25 minutes; run it on a
quiet machine:

    .venv/bin/python bench/readme_runs.py [--only NAME ...] [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "splitbrain")
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from fault_latency import latencies  # noqa: E402
from harness.history import fault_windows, read_history  # noqa: E402
from harness.rundir import HISTORY_NAMES, find_run_dirs, history_file  # noqa: E402

CASE_II = ["-t", "sentinel", "-n", "isolate-primary-with-clients"]
RUNS = {
    "cluster-case-ii": ["-t", "cluster", "-n", "isolate-primary-with-clients", "--time-limit", "30",
                        "--nemesis-interval", "10"],
    "cluster-isolate-primary": ["-t", "cluster", "-n", "isolate-primary", "--time-limit", "30",
                                "--nemesis-interval", "10"],
    "restart-fast-none": ["-t", "replicated", "-n", "restart-fast", "--time-limit", "20", "--nemesis-interval",
                          "10", "--redis-conf", "save=", "--redis-conf", "appendonly=no"],
    "restart-fast-aof": ["-t", "replicated", "-n", "restart-fast", "--time-limit", "20", "--nemesis-interval",
                         "10", "--redis-conf", "save=", "--redis-conf", "appendonly=yes"],
    "kill-primary": ["-t", "sentinel", "-n", "kill-primary", "--time-limit", "20", "--nemesis-interval", "5"],
    "pause-primary": ["-t", "sentinel", "-n", "pause-primary", "--time-limit", "20", "--nemesis-interval", "5"],
    "clock-bump": ["-t", "sentinel", "-n", "clock-bump", "--time-limit", "7", "--nemesis-interval", "3",
                   "--seed", "14"],
    "sentinel-failover": ["-t", "sentinel", "-n", "failover", "--time-limit", "20", "--nemesis-interval", "5"],
    "cluster-failover": ["-t", "cluster", "-n", "failover", "--time-limit", "20", "--nemesis-interval", "5"],
    "combined-sentinel": ["-t", "sentinel", "-n", "partition,clock,kill,pause", "--nemesis-overlap",
                          "--time-limit", "120", "--nemesis-interval", "5"],
    "combined-cluster": ["-t", "cluster", "-n", "partition,clock,kill,pause", "--nemesis-overlap",
                         "--time-limit", "120", "--nemesis-interval", "5"],
    "case-ii-60s": [*CASE_II, "--time-limit", "60", "--concurrency", "10"],
}
COMPARE = [*CASE_II, "--time-limit", "30", "--nemesis-interval", "10", "--repeat", "3",
           "--vary", "default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100|wait=2:100"]


def du(path: Path) -> int:
    """Bytes in a file, or in every file under a directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def describe(name: str, run_dir: Path, took: float, rc: int) -> str:
    results = json.loads((run_dir / "results.json").read_text())
    history = read_history(history_file(run_dir))
    st = results.get("stats", {})
    parts = [f"exit {rc}, {took:.0f}s wall, verdict {results.get('valid')}, healed {results.get('healed')}"]
    for cname, c in (results.get("checkers") or {}).items():
        parts.append(f"{cname}: {c.get('summary')}")
    d = (results.get("checkers") or {}).get("set", {}).get("details", {})
    windows = fault_windows(history)
    if d.get("lost") and windows:
        w0 = windows[0]["start"]
        acks = [x["acknowledged_at"] for x in d["lost"]]
        parts.append(f"lost acknowledged {(min(acks) - w0) / 1e9:+.2f}s..{(max(acks) - w0) / 1e9:+.2f}s "
                     f"from the first window's start (listed: {len(acks)})")
    parts.append(f"failover_s {st.get('failover_s')}, availability in faults "
                 f"{st.get('availability_during_faults')}, ops {st.get('ops')}, converge {st.get('converge_s')}s")
    lat = {f: round(sorted(xs)[len(xs) // 2], 3) for f, xs in latencies(history).items()}
    parts.append(f"nemesis invoke→in force (median s): {lat}")
    starts = [o for o in history if o["process"] == "nemesis" and o["type"] != "invoke"
              and o["f"] in ("start-clock", "start-restart-fast", "start-failover")]
    for o in starts[:3]:
        parts.append(f"{o['f']}: {json.dumps(o['value'], default=str)[:400]}")
    for key, ws in (results.get("windows") or {}).items():
        parts.append(f"{key}: {[(w['node'], w.get('source')) for w in ws]}")
    parts.append(f"results dir {du(run_dir) / 1e6:.0f} MB, history {du(history_file(run_dir)) / 1e6:.0f} MB")
    return "\n    ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None, help=f"some of: compare {' '.join(RUNS)}")
    ap.add_argument("--results", default="results/readme")
    a = ap.parse_args()
    results = Path(a.results)
    todo = a.only or ["compare", *RUNS]
    for name in todo:
        t0 = time.monotonic()
        if name == "compare":
            proc = subprocess.run([CLI, "compare", *COMPARE, "--seed", "1", "--results-dir", str(results),
                                   "--fail-on", "never"], capture_output=True, text=True, cwd=ROOT)
            print(f"== compare ({time.monotonic() - t0:.0f}s, exit {proc.returncode})\n{proc.stdout}", flush=True)
            out = sorted((results / "compare").iterdir())[-1]
            lat = latencies_all(out)
            print(f"    nemesis invoke→in force over the compare: {lat}", flush=True)
            continue
        proc = subprocess.run([CLI, "run", *RUNS[name], "--name", f"readme-{name}", "--results-dir", str(results),
                               *(["--seed", "1"] if "--seed" not in RUNS[name] else [])],
                              capture_output=True, text=True, cwd=ROOT)
        took = time.monotonic() - t0
        run_dir = sorted((results / f"readme-{name}").iterdir())[-1]
        print(f"== {name}\n    {describe(name, run_dir, took, proc.returncode)}", flush=True)


def latencies_all(root: Path) -> dict[str, float]:
    merged: dict[str, list[float]] = {}
    for d in find_run_dirs(root):
        if not any((d / name).exists() for name in HISTORY_NAMES):
            continue
        for f, xs in latencies(read_history(history_file(d))).items():
            merged.setdefault(f, []).extend(xs)
    return {f: round(sorted(xs)[len(xs) // 2], 3) for f, xs in merged.items()}


if __name__ == "__main__":
    main()
