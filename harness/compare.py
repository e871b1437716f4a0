"""`splitbrain compare`: run a matrix of settings and put the answers side by side.

    splitbrain compare -t sentinel -n isolate-primary-with-clients --time-limit 30 \\
        --vary "default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100|wait=2:100" \\
        --repeat 3

Each `--vary` is one axis of the matrix; the cells are the product of all axes. An axis is
written in one of two ways:

* `KEY=V1,V2,...` — one setting, several values: `--vary appendfsync=everysec,always`,
  `--vary wait=0:0,1:100`, `--vary concurrency=5,20`.
* `ALT|ALT|...` — alternatives, each `default` (change nothing) or several settings joined
  with `+`: `--vary "default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100"`.
  (Only `nemesis` takes a `+`-joined list itself: `nemesis=partition+kill` is one value.)

KEY is `wait` (WAIT N TIMEOUT_MS after each write, `0:0` = none), a test-spec field with
`-` or `_` (`concurrency`, `time-limit`, `nemesis`, `topology`, ...), `sentinel.KEY` (a
Sentinel directive), `redis.KEY` or any other name (a redis.conf directive).

Repeat i of every cell uses seed `--seed + i` (the same seed sequence for every cell), and
repeats go round the cells (repeat 0 of every cell, then repeat 1, ...) so that a slow
drift of the machine spreads over all cells. Runs are written under
`results/compare/<UTC stamp>/<cell>/<run stamp>/`, next to `compare.csv` (one row per
cell), `runs.csv` (one row per run), `compare.html`, `junit.xml` and `compare.json`.
`--from DIR` rebuilds all of them from finished runs, grouping runs by the settings in
their test.json.

Exit codes (`--fail-on`, see `exit_code_for`): `anomaly` (default) 1 if any run was
invalid; `lost` 1 if any run lost acknowledged writes; `never` 0; every mode gives 3 when
the harness failed (and no anomaly was found, for `lost`/`anomaly`) and 4 for undecided
verdicts where they matter.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import itertools
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import click

FAIL_ON = ("anomaly", "lost", "never")

#: test.json keys that say nothing about the configuration being measured.
NOT_SETTINGS = {"seed", "name", "results_dir", "argv", "keep", "project", "host", "started",
                "versions", "run_dir"}
#: TestSpec fields `--vary` may not touch (and why).
NOT_VARIABLE = {
    "seed": "the seed varies with --repeat (repeat i uses --seed + i)",
    "name": "compare names each cell's runs itself",
    "results_dir": "compare puts runs under its own directory",
    "argv": "argv is recorded, not set",
    "keep": "a kept topology would block the next run",
    "redis_conf": "vary a redis.conf directive by its own name, e.g. --vary appendfsync=everysec,always",
    "sentinel_conf": "vary a Sentinel directive as sentinel.KEY, e.g. --vary sentinel.down-after-milliseconds=1000,5000",
}
_REDIS_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
#: Fields whose value is a list ("a+b") inside a `+`-joined bundle.
LIST_KEYS = {"nemesis"}


# ======================================================================= --vary parsing

@dataclass(frozen=True)
class Setting:
    kind: str    # "spec" (a TestSpec field), "wait", "redis" or "sentinel"
    key: str     # the field / directive name
    value: Any   # converted value to apply
    text: str    # as typed (for labels)

    @property
    def label(self) -> str:
        shown = {"spec": self.key.replace("_", "-"), "wait": "wait", "redis": self.key,
                 "sentinel": f"sentinel.{self.key}"}[self.kind]
        return f"{shown}={self.text}"


@dataclass
class Cell:
    index: int
    settings: tuple[Setting, ...]

    @property
    def label(self) -> str:
        return " ".join(s.label for s in self.settings) or "default"

    @property
    def name(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", ".", self.label.replace(" ", "+")).strip(".")
        return f"c{self.index + 1}-{slug[:60] or 'default'}"


def _spec_fields() -> dict[str, dataclasses.Field]:
    from .spec import TestSpec
    return {f.name: f for f in dataclasses.fields(TestSpec)}


def _convert(field: dataclasses.Field, text: str, where: str) -> Any:
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    t = text.strip()
    if isinstance(default, bool):
        low = t.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise click.UsageError(f"--vary {where}: {field.name} takes yes or no, not {text!r}")
    if isinstance(default, int):
        try:
            return int(t)
        except ValueError:
            raise click.UsageError(f"--vary {where}: {field.name} takes a whole number, not {text!r}") from None
    if isinstance(default, float):
        try:
            return float(t)
        except ValueError:
            raise click.UsageError(f"--vary {where}: {field.name} takes a number, not {text!r}") from None
    if isinstance(default, list):
        return [x.strip() for x in re.split(r"[+,]", t) if x.strip() and x.strip() != "none"]
    if not t:
        raise click.UsageError(f"--vary {where}: {field.name} needs a value")
    return t


def resolve_setting(key: str, text: str, where: str) -> Setting:
    """One `KEY=VALUE` of --vary → a Setting (click.UsageError with one line if bad)."""
    from .errors import UsageError
    from .spec import parse_wait
    key = key.strip()
    if not key:
        raise click.UsageError(f"--vary {where}: missing KEY before '='")
    if key == "wait":
        try:
            return Setting("wait", "wait", parse_wait(text), text.strip())
        except UsageError as e:
            raise click.UsageError(f"--vary {where}: wait {text!r}: expected REPLICAS:TIMEOUT_MS, "
                                   f"e.g. wait=1:100 (0:0 = no WAIT)") from e
    if key.startswith("sentinel."):
        name = key[len("sentinel."):]
        if not _REDIS_KEY.fullmatch(name):
            raise click.UsageError(f"--vary {where}: {key!r} is not a Sentinel directive name")
        return Setting("sentinel", name, text.strip(), text.strip())
    if key.startswith("redis."):
        name = key[len("redis."):]
        if not _REDIS_KEY.fullmatch(name):
            raise click.UsageError(f"--vary {where}: {key!r} is not a redis.conf directive name")
        return Setting("redis", name, text.strip(), text.strip())
    fields = _spec_fields()
    field_name = key.replace("-", "_")
    if field_name in NOT_VARIABLE:
        raise click.UsageError(f"--vary {where}: {key} cannot be varied: {NOT_VARIABLE[field_name]}")
    if field_name in fields:
        return Setting("spec", field_name, _convert(fields[field_name], text, where), text.strip())
    if not _REDIS_KEY.fullmatch(key):
        raise click.UsageError(f"--vary {where}: {key!r} is neither wait, a test option, sentinel.KEY "
                               f"nor a redis.conf directive name")
    if "\n" in text:
        raise click.UsageError(f"--vary {where}: a value may not contain a newline")
    return Setting("redis", key, text.strip(), text.strip())


def parse_vary(text: str) -> list[tuple[Setting, ...]]:
    """One --vary axis → its alternatives, each a tuple of settings (empty = default)."""
    where = repr(text)
    if "|" in text:
        alts: list[tuple[Setting, ...]] = []
        for alt in text.split("|"):
            alt = alt.strip()
            if not alt:
                raise click.UsageError(f"--vary {where}: empty alternative between '|'")
            if alt == "default":
                alts.append(())
                continue
            settings = []
            items: list[str] = []
            for piece in alt.split("+"):
                # "nemesis=partition+kill": a piece without "=" continues a list-valued field
                if "=" not in piece and items and items[-1].partition("=")[0].strip() in LIST_KEYS:
                    items[-1] += "+" + piece
                else:
                    items.append(piece)
            for item in items:
                key, sep, value = item.partition("=")
                if not sep:
                    raise click.UsageError(f"--vary {where}: {item.strip()!r} is not KEY=VALUE "
                                           f"(alternatives are 'default' or KEY=VALUE[+KEY=VALUE...])")
                settings.append(resolve_setting(key, value, where))
            keys = [(s.kind, s.key) for s in settings]
            if len(set(keys)) != len(keys):
                raise click.UsageError(f"--vary {where}: {alt!r} sets the same key twice")
            alts.append(tuple(settings))
    else:
        key, sep, values = text.partition("=")
        if not sep:
            raise click.UsageError(f"--vary {where}: expected KEY=V1,V2 or ALT|ALT "
                                   f"(e.g. --vary appendfsync=everysec,always)")
        parts = [v for v in values.split(",")]
        if not values.strip() or any(not v.strip() for v in parts):
            raise click.UsageError(f"--vary {where}: empty value in {values!r}")
        alts = [(resolve_setting(key, v, where),) for v in parts]
    labels = [" ".join(s.label for s in a) for a in alts]
    dup = {lab for lab in labels if labels.count(lab) > 1}
    if dup:
        raise click.UsageError(f"--vary {where}: {sorted(dup)[0] or 'default'!r} appears twice")
    return alts


def build_cells(varies: Iterable[str]) -> list[Cell]:
    axes = [parse_vary(v) for v in varies]
    seen: dict[tuple[str, str], str] = {}
    for v, axis in zip(varies, axes):
        for kk in {(s.kind, s.key) for alt in axis for s in alt}:
            if kk in seen and seen[kk] != v:
                raise click.UsageError(f"--vary: {kk[1]} is varied by two --vary options "
                                       f"({seen[kk]!r} and {v!r}); put its values in one")
            seen[kk] = v
    return [Cell(i, tuple(s for alt in combo for s in alt))
            for i, combo in enumerate(itertools.product(*axes))] if axes else [Cell(0, ())]


def apply_cell(base, cell: Cell, **overrides):
    """A TestSpec for one run of `cell` (TestSpec validates it; UsageError if it refuses)."""
    redis_conf = dict(base.redis_conf)
    sentinel_conf = dict(base.sentinel_conf)
    changes: dict[str, Any] = {}
    for s in cell.settings:
        if s.kind == "redis":
            redis_conf[s.key] = s.value
        elif s.kind == "sentinel":
            sentinel_conf[s.key] = s.value
        elif s.kind == "wait":
            changes["wait"] = s.value
        else:
            changes[s.key] = s.value
    return dataclasses.replace(base, redis_conf=redis_conf, sentinel_conf=sentinel_conf,
                               **changes, **overrides)


def validate_spec(spec) -> None:
    """Refuse (UsageError) what a run would refuse, before the first run starts: TestSpec
    already checked its fields; the runner checks workload and nemesis, the topology its kind."""
    from .runner import Run
    from .topology import Topology
    Run(spec)
    Topology.new(spec.topology, spec.redis_conf, spec.sentinel_conf)


def run_argv(spec) -> list[str]:
    """The `splitbrain run` command line that repeats one run of a spec exactly."""
    a = ["splitbrain", "run", "-t", spec.topology, "-w", spec.workload,
         "--nemesis", ",".join(spec.nemesis) or "none", "--nemesis-interval", f"{spec.nemesis_interval:g}",
         "--time-limit", f"{spec.time_limit:g}", "--concurrency", str(spec.concurrency),
         "--rate", f"{spec.rate:g}", "--keys", str(spec.keys), "--client-timeout", f"{spec.client_timeout:g}"]
    if spec.nemesis_overlap:
        a.append("--nemesis-overlap")
    for k, v in spec.redis_conf.items():
        a += ["--redis-conf", f"{k}={v}"]
    for k, v in spec.sentinel_conf.items():
        a += ["--sentinel-conf", f"{k}={v}"]
    if spec.wait:
        a += ["--wait", f"{spec.wait[0]}:{spec.wait[1]}"]
    a += ["--seed", str(spec.seed), "--name", spec.name, "--results-dir", spec.results_dir]
    return a


# ======================================================================= loading runs

def settings_of(test: dict[str, Any]) -> dict[str, Any]:
    """The configuration a run measured: its test.json without seed, name, host, ..."""
    return {k: v for k, v in test.items() if k not in NOT_SETTINGS}


def settings_key(test: dict[str, Any]) -> str:
    return json.dumps(settings_of(test), sort_keys=True, default=str)


def flat_settings(test: dict[str, Any]) -> dict[str, str]:
    """Settings as `KEY -> text` the way --vary names them (redis.conf keys bare)."""
    out: dict[str, str] = {}
    for k, v in settings_of(test).items():
        if k == "redis_conf":
            out.update({str(kk): str(vv) for kk, vv in (v or {}).items()})
        elif k == "sentinel_conf":
            out.update({f"sentinel.{kk}": str(vv) for kk, vv in (v or {}).items()})
        elif k == "nemesis":
            out["nemesis"] = "+".join(v or []) or "none"
        elif v is not None:
            text = v if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else json.dumps(v)
            out[k.replace("_", "-")] = text
    return out


def difference_labels(tests: list[dict[str, Any]]) -> list[str]:
    """A short label per configuration: the settings that differ between them."""
    flats = [flat_settings(t) for t in tests]
    keys: list[str] = []
    for f in flats:
        for k in f:
            if k not in keys and len({fl.get(k) for fl in flats}) > 1:
                keys.append(k)
    return [" ".join(f"{k}={f[k]}" for k in keys if k in f) or "default" for f in flats]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def find_run_dirs(root: Path) -> list[Path]:
    """Every directory under root with a test.json (symlinks such as `latest` not followed)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))
                             and d != "logs")
        if "test.json" in filenames:
            out.append(Path(dirpath))
            dirnames[:] = []
    return out


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def load_run(run_dir: Path, error: str | None = None) -> dict[str, Any]:
    """One run's figures as a flat row (None where the run did not produce one)."""
    run_dir = Path(run_dir)
    test = _read_json(run_dir / "test.json") or {}
    results = _read_json(run_dir / "results.json")
    row: dict[str, Any] = {"run_dir": str(run_dir), "name": test.get("name"), "seed": test.get("seed"),
                           "started": test.get("started"), "topology": test.get("topology"),
                           "workload": test.get("workload"),
                           "nemesis": "+".join(test.get("nemesis") or []) or "none",
                           "settings_key": settings_key(test), "test": test}
    if results is None:
        row.update(valid="error", harness_failed=True, error=error or "no results.json (the harness failed)")
        return row
    st = results.get("stats") or {}
    s = (results.get("checkers") or {}).get("set") or {}
    lat = st.get("latency_ms") or {}
    err = error or results.get("error")
    valid = results.get("valid")
    row.update(
        valid={True: "true", False: "false"}.get(valid, "unknown"),
        harness_failed=bool(err) and valid is not False,
        error=err,
        attempted=_num(s.get("attempt_count", st.get("ops"))),
        acknowledged=_num(s.get("acknowledged_count", st.get("ok"))),
        lost=_num(s.get("lost_count")),
        lost_rate=_num(s.get("lost_rate")),
        set_valid=s.get("valid") if s else None,
        has_set=bool(s),
        availability=_num(st.get("availability_during_faults")),
        availability_all=_num(st.get("availability")),
        p50_ms=_num(lat.get("p50")),
        p99_ms=_num(lat.get("p99")),
        failover_s=_num(st.get("failover_s")),
        ops_per_s=_num(st.get("ops_per_s")),
        report=str(run_dir / "report.html") if (run_dir / "report.html").exists() else None,
    )
    return row


