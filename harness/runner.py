"""A run: setup → workload + nemesis for the time limit → heal → converge → final reads →
checkers → results directory → teardown.

Ctrl-C or SIGTERM during the workload ends the test early instead of throwing it away:
the workload and the nemesis stop, everything is healed, the deployment converges, the
final reads are taken and the checkers judge what was recorded (results.json says the
run was cut short). A second signal, or the first outside the workload, skips straight
to healing and teardown (verdict unknown, exit 4). Whatever happens after the topology
exists, the faults are healed, what is known is written and the containers are removed
(unless --keep).
"""

from __future__ import annotations

import json
import platform
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .analysis import judge, run_checkers, workload_for
from .compression import write_file
from .engine import docker_client
from .errors import EnvironmentProblem, SplitbrainError, UsageError
from .history import read_history
from .history_writer import HistoryWriter
from .junit import write_junit
from .nemesis import Nemesis, NemesisContext, build_faults, check_names
from .outcome import EXIT_FOR_VALID
from .report import build_report
from .rundir import FINAL, HISTORY
from .servers import describe_info
from .spec import TestSpec
from .stats import run_stats
from .topology import Topology, new_topology
from .workers import Workers, progress_loop


class Interrupted(BaseException):
    """A signal that ends the run now: heal, record and tear down as usual."""


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
    # The spec's name is one plain directory name (spec.check_name); this also refuses a
    # results/<name> that is a symlink leading elsewhere.
    if not (root.resolve() / spec.name / stamp).resolve().is_relative_to(root.resolve()):
        raise UsageError(f"test name {spec.name!r}: {root / spec.name} leads outside {root}")
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
    return v


