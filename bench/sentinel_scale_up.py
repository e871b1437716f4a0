"""Sentinel scale-up during a partition: did Redis split its brain? One `splitbrain compare`
over the sequence (two Sentinels added at once during the partition, or one by one before
it) and the quorum (2, the deployment's; 4, a majority of the seven Sentinels), then one
line of evidence per run.

    .venv/bin/python bench/sentinel_scale_up.py [--repeat 3] [--quorums 2,4]
    .venv/bin/python bench/sentinel_scale_up.py --evidence results/bench-sentinel-scale-up/compare/<stamp>

Per run: how many other Sentinels each counted when the partition was in force (its
majority), the primaries each Sentinel named in turn, how long two Redis were primary at
once, the acknowledged writes lost, and whether the deployment healed by itself (or a node
had to be told REPLICAOF the primary the Sentinels named).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.history import NEMESIS, read_history  # noqa: E402
from harness.rundir import RunDir  # noqa: E402

from compare_runs import compare_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def evidence(compare_dir: Path) -> None:
    for results in sorted(compare_dir.glob("*/*/results.json")):
        run = RunDir(results.parent)
        r, test = run.results, run.test
        set_ = ((r.get("checkers") or {}).get("set") or {}).get("details") or {}
        windows = r.get("windows") or {}
        history = read_history(run.history_path)
        fault = [o for o in history if o["process"] == NEMESIS and o["type"] == "info"
                 and o["f"] in ("start-sentinel-membership", "stop-sentinel-membership")]
        starts = [o["value"] for o in fault if o["f"].startswith("start")]
        stops = [o["value"] for o in fault if o["f"].startswith("stop")]
        named: dict[str, list[str]] = {}
        for w in windows.get("sentinel_primary") or ():
            seq = named.setdefault(w["node"].removeprefix("Sentinel "), [])
            if not seq or seq[-1] != w["primary"]:
                seq.append(w["primary"])
        both = sum(w["end"] - w["start"] for w in windows.get("two_primaries") or ()) / 1e9
        counted = starts[0].get("counted") if starts else None
        quorum = (test.get("sentinel_conf") or {}).get("quorum", "2")
        print(f"  {test['nemesis'][0]:24} quorum {quorum} seed {test['seed']}: valid {r.get('valid')}, "
              f"lost {set_.get('lost_count')} of {set_.get('acknowledged_count')}; "
              f"counted {' '.join(f'{k}={v}' for k, v in sorted((counted or {}).items()))}; "
              f"named {' '.join(f'{k}:' + '>'.join(v) for k, v in sorted(named.items()))}; "
              f"two primaries {both:.1f}s; "
              f"told REPLICAOF at heal {[s.get('forced_replicaof') for s in stops]}; healed {r.get('healed')}",
              flush=True)


def main() -> None:
    # One cycle of the fault per run: it starts after the first interval and holds for one.
    compare_main(__doc__, str(ROOT / "results" / "bench-sentinel-scale-up"), lambda a: [
        "-t", "sentinel", "-w", "set", "--vary", "nemesis=sentinel-scale-up,sentinel-scale-up-safe",
        "--vary", f"sentinel.quorum={a.quorums}", "--nemesis-interval", "10", "--time-limit", a.time_limit,
        "--concurrency", "6", "--repeat", str(a.repeat), "--seed", "300", "--fail-on", "never"], evidence,
        lambda ap: ap.add_argument("--quorums", default="2,4", help="values of sentinel.quorum"))

if __name__ == "__main__":
    main()
