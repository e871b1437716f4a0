"""Synthetic run directories for the report's tests and benchmark.

`make_run(dir)` writes test.json, history.jsonl, final.json and results.json (in the
format the runner writes: a CheckResult per checker, the set checker's computed by the
real checker from the history and the final read) of a fake Sentinel run:
clients add unique elements to sets (s0..s3) and read/write registers (r0..r2); the
nemesis isolates the primary (a partition window), forces a failover (an event), kills a
node (a window left open) and skews a clock; acknowledged adds during the partition are
lost; a register read during the partition sees a stale value (a linearizability
counterexample); and a few values are hostile HTML (XSS) to test escaping.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from harness.checkers.linearizability import summary_of
from harness.checkers.set_full import SetChecker
from harness.roles import CheckResult, Figure
from harness.stats import run_stats

XSS = "<script>alert(1)</script>"
NODES = ["10.213.4.11:6379", "10.213.4.12:6379", "10.213.4.13:6379"]
#: How long before its completion a nemesis op is invoked.
NEMESIS_ACT_NS = 50_000_000


def make_run(run_dir: Path, n_ops: int = 2000, concurrency: int = 10, duration_s: float = 20.0,
             seed: int = 42, results: bool = True, linearizable_failure: bool = True,
             valid: Any = None) -> Path:
    """Write a synthetic run of `n_ops` client ops into run_dir; return run_dir.

    The ops of each of the `concurrency` clients follow one another; the run lasts about
    `duration_s` (the faults are placed at fixed fractions of it)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    dur = int(duration_s * 1e9)
    part = (int(dur * 0.30), int(dur * 0.50))       # isolate-primary window
    failover_t = int(dur * 0.42)
    kill_t = int(dur * 0.85)                          # start-kill with no stop
    # each client op: ~1 ms, ~1 s when stalled by the partition, then a think time
    stalls = 0.3 * 0.2 * 1e9 * 0.9  # 30% of the ops in the window (0.2 of the run) stall
    mean_gap = max(dur * concurrency / max(n_ops, 1) - 1.2e6 - stalls / 5, 1e5)

    events: list[tuple[int, int, dict[str, Any]]] = []  # (time, seq, op)
    seq = 0

    def emit(t: int, op: dict[str, Any]) -> None:
        nonlocal seq
        events.append((t, seq, op))
        seq += 1

    element = 0
    adds: list[dict[str, Any]] = []           # ok adds: candidates for lost writes
    reg_ops: list[dict[str, Any]] = []        # register ops on r1
    xss_done = False
    next_pid = concurrency
    for slot in range(concurrency):
        pid = slot
        t = rng.randint(0, int(mean_gap))
        todo = n_ops // concurrency + (slot < n_ops % concurrency)
        while todo > 0:
            todo -= 1
            lat = int(rng.lognormvariate(13.8, 0.6))                  # ~1 ms median
            in_part = part[0] <= t < part[1]
            if in_part and rng.random() < 0.3:
                lat = int(rng.uniform(0.5e9, 1.5e9))                  # stalled by the partition
            end = t + max(lat, 1000)
            node = NODES[0] if t < failover_t else NODES[1]
            if rng.random() < 0.6:
                f, key = "add", f"s{rng.randrange(4)}"
                element += 1
                value: Any = element
                if not xss_done and in_part and t < failover_t:
                    value, xss_done = XSS, True
            else:
                f, key = ("read", "write")[rng.random() < 0.5], f"r{rng.randrange(3)}"
                value = None if f == "read" else rng.randrange(10)
            r = 0.0 if value == XSS else rng.random()
            typ = "ok"
            if in_part:
                typ = "ok" if r < 0.55 else "fail" if r < 0.8 else "info"
            elif r < 0.01:
                typ = "fail"
            elif r < 0.015:
                typ = "info"
            ok_value = rng.randrange(10) if f == "read" and typ == "ok" else value
            emit(t, {"process": pid, "type": "invoke", "f": f, "key": key, "value": value})
            done = {"process": pid, "type": typ, "f": f, "key": key,
                    "value": ok_value if typ == "ok" else value, "node": node}
            if typ == "fail":
                done["error"] = "NOREPLICAS Not enough good replicas to write."
            emit(end, done)
            rec = {"pid": pid, "f": f, "key": key, "value": value, "ok_value": ok_value,
                   "start": t, "end": end, "type": typ, "node": node}
            if f == "add" and typ == "ok":
                adds.append(rec)
            if key == "r1":
                reg_ops.append(rec)
            if typ == "info":
                pid = next_pid
                next_pid += 1
            t = end + int(rng.expovariate(1 / mean_gap)) + 1

    # Jepsen-style nemesis ops: an invoke when the nemesis begins to act, an info once done
    nem = [
        (part[0], "start-partition", {"shape": "isolate-primary", "groups": [["n1"], ["n2", "n3"]]}),
        (failover_t, "failover", {"new_primary": "n2"}),
        (part[1], "stop-partition", None),
        (int(dur * 0.6), "start-clock", {"offsets_ms": {"n3": 30000}, "why": XSS}),
        (int(dur * 0.7), "stop-clock", {"offsets_ms": {"n3": 0}}),
        (int(dur * 0.75), "clock-measure", {"offsets_ms": {"n1": 2, "n3": -1}}),
        (kill_t, "start-kill", {"nodes": ["n2"]}),
    ]
    for t, f, value in nem:
        emit(t - NEMESIS_ACT_NS, {"process": "nemesis", "type": "invoke", "f": f})
        emit(t, {"process": "nemesis", "type": "info", "f": f, "value": value})

    events.sort(key=lambda e: (e[0], e[1]))
    history = [{"index": index, "time": t, **op} for index, (t, s, op) in enumerate(events)]
    (run_dir / "history.jsonl").write_text("".join(json.dumps(op) + "\n" for op in history),
                                           encoding="utf-8")

    # (pid, start) -> invoke index, for the checker results
    by_start = {(op["process"], op["time"]): op["index"] for op in history if op["type"] == "invoke"}

    test = {
        "name": "sentinel-set-isolate-primary", "topology": "sentinel", "workload": "set",
        "nemesis": ["isolate-primary-with-clients", "failover", "kill"],
        "time_limit": int(duration_s), "concurrency": concurrency, "rate": 0,
        "redis_conf": {"min-replicas-to-write": "1", "appendonly": "yes"},
        "sentinel_conf": {"down-after-milliseconds": "5000"}, "wait": "1:100", "seed": seed,
        "versions": {"redis": "7.0.15", "splitbrain": "0.1.0", "redis-py": "5.0.1"},
        "host": "test-host", "argv": ["splitbrain", "run", "--topology", "sentinel",
                                      "--workload", "set", "--seed", str(seed),
                                      "--name", "it's <fine>"],
        "started": "2026-11-22T12:00:00Z",
    }
    (run_dir / "test.json").write_text(json.dumps(test, indent=2), encoding="utf-8")
    if not results:
        return run_dir

    # The final read: every acknowledged add but the lost ones (acknowledged by the old
    # primary during the partition; the XSS one always), plus one never attempted.
    lost = [a for a in adds if part[0] <= a["end"] < part[1] and a["node"] == NODES[0]]
    lost = {id(a) for a in lost if a["value"] == XSS or rng.random() < 0.5}
    sets: dict[str, list[Any]] = {f"s{i}": [] for i in range(4)}
    for a in adds:
        if id(a) not in lost:
            sets[a["key"]].append(a["value"])
    sets["s0"].append(999999)
    final = {"primary": {"node": NODES[1], "sets": sets}}
    (run_dir / "final.json").write_text(json.dumps(final), encoding="utf-8")
    checkers: dict[str, Any] = {"set": SetChecker().check(history, final, None).to_json()}
    checkers["linearizable"] = linearizable_result(reg_ops, part, by_start, linearizable_failure)
    checkers["stale-reads"] = CheckResult(
        "stale-reads", True, f"no stale reads; note {XSS}",
        [Figure("stale", 0, "stale reads", "int")],
        {"stale_count": 0, "note": XSS, "max_staleness_ms": 12.5}).to_json()
    if valid is None:
        valid = not (lost or linearizable_failure)
    res = {"valid": valid, "checkers": checkers, "stats": run_stats(history), "healed": True,
           "windows": {"sentinel_tilt": [{"node": "n2", "start": int(dur * 0.45),
                                          "end": int(dur * 0.55)}]}}
    (run_dir / "results.json").write_text(json.dumps(res, indent=1), encoding="utf-8")
    return run_dir