class Run:
    def __init__(self, spec: TestSpec, out=sys.stderr, topology: Topology | None = None):
        """Validates everything before any side effect (the spec checked its own values
        when it was built). `topology`: run against one that is already up (benchmarks);
        it is then neither started nor removed by the run."""
        needs = workload_for(spec).services
        check_names(spec.nemesis, spec.topology)
        self.spec = spec
        self.out = out
        self.external = topology
        self.topo = topology or new_topology(spec.topology, spec.redis_conf, spec.sentinel_conf, needs,
                                             spec.server)
        self.phase = "setup"
        self.t0 = time.monotonic()
        self.nemesis: Nemesis | None = None
        self.workers: Workers | None = None
        self.cut_short: str | None = None     # the signal that ended the workload early
        self._cleaning = False

    # ------------------------------------------------------------ signals
    def _on_signal(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._cleaning:
            self.say(f"{name}: cleaning up, please wait (healing faults, removing containers)")
            return
        if self.phase == "workload" and self.cut_short is None:
            self.cut_short = name
            self.say(f"{name}: ending the workload early; healing, then checking what was recorded "
                     f"(again to skip the checks)")
            return
        raise Interrupted(name)

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", file=self.out, flush=True)

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
        if self.external is None:
            docker_client()   # no engine: say what to run, and leave no run directory behind
        run_dir = make_run_dir(spec)
        (run_dir / "logs").mkdir()
        test = spec.to_json()
        test.update({"project": self.topo.project, "host": platform.node(),
                     "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "versions": versions(), "run_dir": str(run_dir)})
        (run_dir / "test.json").write_text(json.dumps(test, indent=2))
        history = HistoryWriter(run_dir / HISTORY)
        results: dict[str, Any] = {"valid": "unknown", "checkers": {}, "stats": {}}
        try:
            self._phases(run_dir, history, results)
        except Interrupted as e:
            self._cleaning = True
            results["error"] = f"interrupted by {e}"
            self.say(f"interrupted by {e}: healing and tearing down")
        except SplitbrainError as e:
            results["error"] = str(e)
            self._finish(run_dir, history, results)
            raise
        except Exception as e:
            # Keep what went wrong before (e.g. "did not converge") beside what broke the run.
            results["error"] = "; ".join(filter(None, [results.get("error"), f"{type(e).__name__}: {e}"]))
            self._finish(run_dir, history, results)
            raise EnvironmentProblem(f"run failed: {type(e).__name__}: {e} (results in {run_dir})") from e
        self._finish(run_dir, history, results)
        return RunOutcome(run_dir, results["valid"], results)

    def _phases(self, run_dir: Path, history: HistoryWriter, results: dict[str, Any]) -> None:
        spec, topo = self.spec, self.topo
        self.say(f"starting {spec.topology} topology {topo.project}")
        took = 0.0 if self.external else topo.up(spec.converge_timeout)
        self.say(f"healthy in {took:.1f}s: {', '.join(f'{n.name}={n.ip}' for n in topo.nodes)}")
        info = self._snapshot_info(run_dir / "logs" / "info-before.json")
        self._record_server(run_dir / "test.json", info)
        workload = workload_for(spec, topo)
        ctx = NemesisContext(topo, history, random.Random(spec.seed + 1))
        self.nemesis = Nemesis(build_faults(spec.nemesis, ctx), ctx, spec.nemesis_interval,
                               spec.nemesis_overlap)
        self.workers = Workers(workload, topo, history, spec.concurrency, spec.rate, spec.client_timeout,
                               ctx.pauses)
        history.start_ns = time.monotonic_ns()
        self.phase = "workload"
        self.workers.start()
        threading.Thread(target=progress_loop, daemon=True, args=(
            self.workers.counters, self.workers.stop, self.out, self.t0,
            lambda: self.phase, lambda: self.nemesis.current if self.nemesis else "none")).start()
        self.nemesis.start()
        began = time.monotonic()
        deadline = began + spec.time_limit
        while time.monotonic() < deadline and self.cut_short is None:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            if self.nemesis.error:
                raise EnvironmentProblem(f"nemesis failed: {self.nemesis.error}")
        self.phase = "stopping workload"
        self.workers.finish()
        if self.cut_short:
            results["note"] = (f"cut short by {self.cut_short} after {time.monotonic() - began:.1f}s "
                               f"of {spec.time_limit:g}s of workload")
        self.phase = "heal"
        self._heal(results)
        self.phase = "converge"
        self.say("waiting for the topology to converge")
        try:
            t = time.monotonic()
            topo.wait_healthy(spec.converge_timeout)
            results["stats"]["converge_s"] = round(time.monotonic() - t, 2)
            self.say(f"converged in {results['stats']['converge_s']}s")
        except EnvironmentProblem as e:
            results["converged"] = False
            results["error"] = str(e)
            self.say(f"did not converge: {e}")
        self.phase = "final reads"
        final = workload.final_reads()
        write_file(run_dir / FINAL, json.dumps(final).encode())
        history.close()
        self.phase = "check"
        self.say("checking the history")
        ops = read_history(run_dir / HISTORY, allow_empty=True)
        judge(results, run_checkers(workload, ops, final, spec), ops)

    def _heal(self, results: dict[str, Any]) -> None:
        if self.nemesis is None or "healed" in results:
            return
        problems = self.nemesis.heal()
        results["healed"] = not problems
        if problems:
            results.setdefault("heal_problems", problems)
        for key, value in self.nemesis.findings().items():
            # Lists of {node, start, end} become shaded windows in the report.
            results.setdefault("windows" if isinstance(value, list) else "nemesis", {})[key] = value

    def _snapshot_info(self, path: Path) -> dict[str, dict]:
        info = {n.name: self.topo.info(n, "all") for n in self.topo.nodes}
        path.write_text(json.dumps(info, indent=1, default=str))
        return info

    def _record_server(self, test_json: Path, info: dict[str, dict]) -> None:
        """The server the nodes answered as (INFO server), into test.json: what a table
        of results names, so runs of two versions are never mixed silently. Nodes that
        disagree are all named."""
        seen = sorted({describe_info(i) for i in info.values() if isinstance(i, dict) and i})
        if not seen:
            return
        test = json.loads(test_json.read_text())
        test["server_version"] = " / ".join(seen)
        tmp = test_json.with_suffix(".tmp")
        tmp.write_text(json.dumps(test, indent=2))
        tmp.replace(test_json)
        self.say(f"server: {test['server_version']} ({self.spec.server})")

    def _finish(self, run_dir: Path, history: HistoryWriter, results: dict[str, Any]) -> None:
        """Stop everything, heal, collect logs, write results and report, tear down.
        Never raises."""
        self._cleaning = True
        self.phase = "teardown"
        if self.workers is not None:
            self.workers.finish()
        if self.nemesis is not None:
            self.nemesis.stop()
        steps = [("heal", lambda: self._heal(results)),
                 ("info snapshot", lambda: self._snapshot_info(run_dir / "logs" / "info-after.json")),
                 ("logs", lambda: self.topo.collect_logs(str(run_dir / "logs")))]
        for what, fn in steps:
            if not self.topo.nodes:
                break
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                self.say(f"{what} failed: {e}")
        history.close()
        if not results["stats"].get("ops"):
            try:
                results["stats"].update(run_stats(read_history(run_dir / HISTORY, allow_empty=True)))
            except Exception:  # noqa: BLE001 - stats of a broken history are not worth a crash
                pass
        (run_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        for what, fn in (("report", lambda: build_report(run_dir)),
                         ("junit.xml", lambda: write_junit(run_dir, results))):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - the results are written; these are views
                self.say(f"{what} not written: {type(e).__name__}: {e}")
        if self.external is not None:
            return
        if self.spec.keep:
            self.say(f"kept topology {self.topo.project} (remove with: splitbrain down {self.topo.project})")
            return
        try:
            self.topo.down()
        except Exception as e:  # noqa: BLE001
            self.say(f"teardown failed ({e}): run 'splitbrain down --all'")
