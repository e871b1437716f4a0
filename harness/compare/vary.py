"""`--vary`: the axes of a compare matrix, the cells they multiply into, and the spec
of each run of a cell.

Each `--vary` is one axis of the matrix; the cells are the product of all axes. An axis is
written in one of two ways:

* `KEY=V1,V2,...` — one setting, several values: `--vary appendfsync=everysec,always`,
  `--vary wait=0:0,1:100`, `--vary concurrency=5,20`.
* `ALT|ALT|...` — alternatives, each `default` (change nothing) or several settings joined
  with `+`: `--vary "default|min-replicas-to-write=1+min-replicas-max-lag=5|wait=1:100"`.
  (Only `nemesis` takes a `+`-joined list itself: `nemesis=partition+kill` is one value.)

KEY is `wait` (WAIT N TIMEOUT_MS after each write, `0:0` = none), a test-spec field with
`-` or `_` (`concurrency`, `time-limit`, `nemesis`, `topology`, ...), `sentinel.KEY` (a
Sentinel directive), `redis.KEY` or any other name (a redis.conf directive). Mistakes are
UsageErrors (exit 2) naming the axis.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import UsageError
from ..spec import DIRECTIVE, RANGES, TestSpec, check_setting, parse_wait

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
        raise UsageError(f"--vary {where}: {field.name} takes yes or no, not {text!r}")
    if field.name in RANGES:
        # the same ranges as the options of `run` (and the spec itself) take
        return RANGES[field.name].check(f"--vary {where}: {field.name.replace('_', '-')}", t)
    if isinstance(default, list):
        return [x.strip() for x in re.split(r"[+,]", t) if x.strip() and x.strip() != "none"]
    if not t:
        raise UsageError(f"--vary {where}: {field.name} needs a value")
    return t


def resolve_setting(key: str, text: str, where: str) -> Setting:
    """One `KEY=VALUE` of --vary → a Setting (UsageError with one line if bad)."""
    key = key.strip()
    if not key:
        raise UsageError(f"--vary {where}: missing KEY before '='")
    if key == "wait":
        try:
            return Setting("wait", "wait", parse_wait(text), text.strip())
        except UsageError as e:
            raise UsageError(f"--vary {where}: {e} (0:0 = no WAIT)") from None
    if key.startswith(("sentinel.", "redis.")):
        # the same check as --redis-conf and --sentinel-conf: a directive name, and a
        # value that cannot end its line of the configuration file
        kind, _, name = key.partition(".")
        check_setting(f"--vary {where}:", name, text.strip())
        return Setting(kind, name, text.strip(), text.strip())
    fields = _spec_fields()
    field_name = key.replace("-", "_")
    if field_name in NOT_VARIABLE:
        raise UsageError(f"--vary {where}: {key} cannot be varied: {NOT_VARIABLE[field_name]}")
    if field_name in fields:
        return Setting("spec", field_name, _convert(fields[field_name], text, where), text.strip())
    if not DIRECTIVE.fullmatch(key):
        raise UsageError(f"--vary {where}: {key!r} is neither wait, a test option, sentinel.KEY "
                         f"nor a redis.conf directive name")
    check_setting(f"--vary {where}:", key, text.strip())
    return Setting("redis", key, text.strip(), text.strip())


def parse_vary(text: str) -> list[tuple[Setting, ...]]:
    """One --vary axis → its alternatives, each a tuple of settings (empty = default)."""
    where = repr(text)
    if "|" in text:
        alts: list[tuple[Setting, ...]] = []
        for alt in text.split("|"):
            alt = alt.strip()
            if not alt:
                raise UsageError(f"--vary {where}: empty alternative between '|'")
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
                    raise UsageError(f"--vary {where}: {item.strip()!r} is not KEY=VALUE "
                                           f"(alternatives are 'default' or KEY=VALUE[+KEY=VALUE...])")
                settings.append(resolve_setting(key, value, where))
            keys = [(s.kind, s.key) for s in settings]
            if len(set(keys)) != len(keys):
                raise UsageError(f"--vary {where}: {alt!r} sets the same key twice")
            alts.append(tuple(settings))
    else:
        key, sep, values = text.partition("=")
        if not sep:
            raise UsageError(f"--vary {where}: expected KEY=V1,V2 or ALT|ALT "
                                   f"(e.g. --vary appendfsync=everysec,always)")
        parts = [v for v in values.split(",")]
        if not values.strip() or any(not v.strip() for v in parts):
            raise UsageError(f"--vary {where}: empty value in {values!r}")
        alts = [(resolve_setting(key, v, where),) for v in parts]
    labels = [" ".join(s.label for s in a) for a in alts]
    dup = {lab for lab in labels if labels.count(lab) > 1}
    if dup:
        raise UsageError(f"--vary {where}: {sorted(dup)[0] or 'default'!r} appears twice")
    return alts


def build_cells(varies: Iterable[str]) -> list[Cell]:
    axes = [parse_vary(v) for v in varies]
    seen: dict[tuple[str, str], str] = {}
    for v, axis in zip(varies, axes):
        for kk in {(s.kind, s.key) for alt in axis for s in alt}:
            if kk in seen and seen[kk] != v:
                raise UsageError(f"--vary: {kk[1]} is varied by two --vary options "
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

