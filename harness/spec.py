"""The test spec: one plain dataclass that says everything a run does (saved as test.json),
and the one place its values are checked.

A spec is refused (UsageError, exit 2, one line naming the option) when it is built, so
every way of making one — the options of `run` and `compare`, a `--vary` cell, a run's
test.json read back by `check` — is checked the same way before anything happens:
numbers finite and in range (`RANGES`), settings that cannot inject a line into a
configuration file (`check_setting`), a name that stays inside the results directory.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import UsageError
from .servers import DEFAULT_SERVER, server as server_named

DAY = 86_400.0


@dataclass(frozen=True)
class Range:
    """The values a numeric option takes: finite, from `low` (excluded if `above`) to
    `high`; whole numbers only if `integer`; 0 besides if `zero` (e.g. --rate 0 = none)."""

    low: float
    high: float
    integer: bool = False
    above: bool = False
    zero: bool = False
    unit: str = ""

    def describe(self) -> str:
        lo = "positive" if self.above and self.low == 0 else \
            f"above {_num(self.low)}" if self.above else f"at least {_num(self.low)}"
        text = f"{lo} and at most {_num(self.high)}" + (f" {self.unit}" if self.unit else "")
        text += " (a whole number)" if self.integer else ""
        return f"0 or {text}" if self.zero else text

    def check(self, option: str, value: Any, text: bool = True) -> Any:
        """`value` (a number, or with `text` its text as typed) as an int or float in
        range; else a UsageError that names `option` and says what it takes."""
        shown = value if not isinstance(value, str) else \
            value.strip() if value.isprintable() else repr(value)   # one line, always
        number = _parse(value, self.integer) if text or not isinstance(value, str) else None
        ok = number is not None and (
            (self.zero and number == 0)
            or ((number > self.low if self.above else number >= self.low) and number <= self.high))
        if not ok:
            raise UsageError(f"{option} must be {self.describe()}, not {shown!s:.40}")
        return number


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _parse(value: Any, integer: bool) -> int | float | None:
    # bool is an int to Python, never a number to a user; NaN and infinities are refused
    # by the comparisons' caller through math.isfinite.
    if isinstance(value, str):
        try:
            value = int(value.strip(), 10) if integer else float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if integer:
        return value if isinstance(value, int) else None
    try:
        f = float(value)
    except OverflowError:     # an int too large for a float
        return None
    return f if math.isfinite(f) else None


#: Every numeric field of a spec (what --vary may set too). The upper bounds only stop
#: values no run can mean (a 10¹⁰-worker run, a limit that overflows a timer).
RANGES: dict[str, Range] = {
    "time_limit": Range(0, 30 * DAY, above=True, unit="seconds"),
    "nemesis_interval": Range(0, 30 * DAY, above=True, unit="seconds"),
    "concurrency": Range(1, 10_000, integer=True),
    # below 0.001 ops/s the pause between one worker's ops overflows asyncio's timer
    "rate": Range(0.001, 1e9, zero=True, unit="ops/s"),
    "keys": Range(1, 1_000_000, integer=True),
    "client_timeout": Range(0, 3600, above=True, unit="seconds"),
    "converge_timeout": Range(0, DAY, above=True, unit="seconds"),
    "check_time_limit": Range(0, 30 * DAY, above=True, unit="seconds"),
    "seed": Range(-(2 ** 63), 2 ** 63 - 1, integer=True),
}
#: The numeric options that are not spec fields.
UP_TIMEOUT = Range(0, DAY, above=True, unit="seconds")
CHECK_TIME_LIMIT = RANGES["check_time_limit"]
PORT = Range(0, 65535, integer=True)
REPEAT = Range(1, 1000, integer=True)
#: WAIT's replicas and timeout (ms) for --wait N:MS.
WAIT_REPLICAS = Range(0, 1000, integer=True)
WAIT_MS = Range(0, DAY * 1000, integer=True)

#: A test name is one directory under the results directory: no separators, no `.` or
#: `..`, no hidden names, and not the names the results directory uses itself.
NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,119}")
RESERVED_NAMES = {"latest": "results/latest points at the last run",
                  "compare": "results/compare holds compare's matrices"}
#: --nemesis names (the registry says which exist; this keeps messages one line).
FAULT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,60}")
#: redis.conf and Sentinel directive names.
DIRECTIVE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
#: Control characters (C0 but tab, DEL, C1) in a value would end or break its line of
#: redis.conf (a newline starts a new directive), the Compose environment or the shell.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UsageError(f"test name {str(name)[:60]!r}: use letters, digits, '.', '_', '+', '-' "
                         f"(up to 120, not starting with '.'): it names a directory under the "
                         f"results directory")
    if name in RESERVED_NAMES:
        raise UsageError(f"test name {name!r} is reserved: {RESERVED_NAMES[name]}")
    return name


def check_setting(option: str, key: Any, value: Any) -> tuple[str, str]:
    """One KEY=VALUE of --redis-conf, --sentinel-conf or --vary: a directive name and a
    value that stays on its own line. Returns (key, value)."""
    if not isinstance(key, str) or not DIRECTIVE.fullmatch(key):
        raise UsageError(f"{option} {str(key)[:60]!r}: not a directive name (letters, digits, "
                         f"'-', '_')")
    if not isinstance(value, str):
        raise UsageError(f"{option} {key}: the value must be text, not {type(value).__name__}")
    bad = _CONTROL.search(value)
    if bad:
        raise UsageError(f"{option} {key}={value[:40]!r}: a value may not contain a newline or "
                         f"control character ({bad.group()!r})")
    return key, value


def _strings(option: str, value: Any, pattern: re.Pattern[str] | None = None) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{option}: expected a list of names, got {str(value)[:60]!r}")
    bad = [v for v in value if pattern and not pattern.fullmatch(v)]
    if bad:
        raise UsageError(f"{option} {bad[0][:60]!r}: not a name (letters, digits, '-', '_', '.')")
    return list(value)


def _settings(option: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise UsageError(f"{option}: expected KEY=VALUE settings, got {str(value)[:60]!r}")
    return dict(check_setting(option, k, v) for k, v in value.items())


@dataclass
class TestSpec:
    __test__ = False   # not a pytest test class, despite its name
    topology: str = "sentinel"
    server: str = DEFAULT_SERVER      # what the nodes run (servers.SERVERS)
    workload: str = "set"
    nemesis: list[str] = field(default_factory=list)
    nemesis_interval: float = 10.0
    nemesis_overlap: bool = False
    time_limit: float = 60.0
    concurrency: int = 10
    rate: float = 0.0                 # total ops/s target; 0 = as fast as possible
    keys: int = 10
    redis_conf: dict[str, str] = field(default_factory=dict)
    sentinel_conf: dict[str, str] = field(default_factory=dict)
    wait: tuple[int, int] | None = None   # (replicas, timeout ms) for WAIT after each write
    seed: int = 0
    client_timeout: float = 0.5       # socket timeout of every client op, seconds
    converge_timeout: float = 60.0
    check_time_limit: float = 60.0
    consistency_model: str = "strict-serializable"   # what transactional checkers judge against
    lock_impl: str = "redis-py"       # the locking code the lock workload tests
    fencing: bool = False             # the lock workload's resource checks fencing tokens
    name: str = ""
    results_dir: str = "results"
    keep: bool = False
    argv: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Check every field (types too: a test.json is read back into a spec)."""
        for f in ("topology", "workload", "consistency_model", "lock_impl"):
            if not isinstance(getattr(self, f), str) or not getattr(self, f):
                raise UsageError(f"{option_name(f)} {str(getattr(self, f))[:60]!r}: expected a name")
        self.server = server_named(self.server).name
        self.nemesis = _strings("--nemesis", self.nemesis, FAULT_NAME)
        for f, rng in RANGES.items():
            setattr(self, f, rng.check(option_name(f), getattr(self, f), text=False))
        for f in ("nemesis_overlap", "keep", "fencing"):
            if not isinstance(getattr(self, f), bool):
                raise UsageError(f"{option_name(f)}: expected true or false, got {getattr(self, f)!r:.40}")
        self.redis_conf = _settings("--redis-conf", self.redis_conf)
        self.sentinel_conf = _settings("--sentinel-conf", self.sentinel_conf)
        if self.wait is not None:
            if not isinstance(self.wait, (tuple, list)) or len(self.wait) != 2:
                raise UsageError(f"--wait {str(self.wait)[:40]}: expected REPLICAS:TIMEOUT_MS")
            self.wait = (WAIT_REPLICAS.check("--wait replicas", self.wait[0], text=False),
                         WAIT_MS.check("--wait timeout (ms)", self.wait[1], text=False))
            if self.wait[0] == 0:
                self.wait = None
        if isinstance(self.results_dir, os.PathLike):
            self.results_dir = os.fspath(self.results_dir)
        if not isinstance(self.results_dir, str) or not self.results_dir or "\x00" in self.results_dir:
            raise UsageError(f"--results-dir {str(self.results_dir)[:60]!r}: expected a directory")
        self.argv = _strings("argv", self.argv)
        if not isinstance(self.name, str):
            check_name(self.name)
        if not self.name:
            # The default name is made of names checked later (an unknown topology is
            # refused as such, not as a bad test name): anything else becomes a '.'.
            default = f"{self.topology}-{self.workload}-" + ("+".join(self.nemesis) or "none")
            self.name = re.sub(r"[^A-Za-z0-9_.+-]+", ".", default)[:120]
        check_name(self.name)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["wait"] = f"{self.wait[0]}:{self.wait[1]}" if self.wait else None
        return d


