"""A run: setup → workload + nemesis for the time limit → heal → converge → final reads →
checkers → results directory → teardown.

Whatever happens after the topology exists — Ctrl-C, SIGTERM, an exception, a topology that
never converges — the faults are healed, what is known is written (verdict "unknown" where
a checker could not run), and the containers are removed (unless --keep).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import __version__
from .checkers import CHECKERS, combine
from .clients import Session, classify
from .errors import EnvironmentProblem, SplitbrainError, UsageError
from .history import HistoryWriter, read_history
from .image import node_image_versions
from .nemesis import Nemesis, NemesisContext
from .nemesis.partition import active_rules
from .spec import TestSpec
from .topology import Topology
from .workloads import WORKLOADS

EXIT_FOR_VALID = {True: 0, False: 1, "unknown": 4}


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM: stop the run, then heal, record and tear down as usual."""


@dataclass
class Counters:
    ok: int = 0
    fail: int = 0
    info: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)

    @property
    def total(self) -> int:
        return self.ok + self.fail + self.info


@dataclass
class RunOutcome:
    run_dir: Path
    valid: bool | str
    results: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return EXIT_FOR_VALID.get(self.valid, 4)


def make_run_dir(spec: TestSpec) -> Path:
    root = Path(spec.results_dir)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")[:-4] + "Z"
    run_dir = root / spec.name / stamp
    run_dir.mkdir(parents=True, exist_ok=False)
    latest = root / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.relative_to(root), target_is_directory=True)
    except OSError:
        pass
    return run_dir


def versions() -> dict[str, str]:
    v = {"splitbrain": __version__, "python": platform.python_version()}
    try:
        v["redis-py"] = metadata.version("redis")
    except metadata.PackageNotFoundError:
        pass
    v.update(node_image_versions())
    return v