def linearizable_result(reg_ops: list[dict[str, Any]], part: tuple[int, int],
                        by_start: dict[tuple[Any, int], int], failure: bool) -> dict[str, Any]:
    """The linearizable checker's result: valid, or a counterexample on r1 (a read in the
    partition that returns a value the register does not hold), as CheckResult JSON."""
    if not failure:
        r = {"valid": True, "verdict": "linearizable", "model": "register", "keys_checked": 3,
             "ops_checked": len(reg_ops), "failures": [], "failed_keys": 0, "failed_key_names": [],
             "unknown_keys": [], "unchecked_keys": [], "time_s": 0.01}
    else:
        mid = [r for r in reg_ops if part[0] <= r["start"] < part[1] and r["type"] == "ok"]
        reads = [r for r in mid if r["f"] == "read"]
        bad = reads[len(reads) // 2] if reads else (mid or reg_ops)[0]
        lo, hi = bad["start"] - int(0.4e9), bad["end"] + int(0.2e9)
        window = [r for r in reg_ops if r["start"] <= hi and r["end"] >= lo]
        prefix = [r for r in window if r["end"] < bad["start"] and r["type"] != "fail"]
        writes = [r for r in prefix if r["f"] == "write" and r["type"] == "ok"]
        state = writes[-1]["value"] if writes else None
        r = {"valid": False, "verdict": "not-linearizable", "model": "register", "keys_checked": 3,
             "ops_checked": len(reg_ops), "failed_keys": 1, "failed_key_names": ["r1"],
             "unknown_keys": [], "unchecked_keys": [], "time_s": 0.02,
             "failures": [{
                 "key": "r1",
                 "prefix": [by_start[(r["pid"], r["start"])] for r in prefix],
                 "state_after_prefix": str(state) if state is not None else XSS,
                 "unplaceable": [{"index": by_start[(bad["pid"], bad["start"])],
                                  "process": bad["pid"], "f": bad["f"], "value": bad["ok_value"],
                                  "reason": f"read {bad['ok_value']}, but the register holds "
                                            f"{state if state is not None else XSS}"}],
                 "window": [by_start[(r["pid"], r["start"])] for r in window],
             }]}
    figures = [Figure("keys_checked", r["keys_checked"], "keys checked", "int"),
               Figure("failed_keys", r["failed_keys"], "keys not linearizable", "int", ("mean", "max")),
               Figure("time_s", r["time_s"], "check s", "s")]
    return CheckResult("linearizable", r["valid"], summary_of(r), figures,
                       {k: v for k, v in r.items() if k != "valid"}).to_json()


# ---------------------------------------------------------------------------------------
# headless Chromium, for tests/test_report_browser.py and bench/report_size.py

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def find_chromium() -> str | None:
    """Path of a chromium binary (CHROMIUM env var, then PATH), or None."""
    import os
    import shutil

    env = os.environ.get("CHROMIUM")
    if env and os.access(env, os.X_OK):
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(binary: str, profile: Path, url: str, *args: str,
                 timeout: float = 60) -> "subprocess.CompletedProcess[str]":
    """Run headless Chromium once on url with a throwaway profile; capture stdout/stderr."""
    import subprocess

    cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def js_errors(stderr: str) -> list[str]:
    """Console lines of uncaught JavaScript errors in Chromium's stderr log."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
