"""Elle's own published list-append examples, as data in splitbrain's op format.

Every history here is one that Elle itself publishes, together with the verdict Elle
publishes for it. Nothing is invented: where an anomaly class has no published
list-append example, it is left out (see "Not covered" below).

Sources, all in https://github.com/jepsen-io/elle at commit
ccdee6fab6c816a605ed24f72723747af054adf8 (project.clj version 0.2.8-SNAPSHOT):

- README.markdown, section "Demo" (the G1c walk-through and its out/G1c.txt);
- test/elle/list_append_test.clj: `checker-test` (its `testing` blocks "G0", "G1a",
  "G1b", "G-single", "G2", "Strong SI violation", "Strong Session SI violation",
  "contradictory read orders", "duplicated elements", "internal consistency
  violation"), `unobserved-write-test`, `lost-update-test`, `wr-process-test`, and
  `graph-test` ("serializable figure 3 from Adya, Liskov, O'Neil", and the explanation
  string in "G2: anti-dependency cycle");
- paper/elle.pdf (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from
  Experimental Observations", VLDB 2021), section 7, Figures 2 and 3; the history
  behind that figure is histories/paper-example.edn;
- src/elle/consistency_model.clj (`implied-anomalies`, `models`,
  `direct-proscribed-anomalies`, `anomalies-prohibited-by`) for which model prohibits
  what; src/elle/txn.clj (`cycle-explainer`, `cycle-cases-in-scc`, `result-map`) and
  src/elle/list_append.clj (`check`, the WW/WR/RW explainers) and src/elle/core.clj
  (process and realtime explainers) for how Elle names and reports what it finds;
- GitHub issue jepsen-io/elle#21 (where the `wr-process-test` history comes from).

Transcription rules
-------------------
* Elle's keys :x :y :z become the integers in ELLE_KEYS (10, 20, 30); integer keys
  (the paper's 253, 255, 256, 250) are kept. Elements are kept as they are.
* Elle's tests mostly write a transaction in a tiny string language (`op` in
  list_append_test.clj): "ax1ry1" is [[:append :x 1] [:r :y [1]]], "ry" is a read of
  :y that saw nothing (nil). `_mops` below parses exactly that language, so each
  example can quote Elle's own string.
* Invocations carry the same micro-ops with every read's value replaced by None, as
  Elle's own `pair` helper does.
* Where Elle publishes full invoke/complete pairs, their order and processes are kept
  ("as-published"). Where Elle lists completed ops only, and nothing in the example
  depends on real-time order, the transactions are made concurrent: every invocation
  first, then every completion, each transaction on its own process ("concurrent"), so
  that neither real-time nor process order is implied. No example given as completed
  ops only relies on real-time order.
* `time` is index * 1,000,000 ns, so it increases with index.

How "anomalies" is meant
------------------------
"anomalies" is the set of anomaly types Elle reports (its `:anomaly-types`), renamed
to ours, under the check named in "elle_check" (the options Elle's published result
used). Two properties of Elle's reporting matter when comparing with it:

1. Within one strongly connected component Elle searches the cycle types from least
   to most derived, and once it finds one it skips every type that one *implies*
   (`cycle-cases-in-scc` + `implied-anomalies`). So a G-single is reported without
   the G2-item, G-single-process or G-single-realtime cycles it implies, G0 without
   G1c, and so on; but G0 and G-single can both be reported (neither implies the
   other), as in "test-unobserved-write".
2. A cycle's type is decided by how Elle *explains* each edge, and when a pair is
   related both by data (ww/wr/rw) and by real time, the data explanation wins. A
   cycle is "-realtime" only if one of its explained edges is a realtime edge, and
   "-process" only if one is a process edge (realtime wins over process). Under
   strict-serializable Elle adds only the realtime graph, which subsumes process
   order, so process-order cycles are then reported as "-realtime".

Elle name -> our name
---------------------
  :G0 :G1a :G1b :G1c :G2-item                 -> same
  :G-single-item                              -> "G-single"   (differs)
  :G-single (predicate form; list-append
             never produces it)               -> "G-single"
  :<X>-process, :<X>-realtime for X in G0,
   G1c, G-single-item, G2-item                -> "<ours(X)>-process" / "-realtime"
                                                 (e.g. :G-single-item-realtime ->
                                                 "G-single-realtime")
  :incompatible-order :duplicate-elements
  :internal                                   -> same
  :lost-update                                -> same (two committed transactions
                                                 read one state of a key, both append)
  no counterpart in ours: :G-nonadjacent(-item)(-process/-realtime), :dirty-update,
  :future-read, :cyclic-versions (rw-register only), :empty-transaction-graph,
  :cycle-search-timeout, :*-cycle-exists.
  no counterpart in Elle's list-append checker: "garbage-read" (the paper, section
  6.1, names garbage reads, but list_append.clj has no detector and no test).

Not covered (no published list-append example with a verdict): garbage-read;
G0-process/-realtime, G2-item-process/-realtime, G1c-realtime as the *reported* type
(Elle's `huge-scc-test` and perf tests report G2-item-realtime, but on a 2.8 MB history
file or on simulated histories, not on a short literal history, so they are skipped);
G-nonadjacent (published in `G-nonadjacent-test` and the issue #17 case in
`checker-test`, but we have no such name).
"""

