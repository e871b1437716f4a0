"""The measured figures of the `counter`, `queue`, `replica-read`, `append` and `lock`
workloads (README sections "Counters", "Streams queues", "Reads from replicas",
"Transactions", "Is my Redis lock safe?"):
Sentinel Case II by default and with `--wait 1:100`, fault-free runs on every topology, a
replica cut off from replication (`isolate-replica`) for partitions of 5, 10 and 20 s, and
for `append` a Cluster primary cut off. Each run goes through the CLI; one line per run
with its checker's summary and figures. About 50 minutes in all:

    .venv/bin/python bench/workload_runs.py [--only NAME ...] [--results DIR] [--repeat N]

`--only` takes run names or prefixes (`--only queue-` runs every queue setting).
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
TOPOLOGIES = ("sentinel", "cluster", "replicated")

CASE_II = ["-t", "sentinel", "-n", "isolate-primary-with-clients", "--time-limit", "30",
           "--nemesis-interval", "10"]
RUNS: dict[str, tuple[str, list[str], int]] = {}
for w in ("counter", "queue"):
    RUNS[f"{w}-case-ii-default"] = (w, CASE_II, 1)
    RUNS[f"{w}-case-ii-wait-1-100"] = (w, [*CASE_II, "--wait", "1:100"], 1)
    for t in TOPOLOGIES:
        RUNS[f"{w}-no-faults-{t}"] = (w, ["-t", t, "--time-limit", "10"], 5)
for t in TOPOLOGIES:
    RUNS[f"replica-read-no-faults-{t}"] = ("replica-read", ["-t", t, "--time-limit", "10"], 5)
    for s in (5, 10, 20):
        RUNS[f"replica-read-isolate-replica-{s}s-{t}"] = (
            "replica-read", ["-t", t, "-n", "isolate-replica", "--nemesis-interval", str(s),
                             "--time-limit", str(2 * s + 10)], 1)

CLUSTER_CUT = ["-t", "cluster", "-n", "isolate-primary", "--time-limit", "30", "--nemesis-interval", "10"]
RUNS["append-case-ii-default"] = ("append", CASE_II, 3)
RUNS["append-case-ii-wait-1-100"] = ("append", [*CASE_II, "--wait", "1:100"], 1)
# partitions of 5 s every 10 s: clients write to the new primary between them
RUNS["append-case-ii-5s-partitions"] = ("append", [*CASE_II[:-1], "5"], 3)
RUNS["append-cluster-isolate-primary"] = ("append", CLUSTER_CUT, 3)
for t in TOPOLOGIES:
    RUNS[f"append-no-faults-{t}"] = ("append", ["-t", t, "--time-limit", "30"], 5)

# Locks (README "Is my Redis lock safe?"). Leases are 10 s, holds 5 ms-8 s.
LOCK_CASE_II = [*CASE_II[:4], "--time-limit", "60", "--nemesis-interval", "12", "--keys", "2", "-c", "6"]
RUNS["lock-case-ii-redis-py"] = ("lock", LOCK_CASE_II, 3)
RUNS["lock-case-ii-fenced"] = ("lock", [*LOCK_CASE_II, "--lock-impl", "fenced"], 1)
RUNS["lock-case-ii-fenced-fencing"] = ("lock", [*LOCK_CASE_II, "--lock-impl", "fenced", "--fencing"], 1)
REDLOCK = ["-t", "independent", "--lock-impl", "redlock", "--keys", "1", "-c", "8", "--time-limit", "60"]
RUNS["lock-redlock-isolate-node+clock-jump"] = ("lock", [*REDLOCK, "-n", "isolate-node,clock-jump",
                                                         "--nemesis-overlap", "--nemesis-interval", "1"], 5)
RUNS["lock-redlock-clock-jump"] = ("lock", [*REDLOCK, "-n", "clock-jump", "--nemesis-interval", "1"], 5)
RUNS["lock-redlock-isolate-node"] = ("lock", [*REDLOCK, "-n", "isolate-node", "--nemesis-interval", "1"], 5)
RUNS["lock-redlock-restart-fast"] = ("lock", [*REDLOCK, "-n", "restart-fast", "--nemesis-interval", "1"], 2)
RUNS["lock-redlock-no-faults"] = ("lock", REDLOCK, 5)
JUMP = ["--keys", "1", "-c", "6", "--time-limit", "60", "-n", "clock-jump", "--nemesis-interval", "3"]
RUNS["lock-clock-jump-redis-py"] = ("lock", ["-t", "sentinel", *JUMP], 2)
RUNS["lock-clock-jump-fenced-fencing"] = ("lock", ["-t", "sentinel", "--lock-impl", "fenced", "--fencing", *JUMP], 1)
PAUSE = ["--keys", "1", "-c", "6", "--time-limit", "45", "-n", "pause-client", "--nemesis-interval", "5"]
RUNS["lock-pause-redis-py"] = ("lock", ["-t", "sentinel", *PAUSE], 2)
RUNS["lock-pause-redlock"] = ("lock", ["-t", "independent", "--lock-impl", "redlock", *PAUSE], 2)
RUNS["lock-pause-fenced"] = ("lock", ["-t", "sentinel", "--lock-impl", "fenced", *PAUSE], 2)
RUNS["lock-pause-fenced-fencing"] = ("lock", ["-t", "sentinel", "--lock-impl", "fenced", "--fencing", *PAUSE], 2)
for impl in ("redis-py", "fenced"):
    for t in (*TOPOLOGIES, "independent"):
        RUNS[f"lock-no-faults-{impl}-{t}"] = ("lock", ["-t", t, "--lock-impl", impl, "--keys", "2", "-c", "6",
                                                       "--time-limit", "20"], 5)

#: Details worth a line beside the figures, per checker.
DETAILS = {
    "counter": ("attempted_sum", "info_count", "reads_below_count", "reads_above_count",
                "reads_out_of_bounds_by_window"),
    "queue": ("enqueue_info_count", "short_ack_count", "group_missing", "anomalies_by_window",
              "enqueued_by_window"),
    "staleness": ("per_node", "by_window"),
    "list-append": ("anomaly_types", "strongest_model", "ok_count", "info_count", "fail_count"),
    "mutex": ("attempts", "busy", "ambiguous_acquires", "writes"),
}


def figures(results: dict) -> dict:
    out: dict = {}
    for name, c in (results.get("checkers") or {}).items():
        out.update({f["name"]: f["value"] for f in c.get("figures") or []})
        d = c.get("details") or {}
        out.update({k: d.get(k) for k in DETAILS.get(name, ()) if k in d})
        out[f"{name}.valid"] = c.get("valid")
    st = results.get("stats") or {}
    out.update({"ops": st.get("ops"), "availability_during_faults": st.get("availability_during_faults")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=None, help="override the runs per setting")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    names = [n for n in RUNS if not a.only or any(n == o or n.startswith(o) for o in a.only)]
    if not names:
        ap.error(f"--only matches no run; runs: {', '.join(RUNS)}")
    base = a.results or Path(tempfile.mkdtemp(prefix="workload-runs-"))
    for name in names:
        workload, args, repeat = RUNS[name]
        for i in range(a.repeat or repeat):
            out = base / f"{name}-{i}"
            t = time.monotonic()
            res = subprocess.run([CLI, "run", "-w", workload, *args, "--seed", str(a.seed + i),
                                  "--results-dir", str(out)], cwd=ROOT, capture_output=True, text=True)
            took = time.monotonic() - t
            try:
                results = json.loads(((out / "latest").resolve() / "results.json").read_text())
            except (OSError, ValueError) as e:
                print(f"{name} #{i}: exit {res.returncode}, no results ({e})\n{res.stderr[-2000:]}", flush=True)
                continue
            summaries = "; ".join(c.get("summary", "") for c in (results.get("checkers") or {}).values())
            print(f"{name} #{i}: exit {res.returncode}, {took:.0f}s wall; {summaries}\n"
                  f"  {json.dumps(figures(results))}", flush=True)
    print(f"results in {base}")


if __name__ == "__main__":
    main()
