"""The test spec: one plain dataclass that says everything a run does (saved as test.json)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import UsageError


@dataclass
class TestSpec:
    __test__ = False   # not a pytest test class, despite its name
    topology: str = "sentinel"
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
    name: str = ""
    results_dir: str = "results"
    keep: bool = False
    argv: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"{self.topology}-{self.workload}-" + ("+".join(self.nemesis) or "none")
        if self.time_limit <= 0:
            raise UsageError("--time-limit must be positive")
        if self.concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        if self.rate < 0:
            raise UsageError("--rate must be 0 (unlimited) or positive")
        if self.keys < 1:
            raise UsageError("--keys must be at least 1")
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", self.name):
            raise UsageError(f"test name {self.name!r}: use letters, digits, '.', '_', '+', '-'")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["wait"] = f"{self.wait[0]}:{self.wait[1]}" if self.wait else None
        return d


def parse_wait(text: str | None) -> tuple[int, int] | None:
    """`N:TIMEOUT_MS` → (N, ms); `0:0` or empty means no WAIT."""
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if not m:
        raise UsageError(f"--wait {text!r}: expected REPLICAS:TIMEOUT_MS, e.g. --wait 1:100")
    n, ms = int(m.group(1)), int(m.group(2))
    return None if n == 0 else (n, ms)


def parse_settings(pairs: tuple[str, ...] | list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` strings from a repeatable option into an ordered dict (exit 2 if malformed)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise UsageError(f"{option} {pair!r}: expected KEY=VALUE, e.g. {option} appendonly=yes")
        if "\n" in value:
            raise UsageError(f"{option} {pair!r}: a value may not contain a newline")
        out[key] = value
    return out


def spec_from_test_json(test: dict[str, Any]) -> TestSpec:
    """The TestSpec a run recorded in its test.json (for re-checking it); UsageError if
    the file does not describe one."""
    names = {f.name for f in fields(TestSpec)}
    kw = {k: v for k, v in test.items() if k in names}
    try:
        if "wait" in kw:
            kw["wait"] = parse_wait(kw["wait"]) if isinstance(kw["wait"], str) else (
                tuple(kw["wait"]) if kw["wait"] else None)
        return TestSpec(**kw)
    except (TypeError, ValueError) as e:
        raise UsageError(f"test.json does not describe a test: {e}") from None
