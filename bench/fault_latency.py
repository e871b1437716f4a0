"""How long each fault takes to come into force: from the nemesis's `invoke` of
`start-<kind>` to its completion (rules applied, offsets measured, process signalled),
over every run under a results directory.

    .venv/bin/python bench/fault_latency.py results/compare/<stamp>
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.history import NEMESIS, read_history  # noqa: E402
from harness.rundir import find_run_dirs, history_file  # noqa: E402


def latencies(history: list[dict]) -> dict[str, list[float]]:
    """f → seconds from each nemesis invoke to its completion."""
    out: dict[str, list[float]] = defaultdict(list)
    began: dict[str, int] = {}
    for op in history:
        if op["process"] != NEMESIS:
            continue
        if op["type"] == "invoke":
            began[op["f"]] = op["time"]
        elif op["f"] in began:
            out[op["f"]].append((op["time"] - began.pop(op["f"])) / 1e9)
    return out


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    merged: dict[str, list[float]] = defaultdict(list)
    runs = find_run_dirs(root)
    for d in runs:
        if history_file(d).exists():
            for f, xs in latencies(read_history(history_file(d))).items():
                merged[f] += xs
    print(f"{len(runs)} runs under {root}")
    for f, xs in sorted(merged.items()):
        xs.sort()
        print(f"  {f:<20} n={len(xs):<4} median {statistics.median(xs):.3f}s  max {xs[-1]:.3f}s")


if __name__ == "__main__":
    main()
