"""Histories with known linearizability verdicts, for tests and benchmarks.

`generate(...)` simulates N client processes against an atomic register (or a kv store
with read/write/append per key). Each op takes effect at one random instant strictly
inside its interval, so the history is linearizable by construction. Crashed ops
(`info`) either took effect before the crash or never did; an op can also be left
without completion at the end. A crashed process is replaced by a fresh process id, as
in Jepsen. Written values (and appended tokens) are unique per history.

`corrupt_stale_read(history)` changes one ok read so that it is provably stale: it now
returns value x although a completed op u wrote something else after x's only writer
had completed and before the read was invoked:

    writer(x).end < u.start  and  u.end < read.start

With unique values only writer(x) ever produces x (nothing can re-write it), so every
linearization orders writer(x) < u < read and the read cannot see x. For x = the
initial value, `u.end < read.start` suffices (nobody writes nil or ""). The result is
not linearizable by construction.

Output: the project's JSONL dicts (index, time, process, type, f, key, value).
"""

from __future__ import annotations

import bisect
import json
import os
import random
from typing import Any

__all__ = ["generate", "corrupt_stale_read", "write_jsonl"]


def generate(n_ops: int = 100, processes: int = 5, keys: int = 1, model: str = "register",
             crash_rate: float = 0.05, fail_rate: float = 0.02, seed: int | None = None,
             read_ratio: float = 0.5, cas_ratio: float = 0.15, append_ratio: float = 0.3,
             key_prefix: str = "r", leave_open: bool = True) -> list[dict[str, Any]]:
    """A linearizable-by-construction history of about `n_ops` operations.

    model "register": read/write/cas (cas values [expected, new]); "kv": read/write/append
    on strings. `crash_rate`: share of ops that end in `info` (half of those took effect);
    `fail_rate`: share of writes/cas/appends that end in `fail` without effect (a cas
    whose expected value does not match also fails). With `keys` > 1, key names are
    `key_prefix` + number; with one key the key is `key_prefix` + "0".
    Set `cas_ratio=0` / `append_ratio=0` for plain read/write histories.
    """
    rng = random.Random(seed)
    kv = model == "kv"
    init = "" if kv else None
    store: dict[str, Any] = {}
    key_names = [f"{key_prefix}{k}" for k in range(keys)]
    # value history per key, for cas expectations: the values seen so far
    seen: dict[str, list[Any]] = {k: [] for k in key_names}
    out: list[dict[str, Any]] = []
    counter = [0]

    def emit(d: dict[str, Any]) -> None:
        d["index"] = len(out)
        d["time"] = len(out) * 1000 + rng.randrange(1000)
        out.append(d)

    def fresh_value(proc: int) -> Any:
        counter[0] += 1
        if kv:
            return f"<{proc}.{counter[0]}>"
        return counter[0]

    next_pid = processes
    slots: list[dict[str, Any]] = [{"pid": p, "op": None} for p in range(processes)]
    invoked = 0
    while invoked < n_ops or any(s["op"] for s in slots):
        s = rng.choice(slots)
        op = s["op"]
        if op is None:
            if invoked >= n_ops:
                continue
            invoked += 1
            key = rng.choice(key_names)
            r = rng.random()
            if r < read_ratio:
                f, value = "read", None
            elif kv:
                f = "append" if rng.random() < append_ratio / max(1e-9, 1 - read_ratio) else "write"
                value = fresh_value(s["pid"])
            elif rng.random() < cas_ratio / max(1e-9, 1 - read_ratio):
                f = "cas"
                cur = store.get(key, init)
                hist = seen[key]
                if hist and rng.random() < 0.5:
                    expected = rng.choice(hist[-3:])
                else:
                    expected = cur if cur is not None else (hist[-1] if hist else 0)
                value = [expected, fresh_value(s["pid"])]
            else:
                f, value = "write", fresh_value(s["pid"])
            fate = rng.random()
            if fate < crash_rate:
                outcome = "info-applied" if rng.random() < 0.5 else "info-lost"
            elif fate < crash_rate + fail_rate and f != "read":
                outcome = "fail"
            else:
                outcome = "ok"
            s["op"] = {"f": f, "key": key, "value": value, "outcome": outcome,
                       "applied": False, "result": None}
            emit({"process": s["pid"], "type": "invoke", "f": f, "key": key,
                  "value": value if f != "read" else None})
            continue
        # the op is in flight: take effect (once), then complete
        if not op["applied"] and op["outcome"] in ("ok", "info-applied") and rng.random() < 0.5:
            key, f, value = op["key"], op["f"], op["value"]
            cur = store.get(key, init)
            if f == "read":
                op["result"] = cur
            elif f == "write":
                store[key] = value
                seen[key].append(value)
            elif f == "append":
                store[key] = cur + value
                seen[key].append(store[key])
            elif f == "cas":
                if cur is not None and cur == value[0]:
                    store[key] = value[1]
                    seen[key].append(value[1])
                else:
                    op["outcome"] = "cas-fail"
            op["applied"] = True
            continue
        if op["outcome"] in ("ok", "info-applied") and not op["applied"]:
            continue
        if leave_open and op["outcome"].startswith("info") and invoked >= n_ops \
                and rng.random() < 0.3:
            s["op"] = None          # never completes: an open invoke
            s["pid"] = next_pid
            next_pid += 1
            continue
        typ = {"ok": "ok", "fail": "fail", "cas-fail": "fail",
               "info-applied": "info", "info-lost": "info"}[op["outcome"]]
        value = op["result"] if (op["f"] == "read" and typ == "ok") else op["value"]
        emit({"process": s["pid"], "type": typ, "f": op["f"], "key": op["key"], "value": value})
        s["op"] = None
        if typ == "info":
            s["pid"] = next_pid
            next_pid += 1
    return out


