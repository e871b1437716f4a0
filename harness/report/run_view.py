"""One run's files read back for the report, leniently, and `RunView`: what a checker's
`view(result, run)` gets to look at (the ops, the fault windows, and a few helpers).

Nothing here fails on a missing or damaged file: each problem becomes a warning the page
shows, and the verdict of a run whose results are missing is unknown.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..compression import CompressedDataError, open_decompressed
from ..history import OP_TYPES, HistoryError, Operation, pair_ops, read_history
from ..rundir import history_file
from ..templating import number, seconds, short
from . import opwindow
from .faults import fault_text, sec, windows_and_events


def load_json(path: Path) -> tuple[Any, str | None]:
    """(the JSON in path, None) or (None, what is wrong with it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except (OSError, ValueError) as e:
        return None, f"{path.name} could not be read: {e}"
    except RecursionError:
        return None, f"{path.name} could not be read: nested too deep"


#: A line longer than this is not an op (the fallback reader skips it unread).
MAX_LINE = 1 << 20


def _lines(fh: Any) -> Iterable[str | None]:
    """The file's lines, None for each line too long to be an op (skipped, not held)."""
    while True:
        line = fh.readline(MAX_LINE)
        if not line:
            return
        if len(line) >= MAX_LINE and not line.endswith("\n"):
            while line and not line.endswith("\n"):
                line = fh.readline(MAX_LINE)
            yield None
            continue
        yield line


def plausible_op(op: Any) -> bool:
    """An op the report can place: a JSON object with a known type, a string f, an integer
    or string process and, if any, a numeric time."""
    if not isinstance(op, dict) or op.get("type") not in OP_TYPES or not isinstance(op.get("f"), str):
        return False
    process, t = op.get("process"), op.get("time", 0)
    return (isinstance(process, (int, str)) and not isinstance(process, bool)
            and isinstance(t, (int, float)) and not isinstance(t, bool))


def load_history(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The history's ops and a warning if it is missing or malformed (then every line
    that parses into a plausible op is kept)."""
    if not path.exists():
        return [], f"{path.name} is missing"
    try:
        return read_history(path, allow_empty=True), None
    except HistoryError as e:
        strict_error = str(e)
    except Exception as e:  # noqa: BLE001 - the page still shows what can be read
        strict_error = f"{type(e).__name__}: {e}"
    ops: list[dict[str, Any]] = []
    skipped = 0
    try:
        with io.TextIOWrapper(io.BufferedReader(open_decompressed(path)), encoding="utf-8",
                              errors="replace") as fh:
            for line in _lines(fh):
                if line is None or not line.strip():
                    skipped += line is None
                    continue
                try:
                    op = json.loads(line)
                except (ValueError, RecursionError):
                    skipped += 1
                    continue
                if plausible_op(op):
                    ops.append(op)
                else:
                    skipped += 1
    except (OSError, CompressedDataError) as e:    # damaged: what came before it is kept
        return ops, f"{path.name} could not be read to its end: {e}"
    return ops, (f"the history is malformed ({strict_error}); the report shows the "
                 f"{len(ops)} lines that could be read ({skipped} skipped)")


def time_s(t: Any) -> float | None:
    """A history time (ns) in seconds; None if it is not a finite number."""
    f = number(t)
    return None if f is None else f / 1e9


def plausible_end_s(times_s: list[float], test: dict[str, Any]) -> float:
    """The latest time (s) an op of this run can have: twice the time limit plus an hour
    (draining, healing), or, without a usable time limit, ten times the 99th percentile
    of the times plus an hour. A time beyond it (e.g. 9e18 ns) is damage, and would
    stretch every chart over centuries."""
    limit = test.get("time_limit")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and 0 < limit < 1e9:
        return 2.0 * limit + 3600.0
    if not times_s:
        return 3600.0
    q = sorted(abs(t) for t in times_s)[int(0.99 * (len(times_s) - 1))]
    return 10.0 * q + 3600.0


class RunView:
    """A run as the report sees it. Attributes:

    test, results   test.json and results.json (empty dicts if missing)
    history         the ops as dicts; `ops` the client ops paired (`history.Operation`),
                    `by_index` those by their invoke's index
    windows         fault windows [{name, start, end, detail, stop_detail, open, color}]
                    and `events` [{name, time, detail, color}], in seconds
    t_end           the last time in the history, in seconds
    warnings        what is missing or damaged, for the page
    """

    OP_COLUMNS = ["index", "process", "f", "invoked with", "type", "returned", "invoked",
                  "completed", "node"]

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.warnings: list[str] = []
        test, err = load_json(self.run_dir / "test.json")
        if err:
            self.warnings.append(err)
        self.test: dict[str, Any] = test if isinstance(test, dict) else {}
        results, err = load_json(self.run_dir / "results.json")
        if err:
            self.warnings.append(err + " — the run did not finish checking; the verdict is unknown")
        self.results: dict[str, Any] = results if isinstance(results, dict) else {}
        self.history, err = load_history(history_file(self.run_dir))
        if err:
            self.warnings.append(err)
        for pos, op in enumerate(self.history):
            # ops are looked up by index: one that is not an integer is numbered by its line
            if type(op.get("index", 0)) is not int:
                op["index"] = pos
        self.ops: list[Operation] = pair_ops(self.history)
        self.by_index: dict[Any, Operation] = {o.invoke_index: o for o in self.ops}
        times = [t for t in (time_s(op.get("time")) for op in self.history) if t is not None]
        self.horizon = plausible_end_s(times, self.test)
        within = [t for t in times if abs(t) <= self.horizon]
        self.t_end: float = round(max(within), 4) if within else 0.0
        #: The client ops the charts and latency table show: those with plausible times.
        self.chart_ops: list[Operation] = [o for o in self.ops if self.placeable(o)]
        far = sum(1 for op in self.history if "time" in op) - len(within)
        if far:
            self.warnings.append(
                f"{far} op{'s' if far > 1 else ''} with a time that is not a number or lies beyond "
                f"the run's plausible end "
                f"({self.horizon:,.0f}s): the charts and the latency table leave "
                f"{len(self.ops) - len(self.chart_ops)} client ops out")
        self.windows, self.events = windows_and_events(self.history, self.results.get("windows"),
                                                       self.t_end, self.horizon)
        self._charts_made = 0  # chart ids are unique across the page's checkers

    def placeable(self, o: Operation) -> bool:
        """The op's start and end (if any) are times within the run."""
        start, end = time_s(o.start), time_s(o.end)
        return (start is not None and abs(start) <= self.horizon
                and (o.end is None or (end is not None and abs(end) <= self.horizon)))

    # ------------------------------------------------------------------ helpers for views

    @staticmethod
    def seconds(t_ns: Any) -> float | None:
        """A history time (ns) in seconds; None if it is not a time."""
        return sec(t_ns, None)

    @staticmethod
    def time_text(t_ns: Any) -> str:
        """A history time (ns) as "12.345s" ("—" if none)."""
        return seconds(sec(t_ns, None))

    short = staticmethod(short)

    def fault_at(self, t_s: float | None) -> str:
        """The faults in force at t (seconds), or the last one before it and how long ago."""
        return fault_text(t_s, self.windows)

    def op(self, index: Any) -> Operation | None:
        """The client op whose invoke has this index."""
        return self.by_index.get(index)

    def op_rows(self, indices: Iterable[Any], extra: Mapping[Any, Any] | None = None) -> list[list[Any]]:
        """Table rows (OP_COLUMNS, plus `extra[index]` if given) of the ops with these indices."""
        rows = []
        for i in indices:
            o = self.by_index.get(i)
            if o is None:
                continue
            row = [i, o.process, o.f, short(o.invoke_value), o.type, short(o.value),
                   self.time_text(o.start), self.time_text(o.end), o.node]
            if extra is not None:
                row.append(extra.get(i, ""))
            rows.append(row)
        return rows

    def op_window(self, core: Iterable[Any], key: Any = None, numbered: Sequence[Any] = (),
                  flagged: Mapping[Any, str] | None = None,
                  legend: Mapping[str, str] | None = None, title: str = "") -> dict[str, Any]:
        """A "window of ops" chart around the ops `core` (invoke indices): see
        `report.opwindow`. Put it in view()'s "charts" and place it with `h.chart(c)`."""
        self._charts_made += 1
        return opwindow.op_window(f"chart-{self._charts_made}", self.by_index, self.ops, core,
                                  key, numbered, flagged, legend, title)

    def xy_chart(self, title: str, x_label: str, y_label: str, series: Sequence[Mapping[str, Any]],
                 mode: str = "markers", time_axis: bool = True) -> dict[str, Any]:
        """An "xy" chart: `series` [{name, x: [...], y: [...]}] drawn as markers or lines.
        With `time_axis`, x is seconds since the run started and the chart shades the fault
        windows like the timeline's. Put it in view()'s "charts"; place it with `h.chart(c)`."""
        self._charts_made += 1
        return {"kind": "xy", "id": f"chart-{self._charts_made}", "title": title,
                "x_label": x_label, "y_label": y_label, "mode": mode, "time_axis": time_axis,
                "series": [{"name": str(s.get("name")), "x": list(s.get("x") or []),
                            "y": list(s.get("y") or [])} for s in series]}