from __future__ import annotations

import copy

ELLE_KEYS = {"x": 10, "y": 20, "z": 30, "t": 40, "u": 50}

MODELS = [
    "strict-serializable",
    "serializable",
    "snapshot-isolation",
    "repeatable-read",
    "read-committed",
    "read-uncommitted",
]

# Which of our anomalies each model prohibits, following Elle's
# elle.consistency-model: `anomalies-prohibited-by` takes the model, every weaker
# model it implies (`models`), the anomalies those prohibit directly
# (`direct-proscribed-anomalies`), and every anomaly that implies one of them
# (`implied-anomalies`, read backwards). Restricted to the names we have:
#
#   read-uncommitted (PL-1):  G0, duplicate-elements
#   read-committed (PL-2):    + G1a, G1b, G1c, incompatible-order
#                               (Elle: incompatible-order implies G1a)
#   repeatable-read (PL-2.99):+ G2-item, G-single (G-single-item implies
#                               G-nonadjacent-item implies G2-item),
#                               lost-update (cursor-stability prohibits it)
#                               -- but NOT internal
#   snapshot-isolation:       read-committed's + G-single (via G-nonadjacent),
#                               internal, lost-update (via parallel-SI ->
#                               update-atomic) -- but NOT G2-item
#   serializable (PL-3):      repeatable-read's + internal (and snapshot-isolation's)
#   strict-serializable:      serializable's + every -process and -realtime variant
#                               of G0, G1c, G-single, G2-item (PL-SS prohibits
#                               G1c-realtime and G2-realtime; the -process forms
#                               imply the -realtime ones)
#
# Elle quirks worth knowing: `internal` is prohibited only from read-atomic,
# snapshot-isolation and serializable upward, so Elle does not fault
# read-committed or repeatable-read for it; and lost-update is prohibited by
# snapshot-isolation although G2-item is not. "garbage-read" is in no list because
# Elle's list-append checker has no such anomaly.
_RU = {"G0", "duplicate-elements"}
_RC = _RU | {"G1a", "G1b", "G1c", "incompatible-order"}
_RR = _RC | {"G2-item", "G-single", "lost-update"}
_SI = _RC | {"G-single", "internal", "lost-update"}
_SER = _RR | _SI
_SS = _SER | {
    f"{a}-{v}" for a in ("G0", "G1c", "G-single", "G2-item") for v in ("process", "realtime")
}
MODEL_PROHIBITS: dict[str, frozenset[str]] = {
    "strict-serializable": frozenset(_SS),
    "serializable": frozenset(_SER),
    "snapshot-isolation": frozenset(_SI),
    "repeatable-read": frozenset(_RR),
    "read-committed": frozenset(_RC),
    "read-uncommitted": frozenset(_RU),
}

# Elle's anomaly names -> ours (see the module docstring).
ELLE_TO_OURS = {
    "G0": "G0",
    "G1a": "G1a",
    "G1b": "G1b",
    "G1c": "G1c",
    "G-single-item": "G-single",
    "G-single": "G-single",
    "G2-item": "G2-item",
    "incompatible-order": "incompatible-order",
    "duplicate-elements": "duplicate-elements",
    "internal": "internal",
    "lost-update": "lost-update",
}
for _v in ("process", "realtime"):
    for _a in ("G0", "G1c", "G-single-item", "G2-item"):
        ELLE_TO_OURS[f"{_a}-{_v}"] = f"{ELLE_TO_OURS[_a]}-{_v}"


# --- building histories -------------------------------------------------------------

def _mops(s: str) -> list[list]:
    """Elle's test shorthand (list_append_test.clj, `op`): 'a' starts an append, 'r' a
    read, a letter names the key, a digit is an element (appended, or added to the read
    list). A read with no digits saw nothing (None)."""
    txn: list[list] = []
    mop: list | None = None
    for c in s:
        if c in "ar":
            if mop is not None:
                txn.append(mop)
            mop = ["append" if c == "a" else "r"]
        elif c in ELLE_KEYS:
            mop.append(ELLE_KEYS[c])
        else:
            e = int(c)
            if mop[0] == "append":
                mop.append(e)
            elif len(mop) == 2:
                mop.append([e])
            else:
                mop[2].append(e)
    txn.append(mop)
    for m in txn:
        if len(m) == 2:  # a read that saw nothing
            m.append(None)
    return txn


