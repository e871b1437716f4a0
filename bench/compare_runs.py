"""What the compare-based benchmarks share: run one `splitbrain compare`, print its table
and time, then one line of evidence per run of the compare directory it made."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

CLI = str(Path(sys.executable).parent / "splitbrain")


def compare_then(args: list[str], results: str, evidence: Callable[[Path], None]) -> Path | None:
    """`splitbrain compare ARGS --results-dir RESULTS`; returns the compare directory."""
    cmd = [CLI, "compare", *args, "--results-dir", results]
    print(f"`{' '.join(cmd[1:])}`\n", flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(proc.stdout.strip() or proc.stderr.strip()[-600:], flush=True)
    print(f"\n({time.monotonic() - t0:.0f}s, exit {proc.returncode})\n", flush=True)
    root = Path(results) / "compare"
    dirs = sorted(root.iterdir()) if root.is_dir() else []
    if dirs:
        evidence(dirs[-1])
        return dirs[-1]
    return None


def compare_main(doc: str, results: str, args_of: Callable, evidence: Callable[[Path], None],
                 extra: Callable = lambda ap: None) -> None:
    """The command line of a compare-based benchmark: --repeat, --time-limit, --results and
    --evidence (only reprint the lines of finished compares), plus `extra` options;
    `args_of(parsed)` gives the compare's arguments."""
    import argparse
    import json
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", default="30")
    ap.add_argument("--results", default=results)
    ap.add_argument("--evidence", nargs="*", default=None, metavar="COMPARE_DIR")
    extra(ap)
    a = ap.parse_args()
    if a.evidence is not None:
        for d in a.evidence:
            evidence(Path(d))
        return
    done = compare_then(args_of(a), a.results, evidence)
    if done:
        print(json.dumps({"compare_dir": str(done)}))
