"""The README section "Which Redis": the same tests on every server (`--server`), each a
`splitbrain compare --vary server=...` so the three servers share one table:

- case-ii: Sentinel, the primary cut off with its clients (3 runs per server);
- case-ii-settings: the same with `min-replicas-to-write 1` + `max-lag 5` and `WAIT 1 100`;
- cluster-cut: a Cluster primary cut off with its clients;
- restart-fast: the replicated primary killed and restarted at once, no persistence (BP.4);
- clock: a clock bump on Sentinel (libfaketime on Redis 7.0, sb-clock on the others);
- no-faults-<topology>: fault-free runs on every topology (3 per server).

Each compare's Markdown table is printed as it finishes; the whole takes about 40 minutes:

    .venv/bin/python bench/servers.py [--only NAME ...] [--results DIR]

Every server's node image is built first (and timed) if it is missing.
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
SERVERS = "redis-7.0,redis-8.0,valkey-8.1"
CUT = ["--time-limit", "30", "--nemesis-interval", "10"]
NO_PERSISTENCE = ["--redis-conf", "save=", "--redis-conf", "appendonly=no"]

COMPARES: dict[str, list[str]] = {
    "case-ii": ["-t", "sentinel", "-n", "isolate-primary-with-clients", *CUT, "--repeat", "3"],
    "case-ii-settings": ["-t", "sentinel", "-n", "isolate-primary-with-clients", *CUT,
                         "--vary", "min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100"],
    "cluster-cut": ["-t", "cluster", "-n", "isolate-primary-with-clients", *CUT, "--repeat", "2"],
    "restart-fast": ["-t", "replicated", "-n", "restart-fast", *CUT, *NO_PERSISTENCE],
    "clock": ["-t", "sentinel", "-n", "clock-bump", *CUT, "--repeat", "2"],
}
for topology in ("sentinel", "cluster", "replicated", "independent"):
    COMPARES[f"no-faults-{topology}"] = ["-t", topology, "--time-limit", "10", "--repeat", "3"]


def build_images() -> None:
    """Build each server's node image that is missing, timed (a clean engine: ~35 s each)."""
    from harness.image import node_image_state
    for server in SERVERS.split(","):
        if node_image_state(server) == "current":
            print(f"image {server}: present", flush=True)
            continue
        t0 = time.monotonic()
        subprocess.run([CLI, "image", "build", "--server", server, "--quiet"], check=True)
        print(f"image {server}: built in {time.monotonic() - t0:.1f}s", flush=True)


def evidence(compare_dir: Path) -> None:
    """One line per run: what the table averages away. Lost writes split by when they were
    acknowledged (in a fault window, or outside: after healing, to an old primary not yet
    demoted), seconds from the final heal to converged, and Sentinel TILT windows."""
    for results in sorted(compare_dir.glob("*/*/results.json")):
        r = json.loads(results.read_text())
        test = json.loads((results.parent / "test.json").read_text())
        set_ = ((r.get("checkers") or {}).get("set") or {}).get("details") or {}
        by_window = set_.get("lost_by_window") or {}
        in_faults = sum(v for k, v in by_window.items() if k != "no fault")
        tilt = (r.get("windows") or {}).get("sentinel_tilt") or []
        print(f"  {test.get('server_version', '?'):13} seed {test['seed']}: valid {r.get('valid')}, "
              f"lost {set_.get('lost_count')} of {set_.get('acknowledged_count')} "
              f"({in_faults} acknowledged in a fault window, {by_window.get('no fault', 0)} outside), "
              f"converged {r['stats'].get('converge_s')} s after the final heal"
              + (f", TILT windows {len(tilt)}" if tilt else ""), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="compare names or prefixes")
    ap.add_argument("--results", default=str(ROOT / "results" / "bench-servers"))
    ap.add_argument("--evidence", nargs="*", default=None, metavar="COMPARE_DIR",
                    help="only print the per-run lines of finished compares")
    a = ap.parse_args()
    if a.evidence is not None:
        for d in a.evidence:
            print(f"\n{d}")
            evidence(Path(d))
        return
    build_images()
    for name, args in COMPARES.items():
        if a.only and not any(name.startswith(o) for o in a.only):
            continue
        cmd = [CLI, "compare", *args, "--vary", f"server={SERVERS}", "--seed", "100",
               "--fail-on", "never", "--results-dir", a.results]
        print(f"\n## {name}\n`{' '.join(cmd[1:])}`\n", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        print(proc.stdout.strip() or proc.stderr.strip()[-600:], flush=True)
        print(f"\n({time.monotonic() - t0:.0f}s, exit {proc.returncode})", flush=True)
        dirs = sorted((Path(a.results) / "compare").iterdir())
        if dirs:
            evidence(dirs[-1])


if __name__ == "__main__":
    main()
