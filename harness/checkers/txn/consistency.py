"""Which anomalies each consistency model prohibits (Adya's PL levels as Elle applies
them to item histories; the -process and -realtime variants after Elle's session and
strict models).

Every model here also prohibits what breaks the list-append model itself: a read that is
not a prefix of its key's history (incompatible order), a value twice in one list, a
value nobody appended (garbage), a transaction that does not see its own appends
(internal), and an acknowledged append missing after the run (lost): no isolation level
lets a committed transaction's effects vanish.
"""

from __future__ import annotations

from ...errors import UsageError

BASE = frozenset({"incompatible-order", "duplicate-elements", "garbage-read", "internal",
                  "lost-append"})
CYCLES = ("G0", "G1c", "G-single", "G2-item")


def _with(*names: str, suffixes: tuple[str, ...] = ("",)) -> frozenset[str]:
    return BASE | {n + s for n in names for s in suffixes if n in CYCLES} | {
        n for n in names if n not in CYCLES}


_SERIAL = ("G0", "G1a", "G1b", "G1c", "G-single", "G2-item")
#: Weakest first.
MODELS: dict[str, frozenset[str]] = {
    "read-uncommitted": _with("G0"),
    "read-committed": _with("G0", "G1a", "G1b", "G1c"),
    "snapshot-isolation": _with("G0", "G1a", "G1b", "G1c", "G-single"),
    # On histories of single items (no predicates) PL-2.99 rules out every cycle with
    # anti-dependencies, as serializability does.
    "repeatable-read": _with(*_SERIAL),
    "serializable": _with(*_SERIAL),
    "strong-session-serializable": _with(*_SERIAL, suffixes=("", "-process")),
    "strict-serializable": _with(*_SERIAL, suffixes=("", "-process", "-realtime")),
}
DEFAULT = "strict-serializable"


def check_model(name: str) -> str:
    if name not in MODELS:
        raise UsageError(f"--consistency-model {name!r}: choose from {', '.join(MODELS)}")
    return name


def prohibited(model: str, found: set[str]) -> list[str]:
    """The anomalies found that `model` rules out, in a stable order."""
    return sorted(found & MODELS[model])