def _spans(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Paired ops with positions: {f, key, type, value, start, end, inv, comp}."""
    open_: dict[Any, dict[str, Any]] = {}
    ops = []
    for pos, e in enumerate(history):
        if e["type"] == "invoke":
            o = {"f": e["f"], "key": e.get("key"), "type": "info", "value": e.get("value"),
                 "start": pos, "end": None, "inv": pos, "comp": None}
            open_[e["process"]] = o
            ops.append(o)
        else:
            o = open_.pop(e["process"])
            o["type"] = e["type"]
            o["end"] = pos
            o["comp"] = pos
            if e["type"] == "ok":
                o["value"] = e.get("value")
    return ops


def corrupt_stale_read(history: list[dict[str, Any]], seed: int | None = None,
                       model: str = "register") -> tuple[list[dict[str, Any]], int] | None:
    """A copy of `history` with one ok read made provably stale (see module docstring).

    Returns (new history, invoke index of the corrupted read), or None if the history
    offers no such read. Needs unique written values (as `generate` makes).
    """
    rng = random.Random(seed)
    kv = model == "kv"
    init = "" if kv else None
    ops = _spans(history)
    by_key: dict[Any, list[dict[str, Any]]] = {}
    for o in ops:
        by_key.setdefault(o["key"], []).append(o)
    candidates = []
    for key, kops in by_key.items():
        writers = [o for o in kops if o["f"] in ("write", "cas", "append") and o["type"] != "fail"]
        # x: a value only one completed write/cas produced (or the initial value), by end
        producers = [(-1, init)]
        for w in writers:
            if w["type"] == "ok" and w["f"] in ("write", "cas"):
                producers.append((w["end"], w["value"][1] if w["f"] == "cas" else w["value"]))
        producers.sort(key=lambda t: t[0])
        p_ends = [t[0] for t in producers]
        # u: a completed op that changed the state; prefix max of start by end
        changers = sorted((w for w in writers if w["type"] == "ok"), key=lambda o: o["end"])
        c_ends = [u["end"] for u in changers]
        best_start = []
        m = -1
        for u in changers:
            m = max(m, u["start"])
            best_start.append(m)
        reads = [o for o in kops if o["f"] == "read" and o["type"] == "ok"]
        rng.shuffle(reads)
        for r in reads[:200]:
            k = bisect.bisect_left(c_ends, r["start"])       # changers ending before r
            if k == 0:
                continue
            u_start = best_start[k - 1]
            j = bisect.bisect_left(p_ends, u_start)           # producers ending before u
            xs = [x for _, x in producers[max(0, j - 3):j] if x != r["value"]]
            if xs:
                candidates.append((r, rng.choice(xs)))
    if not candidates:
        return None
    r, x = rng.choice(candidates)
    out = [dict(e) for e in history]
    out[r["comp"]]["value"] = list(x) if isinstance(x, tuple) else x
    return out, out[r["inv"]].get("index", r["inv"])


def write_jsonl(history: list[dict[str, Any]], path: str | os.PathLike) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for e in history:
            fh.write(json.dumps(e, separators=(", ", ": ")) + "\n")