# ======================================================================= exit codes

def exit_code_for(fail_on: str, runs: Iterable[dict[str, Any]]) -> int:
    """Exit code of `--fail-on` over runs (rows of `load_run`, or `run_facts(results)`).

    A run "failed in the harness" when it raised, has no results.json, or its results carry
    an error (interrupted, did not converge) and no anomaly was found.
      anomaly: 1 if any run is invalid; else 3 if the harness failed; else 4 if any verdict
               is unknown; else 0 (for one run: the exit code of `run` without --fail-on).
      lost:    1 if any run lost acknowledged writes; else 3 if the harness failed; else 4 if
               a set checker could not decide; else 0.
      never:   3 if the harness failed, else 0.
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}")
    runs = list(runs)
    harness = any(r.get("harness_failed") for r in runs)
    if fail_on == "anomaly" and any(r.get("valid") == "false" for r in runs):
        return 1
    if fail_on == "lost" and any((r.get("lost") or 0) > 0 for r in runs):
        return 1
    if harness:
        return 3
    if fail_on == "anomaly" and any(r.get("valid") != "true" for r in runs):
        return 4
    if fail_on == "lost" and any(r.get("has_set") and r.get("lost") is None for r in runs):
        return 4
    return 0


def run_facts(results: dict[str, Any] | None) -> dict[str, Any]:
    """The facts `exit_code_for` needs from one results dict (None: the harness failed)."""
    if results is None:
        return {"valid": "error", "harness_failed": True}
    s = (results.get("checkers") or {}).get("set") or {}
    valid = results.get("valid")
    return {"valid": {True: "true", False: "false"}.get(valid, "unknown"),
            # An interrupted run has an unknown verdict (exit 4), not a harness failure.
            "harness_failed": (bool(results.get("error")) and valid is not False
                               and not str(results["error"]).startswith("interrupted")),
            "lost": _num(s.get("lost_count")), "has_set": bool(s)}


def run_exit_code(outcome, fail_on: str = "anomaly") -> int:
    """For `splitbrain run --fail-on`: sys.exit(run_exit_code(outcome, o["fail_on"]))."""
    return exit_code_for(fail_on, [run_facts(outcome.results)])


fail_on_option = click.option(
    "--fail-on", type=click.Choice(FAIL_ON), default="anomaly", show_default=True,
    help="Exit 1 when: anomaly = any run invalid; lost = any run lost acknowledged writes; "
         "never = only harness failures give a non-zero exit (3).")


# ======================================================================= the table

CELL_COLUMNS = ["cell", "setting", "runs", "invalid", "unknown", "harness_failed", "attempted",
                "acknowledged", "lost_mean", "lost_max", "lost_rate_mean", "availability_mean",
                "latency_p50_ms", "latency_p99_ms", "failover_s_mean"]


def group_runs(rows: list[dict[str, Any]], known: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows → cells [{cell, setting, key, rows}] grouped by settings (ordered, labelled).

    `known` (compare.json's cells: name, label, key) names and orders the cells a compare
    run planned; other groups get a label from the settings that differ between groups.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["settings_key"], []).append(r)
    known_by_key = {c["key"]: c for c in (known or [])}
    cells = []
    derived = difference_labels([g[0]["test"] for g in groups.values()])
    for (key, g), label in zip(groups.items(), derived):
        k = known_by_key.get(key)
        names = {r.get("name") for r in g}
        cells.append({"key": key, "rows": sorted(g, key=lambda r: (r.get("seed") or 0, r["run_dir"])),
                      "setting": k["label"] if k else label,
                      "cell": k["name"] if k else (names.pop() if len(names) == 1 and None not in names else ""),
                      "order": (k["index"], "") if k else (1 << 30, min(str(r.get("started") or r["run_dir"]) for r in g))})
    cells.sort(key=lambda c: c["order"])
    for i, c in enumerate(cells):
        c["cell"] = c["cell"] or f"c{i + 1}"
    return cells


def cell_table(cells: list[dict[str, Any]]):
    """One row per cell (pandas DataFrame with CELL_COLUMNS)."""
    import pandas as pd
    out = []
    for c in cells:
        df = pd.DataFrame(c["rows"])
        for col in ("attempted", "acknowledged", "lost", "lost_rate", "availability", "p50_ms", "p99_ms",
                    "failover_s"):
            if col not in df:
                df[col] = None
            df[col] = pd.to_numeric(df[col], errors="coerce")

        def m(col: str, fn: str = "mean") -> float | None:
            v = getattr(df[col].dropna(), fn)() if df[col].notna().any() else None
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

        out.append({"cell": c["cell"], "setting": c["setting"], "runs": len(df),
                    "invalid": int((df["valid"] == "false").sum()),
                    "unknown": int((df["valid"] == "unknown").sum()),
                    "harness_failed": int(df.get("harness_failed", pd.Series(dtype=bool)).fillna(False).astype(bool).sum()),
                    "attempted": m("attempted"), "acknowledged": m("acknowledged"),
                    "lost_mean": m("lost"), "lost_max": m("lost", "max"),
                    "lost_rate_mean": m("lost_rate"), "availability_mean": m("availability"),
                    "latency_p50_ms": m("p50_ms"), "latency_p99_ms": m("p99_ms"),
                    "failover_s_mean": m("failover_s")})
    return pd.DataFrame(out, columns=CELL_COLUMNS)


def _f(v: Any, kind: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if kind == "pct":
        return f"{v:.2%}"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "s":
        return f"{v:.2f}"
    if kind == "ms":
        return f"{v:.3g}" if v < 100 else f"{v:.0f}"
    return str(v)


DISPLAY = [("setting", "setting", ""), ("runs", "runs", ""), ("invalid", "invalid", ""),
           ("attempted", "attempted (mean)", "int"), ("acknowledged", "acknowledged (mean)", "int"),
           ("lost_mean", "lost (mean)", "int"), ("lost_max", "lost (max)", "int"),
           ("lost_rate_mean", "lost rate (mean)", "pct"),
           ("availability_mean", "availability in faults", "pct"),
           ("latency_p50_ms", "p50 ms", "ms"), ("latency_p99_ms", "p99 ms", "ms"),
           ("failover_s_mean", "failover s", "s")]


def markdown_table(table) -> str:
    def cell(v: Any, kind: str) -> str:
        return _f(v, kind).replace("|", "\\|")
    lines = ["| " + " | ".join(h for _, h, _ in DISPLAY) + " |",
             "|" + "|".join("---" if k == "" and c == "setting" else "---:" for c, _, k in DISPLAY) + "|"]
    for rec in table.to_dict("records"):
        lines.append("| " + " | ".join(cell(rec[c], k) if c != "setting" else f"`{cell(rec[c], k)}`"
                                       for c, _, k in DISPLAY) + " |")
    return "\n".join(lines)


def write_csv(table, path: Path) -> None:
    table.to_csv(path, index=False)


def write_runs_csv(cells: list[dict[str, Any]], path: Path) -> None:
    cols = ["cell", "setting", "seed", "valid", "harness_failed", "attempted", "acknowledged", "lost",
            "lost_rate", "availability", "p50_ms", "p99_ms", "failover_s", "error", "run_dir"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for c in cells:
            for r in c["rows"]:
                w.writerow([c["cell"], c["setting"], *(r.get(k) for k in cols[2:])])


# ======================================================================= compare.html

def esc(v: Any) -> str:
    return html.escape(v if isinstance(v, str) else str(v), quote=True)


def bar_chart_svg(table) -> str:
    """Inline SVG: per cell, a bar for the mean lost rate and one for availability in faults."""
    recs = table.to_dict("records")
    row_h, bar_h, left, width = 34, 12, 330, 420
    height = 30 + row_h * len(recs) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{left + width + 80}" '
             f'height="{height}" role="img" aria-label="lost rate and availability per cell">',
             f'<rect x="{left}" y="4" width="10" height="10" fill="#c62828"/>'
             f'<text x="{left + 14}" y="13" font-size="11">lost rate (mean)</text>'
             f'<rect x="{left + 130}" y="4" width="10" height="10" fill="#1565c0"/>'
             f'<text x="{left + 144}" y="13" font-size="11">availability during faults (mean)</text>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + tick * width
        parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 8}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{height}" font-size="10" text-anchor="middle">{tick:.0%}</text>')
    for i, r in enumerate(recs):
        y = 28 + i * row_h
        label = str(r["setting"])
        parts.append(f'<text x="{left - 6}" y="{y + bar_h + 3}" font-size="11" text-anchor="end">'
                     f'<title>{esc(r["cell"] + ": " + label)}</title>'
                     f'{esc(label if len(label) <= 52 else label[:50] + "…")}</text>')
        for j, (col, colour) in enumerate((("lost_rate_mean", "#c62828"), ("availability_mean", "#1565c0"))):
            v = r[col]
            yy = y + j * (bar_h + 2)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                parts.append(f'<text x="{left + 4}" y="{yy + 10}" font-size="10" fill="#777">n/a</text>')
                continue
            w = max(0.0, min(1.0, v)) * width
            parts.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                         f'<title>{esc(f"{col}: {v:.2%}")}</title></rect>'
                         f'<text x="{left + w + 4:.1f}" y="{yy + 10}" font-size="10">{esc(f"{v:.2%}")}</text>')
    parts.append("</svg>")
    return "".join(parts)


PAGE_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}code{background:#f6f6f6;padding:0 3px}
.v-true{background:#e3f4e3}.v-false{background:#fbe0e0}.v-unknown,.v-error{background:#fff3cd}
.chart text{font-family:system-ui,sans-serif}"""


