"""The interfaces of the roles a run glues together (after Jepsen): workload, fault,
checker. Topologies have theirs in `harness.topology.base`.

Each is a small ABC: a new workload, fault or checker subclasses one, is registered by
one line in its package's `__init__` (or, in a test, by one assignment into the
registry dict), and nothing else in the harness names it. The runner, the CLI, `compare`,
JUnit and the report only call what is declared here, and render what a checker returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # only for annotations: roles sits below every module it names
    from .spec import TestSpec

Verdict = Any  # True, False or "unknown"


# ------------------------------------------------------------------------ checker results

@dataclass
class Figure:
    """One number a checker measured, as `compare` tabulates it.

    `aggregate` says which statistics over the runs of a cell are meaningful
    ("mean", "max", "min", "sum"); `format` how to show it: "int", "pct", "ms", "s" or "".
    """

    name: str
    value: float | int | None
    label: str = ""
    format: str = ""
    aggregate: tuple[str, ...] = ("mean",)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["aggregate"] = list(self.aggregate)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Figure":
        return cls(str(d.get("name")), d.get("value"), str(d.get("label") or d.get("name")),
                   str(d.get("format") or ""), tuple(d.get("aggregate") or ("mean",)))


@dataclass
class JUnitCase:
    """One JUnit testcase: status "passed", "failure" (an anomaly) or "error" (undecided)."""

    name: str
    status: str
    message: str = ""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckResult:
    """What a checker returns, and what results.json keeps under checkers.<name>.

    `valid`: True, False or "unknown". `summary`: one line for the terminal and the
    report's banner. `figures`: the numbers `compare` tabulates. `details`: everything
    else the checker found (anomalies, counterexamples), for results.json and its report
    section. `junit`: its testcases; by default one, named after the checker.
    `explanation`: one anomaly in words, a few lines, for the terminal under the summary.
    """

    checker: str
    valid: Verdict
    summary: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    junit: list[JUnitCase] | None = None
    explanation: str = ""

    def junit_cases(self) -> list[JUnitCase]:
        if self.junit is not None:
            return self.junit
        status = {True: "passed", False: "failure"}.get(self.valid, "error")
        return [JUnitCase(self.checker, status, "" if status == "passed" else self.summary)]

    def figure(self, name: str) -> Any:
        return next((f.value for f in self.figures if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"checker": self.checker, "valid": self.valid, "summary": self.summary,
                "figures": [f.to_json() for f in self.figures],
                "junit": [c.to_json() for c in self.junit_cases()],
                "details": self.details, "explanation": self.explanation}

    @classmethod
    def from_json(cls, name: str, d: Any) -> "CheckResult":
        """Read back what `to_json` wrote (tolerant: a damaged entry reads as unknown)."""
        if not isinstance(d, dict):
            return cls(name, "unknown", f"unreadable result: {str(d)[:80]}")
        valid = d.get("valid")
        junit = d.get("junit")
        return cls(
            str(d.get("checker") or name),
            valid if valid is True or valid is False else "unknown",   # 1 == True to Python
            str(d.get("summary") or ""),
            [Figure.from_json(f) for f in d.get("figures") or [] if isinstance(f, dict)],
            d.get("details") if isinstance(d.get("details"), dict) else {},
            [JUnitCase(str(c.get("name")), str(c.get("status")), str(c.get("message") or ""),
                       str(c.get("detail") or "")) for c in junit if isinstance(c, dict)]
            if isinstance(junit, list) else None,
            d.get("explanation") if isinstance(d.get("explanation"), str) else "")

    @classmethod
    def crashed(cls, name: str, error: str) -> "CheckResult":
        """A checker that raised: its verdict is unknown, never a crash of the run."""
        return cls(name, "unknown", f"checker failed: {error}", details={"error": error})


# ------------------------------------------------------------------------ checker

class Checker(ABC):
    """Was this history allowed? One instance per configuration (e.g. a model).

    `template`: the Jinja2 source of its section of the report. It is rendered with
    `result` (the CheckResult), `view` (what `view()` returned) and the report's helpers
    (see `harness.report`); the default shows the figures and details generically.
    """

    name: ClassVar[str] = "checker"
    template: ClassVar[str | None] = None
    #: The names of the figures its results carry (what `--fail-on FIGURE` may name).
    figures: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def check(self, history: list[dict[str, Any]], final: dict[str, Any] | None,
              spec: "TestSpec") -> CheckResult:
        """Judge the history (ops as dicts) given the final reads and the whole spec."""

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        """Extra context for the report template, computed from the run's ops
        (`run` is a `harness.report.RunView`). Optional."""
        return {}


def combine(results: dict[str, CheckResult]) -> Verdict:
    """Overall verdict: False if any checker found an anomaly, else "unknown" if any could
    not decide (or none ran), else True (ARCHITECTURE.md)."""
    vals = [r.valid for r in results.values()]
    if any(v is False for v in vals):
        return False
    if not vals or any(v is not True for v in vals):
        return "unknown"
    return True


# ------------------------------------------------------------------------ workload

class Workload(ABC):
    """Which ops clients issue, how one is applied through a client session, what the
    deployment holds at the end, and which checkers judge it.

    One instance per run. `next_op` is called from the event loop's single thread;
    `apply` is a coroutine run by each worker with its own `clients.Session`.
    """

    name: ClassVar[str] = "workload"
    #: Services it needs beside the topology's nodes (e.g. "resource": a Redis no fault
    #: touches, reached as `topology.resource`).
    services: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: "TestSpec", topology: Any, rng: Any):
        self.spec = spec
        self.topo = topology
        self.rng = rng

    @abstractmethod
    def next_op(self, process: int) -> dict[str, Any]:
        """The next op `process` invokes: {"f": ..., "key": ..., "value": ...}. (A workload
        whose ops depend on what the same process saw, e.g. acknowledging what it
        received, keeps that state per process: `apply` sees it as `session.process`.)"""

    @abstractmethod
    async def apply(self, session: Any, op: dict[str, Any]) -> tuple[Any, str]:
        """Run `op`; return (the ok value, the node that answered) or raise: an exception
        is classified by `harness.replies.classify` into fail or info."""

    def final_reads(self) -> dict[str, Any]:
        """After healing and convergence: what the deployment holds (final.json)."""
        return {}

    @abstractmethod
    def checkers(self) -> list[Checker]:
        """The checkers that judge this workload's histories (configured for it)."""