def _t(value, process: int, type: str = "ok") -> dict:
    """One transaction: its completed micro-ops (a string in Elle's shorthand, or a
    list), the process that runs it, and how it completed."""
    mops = _mops(value) if isinstance(value, str) else copy.deepcopy(value)
    return {"process": process, "type": type, "value": mops}


def _invoke_value(mops: list[list]) -> list[list]:
    return [[f, k, None] if f == "r" else [f, k, v] for f, k, v in mops]


def _ops(events: list[tuple[str, dict]]) -> list[dict]:
    out = []
    for i, (kind, txn) in enumerate(events):
        out.append({
            "type": "invoke" if kind == "invoke" else txn["type"],
            "process": txn["process"],
            "f": "txn",
            "value": _invoke_value(txn["value"]) if kind == "invoke"
            else copy.deepcopy(txn["value"]),
            "time": i * 1_000_000,
            "index": i,
        })
    return out


def _concurrent(*txns: dict) -> list[dict]:
    """All invocations (in the listed order), then all completions (same order)."""
    return _ops([("invoke", t) for t in txns] + [("complete", t) for t in txns])


def _sequential(*txns: dict) -> list[dict]:
    """Each transaction invoked and completed before the next is invoked."""
    return _ops([e for t in txns for e in (("invoke", t), ("complete", t))])


def _valid(anomalies: list[str], **overrides) -> dict[str, bool]:
    """Elle's verdict per model from the prohibited sets above. Every example below
    spells its verdict out literally; this helper is only used by the self-check."""
    v = {m: not (set(anomalies) & MODEL_PROHIBITS[m]) for m in MODELS}
    v.update({k.replace("_", "-"): b for k, b in overrides.items()})
    return v


LA_TEST = "test/elle/list_append_test.clj"

# --- the examples ------------------------------------------------------------------