def _rel(path: str | None, base: Path) -> str | None:
    if not path:
        return None
    try:
        return os.path.relpath(Path(path).resolve(), base.resolve())
    except ValueError:
        return None


def compare_html(table, cells: list[dict[str, Any]], out_dir: Path, meta: dict[str, Any]) -> str:
    head = "".join(f'<th class="{"l" if c == "setting" else ""}">{esc(h)}</th>' for c, h, _ in DISPLAY)
    body = []
    for rec in table.to_dict("records"):
        body.append("<tr>" + "".join(
            f'<td class="l"><code>{esc(rec[c])}</code></td>' if c == "setting" else f"<td>{esc(_f(rec[c], k))}</td>"
            for c, _, k in DISPLAY) + "</tr>")
    runs = []
    for c in cells:
        for r in c["rows"]:
            rel = _rel(r.get("report"), out_dir)
            link = f'<a href="{esc(rel)}">report</a>' if rel else "no report"
            runs.append(f'<tr class="v-{esc(r.get("valid"))}"><td class="l">{esc(c["cell"])}</td>'
                        f'<td class="l"><code>{esc(c["setting"])}</code></td><td>{esc(r.get("seed"))}</td>'
                        f'<td class="l">{esc(r.get("valid"))}</td><td>{esc(_f(r.get("lost"), "int"))}</td>'
                        f'<td>{esc(_f(r.get("acknowledged"), "int"))}</td>'
                        f'<td>{esc(_f(r.get("lost_rate"), "pct"))}</td>'
                        f'<td>{esc(_f(r.get("availability"), "pct"))}</td>'
                        f'<td class="l">{link}</td><td class="l">{esc(r.get("error") or "")}</td></tr>')
    common = esc(meta.get("command") or "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>splitbrain compare</title>
<style>{PAGE_CSS}</style></head><body>
<h1>splitbrain compare</h1>
<p>{esc(meta.get("summary") or "")}</p>
{f"<p>command: <code>{common}</code></p>" if common else ""}
<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
{bar_chart_svg(table)}
<h2>Runs</h2>
<table><thead><tr><th class="l">cell</th><th class="l">setting</th><th>seed</th><th class="l">verdict</th>
<th>lost</th><th>acknowledged</th><th>lost rate</th><th>availability in faults</th><th class="l">report</th>
<th class="l">error</th></tr></thead><tbody>{"".join(runs)}</tbody></table>
<p>lost = acknowledged adds missing from the final read; availability in faults = ok / completed ops
that started inside a fault window; failover s = from a fault's start to the first ok from another node.</p>
</body></html>
"""


def write_outputs(out_dir: Path, cells: list[dict[str, Any]], meta: dict[str, Any]):
    """compare.csv, runs.csv, compare.html and junit.xml in out_dir; returns the table."""
    from .junit import write_compare_junit
    table = cell_table(cells)
    write_csv(table, out_dir / "compare.csv")
    write_runs_csv(cells, out_dir / "runs.csv")
    (out_dir / "compare.html").write_text(compare_html(table, cells, out_dir, meta), encoding="utf-8")
    write_compare_junit(out_dir / "junit.xml", cells)
    return table


def rebuild(dir_: Path) -> tuple[Any, list[dict[str, Any]]]:
    """`compare --from DIR`: the table from finished runs under DIR (outputs written to DIR)."""
    dir_ = Path(dir_)
    meta = _read_json(dir_ / "compare.json") or {}
    failed = {str(Path(f["run_dir"]).resolve()): f["error"] for f in meta.get("failures", []) if f.get("run_dir")}
    rows = [load_run(d, failed.get(str(d.resolve()))) for d in find_run_dirs(dir_)]
    if not rows:
        raise click.UsageError(f"--from {dir_}: no runs (directories with a test.json) under it")
    cells = group_runs(rows, meta.get("cells"))
    table = write_outputs(dir_, cells, {"command": meta.get("command"),
                                        "summary": f"{len(rows)} runs in {len(cells)} configurations, from {dir_}"})
    return table, cells


# ======================================================================= the command

def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def run_matrix(base, cells: list[Cell], repeat: int, out_dir: Path, echo: Callable[[str], None],
               verbose: bool = False) -> tuple[list[dict[str, Any]], bool]:
    """Run every cell `repeat` times; returns (rows of load_run, interrupted)."""
    from .errors import SplitbrainError
    from .runner import Run
    # Build (and so validate) every spec before the first run starts.
    plan = []
    for i in range(repeat):
        for cell in cells:
            spec = apply_cell(base, cell, seed=base.seed + i, name=cell.name, results_dir=str(out_dir))
            spec.argv = run_argv(spec)
            plan.append((cell, i, spec))
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    t_all = time.monotonic()
    interrupted = False
    try:
        for n, (cell, i, spec) in enumerate(plan, 1):
            t0 = time.monotonic()
            echo(f"[{t0 - t_all:7.1f}s] run {n}/{len(plan)} start: {cell.name} ({cell.label}) seed {spec.seed}")
            row, error = _one_run(Run, SplitbrainError, cell, spec, out_dir, verbose)
            rows.append(row)
            if error:
                failures.append({"run_dir": row["run_dir"] or None, "cell": cell.name, "error": error})
            verdict = {"true": "VALID", "false": "INVALID", "unknown": "UNKNOWN"}.get(row["valid"], "ERROR")
            lost = (f"lost {row['lost']:.0f} of {row['acknowledged']:.0f} acknowledged"
                    if row.get("lost") is not None and row.get("acknowledged") is not None else "")
            echo(f"[{time.monotonic() - t_all:7.1f}s] run {n}/{len(plan)} done in {time.monotonic() - t0:.1f}s: "
                 f"{cell.name} seed {spec.seed}: {verdict}{'; ' + lost if lost else ''}"
                 f"{'; ' + str(row.get('error')) if row.get('error') else ''}")
            _write_plan(out_dir, cells, base, repeat, failures)
            if str(row.get("error") or "").startswith("interrupted"):
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        echo("interrupted: writing the table of the finished runs")
        interrupted = True
    return rows, interrupted


def _one_run(Run, SplitbrainError, cell: Cell, spec, out_dir: Path, verbose: bool):
    """One run of the matrix → (row, harness error or None); its chatter goes to logs/."""
    cell_dir = out_dir / cell.name
    before = set(cell_dir.iterdir()) if cell_dir.exists() else set()
    log_path = out_dir / "logs" / f"{cell.name}-seed{spec.seed}.log"
    log_path.parent.mkdir(exist_ok=True)
    error = None
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            run_dir = Run(spec, out=sys.stderr if verbose else log).execute().run_dir
        except SplitbrainError as e:
            error = str(e)
            print(f"harness failed: {e}", file=log)
            new = sorted(set(cell_dir.iterdir()) - before) if cell_dir.exists() else []
            run_dir = new[-1] if new else None
    if run_dir is None:
        return ({"run_dir": "", "name": cell.name, "seed": spec.seed, "valid": "error", "harness_failed": True,
                 "error": error, "settings_key": settings_key(spec.to_json()), "test": spec.to_json()}, error)
    return load_run(run_dir, error), error


def _write_plan(out_dir: Path, cells: list[Cell], base, repeat: int, failures: list[dict[str, Any]]) -> None:
    doc = {"command": " ".join(_quote(a) for a in base.argv),
           "repeat": repeat, "seed": base.seed,
           "cells": [{"index": c.index, "name": c.name, "label": c.label,
                      "settings": [s.label for s in c.settings],
                      "key": settings_key(apply_cell(base, c, seed=base.seed).to_json())} for c in cells],
           "failures": failures}
    (out_dir / "compare.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")


def _quote(a: str) -> str:
    import shlex
    return shlex.quote(a)


def _compare(ctx: click.Context, **o) -> None:
    from cli import spec_from_options
    from .errors import UsageError
    fail_on = o.pop("fail_on")
    varies = o.pop("vary")
    repeat = o.pop("repeat")
    from_dir = o.pop("from_dir")
    verbose = o.pop("verbose")
    echo = lambda s: click.echo(s, err=True)  # noqa: E731 - progress goes to stderr
    if repeat < 1:
        raise click.UsageError("--repeat must be at least 1")
    if from_dir:
        if varies:
            raise click.UsageError("--from rebuilds finished runs: it takes no --vary")
        table, cells = rebuild(Path(from_dir))
        click.echo(markdown_table(table))
        echo(f"wrote {Path(from_dir) / 'compare.csv'}, compare.html, runs.csv, junit.xml")
        ctx.exit(exit_code_for(fail_on, [r for c in cells for r in c["rows"]]))
    cells = build_cells(varies)
    out_dir = Path(o["results_dir"]) / "compare" / _stamp()
    argv = ["splitbrain", "compare", *sys.argv[2:]]
    try:
        base = spec_from_options(argv, **o)
        for cell in cells:
            validate_spec(apply_cell(base, cell))
    except UsageError as e:
        raise click.UsageError(str(e)) from None
    out_dir.mkdir(parents=True, exist_ok=False)
    echo(f"compare: {len(cells)} cells x {repeat} repeats = {len(cells) * repeat} runs "
         f"(seeds {base.seed}..{base.seed + repeat - 1}) into {out_dir}")
    _write_plan(out_dir, cells, base, repeat, [])
    rows, interrupted = run_matrix(base, cells, repeat, out_dir, echo, verbose)
    meta = _read_json(out_dir / "compare.json") or {}
    grouped = group_runs(rows, meta.get("cells")) if rows else []
    table = write_outputs(out_dir, grouped, {"command": meta.get("command"),
                                             "summary": f"{len(rows)} runs, {len(cells)} cells, "
                                                        f"{repeat} repeats; {out_dir}"})
    click.echo(markdown_table(table))
    echo(f"wrote {out_dir / 'compare.csv'}, compare.html, runs.csv, junit.xml")
    code = exit_code_for(fail_on, rows)
    ctx.exit(3 if interrupted and code == 0 else code)


def make_compare_command() -> click.Command:
    """Build the click command (imports cli's run_options when called, not at import time,
    so cli.py can import this module at its top without a circular import)."""
    from cli import run_options

    @click.command("compare")
    @run_options
    @click.option("--vary", multiple=True, metavar="KEY=V1,V2 | ALT|ALT",
                  help="An axis of the matrix (repeatable): KEY=V1,V2 or "
                       "\"default|k=v+k2=v2|wait=1:100\". KEY: wait, a run option (concurrency, "
                       "time-limit, nemesis, ...), sentinel.KEY, or a redis.conf directive.")
    @click.option("--repeat", default=1, show_default=True, help="Runs per cell (repeat i uses --seed + i).")
    @click.option("--from", "from_dir", type=click.Path(exists=True, file_okay=False), default=None,
                  help="Rebuild the table from finished runs under DIR instead of running.")
    @click.option("--verbose", "-v", is_flag=True, help="Show each run's own progress (default: logs/ of the compare).")
    @fail_on_option
    @click.pass_context
    def compare(ctx: click.Context, **o) -> None:
        """Run a matrix of settings (--vary) and put the answers side by side.

        \b
        splitbrain compare -t sentinel -n isolate-primary-with-clients --time-limit 30 \\
          --vary "default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100|wait=2:100" \\
          --repeat 3

        Writes results/compare/<stamp>/ (compare.csv, runs.csv, compare.html, junit.xml and
        the runs) and prints a Markdown table on stdout.
        """
        _compare(ctx, **o)

    return compare


def __getattr__(name: str) -> Any:
    # `from harness.compare import compare_command` builds the command on first use.
    if name == "compare_command":
        cmd = make_compare_command()
        globals()["compare_command"] = cmd
        return cmd
    raise AttributeError(name)