# ------------------------------------------------------------------------ fault

class Fault(ABC):
    """One kind of fault the nemesis injects. Built as `Fault(ctx, name)` where `name` is
    the `--nemesis` name that chose it (a shape, a target, ...).

    `kind` names its history ops (`start-<kind>`, `stop-<kind>`) and is the unit of the
    overlap rules: two faults of one kind are never active at once, and `heal` runs once
    per kind.
    """

    kind: ClassVar[str] = "fault"
    #: The topologies it applies to (empty: all); another is refused before the run starts.
    topologies: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: Any, name: str):
        self.ctx = ctx
        self.name = name

    @abstractmethod
    def start(self) -> dict[str, Any]:
        """Inject one instance; return once it is in force, with what was done."""

    @abstractmethod
    def stop(self) -> dict[str, Any]:
        """Undo the instance `start` made; return what was done."""

    @abstractmethod
    def heal(self) -> None:
        """Undo every trace of this kind of fault, idempotently; safe at any time (end of
        run, Ctrl-C, SIGTERM, errors). Raise if something could not be undone."""

    def describe(self) -> str:
        """A few words for the progress line while the fault is active."""
        return self.name

    def findings(self) -> dict[str, Any]:
        """What the fault observed (called once per kind after healing). Lists of
        {"node", "start", "end"} become shaded windows in the report."""
        return {}
