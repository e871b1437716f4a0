"""The `queue` checker: Jepsen's total-queue, made precise for Redis Streams consumer groups.

A job queue promises at-least-once delivery: every message the producer was told is
enqueued (XADD ok) reaches some consumer, and one whose processing was acknowledged
(XACK ok) is never handed out again. It does not promise exactly-once: a message may be
delivered again as long as nobody has acknowledged it. So the checker tells apart what the
promise allows from what it forbids, per message (payloads are unique per run):

- An *entry* is (stream, id, payload); ids alone are not enough, because a primary that
  lost entries in a failover hands their ids out again to new payloads.
- A *delivery* is an entry in an ok dequeue (XREADGROUP >) or in the final drain (XREADGROUP
  > of what was never delivered, XAUTOCLAIM of what is pending). The drain happens after
  every op of the history; an entry in both of its lists is one drain delivery. An info
  dequeue may have delivered entries nobody saw: they stay pending, so they are not
  deliveries until the drain claims them.
- An *acknowledgement* is an ok XACK whose reply counts every id it was given; with a short
  count Redis says some were not pending and we cannot tell which, so it confirms none
  (never a false anomaly; `short_ack_count` counts them). Info and failed XACKs confirm
  nothing.

Per message:

- **lost**: enqueue ok, never delivered, and not in the final stream (gone).
- **stranded**: enqueued (ok or info), never delivered, yet still in the final stream: the
  group's last-delivered id moved past it. An anomaly, counted apart from lost.
- **unexpected**: delivered or in the final stream, but never enqueued, or its enqueue
  definitely failed.
- **recovered**: an info enqueue that was delivered (allowed).
- **duplicated**: one payload under more than one entry id (it was appended twice; producers
  never retry).
- **redelivery**: each delivery of an entry after its first (deliveries ordered by their
  dequeue's invocation, the drain last). It is *after ack* when its dequeue was invoked
  strictly after an acknowledgement of the entry completed (for the drain: any
  acknowledgement): the group's pending list or last-delivered id rolled back. Otherwise it
  is *before ack*, which at-least-once allows. Counts are of deliveries, not of entries.

Verdict: False if anything is lost, stranded, unexpected, duplicated or redelivered after
ack; else "unknown" if a stream holding acknowledged enqueues has no usable final drain
(then those cannot be judged lost); else True. Anomalies are placed in the fault windows in
force when they happened: a lost or stranded message when its enqueue completed, the rest
when the delivering dequeue completed (or "drain"). One pass over the ops (`pair_ops` yields
them in invoke order, so each entry's deliveries come ordered) and sorting the anomalies:
O(n log n).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from ..history import Operation, fault_windows, op_error, pair_ops
from ..roles import Checker, CheckResult, Figure, JUnitCase
from .windows import count_by_window, window_label, windows_at

MAX_LISTED = 1000
DRAIN = "drain"
INF = float("inf")
_RANK = {"fail": 0, "info": 1, "ok": 2}   # which of several enqueues of a payload tells most
KINDS = ("lost", "stranded", "redelivered_after_ack", "unexpected", "duplicated")


def _hashable(p: Any) -> Any:
    # a payload of the final drain as a dict key: tagged unless a string or a number (true is not 1)
    return p if type(p) in (str, int, float) else ("json", repr(p))


def _entries_of(o: Operation, v: Any) -> Any:
    """A dequeue's result or an ack's argument as recorded ([[id, payload or null], ...])."""
    if (v is None and o.f == "dequeue") or isinstance(v, list) and all(
            isinstance(x, list) and len(x) == 2 and type(x[0]) is str
            and type(x[1]) in (str, int, type(None)) for x in v):
        return v
    raise op_error(o, f"the {o.f} value must be a list of [id, payload] pairs", v)


def _pairs(v: Any) -> list[tuple[str, Any]]:
    """[[id, payload], ...] as tuples. Entries without a payload (deleted while pending) are
    skipped: they cannot be told apart."""
    if not isinstance(v, list):
        return []
    return [(str(x[0]), _hashable(x[1])) for x in v
            if isinstance(x, (list, tuple)) and len(x) == 2 and x[1] is not None]


def check(history: list[dict], final: dict | None, spec=None) -> dict[str, Any]:
    """The queue analysis as a plain dict (QueueChecker wraps it into a CheckResult)."""
    enq: dict[Any, Any] = {}                     # payload -> its most telling enqueue
    deliveries: dict[tuple, list[tuple]] = defaultdict(list)  # entry -> [(start, end, op, via)]
    acked: dict[tuple, Any] = {}                 # entry -> the ack that completed first
    types: Counter = Counter()
    empty = short_acks = 0
    for o in pair_ops(history):
        types[o.f, o.type] += 1
        if o.f == "enqueue":
            if type(o.invoke_value) not in (str, int):
                raise op_error(o, "a payload must be a string or an integer", o.invoke_value)
            p = o.invoke_value
            prev = enq.get(p)
            if prev is None or _RANK.get(o.type, 1) > _RANK.get(prev.type, 1):
                enq[p] = o
        elif o.f == "dequeue" and o.type == "ok":
            got = _pairs(_entries_of(o, o.value))
            empty += not got
            for i, p in got:
                deliveries[o.key, i, p].append((o.start, o.end, o, "dequeue"))
        elif o.f == "ack" and o.type == "ok":
            got = list(dict.fromkeys(_pairs(_entries_of(o, o.invoke_value))))
            n = o.value
            if isinstance(n, int) and not isinstance(n, bool) and n < len({i for i, _ in got}):
                short_acks += 1
                continue
            for i, p in got:
                a = acked.get((o.key, i, p))
                if a is None or o.end < a.end:
                    acked[o.key, i, p] = o

    # ---- the final drain: deliveries after every op; what each stream still holds
    primary = (final or {}).get("primary") or {}
    streams = primary.get("streams") if isinstance(primary, dict) else None
    streams = streams if isinstance(streams, dict) else None
    drained: set = set()
    in_stream: dict[Any, list[tuple]] = defaultdict(list)   # payload -> [(stream, id)]
    per_stream: dict[Any, dict[str, Any]] = {}
    for key, s in (streams or {}).items():
        if not isinstance(s, dict):
            continue
        entries, dl, cl = s.get("entries"), s.get("delivered"), s.get("claimed")
        per_stream[key] = {"group": s.get("group"), **{
            k: len(v) if isinstance(v, list) else None
            for k, v in (("final_length", entries), ("drain_delivered", dl), ("drain_claimed", cl))}}
        for i, p in _pairs(entries):
            in_stream[p].append((key, i))
        if not (isinstance(dl, list) and isinstance(cl, list)):
            continue
        drained.add(key)
        for via, items in (("drain-delivered", dl), ("drain-claimed", cl)):
            for i, p in _pairs(items):
                ds = deliveries[key, i, p]
                if not ds or ds[-1][2] is not None:   # once per drain, whichever list
                    ds.append((INF, INF, None, via))

    windows = fault_windows(history)
    labels = [window_label(w, i) for i, w in enumerate(windows)]
    by_window: dict[str, Counter] = defaultdict(Counter)

    def place(kind: str, t: Any) -> str:
        inside = [DRAIN] if t is None or t == INF else windows_at(t, windows, labels)
        for lab in inside:
            by_window[lab][kind] += 1
        return ", ".join(inside)

    # ---- redeliveries, per entry
    after: list[dict[str, Any]] = []
    before = before_in_drain = total = 0
    first: dict[Any, tuple] = {}       # payload -> (its earliest delivery, that entry)
    ids_of: dict[Any, set] = defaultdict(set)
    for e, ds in deliveries.items():
        key, i, p = e
        ids_of[p].add((key, i))
        total += len(ds)   # in invoke order already (pair_ops), the drain last
        if p not in first or ds[0][:2] < first[p][0][:2]:
            first[p] = ds[0], e
        if len(ds) < 2:
            continue
        a = acked.get(e)
        for d in ds[1:]:
            if a is not None and d[0] > a.end:
                after.append(_redelivery(e, d, a, len(ds)))
            else:
                before += 1
                before_in_drain += d[2] is None
    after.sort(key=lambda x: (x["delivered_at"] is None, x["delivered_at"] or 0))
    for x in after:
        x["window"] = place("redelivered_after_ack", x["delivered_at"])

    # ---- per message
    delivered = set(first)
    for p, locs in in_stream.items():
        ids_of[p].update(locs)
    lost, stranded, unexpected, duplicated = [], [], [], []
    recovered = not_judged = 0
    for p, o in enq.items():
        seen = p in delivered
        recovered += seen and o.type == "info"
        if seen or o.type == "fail":
            continue
        if p in in_stream:
            if in_stream[p][0][0] in drained:
                stranded.append(_message(p, o, in_stream[p][0]))
            elif o.type == "ok":
                not_judged += 1
        elif o.type == "ok":
            if o.key in drained:
                lost.append(_message(p, o))
            else:
                not_judged += 1
    for p in delivered.union(in_stream):
        o = enq.get(p)
        if o is None or o.type == "fail":
            d, e = first.get(p) or ((None, None, None, "final stream"), None)
            key, i = e[:2] if e else in_stream[p][0]
            unexpected.append({"payload": p, "stream": key, "id": i, "seen": d[3],
                               "reason": "never enqueued" if o is None else "enqueue failed",
                               **_where(d[2], "delivered_at")})
    for p, locs in ids_of.items():
        if len(locs) > 1:
            o = enq.get(p)
            duplicated.append({"payload": p, "entries": sorted(f"{k} {i}" for k, i in locs),
                               **_where(o, "enqueued_at")})
    for kind, items, t in (("lost", lost, "enqueued_at"), ("stranded", stranded, "enqueued_at"),
                           ("unexpected", unexpected, "delivered_at"),
                           ("duplicated", duplicated, "enqueued_at")):
        items.sort(key=lambda x: (x[t] is None, x[t] or 0, str(x["payload"])))   # stable output
        for x in items:
            x["window"] = place(kind, x[t])

    # ---- per stream
    count = Counter((o.key, "attempted") for o in enq.values())
    count.update((o.key, "enqueued") for o in enq.values() if o.type == "ok")
    count.update((k, "delivered") for k, _, _ in deliveries)
    for kind, items in (("lost", lost), ("stranded", stranded), ("redelivered_after_ack", after)):
        count.update((x["stream"], kind) for x in items)
    for key in {k for k, _ in count}.union(per_stream):
        s = per_stream.setdefault(key, {"group": None, "final_length": None, "drain_delivered": None,
                                        "drain_claimed": None})
        s.update({c: count[key, c] for c in ("attempted", "enqueued", "delivered", "lost", "stranded",
                                             "redelivered_after_ack")}, drained=key in drained)

    enqueued = types["enqueue", "ok"]
    judged = streams is not None and bool(drained)
    n_lost = len(lost) if judged else None
    result: dict[str, Any] = {
        "enqueue_count": sum(types["enqueue", t] for t in ("ok", "info", "fail")), "enqueued": enqueued,
        "enqueue_info_count": types["enqueue", "info"], "enqueue_fail_count": types["enqueue", "fail"],
        "dequeue_count": types["dequeue", "ok"], "empty_dequeue_count": empty,
        "dequeue_info_count": types["dequeue", "info"], "dequeue_fail_count": types["dequeue", "fail"],
        "ack_count": types["ack", "ok"], "short_ack_count": short_acks,
        "ack_info_count": types["ack", "info"], "ack_fail_count": types["ack", "fail"],
        "delivered": len(delivered), "deliveries": total, "recovered": recovered,
        "lost": n_lost,
        "lost_rate": None if n_lost is None else round(n_lost / enqueued, 6) if enqueued else 0.0,
        "stranded": len(stranded) if judged else None, "lost_not_judged": not_judged,
        "unexpected": len(unexpected), "duplicated": len(duplicated),
        "redelivered_before_ack": before, "redelivered_before_ack_in_drain": before_in_drain,
        "redelivered_after_ack": len(after),
        "lost_messages": lost[:MAX_LISTED],
        "stranded_messages": stranded[:MAX_LISTED],
        "redeliveries_after_ack": after[:MAX_LISTED],
        "unexpected_messages": unexpected[:MAX_LISTED],
        "duplicated_messages": duplicated[:MAX_LISTED],
        "anomalies_by_window": {w: dict(c) for w, c in by_window.items()},
        "enqueued_by_window": count_by_window(sorted(o.end for o in enq.values() if o.type == "ok"),
                                              windows, labels),
        "per_stream": dict(sorted(per_stream.items(), key=lambda kv: str(kv[0]))[:MAX_LISTED]),
        "read_from": primary.get("node") if isinstance(primary, dict) else None,
    }
    gone = sorted(str(k) for k, s in per_stream.items() if s.get("group") is False)
    if gone:
        result["group_missing"] = gone
    undrained = sorted(str(k) for k, s in per_stream.items() if not s["drained"] and s["enqueued"])
    if streams is None:
        result["error"] = "no final drain of the streams: lost and stranded messages not judged"
    elif undrained:
        result["error"] = (f"no usable final drain of {', '.join(undrained)}: lost and stranded "
                           f"messages there not judged ({not_judged:,} acknowledged, never delivered)")
    bad = any(result[k] for k in KINDS)
    result["valid"] = False if bad else ("unknown" if streams is None or not_judged or undrained else True)
    nodes = (final or {}).get("nodes")
    if isinstance(nodes, dict) and nodes:
        lengths = {k: s["final_length"] for k, s in per_stream.items()}
        result["per_node"] = {name: _node_summary(n, lengths) for name, n in nodes.items()}
    return result


def _where(o: Any, at: str) -> dict[str, Any]:
    """When (completion), by which process, via which node an op happened (None: the drain)."""
    return {at: o and (o.end if o.end is not None else o.start), "process": o and o.process,
            "node": o and o.node, "index": o and o.invoke_index}


def _message(p: Any, o: Any, where: tuple | None = None) -> dict[str, Any]:
    return {"payload": p, "stream": o.key, "type": o.type,
            "id": where[1] if where else (o.value if o.type == "ok" else None),
            "enqueued_at": o.end if o.end is not None else o.start, "invoked_at": o.start,
            "process": o.process, "node": o.node, "index": o.invoke_index}


def _redelivery(e: tuple, d: tuple, a: Any, n: int) -> dict[str, Any]:
    key, i, p = e
    o = d[2]
    return {"stream": key, "id": i, "payload": p, "via": d[3],
            "process": o.process if o else None, "node": o.node if o else None,
            "dequeue_invoked_at": o.start if o else None, "delivered_at": o.end if o else None,
            "acked_at": a.end, "ack_process": a.process, "ack_node": a.node,
            "after_ack": o.end - a.end if o else None, "deliveries": n,
            "index": o.invoke_index if o else None}


def _node_summary(node: Any, primary_lengths: dict[Any, Any]) -> dict[str, Any]:
    """One node's stream lengths after the run, and how many entries it lacks against the
    primary's final streams (divergence a failover would turn into loss)."""
    if not isinstance(node, dict) or "error" in node:
        return {"error": node.get("error") if isinstance(node, dict) else str(node)}
    streams = node.get("streams") if isinstance(node.get("streams"), dict) else {}
    lengths = {k: v.get("length") for k, v in streams.items() if isinstance(v, dict)}
    short = sum(max(0, (primary_lengths.get(k) or 0) - (n or 0)) for k, n in lengths.items()
                if isinstance(n, int))
    return {"role": node.get("role"), "lengths": lengths,
            "total": sum(n for n in lengths.values() if isinstance(n, int)), "behind_primary": short}