class Run:
    def __init__(self, spec: TestSpec, out=sys.stderr, topology: Topology | None = None):
        """`topology`: run against one that is already up (benchmarks); it is then neither
        started nor removed by the run."""
        if spec.workload not in WORKLOADS:
            raise UsageError(f"unknown workload {spec.workload!r}: choose from {', '.join(WORKLOADS)}")
        from .nemesis import NEMESES
        unknown = [n for n in spec.nemesis if n not in NEMESES]
        if unknown:
            raise UsageError(f"unknown nemesis {', '.join(unknown)}: choose from {', '.join(sorted(NEMESES))}")
        self.spec = spec
        self.out = out
        self.phase = "setup"
        self.t0 = time.monotonic()
        self.counters = Counters()
        self.stop_workers = threading.Event()
        self.nemesis: Nemesis | None = None
        self.interrupted: str | None = None
        self._cleaning = False
        self._next_process = spec.concurrency
        self._plock = threading.Lock()
        self.external = topology

    # ------------------------------------------------------------ signals
    def _on_signal(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._cleaning:
            self.say(f"{name}: cleaning up, please wait (healing faults, removing containers)")
            return
        self.interrupted = name
        raise Interrupted(name)

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", file=self.out, flush=True)

    # ------------------------------------------------------------ workers
    def _new_process(self) -> int:
        with self._plock:
            p = self._next_process
            self._next_process += 1
            return p

    def _run_workers(self, workload, history: HistoryWriter) -> None:
        """The workers: one asyncio task per logical process, on one event loop (thread)."""
        asyncio.run(self._workers(workload, history))

    async def _workers(self, workload, history: HistoryWriter) -> None:
        spec = self.spec
        tasks = [asyncio.create_task(self._worker(p, workload, history)) for p in range(spec.concurrency)]
        while not self.stop_workers.is_set():
            await asyncio.sleep(0.05)
        # Ops in flight get their socket timeout to finish; an op still open after that is
        # left as an invoke without completion, which reads as info.
        _, pending = await asyncio.wait(tasks, timeout=spec.client_timeout * 4 + 2)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _worker(self, process: int, workload, history: HistoryWriter) -> None:
        spec = self.spec
        gap = spec.concurrency / spec.rate if spec.rate > 0 else 0.0
        session = Session(self.topo, spec.client_timeout)
        next_at = time.monotonic()
        try:
            while not self.stop_workers.is_set():
                if gap:
                    next_at += gap
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        if self.stop_workers.is_set():
                            break
                op = workload.next_op()
                history.append({"process": process, "type": "invoke", **op})
                try:
                    value, node = await workload.apply(session, op)
                    done = {"process": process, "type": "ok", "f": op["f"], "key": op["key"],
                            "value": value, "node": node}
                except Exception as e:  # noqa: BLE001 - every outcome goes into the history
                    try:
                        kind, err = classify(e)
                    except Exception:  # noqa: BLE001 - never lose a worker to a classifier bug
                        kind, err = "info", f"{type(e).__name__}: {e}"
                    done = {"process": process, "type": kind, "f": op["f"], "key": op["key"],
                            "value": op["value"], "error": err}
                history.append(done)
                self.counters.add(done["type"])
                if done["type"] == "info":
                    # An op of unknown outcome leaves its process hanging forever (Jepsen): a
                    # fresh process, with fresh connections, takes its place.
                    await session.close()
                    process = self._new_process()
                    session = Session(self.topo, spec.client_timeout)
        finally:
            await session.close()

    def _progress(self) -> None:
        last_n, last_t = 0, time.monotonic()
        tty = hasattr(self.out, "isatty") and self.out.isatty()
        every = 1.0 if tty else 5.0
        while not self.stop_workers.wait(every):
            now = time.monotonic()
            c = self.counters
            rate = (c.total - last_n) / (now - last_t)
            last_n, last_t = c.total, now
            fault = self.nemesis.current if self.nemesis else "none"
            line = (f"[{now - self.t0:6.1f}s] {self.phase}: {rate:7.0f} ops/s  ok {c.ok}  "
                    f"fail {c.fail}  info {c.info}  fault: {fault}")
            print(("\r" + line + "\033[K") if tty else line, end="" if tty else "\n",
                  file=self.out, flush=True)
        if tty:
            print(file=self.out)

    # ------------------------------------------------------------ the run
    def execute(self) -> RunOutcome:
        # Installed for the whole run, teardown included: a second Ctrl-C must not leak.
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._execute()
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _execute(self) -> RunOutcome:
        spec = self.spec
        run_dir = make_run_dir(spec)
        (run_dir / "logs").mkdir()
        self.topo = self.external or Topology.new(spec.topology, spec.redis_conf, spec.sentinel_conf)
        test = spec.to_json()
        test.update({"project": self.topo.project, "host": platform.node(),
                     "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "versions": versions(), "run_dir": str(run_dir)})
        (run_dir / "test.json").write_text(json.dumps(test, indent=2))
        history = HistoryWriter(run_dir / "history.jsonl")
        results: dict[str, Any] = {"valid": "unknown", "checkers": {}, "stats": {}}
        final: dict[str, Any] | None = None
        try:
            self.say(f"starting {spec.topology} topology {self.topo.project}")
            took = 0.0 if self.external else self.topo.up(spec.converge_timeout)
            self.say(f"healthy in {took:.1f}s: {', '.join(f'{n.name}={n.ip}' for n in self.topo.nodes)}")
            self._snapshot_info(run_dir / "logs" / "info-before.json")
            rng = random.Random(spec.seed)
            workload = WORKLOADS[spec.workload](spec, self.topo, rng)
            self.nemesis = Nemesis(spec.nemesis, NemesisContext(self.topo, history, random.Random(spec.seed + 1)),
                                   spec.nemesis_interval, spec.nemesis_overlap)
            history.start_ns = time.monotonic_ns()
            self.phase = "workload"
            workers = threading.Thread(target=self._run_workers, args=(workload, history), daemon=True,
                                       name="workers")
            workers.start()
            progress = threading.Thread(target=self._progress, daemon=True)
            progress.start()
            self.nemesis.start()
            deadline = time.monotonic() + spec.time_limit
            while time.monotonic() < deadline:
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                if self.nemesis.error:
                    raise EnvironmentProblem(f"nemesis failed: {self.nemesis.error}")
            self.stop_workers.set()
            workers.join(timeout=spec.client_timeout * 4 + 10)
            self._cleaning = True
            self.phase = "heal"
            self._heal(results)
            self.phase = "converge"
            self.say("waiting for the topology to converge")
            try:
                t = time.monotonic()
                self.topo.wait_healthy(spec.converge_timeout)
                results["stats"]["converge_s"] = round(time.monotonic() - t, 2)
                self.say(f"converged in {results['stats']['converge_s']}s")
            except EnvironmentProblem as e:
                results["converged"] = False
                results["error"] = str(e)
                self.say(f"did not converge: {e}")
            self.phase = "final reads"
            final = workload.final_reads()
            (run_dir / "final.json").write_text(json.dumps(final))
            history.close()
            self.phase = "check"
            self.say("checking the history")
            ops = read_history(run_dir / "history.jsonl")
            spec_ns = SimpleNamespace(model=getattr(workload, "model", None),
                                      check_time_limit=spec.check_time_limit)
            for name in workload.checkers:
                try:
                    results["checkers"][name] = CHECKERS[name](ops, final, spec_ns)
                except Exception as e:  # noqa: BLE001 - a broken checker is "unknown", not a crash
                    results["checkers"][name] = {"valid": "unknown", "error": f"{type(e).__name__}: {e}"}
            results["valid"] = combine(results["checkers"])
            if results.get("converged") is False and results["valid"] is True:
                results["valid"] = "unknown"
            results["stats"].update(run_stats(ops))
        except Interrupted as e:
            self._cleaning = True
            self.stop_workers.set()
            results["error"] = f"interrupted by {e}"
            self.say(f"interrupted by {e}: healing and tearing down")
        except SplitbrainError as e:
            self._cleaning = True
            self.stop_workers.set()
            results["error"] = str(e)
            self._finish(run_dir, history, results)
            raise
        except Exception as e:
            self._cleaning = True
            self.stop_workers.set()
            results["error"] = f"{type(e).__name__}: {e}"
            self._finish(run_dir, history, results)
            raise EnvironmentProblem(f"run failed: {type(e).__name__}: {e} (results in {run_dir})") from e
        self._finish(run_dir, history, results)
        return RunOutcome(run_dir, results["valid"], results)

    def _heal(self, results: dict[str, Any]) -> None:
        if self.nemesis is None or "healed" in results:
            return
        problems = self.nemesis.heal()
        left = active_rules(self.topo) if self.topo.nodes else {}
        if left:
            problems.append(f"rules left: {left}")
        results["healed"] = not problems
        if problems:
            results.setdefault("heal_problems", problems)
        for key, value in self.nemesis.findings().items():
            # Lists of {node, start, end} become shaded windows in the report.
            results.setdefault("windows" if isinstance(value, list) else "nemesis", {})[key] = value

    def _snapshot_info(self, path: Path) -> None:
        snap = {}
        for n in self.topo.nodes:
            snap[n.name] = self.topo.info(n, "all")
        path.write_text(json.dumps(snap, indent=1, default=str))

    def _finish(self, run_dir: Path, history: HistoryWriter, results: dict[str, Any]) -> None:
        """Heal, collect logs, write results and report, tear down. Never raises."""
        self._cleaning = True
        self.phase = "teardown"
        steps = [
            ("heal", lambda: self._heal(results)),
            ("info snapshot", lambda: self._snapshot_info(run_dir / "logs" / "info-after.json")),
            ("logs", lambda: self.topo.collect_logs(str(run_dir / "logs"))),
        ]
        for what, fn in steps:
            if not self.topo.nodes:
                break
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                self.say(f"{what} failed: {e}")
        history.close()
        if "stats" in results and not results["stats"].get("ops"):
            try:
                results["stats"].update(run_stats(read_history(run_dir / "history.jsonl")))
            except Exception:  # noqa: BLE001
                pass
        (run_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        try:
            from .report import build_report
            build_report(run_dir)
        except Exception as e:  # noqa: BLE001 - the results are written; the page is a view
            self.say(f"report not built: {type(e).__name__}: {e}")
        try:
            from .junit import write_junit
            write_junit(run_dir, results)
        except ImportError:
            pass
        except Exception as e:  # noqa: BLE001
            self.say(f"junit.xml not written: {e}")
        if self.external is not None:
            pass
        elif not self.spec.keep:
            try:
                self.topo.down()
            except Exception as e:  # noqa: BLE001
                self.say(f"teardown failed ({e}): run 'splitbrain down --all'")
        else:
            self.say(f"kept topology {self.topo.project} (remove with: splitbrain down {self.topo.project})")


def run_stats(ops: list[dict]) -> dict[str, Any]:
    """Counts, rates, latency quantiles and availability during faults, from the history."""
    from .checkers.set_full import fault_windows
    from .history import pair_ops
    paired = pair_ops(ops)
    if not paired:
        return {"ops": 0}
    duration = (max(o.end or o.start for o in paired) - min(o.start for o in paired)) / 1e9
    by_type = {t: sum(1 for o in paired if o.type == t) for t in ("ok", "fail", "info")}
    lat = sorted((o.end - o.start) / 1e6 for o in paired if o.type == "ok" and o.end is not None)

    def q(p: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None

    windows = fault_windows(ops)
    during = [o for o in paired if any(w["start"] <= o.start <= w["end"] for w in windows)]
    stats = {"ops": len(paired), **by_type, "duration_s": round(duration, 2),
             "ops_per_s": round(len(paired) / duration, 1) if duration > 0 else None,
             "latency_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": lat[-1] if lat else None},
             "availability": round(by_type["ok"] / len(paired), 4),
             "faults": len(windows)}
    if during:
        stats["availability_during_faults"] = round(sum(1 for o in during if o.type == "ok") / len(during), 4)
    # Time to failover: from a fault's start to the first ok from another node than before.
    for w in windows:
        before = [o.node for o in paired if o.type == "ok" and o.end is not None and o.end < w["start"] and o.node]
        if not before:
            continue
        old = before[-1]
        after = [o for o in paired if o.type == "ok" and o.node and o.node != old and o.start >= w["start"]]
        if after:
            stats.setdefault("failover_s", round((after[0].end - w["start"]) / 1e9, 2))
    return stats
