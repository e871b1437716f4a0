"""Sequential specifications ("models") for the linearizability checker.

A model is the interface Porcupine uses, plus a few optional hooks the search uses to
go faster. The search (`linearizable.py`) never looks inside states or ops; a new
workload adds a model here (and registers it in `MODELS`), not search code.

    init() -> state                      the state before any op (hashable)
    step(state, op) -> (ok, new_state)   apply one prepared op; ok=False: impossible here
    partition(ops) -> {key: [ops]}       independent sub-histories (P-compositionality)
    describe_state(state) -> str
    describe_op(op) -> str

Optional hooks (defaults in `Model`):

    prepare(op: Operation) -> prepared op or None
        Turn a paired `history.Operation` into what `step` takes. None drops the op
        (failed ops are dropped before this; models drop e.g. crashed reads, which
        constrain nothing). Raise `HistoryError` for an op the model cannot interpret.
    explain(state, op) -> str
        Why `op` cannot be applied in `state` (for failure reports).
    viable(state, op, pending) -> bool   and   pending_value(op) -> value | NOTBLIND
        Look-ahead pruning. The search keeps `pending`: value -> number of unlinearized
        ops whose `pending_value` is that value (the model chooses what to count, e.g.
        the values writes would install). `viable` answers: could `op` (a completed op
        that is callable now, or whose return comes next) still be applied later, given
        the current state and `pending`? False prunes the branch, so it must never be
        False wrongly. Models without these hooks get no look-ahead.
    drop_unobserved(ops) -> ops
        Drop crashed ops whose effect nobody could have observed (e.g. a crashed write of
        a value no read returned): not taking effect is always at least as good for them.
        Called per key on prepared ops; the default keeps everything.
    unique_values(ops) -> RWHistory | None
        For the read-mapped fast path: when every op is a plain read or write and every
        written value is unique, describe the key as (initial, reads, writes) so the
        checker can decide it in O(n log n) instead of searching (see `linearizable.py`).

States and prepared ops must be hashable and compare by value: the search memoises
(linearized-set, state) pairs.

Prepared ops of the built-in models are small tuples `(kind, a, b, op)` where `op` is
the original `Operation` (for reports); `kind` is one of READ, WRITE, CAS, APPEND.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from ..history import HistoryError, Operation

READ, WRITE, CAS, APPEND = 0, 1, 2, 3
NOTBLIND = object()     # blind_value(): this op's effect depends on the state
KIND_NAMES = {READ: "read", WRITE: "write", CAS: "cas", APPEND: "append"}


class JSONBool:
    """true or false as a model value. Python's True == 1 (and hashes alike), so a read of
    true would match a write of 1; these two singletons equal nothing but themselves."""

    __slots__ = ("value",)

    def __init__(self, value: bool):
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"


TRUE, FALSE = JSONBool(True), JSONBool(False)


class JSONObject:
    """A JSON object as a model value: its (name, frozen value) pairs, sorted. A plain
    tuple of pairs would equal the array [[name, value], ...]."""

    __slots__ = ("items", "_hash")

    def __init__(self, items: tuple):
        self.items = items
        self._hash = hash((JSONObject, items))

    def __eq__(self, other: Any) -> bool:
        return type(other) is JSONObject and other.items == self.items

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return show(self)


def freeze(value: Any) -> Any:
    """A hashable copy of a JSON value that compares by JSON type and value: arrays become
    tuples, objects `JSONObject`s, booleans `TRUE`/`FALSE`. Numbers compare by value (1 and
    1.0 are one value, as JSON numbers; an integer beyond 64 bits is read as a double),
    and never equal a string, a boolean or null."""
    if value is None:
        return value
    t = type(value)
    if t is int or t is str or t is float:
        return value
    if t is bool:
        return TRUE if value else FALSE
    if isinstance(value, (list, tuple)):
        return tuple([freeze(v) for v in value])
    if isinstance(value, dict):
        return JSONObject(tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    return value


def show(value: Any) -> str:
    """A value as a person reads it in a report: JSON-ish, nil for None."""
    if value is None:
        return "nil"
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, JSONObject):
        return "{" + ", ".join(f"{json.dumps(k)}: {show(v)}" for k, v in value.items) + "}"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Key:
    """A key that is neither a string nor an integer (possible only through `check` on
    ops in memory: the history reader refuses them), kept apart from all others by its
    frozen value: true is not 1, [1] is not "[1]". Shown as JSON."""

    __slots__ = ("frozen",)

    def __init__(self, frozen: Any):
        self.frozen = frozen

    def __eq__(self, other: Any) -> bool:
        return type(other) is _Key and other.frozen == self.frozen

    def __hash__(self) -> int:
        return hash((_Key, self.frozen))

    def __repr__(self) -> str:
        return show(self.frozen)

    __str__ = __repr__


def hashable_key(key: Any) -> Any:
    """The key ops are grouped by: strings, integers and null as they are; a float that
    is an integer as that integer (JSON numbers compare by value), anything else tagged."""
    t = type(key)
    if t is str or t is int or key is None:
        return key
    if t is float:
        return int(key) if key.is_integer() else key
    return _Key(freeze(key))


class Model:
    """Base class: defaults for the optional hooks."""

    name = "model"

    def init(self) -> Any:
        raise NotImplementedError

    def step(self, state: Any, op: Any) -> tuple[bool, Any]:
        raise NotImplementedError

    def prepare(self, op: Operation) -> Any:
        return op

    def partition(self, ops: Iterable[Any]) -> dict[Any, list[Any]]:
        return {None: list(ops)}

    def describe_state(self, state: Any) -> str:
        return repr(state)

    def describe_op(self, op: Any) -> str:
        return repr(op)

    def explain(self, state: Any, op: Any) -> str:
        return f"{self.describe_op(op)} is impossible when the state is {self.describe_state(state)}"

    def drop_unobserved(self, ops: list[Any]) -> list[Any]:
        return ops

    def unique_values(self, ops: list[Any]) -> "RWHistory | None":
        return None


class RWHistory:
    """A read/write-only key whose written values are all distinct (input to the fast path).

    `writes`: value -> prepared write op; `reads`: prepared ok read ops;
    `initial`: the value an unwritten register reads as.
    """

    __slots__ = ("initial", "reads", "writes")

    def __init__(self, initial: Any, reads: list[Any], writes: dict[Any, Any]):
        self.initial = initial
        self.reads = reads
        self.writes = writes


def _by_key(ops: Iterable[Any]) -> dict[Any, list[Any]]:
    parts: dict[Any, list[Any]] = {}
    for op in ops:
        parts.setdefault(hashable_key(op[3].key), []).append(op)
    return parts


class RegisterModel(Model):
    """A read/write/cas register per key. Starts nil; a read of nil is null; cas on nil fails.

    Values are compared by JSON type and value (`freeze`: true is not 1). A `fail` op never
    took effect (dropped by the checker); a crashed (`info`) read constrains nothing and is
    dropped; a crashed write or cas may have taken effect, at most once, at any time after
    its invoke.
    """

    name = "register"
    ops_known = ("read", "write", "cas")

    def init(self) -> Any:
        return None

    def prepare(self, op: Operation) -> Any:
        f = op.f
        if f == "read":
            if op.type != "ok":
                return None
            return (READ, freeze(op.value), None, op)
        if f == "write":
            v = op.invoke_value if op.invoke_value is not None or op.type != "ok" else op.value
            return (WRITE, freeze(v), None, op)
        if f == "cas":
            v = op.invoke_value if op.invoke_value is not None else op.value
            if not isinstance(v, (list, tuple)) or len(v) != 2:
                raise HistoryError(
                    f"op at index {op.invoke_index}: cas value must be [expected, new], got {v!r}")
            return (CAS, freeze(v[0]), freeze(v[1]), op)
        return self._unknown(op)

    def _unknown(self, op: Operation) -> Any:
        raise HistoryError(
            f"op at index {op.invoke_index}: the {self.name} model knows {', '.join(self.ops_known)}, "
            f"not f={op.f!r}")

    def step(self, state: Any, op: Any) -> tuple[bool, Any]:
        kind = op[0]
        if kind == READ:
            return state == op[1], state
        if kind == WRITE:
            return True, op[1]
        # cas: a cas against nil always fails (expected None never matches)
        if state is not None and state == op[1]:
            return True, op[2]
        return False, state

    def partition(self, ops: Iterable[Any]) -> dict[Any, list[Any]]:
        return _by_key(ops)

    def describe_state(self, state: Any) -> str:
        return show(state)

    def describe_op(self, op: Any) -> str:
        kind = op[0]
        if kind == READ:
            return f"read {show(op[1])}"
        if kind == WRITE:
            return f"write {show(op[1])}"
        if kind == CAS:
            return f"cas {show(op[1])}->{show(op[2])}"
        return f"append {show(op[1])}"

    def explain(self, state: Any, op: Any) -> str:
        kind = op[0]
        if kind == READ:
            return f"read {show(op[1])}, but the register holds {show(state)}"
        if kind == CAS:
            return f"cas expected {show(op[1])}, but the register holds {show(state)}"
        return super().explain(state, op)

    def unique_values(self, ops: list[Any]) -> RWHistory | None:
        return _unique_values(ops, self.init())

    def drop_unobserved(self, ops: list[Any]) -> list[Any]:
        """A crashed write/cas whose new value no read returned and no cas expected can
        only be followed by blind writes: dropping it never changes the verdict."""
        if not any(op[3].type == "info" for op in ops):
            return ops
        seen = set()
        for op in ops:
            if op[0] == READ or op[0] == CAS:
                try:
                    seen.add(op[1])
                except TypeError:
                    return ops
        out = []
        for op in ops:
            if op[3].type == "info":
                v = op[1] if op[0] == WRITE else op[2] if op[0] == CAS else None
                if op[0] in (WRITE, CAS) and v not in seen:
                    continue
            out.append(op)
        return out

    # look-ahead: a read of v (a cas expecting v) can still happen only if the register
    # holds v now or some unlinearized write/cas can still install v
    def pending_value(self, op: Any) -> Any:
        kind = op[0]
        if kind == WRITE:
            return op[1]
        if kind == CAS:
            return op[2]
        return NOTBLIND

    def viable(self, state: Any, op: Any, pending: dict[Any, int]) -> bool:
        kind = op[0]
        if kind == WRITE:
            return True
        v = op[1]
        return state == v or pending.get(v, 0) > 0


class KVModel(RegisterModel):
    """Independent string registers per key with read/write/append (MIT 6.824 style).

    An unset key reads as "" or null (both accepted); append concatenates strings.
    """

    name = "kv"
    ops_known = ("read", "write", "append")

    def init(self) -> Any:
        return ""

    @staticmethod
    def _norm(v: Any) -> Any:
        return "" if v is None else freeze(v)

    def prepare(self, op: Operation) -> Any:
        f = op.f
        if f == "read":
            if op.type != "ok":
                return None
            return (READ, self._norm(op.value), None, op)
        if f == "write":
            v = op.invoke_value if op.invoke_value is not None or op.type != "ok" else op.value
            return (WRITE, self._norm(v), None, op)
        if f == "append":
            v = op.invoke_value if op.invoke_value is not None or op.type != "ok" else op.value
            v = self._norm(v)
            if not isinstance(v, str):
                v = show(v)
            return (APPEND, v, None, op)
        return self._unknown(op)

    def step(self, state: Any, op: Any) -> tuple[bool, Any]:
        if op[0] == APPEND:
            return True, (state if isinstance(state, str) else show(state)) + op[1]
        return super().step(state, op)  # read and write as in a register

    def describe_state(self, state: Any) -> str:
        return show(state)

    def explain(self, state: Any, op: Any) -> str:
        if op[0] == READ:
            return f"read {show(op[1])}, but the key holds {show(state)}"
        return super().explain(state, op)

    def drop_unobserved(self, ops: list[Any]) -> list[Any]:
        """A crashed write of w is observable only by a read whose value starts with w; a
        crashed append of t only by a read containing t (reads see the whole string)."""
        if not any(op[3].type == "info" for op in ops):
            return ops
        reads = [op[1] for op in ops if op[0] == READ]
        if not all(isinstance(r, str) for r in reads):
            return ops
        out = []
        for op in ops:
            if op[3].type == "info" and isinstance(op[1], str) and op[1]:
                v = op[1]
                if op[0] == WRITE and not any(r.startswith(v) for r in reads):
                    continue
                if op[0] == APPEND and not any(v in r for r in reads):
                    continue
            out.append(op)
        return out

    # look-ahead: a string only grows by appends, so a read of V is reachable only if V
    # extends the current state or extends the value of some pending write
    def pending_value(self, op: Any) -> Any:
        return op[1] if op[0] == WRITE else NOTBLIND

    def viable(self, state: Any, op: Any, pending_blind: dict[Any, int]) -> bool:
        if op[0] != READ:
            return True
        v = op[1]
        if not isinstance(v, str) or not isinstance(state, str):
            return True
        if v.startswith(state):
            return True
        for w, c in pending_blind.items():
            if c > 0 and (not isinstance(w, str) or v.startswith(w)):
                return True
        return False


def _unique_values(ops: list[Any], initial: Any) -> RWHistory | None:
    writes: dict[Any, Any] = {}
    reads: list[Any] = []
    for op in ops:
        kind = op[0]
        if kind == READ:
            reads.append(op)
        elif kind == WRITE:
            v = op[1]
            if v in writes or v == initial:
                return None
            writes[v] = op
        else:
            return None
    return RWHistory(initial, reads, writes)


MODELS: dict[str, Model] = {
    "register": RegisterModel(),
    "kv": KVModel(),
}


def get_model(name: str | Model) -> Model:
    if isinstance(name, Model):
        return name
    try:
        return MODELS[name]
    except KeyError:
        raise HistoryError(
            f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None