def summary_text(r: dict[str, Any]) -> str:
    parts = []     # with lost None, the error at the end says why
    if r.get("lost"):
        parts.append(f"lost {r['lost']:,} of {r['enqueued']:,} acknowledged messages "
                     f"({r['lost_rate']:.2%})")
    elif r.get("lost") is not None:
        parts.append(f"no acknowledged message lost (of {r['enqueued']:,})")
    if r.get("stranded"):
        parts.append(f"{r['stranded']:,} stranded in the stream, never delivered")
    n = r["redelivered_after_ack"]
    parts.append(f"{n:,} redelivered after an acknowledged XACK" if n else
                 "no redelivery after an acknowledged XACK")
    for k, what in (("unexpected", "unexpected (never enqueued or enqueue failed)"),
                    ("duplicated", "duplicated (appended twice)")):
        if r[k]:
            parts.append(f"{r[k]:,} {what}")
    parts.append(f"{r['redelivered_before_ack']:,} redelivered before ack (allowed)")
    if r.get("group_missing"):
        parts.append(f"consumer group gone at the end on {', '.join(r['group_missing'])}")
    if r.get("error"):
        parts.append(r["error"])
    return "; ".join(parts)


# JUnit: one testcase per anomaly class, named stably.
_CASES = (("lost", "queue: no acknowledged message lost"),
          ("stranded", "queue: no message stranded in its stream"),
          ("redelivered_after_ack", "queue: no redelivery after an acknowledged XACK"),
          ("unexpected", "queue: no unexpected message"),
          ("duplicated", "queue: no duplicated message"))