def parse_wait(text: str | None) -> tuple[int, int] | None:
    """`N:TIMEOUT_MS` → (N, ms); `0:0` or empty means no WAIT."""
    if not text:
        return None
    m = re.fullmatch(r"\s*([0-9]+)\s*:\s*([0-9]+)\s*", text)
    if not m:
        raise UsageError(f"--wait {text!r}: expected REPLICAS:TIMEOUT_MS, e.g. --wait 1:100")
    n = WAIT_REPLICAS.check(f"--wait {text.strip()}: replicas", m.group(1))
    ms = WAIT_MS.check(f"--wait {text.strip()}: timeout (ms)", m.group(2))
    return None if n == 0 else (n, ms)


def parse_settings(pairs: tuple[str, ...] | list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` strings from a repeatable option into an ordered dict (exit 2 if malformed)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise UsageError(f"{option} {pair!r}: expected KEY=VALUE, e.g. {option} appendonly=yes")
        check_setting(option, key, value)
        out[key] = value
    return out


def spec_from_test_json(test: dict[str, Any], where: str = "test.json") -> TestSpec:
    """The TestSpec a run recorded in its test.json (for re-checking it); UsageError
    naming `where` if the file does not describe one."""
    if not isinstance(test, dict):
        raise UsageError(f"{where}: not a JSON object")
    names = {f.name for f in fields(TestSpec)}
    kw = {k: v for k, v in test.items() if k in names}
    try:
        if "wait" in kw and isinstance(kw["wait"], str):
            kw["wait"] = parse_wait(kw["wait"])
        elif "wait" in kw and isinstance(kw["wait"], list):
            kw["wait"] = tuple(kw["wait"]) or None
        return TestSpec(**kw)
    except UsageError as e:
        raise UsageError(f"{where} does not describe a test: {e}") from None
    except (TypeError, ValueError) as e:
        raise UsageError(f"{where} does not describe a test: {e}") from None
