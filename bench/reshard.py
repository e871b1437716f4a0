"""Cluster resharding under load, alone, with the source or target killed mid-move
(`reshard-kill`), and with a primary killed or cut off as the schedule falls during a
migration: one `splitbrain compare` over the nemesis, so the baselines (the same kill or
cut without resharding) run in the same matrix, then one line of evidence per run.

    .venv/bin/python bench/reshard.py [--repeat 3] [--time-limit 30] [--results DIR]
    .venv/bin/python bench/reshard.py --workload register --nemeses reshard --repeat 5 --interval 20
    .venv/bin/python bench/reshard.py --nemeses add-primary,remove-primary --interval 15
    .venv/bin/python bench/reshard.py --evidence results/bench-reshard/compare/<stamp>

Per run: slots and keys moved, moves cut short (and why), half-moved slots finished (at the
fault's stop or at heal) and key versions dropped doing so, the MOVED and ASK redirects the
clients followed, lost writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.history import NEMESIS, read_history  # noqa: E402
from harness.rundir import RunDir  # noqa: E402

from compare_runs import compare_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NEMESES = "reshard,reshard-kill,kill-primary,reshard+kill-primary,isolate-primary,reshard+isolate-primary"


def evidence(compare_dir: Path) -> None:
    for results in sorted(compare_dir.glob("*/*/results.json")):
        run = RunDir(results.parent)
        r, test = run.results, run.test
        set_ = ((r.get("checkers") or {}).get("set") or {}).get("details") or {}
        moves = (r.get("windows") or {}).get("reshard") or (r.get("windows") or {}).get("membership") or []
        history = read_history(run.history_path)
        fixes = [o["value"] for o in history if o["process"] == NEMESIS and o["type"] == "info"
                 and (o["f"] == "reshard-fixed" or (o["f"] == "stop-reshard" and "fixed" in o["value"]))]
        fixed = [f["fixed"] for f in fixes]
        diverged = sum(len(f.get("diverged") or ()) for f in fixes)
        cut = [m["error"] for m in moves if m.get("error")]
        back = [o["value"].get("slots_back") for o in history if o["process"] == NEMESIS
                and o["f"] == "stop-membership" and o["type"] == "info"]
        redirects = (r.get("stats") or {}).get("redirects") or {}
        lost = (f", lost {set_.get('lost_count')} of {set_.get('acknowledged_count')}" if set_ else
                f", {(r.get('stats') or {}).get('ok', '?')} ok ops")
        print(f"  {test['workload']} {'+'.join(test['nemesis']):24} seed {test['seed']}: valid {r.get('valid')}"
              f"{lost}; "
              f"moves {len(moves)} ({sum(m.get('slots') or 0 for m in moves)} slots, "
              f"{sum(m.get('keys') or 0 for m in moves)} keys), cut short {len(cut)}"
              + (f" ({'; '.join(c[:70] for c in cut)})" if cut else "")
              + f"; healed {r.get('healed')}, half-moved slots finished {sum(map(len, fixed))} "
              f"(key versions dropped {diverged}); "
              f"MOVED {redirects.get('moved', 0)}, ASK {redirects.get('ask', 0)}"
              + (f"; every slot back with its first owner at each stop: {back}" if back else ""), flush=True)


def _options(ap) -> None:
    ap.add_argument("--nemeses", default=NEMESES, help="the values of --vary nemesis=")
    ap.add_argument("--workload", default="set")
    ap.add_argument("--interval", default="5", help="--nemesis-interval (a move of 1,000+ slots takes ~10 s)")


def main() -> None:
    compare_main(__doc__, str(ROOT / "results" / "bench-reshard"), lambda a: [
        "-t", "cluster", "-w", a.workload, "--vary", f"nemesis={a.nemeses}", "--nemesis-overlap",
        "--nemesis-interval", a.interval, "--time-limit", a.time_limit, "--repeat", str(a.repeat),
        "--seed", "200", "--fail-on", "never"], evidence, _options)

if __name__ == "__main__":
    main()