def _junit(r: dict[str, Any]) -> list[JUnitCase]:
    cases = []
    for k, name in _CASES:
        n = r.get(k)
        if n:
            cases.append(JUnitCase(name, "failure", f"{n:,} {k.replace('_', ' ')}", summary_text(r)))
        elif n is None or (k in ("lost", "stranded") and r.get("lost_not_judged")):
            cases.append(JUnitCase(name, "error", r.get("error") or "not judged"))
        else:
            cases.append(JUnitCase(name, "passed"))
    return cases


class QueueChecker(Checker):
    """At-least-once delivery of Redis Streams consumer groups: lost, stranded, unexpected,
    duplicated messages, and redeliveries after an acknowledged XACK."""

    name = "queue"
    figures = ("enqueued", "lost", "lost_rate", "stranded", "redelivered_before_ack", "redelivered_after_ack",
               "unexpected", "duplicated", "delivered")
    template = (Path(__file__).parent / "templates" / "queue.html.j2").read_text(encoding="utf-8")

    def check(self, history, final, spec) -> CheckResult:
        r = check(history, final, spec)
        figures = [
            Figure("enqueued", r["enqueued"], "acknowledged enqueues", "int"),
            Figure("lost", r["lost"], "lost messages", "int", ("mean", "max")),
            Figure("lost_rate", r["lost_rate"], "lost rate", "pct"),
            Figure("stranded", r["stranded"], "stranded messages", "int", ("mean", "max")),
            Figure("redelivered_before_ack", r["redelivered_before_ack"], "redelivered before ack", "int"),
            Figure("redelivered_after_ack", r["redelivered_after_ack"], "redelivered after ack", "int",
                   ("mean", "max")),
            Figure("unexpected", r["unexpected"], "unexpected messages", "int", ("mean", "max")),
            Figure("duplicated", r["duplicated"], "duplicated messages", "int"),
            Figure("delivered", r["delivered"], "messages delivered", "int"),
        ]
        details = {k: v for k, v in r.items() if k != "valid"}
        return CheckResult(self.name, r["valid"], summary_text(r), figures, details, _junit(r))

    def view(self, result: CheckResult, run: Any) -> dict[str, Any]:
        """For the report: the anomalies as table rows and ✕ marks on the timeline, the
        streams, the fault windows and the nodes."""
        d = result.details

        def items(k: str) -> list[dict[str, Any]]:
            return [x for x in d.get(k) or [] if isinstance(x, dict)]

        def rows(k: str, *cols: Any) -> list[list[Any]]:
            # a column: a detail's key, or a function of the item
            return [[c(x) if callable(c) else x.get(c) for c in cols] for x in items(k)]

        def at(k: str, drain: bool = False) -> Any:
            return lambda x: (run.time_text(x.get(k)) if isinstance(x.get(k), (int, float))
                              else DRAIN if drain else "—")

        def gap(x: dict[str, Any]) -> str:
            g = x.get("after_ack")
            return f"{g / 1e9:.3f}s" if isinstance(g, (int, float)) else "—"

        message = ("payload", "stream", "type", "id", at("invoked_at"), at("enqueued_at"), "process",
                   "node", "window")
        view: dict[str, Any] = {
            "lost": rows("lost_messages", *message), "stranded": rows("stranded_messages", *message),
            "after": rows("redeliveries_after_ack", "payload", "stream", "id", "via", at("acked_at"),
                          "ack_process", at("delivered_at", True), gap, "process", "node", "window"),
            "unexpected": rows("unexpected_messages", "payload", "stream", "id", "reason", "seen",
                               at("delivered_at", True), "process", "node", "window"),
            "duplicated": rows("duplicated_messages", "payload",
                               lambda x: ", ".join(map(str, x.get("entries") or [])),
                               at("enqueued_at"), "process", "node", "window")}
        marks = []
        for k, name, t, text in (
                ("lost_messages", "lost message", "enqueued_at",
                 "LOST {p} in {stream}, enqueued via {node}"),
                ("stranded_messages", "stranded message", "enqueued_at",
                 "STRANDED {p} in {stream}, enqueued via {node}, never delivered"),
                ("redeliveries_after_ack", "redelivered after ack", "delivered_at",
                 "REDELIVERED {p} ({id}) via {node}, {gap} after its XACK returned"),
                ("unexpected_messages", "unexpected message", "delivered_at", "UNEXPECTED {p} ({reason})")):
            for x in items(k):
                s = run.seconds(x.get(t))
                if s is not None:
                    marks.append({"t": s, "p": x.get("process"), "name": name, "text": text.format(
                        p=run.short(x.get("payload"), 60), stream=run.short(x.get("stream"), 40),
                        node=x.get("node"), id=x.get("id"), gap=gap(x), reason=x.get("reason"))
                        + f" at {s:.4f}s"})

        def mapping(k: str) -> dict[str, Any]:
            return d.get(k) if isinstance(d.get(k), dict) else {}

        an, enq = mapping("anomalies_by_window"), mapping("enqueued_by_window")
        view.update(
            marks=marks,
            streams=[[k, *(s.get(c) for c in ("attempted", "enqueued", "delivered", "lost", "stranded",
                                              "redelivered_after_ack", "final_length", "drain_delivered",
                                              "drain_claimed", "group"))]
                     for k, s in mapping("per_stream").items() if isinstance(s, dict)],
            by_window=[[w, *((an.get(w) or {}).get(k, 0) for k in KINDS), enq.get(w)]
                       for w in dict.fromkeys([*enq, *an])],
            nodes=[[n, v.get("role"), v.get("total"),
                    ", ".join(f"{k}: {x}" for k, x in v["lengths"].items())
                    if isinstance(v.get("lengths"), dict) else "",
                    v.get("behind_primary"), v.get("error", "")]
                   for n, v in mapping("per_node").items() if isinstance(v, dict)])
        return view