EXAMPLES: list[dict] = [
    {
        "name": "readme-g1c",
        "source": "README.markdown, section 'Demo' (history h, the check with "
                  ":consistency-models [:serializable], and out/G1c.txt)",
        "expansion": "concurrent (README lists three :ok ops only, processes 0, 1, 2)",
        "history": _concurrent(
            _t([["append", 10, 1], ["r", 20, [1]]], 0),
            _t([["append", 10, 2], ["append", 20, 1]], 1),
            _t([["r", 10, [1, 2]]], 2),
        ),
        "elle_check": {"consistency-models": ["serializable"]},
        "elle_anomalies": ["G1c"],
        "anomalies": ["G1c"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": False, "repeatable-read": False,
                  "read-committed": False, "read-uncommitted": True},
        "note": "Elle: :not #{:read-committed}. Cycle of two: process 1's txn -wr-> "
                "process 0's txn (process 0 read key 20 = [1], the 1 process 1 "
                "appended), and process 0's txn -ww-> process 1's txn on key 10 "
                "(process 2's read [1 2] puts process 0's append of 1 before process "
                "1's append of 2). Cyclic information flow: G1c. See "
                "ELLE_CYCLE_EXPLANATIONS['readme-g1c'].",
    },
    {
        "name": "paper-fig2-g-single",
        "source": "paper/elle.pdf section 7, Figures 2 and 3 (the explained cycle); "
                  "the full history is histories/paper-example.edn",
        "expansion": "as-published: the .edn gives invoke/ok pairs one after another "
                     "(real-time order T0 < B < C < T1). It has no :process; each "
                     "transaction gets its own process (0..3) here.",
        "history": _sequential(
            _t([["append", 253, 1], ["append", 253, 3], ["append", 253, 4],
                ["append", 255, 2], ["append", 255, 3], ["append", 255, 4],
                ["append", 255, 5], ["append", 256, 1], ["append", 256, 2]], 0),
            _t([["append", 255, 8], ["r", 253, [1, 3, 4]]], 1),
            _t([["append", 256, 4], ["r", 255, [2, 3, 4, 5, 8]],
                ["r", 256, [1, 2, 4]], ["r", 253, [1, 3, 4]]], 2),
            _t([["append", 250, 10], ["r", 253, [1, 3, 4]], ["r", 255, [2, 3, 4, 5]],
                ["append", 256, 3]], 3),
        ),
        "elle_check": {"consistency-models": ["strict-serializable"]},
        "elle_anomalies": ["G-single-item"],
        "anomalies": ["G-single"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": False, "repeatable-read": False,
                  "read-committed": True, "read-uncommitted": True},
        "note": "The paper's T1/T2/T3 are the txns at indices 6-7 (process 3), 2-3 "
                "(process 1) and 4-5 (process 2). Cycle: T1 -rw-> T2 (T1 read 255 = "
                "[2 3 4 5] and missed T2's 8), T2 -wr-> T3 (T3's read of 255 ends in "
                "8), T3 -ww-> T1 on 256 (T3 read [1 2 4]; T1's 3 was never read, so "
                "Elle places it after the last element read, 4). The caption calls "
                "this a 'real-time G-single cycle', but none of the three printed "
                "edges is a real-time edge: under Elle's current classification "
                "(txn.clj `cycle-explainer`) it is plain G-single-item, and finding it "
                "makes Elle skip the G-single-realtime (T1 -rw-> T2, T2 finished "
                "before T1 began) and G2-item (T3 -rw-> T1 also holds) cycles that "
                "it implies. The paper gives the cycle, not a full checker output, "
                "so 'elle_anomalies' is this file's reading of Elle's code, not "
                "printed Elle output.",
    },
    {
        "name": "test-g0",
        "source": f"{LA_TEST}, deftest checker-test, testing \"G0\"",
        "expansion": "concurrent (Elle lists three :ok ops, all on process 0)",
        "history": _concurrent(_t("ax1ay1", 0), _t("ax2ay2", 1), _t("rx12ry21", 2)),
        "elle_check": {"consistency-models": None, "anomalies": ["G0"]},
        "elle_anomalies": ["G0"],
        "anomalies": ["G0"],
        "valid": {m: False for m in MODELS},
        "note": "Elle: :not #{:read-uncommitted}; the same result when asked for :G1. "
                "Pure write cycle: key 10 reads [1 2] (first txn's append before the "
                "second's), key 20 reads [2 1] (the other way round). Elle's test "
                "also notes that a G2-only search does not report it.",
    },
    {
        "name": "test-g1a",
        "source": f"{LA_TEST}, deftest checker-test, testing \"G1a\"",
        "expansion": "concurrent (Elle lists a :fail op and an :ok op, both process 0)",
        "history": _concurrent(_t("ax1", 0, "fail"), _t("rx1", 1)),
        "elle_check": {"consistency-models": ["read-committed"]},
        "elle_anomalies": ["G1a", "empty-transaction-graph"],
        "anomalies": ["G1a"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": False, "repeatable-read": False,
                  "read-committed": False},
        "note": "The read sees element 1 of key 10, appended only by a transaction "
                "that definitely failed. Elle: :not #{:read-committed}; the same under "
                "repeatable-read. Elle also flags :empty-transaction-graph (no edges "
                "among committed txns; we have no such name), and for that reason "
                "answers :unknown, not true, under read-uncommitted -- so "
                "read-uncommitted is left out of 'valid'.",
    },
    {
        "name": "test-g1b",
        "source": f"{LA_TEST}, deftest checker-test, testing \"G1b\"",
        "expansion": "as-published: (pair (op \"ax1ax2\")) then (pair (op \"rx1\")), "
                     "both on process 0, one after the other",
        "history": _sequential(_t("ax1ax2", 0), _t("rx1", 0)),
        "elle_check": {"consistency-models": ["strict-serializable"]},
        "elle_anomalies": ["G-single-item", "G1b"],
        "anomalies": ["G-single", "G1b"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": False, "repeatable-read": False,
                  "read-committed": False, "read-uncommitted": True},
        "note": "The reader sees [1], an intermediate state of the writer (which "
                "appended 1 then 2): G1b. Elle's test notes it is also G-single: "
                "reader -rw-> writer (missed the 2) and writer -wr-> reader (saw the "
                "1). That cycle needs no process or real-time edge, so Elle reports "
                "the plain form. Elle: :not #{:read-committed}. Asked for :G0 only "
                "it is valid; asked for :G1 it reports [:G1b] alone.",
    },
    {
        "name": "test-g-single",
        "source": f"{LA_TEST}, deftest checker-test, testing \"G-single\"",
        "expansion": "concurrent (three :ok ops, all process 0 in Elle)",
        "history": _concurrent(_t("ax1ay1", 0), _t("ax2ry", 1), _t("rx12", 2)),
        "elle_check": {"consistency-models": None, "anomalies": ["G-single"]},
        "elle_anomalies": ["G-single-item"],
        "anomalies": ["G-single"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": False, "repeatable-read": False,
                  "read-committed": True, "read-uncommitted": True},
        "note": "Elle: :not #{:consistent-view :repeatable-read}; same result when "
                "asked for :G2; valid when asked for :G0 or :G1. Cycle: "
                "'ax2ry' -rw-> 'ax1ay1' (it read key 20 empty; the other appended 1 "
                "to it), 'ax1ay1' -ww-> 'ax2ry' on key 10 ([1 2]).",
    },
    {
        "name": "test-g2-item",
        "source": f"{LA_TEST}, deftest checker-test, testing \"G2\" (same shape as "
                  "deftest repeatable-read-test)",
        "expansion": "concurrent (two :ok ops, process 0 in Elle)",
        "history": _concurrent(_t("ax1ry", 0), _t("ay1rx", 1)),
        "elle_check": {"consistency-models": ["serializable"]},
        "elle_anomalies": ["G2-item"],
        "anomalies": ["G2-item"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": True, "repeatable-read": False,
                  "read-committed": True, "read-uncommitted": True},
        "note": "Write skew: each txn read, empty, the key the other appended to; two "
                "rw edges. Elle: :not #{:repeatable-read}; the same under "
                ":repeatable-read and with :anomalies [:G2]; read-committed valid "
                "(published). Snapshot isolation is not ruled out: Elle's SI "
                "prohibits G-single/G-nonadjacent, not G2-item.",
    },
    {
        "name": "test-g-single-realtime",
        "source": f"{LA_TEST}, deftest checker-test, testing \"Strong SI violation\"",
        "expansion": "as-published (four invoke/ok pairs, processes 0-3, each "
                     "finished before the next is invoked)",
        "history": _sequential(_t("ax1", 0), _t("ax2", 1), _t("rx1", 2), _t("rx12", 3)),
        "elle_check": {"consistency-models": ["strict-serializable"]},
        "elle_anomalies": ["G-single-item-realtime"],
        "anomalies": ["G-single-realtime"],
        "valid": {"strict-serializable": False, "serializable": True,
                  "snapshot-isolation": True, "repeatable-read": True,
                  "read-committed": True, "read-uncommitted": True},
        "note": "Process 2 reads key 10 = [1] after process 1's append of 2 has "
                "completed. Cycle: reader -rw-> appender-of-2 (missed the 2), and "
                "appender-of-2 -realtime-> reader (completed before the reader was "
                "invoked). Published: serializable valid, a G2-only search valid, "
                "strict-serializable fails with :not #{:strong-snapshot-isolation}.",
    },
    {
        "name": "test-g-single-process",
        "source": f"{LA_TEST}, deftest checker-test, testing "
                  "\"Strong Session SI violation\"",
        "expansion": "as-published (process 0: ax1; process 1: ax2 then rx; "
                     "process 2: rx; one after the other)",
        "history": _sequential(_t("ax1", 0), _t("ax2", 1), _t("rx1", 1), _t("rx12", 2)),
        "elle_check": {"consistency-models": ["strong-session-snapshot-isolation"]},
        "elle_anomalies": ["G-single-item-process"],
        "anomalies": ["G-single-process"],
        "valid": {"strict-serializable": False, "serializable": True,
                  "snapshot-isolation": True, "repeatable-read": True,
                  "read-committed": True, "read-uncommitted": True},
        "note": "Like test-g-single-realtime, but the missed append was made by the "
                "reader's own process: reader -rw-> its own earlier txn, closed by "
                "the process edge. Published: serializable valid; "
                "strong-session-snapshot-isolation fails with :not "
                "#{:strong-session-snapshot-isolation}. Elle's test comment speaks "
                "of strict-serializable, but the check it runs is strong-session SI. "
                "Under strict-serializable Elle would add the realtime graph instead "
                "(which covers process order) and, reading its code, call the same "
                "cycle G-single-item-realtime; that is not published. strict-"
                "serializable is false here either way.",
    },
    {
        "name": "test-g1c-process",
        "source": f"{LA_TEST}, deftest wr-process-test (history from GitHub issue "
                  "jepsen-io/elle#21)",
        "expansion": "as-published (indices 0-5; process 1 then process 2 twice)",
        "history": _sequential(
            _t([["r", 10, [1]], ["append", 20, 1]], 1),
            _t([["r", 20, [1]]], 2),
            _t([["append", 10, 1]], 2),
        ),
        "elle_check": {"consistency-models": ["strong-session-snapshot-isolation"]},
        "elle_anomalies": ["G1c-process"],
        "anomalies": ["G1c-process"],
        "valid": {"strict-serializable": False, "serializable": True,
                  "snapshot-isolation": True, "repeatable-read": True,
                  "read-committed": True, "read-uncommitted": True},
        "note": "Cycle: process 2's later txn (append 1 to key 10) -wr-> process 1's "
                "txn (which read [1]) -wr-> process 2's first txn (read key 20 = [1]) "
                "-process-> process 2's later txn. Published: :not "
                "#{:strong-session-read-committed}. The serializable etc. verdicts "
                "are this file's: without the process edge the graph is acyclic and "
                "nothing else is wrong. The test's comment says Elle had caught it "
                "as a strict-serializability violation before it knew this process "
                "case; under strict-serializable (realtime graph) the same cycle "
                "would presumably be typed G1c-realtime (not published).",
    },
    {
        "name": "test-incompatible-order",
        "source": f"{LA_TEST}, deftest checker-test, testing "
                  "\"contradictory read orders\"",
        "expansion": "concurrent (five :ok ops, process 0 in Elle, indices stripped)",
        "history": _concurrent(_t("ax1ry1", 0), _t("ax2", 1), _t("ax3ay1", 2),
                               _t("rx13", 3), _t("rx123", 4)),
        "elle_check": {"consistency-models": None, "anomalies": ["G1"]},
        "elle_anomalies": ["G1c", "incompatible-order"],
        "anomalies": ["G1c", "incompatible-order"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": False, "repeatable-read": False,
                  "read-committed": False, "read-uncommitted": True},
        "note": "Reads of key 10 = [1 3] and [1 2 3]: neither is a prefix of the "
                "other (Elle: {:key :x, :values [[1 3] [1 2 3]]}). Elle still takes "
                "the order 1, 2, 3 from the longest read and finds the G1c "
                "'ax3ay1' -wr-> 'ax1ry1' (key 20) -ww-> 'ax2' -ww-> 'ax3ay1' (key "
                "10). Elle: :not #{:read-committed}. There are no rw edges, so a "
                "stronger model would report nothing more.",
    },
    {
        "name": "test-duplicate-elements",
        "source": f"{LA_TEST}, deftest checker-test, testing \"duplicated elements\"",
        "expansion": "concurrent (three :ok ops, process 0 in Elle, indices stripped)",
        "history": _concurrent(_t("ax1ry1", 0), _t("ax2ay1", 1), _t("rx121", 2)),
        "elle_check": {"consistency-models": ["read-committed"]},
        "elle_anomalies": ["G1c", "duplicate-elements"],
        "anomalies": ["G1c", "duplicate-elements"],
        "valid": {m: False for m in MODELS},
        "note": "The read [1 2 1] of key 10 holds element 1 twice (Elle: :duplicates "
                "{1 2}). It is also the README's G1c ('ax2ay1' -wr-> 'ax1ry1' on key "
                "20, 'ax1ry1' -ww-> 'ax2ay1' on key 10). Elle: :not "
                "#{:read-uncommitted}. Elle's test checks read-committed on purpose: "
                "its comment says that under stronger models Elle also reports a "
                "G-single, because [1 2 1] makes 1 look like the latest append. So "
                "a strict-serializable check may add 'G-single'.",
    },
    {
        "name": "test-internal",
        "source": f"{LA_TEST}, deftest checker-test, testing "
                  "\"internal consistency violation\"",
        "expansion": "concurrent (two :ok ops, process 0 in Elle)",
        "history": _concurrent(_t("ax1ax2ax4", 0), _t("ax3rx1234", 1)),
        "elle_check": {"consistency-models": None, "anomalies": ["internal"]},
        "elle_anomalies": ["internal"],
        "anomalies": ["G0", "internal"],
        "valid": {m: False for m in MODELS},
        "note": "'ax3rx1234' appends 3 to key 10 and then reads [1 2 3 4]: its own "
                "append should be last (Elle: :expected [... 3]). The test asks only "
                "for :internal, so only :internal is listed, but its comment says "
                "'There's a G0 here too', and its :not #{:read-uncommitted} comes "
                "from that G0 (internal alone does not rule out read-uncommitted in "
                "Elle): 2 -> 3 and 3 -> 4 in key 10 make the two txns ww-precede "
                "each other. Hence both in 'anomalies'.",
    },
    {
        "name": "test-lost-update",
        "source": f"{LA_TEST}, deftest lost-update-test (first case)",
        "expansion": "as-published (three (pair (op ...)), all process 0, one after "
                     "the other)",
        "history": _sequential(_t("ax0", 0), _t("rx0ax1", 0), _t("rx0ax2", 0)),
        "elle_check": {},
        "elle_anomalies": ["G2-item", "lost-update"],
        "anomalies": ["G2-item", "lost-update"],
        "valid": {"strict-serializable": False, "serializable": False,
                  "snapshot-isolation": False, "repeatable-read": False,
                  "read-committed": True, "read-uncommitted": True},
        "note": "Both 'rx0ax1' and 'rx0ax2' read key 10 = [0] and appended to it "
                "(Elle's :lost-update {:key :x, :value [0]}). Neither 1 nor 2 is "
                "ever read, so Elle places both right after 0, giving rw edges each "
                "way: G2-item. Checked with Elle's defaults (strict-serializable). "
                "Elle: :not #{:update-atomic :cursor-stability}. Note: t1 -rw-> t2 and t1 "
                "-realtime-> t2 both hold (same process, sequential), so a "
                "G-single-realtime cycle (t2 -rw-> t1 -rt-> t2) exists; Elle does "
                "not report it only because its explainer labels the t1->t2 pair "
                "as rw, making the cycle look like G2-item. A checker that reports "
                "'G-single-realtime' here is not wrong.",
    },
    {
        "name": "test-unobserved-write",
        "source": f"{LA_TEST}, deftest unobserved-write-test",
        "expansion": "as-published: Elle itself makes these concurrent (five "
                     "invocations, then five completions), all on process 0 in "
                     "Elle; here processes 0-4 so no process can overlap itself",
        "history": _concurrent(_t("ax1ay1", 0), _t("ax2ay2", 1), _t("ax3ay3", 2),
                               _t("rx12", 3), _t("ry2", 4)),
        "elle_check": {"consistency-models": ["serializable"]},
        "elle_anomalies": ["G-single-item", "G0"],
        "anomalies": ["G-single", "G0"],
        "valid": {m: False for m in MODELS},
        "note": "The inference rule under test: an append never seen in the longest "
                "read comes after the last element read. Key 10 reads [1 2] "
                "(w1 -ww-> w2); key 20 reads [2] only, so 1 comes after 2 (w2 -ww-> "
                "w1): G0. Also the reader of key 20 missed 1: ry -rw-> w1 -ww-> w2 "
                "-wr-> ry: G-single. Elle reports both because neither implies the "
                "other. w3 is a red herring. Elle: :not #{:read-uncommitted}.",
    },
    {
        "name": "test-valid-one-txn-double-write",
        "source": f"{LA_TEST}, deftest lost-update-test, testing "
                  "\"one txn, double write\"",
        "expansion": "as-published ((pair (op \"rxax1ax2\")) then (pair (op "
                     "\"rx12\")), process 0, one after the other)",
        "history": _sequential(_t("rxax1ax2", 0), _t("rx12", 0)),
        "elle_check": {},
        "elle_anomalies": [],
        "anomalies": [],
        "valid": {m: True for m in MODELS},
        "note": "Published {:valid? true} under Elle's default (strict-serializable): "
                "one transaction appending twice after its own read is not a lost "
                "update, and the later read sees both appends in order.",
    },
    {
        "name": "test-valid-adya-figure-3",
        "source": f"{LA_TEST}, deftest graph-test, testing \"serializable figure 3 "
                  "from Adya, Liskov, O'Neil\"",
        "expansion": "concurrent (four :ok ops, process 0 in Elle)",
        "history": _concurrent(_t("az1ax1ay1", 0), _t("rx1ay2", 1), _t("ry12az3", 2),
                               _t("rz13", 3)),
        "elle_check": {"graph-only": True},
        "elle_anomalies": [],
        "anomalies": [],
        "valid": {m: True for m in MODELS},
        "note": "Elle's test checks only the dependency graph it infers -- "
                "{T1 -> {T2, T3}, T2 -> T3, T3 -> T4}, acyclic -- and calls the "
                "history serializable (it is Adya's serializable example). The full "
                "checker is not run in the test; with no cycle, no failed or "
                "intermediate read, no duplicate, no internal or order problem and "
                "no txn that reads and appends the same key, its verdict would be "
                "valid, and the concurrent expansion adds no real-time edges.",
    },
]


