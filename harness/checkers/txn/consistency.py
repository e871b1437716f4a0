"""Which anomalies each consistency model prohibits, as Elle's `elle.consistency-model`
relates them (Adya's PL levels on histories of single items; the -process and -realtime
variants for the session and strict models).

Two are ours, not Elle's, and every model prohibits them: an acknowledged append missing
from the final read (*lost-append*: no isolation level lets a committed transaction's
effects vanish) and an element nobody appended (*garbage-read*).
"""

from __future__ import annotations

from ...errors import UsageError

CYCLES = ("G0", "G1c", "G-single", "G2-item")
_SUFFIXES = ("-process", "-realtime")


def _levels() -> dict[str, frozenset[str]]:
    ru = {"G0", "duplicate-elements", "lost-append", "garbage-read"}
    rc = ru | {"G1a", "G1b", "G1c", "incompatible-order"}
    # lost-update (two committed transactions read one state of a key and both appended
    # to it) is what Elle's cursor stability rules out, and everything above it
    rr = rc | {"G-single", "G2-item", "lost-update"}
    si = rc | {"G-single", "internal", "lost-update"}
    ser = rr | si
    return {
        "read-uncommitted": frozenset(ru),
        "read-committed": frozenset(rc),
        "snapshot-isolation": frozenset(si),
        "repeatable-read": frozenset(rr),
        "serializable": frozenset(ser),
        "strong-session-serializable": frozenset(ser | {c + "-process" for c in CYCLES}),
        "strict-serializable": frozenset(ser | {c + s for c in CYCLES for s in _SUFFIXES}),
    }


#: Weakest first (snapshot isolation and repeatable read are incomparable).
MODELS: dict[str, frozenset[str]] = _levels()
DEFAULT = "strict-serializable"


def check_model(name: str) -> str:
    if name not in MODELS:
        raise UsageError(f"--consistency-model {name!r}: choose from {', '.join(MODELS)}")
    return name


def prohibited(model: str, found: set[str]) -> list[str]:
    """The anomalies found that `model` rules out, in a stable order."""
    return sorted(found & MODELS[model])