ELLE_CYCLE_EXPLANATIONS: dict[str, dict] = {
    # Elle's text layout (core.clj `explain-binding`, `explain-cycle-ops`): first the
    # cycle's transactions are named T1..Tn under "Let:", then under "Then:" one line
    # per edge saying "Ti < Tj, because <reason>"; the last edge's line starts with
    # "However," and ends by calling the result a contradiction.
    "readme-g1c": {
        "source": "README.markdown, section 'Demo' (out/G1c.txt)",
        "example": "readme-g1c",
        "anomaly": "G1c",
        "let": {"T1": "process 1's txn (append 2 to key 10, append 1 to key 20)",
                "T2": "process 0's txn (append 1 to key 10, read key 20 = [1])"},
        "steps": [
            {"from": "T1", "to": "T2", "edge": "wr", "key": 20,
             "says": "T1 comes first: T2's read of key 20 shows the 1 that T1 "
                     "appended."},
            {"from": "T2", "to": "T1", "edge": "ww", "key": 10,
             "says": "yet T2 comes first: T1's append of 2 to key 10 landed after "
                     "T2's append of 1 -- which contradicts the first step."},
        ],
    },
    "test-g2-item": {
        "source": f"{LA_TEST}, deftest graph-test, testing \"G2: anti-dependency "
                  "cycle\" (the :cycles string)",
        "example": "test-g2-item",
        "anomaly": "G2-item",
        "let": {"T1": "read key 20 (nothing), append 1 to key 10",
                "T2": "read key 10 (nothing), append 1 to key 20"},
        "steps": [
            {"from": "T1", "to": "T2", "edge": "rw", "key": 20,
             "says": "T1 comes first: it saw key 20 in its initial, empty state, "
                     "which T2 changed by appending 1."},
            {"from": "T2", "to": "T1", "edge": "rw", "key": 10,
             "says": "yet T2 comes first: it saw key 10 empty, which T1 changed by "
                     "appending 1 -- a contradiction."},
        ],
    },
    "paper-fig2-g-single": {
        "source": "paper/elle.pdf, Figure 2",
        "example": "paper-fig2-g-single",
        "anomaly": "G-single",
        "let": {"T1": "append 10 to 250, read 253 and 255, append 3 to 256",
                "T2": "append 8 to 255, read 253",
                "T3": "append 4 to 256, read 255 = [2 3 4 5 8], 256 and 253"},
        "steps": [
            {"from": "T1", "to": "T2", "edge": "rw", "key": 255,
             "says": "T1 comes first: it did not see T2's append of 8 to 255."},
            {"from": "T2", "to": "T3", "edge": "wr", "key": 255,
             "says": "T2 comes before T3: T3 saw T2's append of 8 to 255."},
            {"from": "T3", "to": "T1", "edge": "ww", "key": 256,
             "says": "yet T3 comes before T1: T1 appended 3 to 256 after T3 "
                     "appended 4 -- a contradiction."},
        ],
    },
}

# What each kind of edge says in Elle's explanations, paraphrased from the
# render-explanation methods in list_append.clj (WW/WR/RW explainers) and core.clj
# (process and realtime explainers). A is the earlier transaction, B the later.
ELLE_EDGE_WORDING: dict[str, str] = {
    "ww": "B appended v' to key k after A appended v to it",
    "wr": "B saw A's append of v to key k (v is the last element B read)",
    "rw": "A did not see B's append of v' to k; or, when A's read was empty, A saw "
          "k's initial (nil) state, which B then created by appending v'",
    "process": "the same process p ran A and then B",
    "realtime": "A completed (at its index; Elle adds the seconds between, when times "
                "are known) before B was invoked (at its index)",
}


def _self_check() -> list[str]:
    """Problems with the data above (empty list when all is well)."""
    problems = []
    names = set()
    for ex in EXAMPLES:
        n = ex["name"]
        if n in names:
            problems.append(f"{n}: duplicate name")
        names.add(n)
        open_by_process: dict[int, dict] = {}
        last_time = -1
        for i, op in enumerate(ex["history"]):
            if op["index"] != i or op["time"] <= last_time:
                problems.append(f"{n}: index/time out of order at {i}")
            last_time = op["time"]
            p = op["process"]
            if op["type"] == "invoke":
                if p in open_by_process:
                    problems.append(f"{n}: process {p} invoked twice at {i}")
                open_by_process[p] = op
            else:
                inv = open_by_process.pop(p, None)
                if inv is None or inv["f"] != op["f"]:
                    problems.append(f"{n}: completion without invocation at {i}")
                elif [m[:2] for m in inv["value"]] != [m[:2] for m in op["value"]]:
                    problems.append(f"{n}: micro-ops differ between invoke and "
                                    f"completion at {i}")
        if open_by_process:
            problems.append(f"{n}: unfinished invocations {sorted(open_by_process)}")
        mapped = sorted(ELLE_TO_OURS[a] for a in ex["elle_anomalies"] if a in ELLE_TO_OURS)
        if not set(mapped) <= set(ex["anomalies"]):
            problems.append(f"{n}: Elle's reported types {mapped} not all in anomalies")
        if ex["anomalies"] != sorted(ex["anomalies"]):
            problems.append(f"{n}: anomalies not sorted")
        expected = _valid(ex["anomalies"])
        for m, b in ex["valid"].items():
            if expected[m] != b:
                problems.append(f"{n}: valid[{m}]={b} disagrees with MODEL_PROHIBITS")
        for m in ("strict-serializable", "serializable"):
            if m not in ex["valid"]:
                problems.append(f"{n}: no verdict for {m}")
    return problems
