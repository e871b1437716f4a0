"""Clock faults: per-node wall-clock offsets, never the real clock.

Each node's redis-server and redis-sentinel run under a preload that reads the offset file
`/run/splitbrain/faketime` (`sb-node clock +30s`): libfaketime (re-read at most once a
second), or sb-clock on servers libfaketime deadlocks (every 100 ms; harness/servers.py).
Only wall-clock time moves (CLOCK_MONOTONIC stays real), as with an NTP step. Names:

    clock-bump     a random subset of nodes each gets its own offset of ±(100 ms .. 5 min)
                   (log-uniform: small skews are as likely as large ones); stop() resets them
    clock-strobe   a thread flips an offset on and off on a random subset of nodes every
                   200–500 ms for 3–6 s, then resets; stop() ends it early and resets
    clock-jump     a forward jump of +(10 s .. 5 min) on a minority of the primaries (at
                   least one: the node that holds the keys, 2 of 5 independent masters),
                   which expires keys early (lock leases); stop() resets them
    clock-reset    every offset back to 0 (a single event; stop() does nothing)
    clock          a random one of clock-bump / clock-strobe at each start

Every change is bracketed by measurements recorded as nemesis ops `clock-measure` with
value {"offsets_ms": {"n1": 30012.3, ...}, "phase": "before"|"after"|"strobe"|"heal"}:
each node's Redis `TIME` minus the harness's wall time at the midpoint of the round trip
(redis-cli inside the node when the harness is partitioned from it; null when Redis does
not answer, e.g. killed or paused). "after" is measured once the new offsets are in force
(the file is re-read within 1–2 s). The host shares its kernel clock with the containers,
so the harness's wall clock is the nodes' real clock.

heal() stops any strobe, writes +0s on every node, waits for it to take effect and records
a last measurement. Findings: `clock_max_offset_ms` (node → largest |offset| measured) and,
on Sentinel topologies, `sentinel_tilt`: windows {"node", "start", "end"} in harness ns.
TILT is observed by polling each Sentinel's `INFO sentinel` (sentinel_tilt) every 0.5 s on
the harness clock while clock faults are possible; the +tilt/-tilt lines of
`/data/sentinel.log` (stamped with the node's *skewed* clock) are translated back with the
offset in force at the time and fill in windows the polling missed.
"""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any

from ..roles import Fault
from ..topology import Node, Topology

MIN_OFFSET_S = 0.1
MAX_OFFSET_S = 300.0
MIN_JUMP_S = 10.0            # clock-jump: longer than any lease a lock workload takes
TOLERANCE_MS = 40.0          # a measured offset this close to the target counts as in force
EFFECT_TIMEOUT_S = 4.0       # libfaketime re-reads the file at most every second
TILT_POLL_S = 0.5
LOG_LINE = re.compile(r"^\d+:X (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) . ([+-])tilt\b")


def fmt_offset(seconds: float) -> str:
    return f"{'+' if seconds >= 0 else '-'}{abs(seconds):.3f}s"


def log_uniform(rng, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def random_offset(rng) -> float:
    magnitude = log_uniform(rng, MIN_OFFSET_S, MAX_OFFSET_S)
    return round(rng.choice((-1, 1)) * magnitude, 3)


def measure_one(topo: Topology, node: Node) -> float | None:
    """Node's Redis TIME minus the harness wall clock at the round trip's midpoint, in ms."""
    best: tuple[float, float] | None = None
    try:
        r = topo.redis(node, timeout=0.3)
        try:
            for _ in range(3):
                t0 = time.time()
                sec, usec = r.time()
                t1 = time.time()
                cand = (t1 - t0, (sec + usec / 1e6 - (t0 + t1) / 2) * 1000)
                best = cand if best is None or cand[0] < best[0] else best
        finally:
            r.close()
        return round(best[1], 1)
    except Exception:  # noqa: BLE001 - partitioned from the harness, paused or down
        pass
    # Inside the node the wall clock is the host's (one kernel), only the tool differs.
    rc, out = topo.exec(node, ["sh", "-c", 'a=$(date +%s%N); t=$(timeout 1 redis-cli TIME | tr "\\n" " "); '
                                           'b=$(date +%s%N); echo "$a $t $b"'])
    parts = out.split()
    if rc != 0 or len(parts) != 4:
        return None
    try:
        a, sec, usec, b = (int(p) for p in parts)
    except ValueError:
        return None
    return round((sec + usec / 1e6 - (a + b) / 2e9) * 1000, 1)


class ClockState:
    """What every clock fault of one run shares: offsets set, measurements, TILT watch."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.topo: Topology = ctx.topology
        self.lock = threading.RLock()
        self.target: dict[str, float] = {}                    # node → offset (s) written
        self.timeline: dict[str, list[tuple[int, float]]] = {}  # node → [(harness ns, offset s)]
        self.max_ms: dict[str, float] = {}
        self.strobe: Strobe | None = None
        self.anchor: tuple[float, int] | None = None          # (wall s, harness ns) at one instant
        self._watch: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self.tilt_open: dict[str, int] = {}
        self.tilt_windows: list[dict[str, Any]] = []

    # ------------------------------------------------------------ offsets
    def write(self, offsets: dict[str, float]) -> None:
        """Write each node's offset file (nodes not named keep theirs)."""
        topo = self.topo
        nodes = [topo.node(n) for n in offsets]

        def one(node: Node) -> None:
            topo.exec(node, ["sb-node", "clock", fmt_offset(offsets[node.name])], check=True)

        topo.each(nodes, one)
        now = self.ctx.history.now()
        with self.lock:
            for name, off in offsets.items():
                self.target[name] = off
                self.timeline.setdefault(name, [(-(1 << 62), 0.0)]).append((now, off))

    def measure(self, phase: str, fault: str, record: bool = True) -> dict[str, float | None]:
        nodes = list(self.topo.nodes)
        values = self.topo.each(nodes, lambda n: measure_one(self.topo, n))
        offsets = {n.name: v for n, v in zip(nodes, values)}
        with self.lock:
            for name, v in offsets.items():
                if v is not None:
                    self.max_ms[name] = max(self.max_ms.get(name, 0.0), abs(v))
        if record:
            self.ctx.record("clock-measure", {"offsets_ms": offsets, "phase": phase, "fault": fault})
        return offsets

    def change(self, offsets: dict[str, float], fault: str) -> dict[str, Any]:
        """Measure, write the offsets, wait until they are in force, measure again."""
        self.ensure_watch()
        before = self.measure("before", fault)
        self.write(offsets)
        after = self.wait_effect(offsets, fault)
        return {"before_ms": before, "after_ms": after}

    def wait_effect(self, offsets: dict[str, float], fault: str, phase: str = "after") -> dict[str, float | None]:
        t0 = time.monotonic()
        while True:
            got = self.measure("after", fault, record=False)
            reachable = [n for n in offsets if got.get(n) is not None]
            in_force = all(abs(got[n] - offsets[n] * 1000) <= TOLERANCE_MS for n in reachable)
            elapsed = time.monotonic() - t0
            # Nodes that cannot be measured: give libfaketime its full re-read time.
            if (in_force and (len(reachable) == len(offsets) or elapsed > 2.2)) or elapsed > EFFECT_TIMEOUT_S:
                break
            time.sleep(0.2)
        self.ctx.record("clock-measure", {"offsets_ms": got, "phase": phase, "fault": fault,
                                          "target_ms": {n: round(o * 1000, 1) for n, o in offsets.items()},
                                          "in_force": in_force, "waited_s": round(elapsed, 2)})
        return got

    def reset(self, fault: str, phase_nodes: list[str] | None = None) -> dict[str, Any]:
        names = phase_nodes if phase_nodes is not None else [n.name for n in self.topo.nodes]
        return self.change({n: 0.0 for n in names}, fault)

    # ------------------------------------------------------------ TILT
    def ensure_watch(self) -> None:
        if not self.topo.sentinel_nodes:
            return
        with self.lock:
            if self.anchor is None:
                self.anchor = (time.time(), self.ctx.history.now())
            if self._watch is None:
                self._watch = threading.Thread(target=self._watch_tilt, name="tilt-watch", daemon=True)
                self._watch.start()

    def _tilt_of(self, node: Node) -> bool | None:
        try:
            text = self.topo.call(node, "INFO", "sentinel", port=26379, timeout=0.3)
        except Exception:  # noqa: BLE001 - unreachable this round; the log fills gaps
            return None
        if isinstance(text, dict):
            return bool(int(text.get("sentinel_tilt", 0)))
        m = re.search(r"sentinel_tilt:(\d)", str(text))
        return bool(int(m.group(1))) if m else None

    def _watch_tilt(self) -> None:
        nodes = list(self.topo.sentinel_nodes)
        while not self._watch_stop.is_set():
            states = self.topo.each(nodes, self._tilt_of)
            now = self.ctx.history.now()
            with self.lock:
                for node, tilt in zip(nodes, states):
                    if tilt is None:
                        continue
                    if tilt and node.name not in self.tilt_open:
                        self.tilt_open[node.name] = now
                    elif not tilt and node.name in self.tilt_open:
                        self.tilt_windows.append({"node": node.name, "start": self.tilt_open.pop(node.name),
                                                  "end": now, "source": "poll"})
            self._watch_stop.wait(TILT_POLL_S)

    def stop_watch(self) -> None:
        self._watch_stop.set()
        if self._watch is not None:
            self._watch.join(timeout=10)

    def _log_windows(self) -> list[dict[str, Any]]:
        """+tilt/-tilt from each Sentinel's log, translated to harness ns."""
        if self.anchor is None:
            return []
        wall0, ns0 = self.anchor
        out = []
        for node in self.topo.sentinel_nodes:
            rc, text = self.topo.exec(node, ["cat", "/data/sentinel.log"])
            if rc != 0:
                continue
            segs = self.timeline.get(node.name, [(-(1 << 62), 0.0)])
            opened = None
            for line in text.splitlines():
                m = LOG_LINE.match(line)
                if not m:
                    continue
                fake = datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f").replace(
                    tzinfo=timezone.utc).timestamp()
                when = None
                for i, (since, off) in enumerate(segs):
                    until = segs[i + 1][0] if i + 1 < len(segs) else 1 << 62
                    h = ns0 + int((fake - off - wall0) * 1e9)
                    # The old offset stays in force for up to ~2 s after a write.
                    if since - 500_000_000 <= h <= until + 2_500_000_000:
                        when = h
                if when is None or when < 0:
                    continue
                if m.group(2) == "+" and opened is None:
                    opened = when
                elif m.group(2) == "-" and opened is not None:
                    out.append({"node": node.name, "start": opened, "end": when, "source": "log"})
                    opened = None
            if opened is not None:
                out.append({"node": node.name, "start": opened, "end": None, "source": "log"})
        return out

    def findings(self) -> dict[str, Any]:
        self.stop_watch()
        out: dict[str, Any] = {"clock_max_offset_ms": dict(sorted(self.max_ms.items()))}
        if not self.topo.sentinel_nodes or self.anchor is None:
            return out
        with self.lock:
            windows = list(self.tilt_windows)
            windows += [{"node": n, "start": s, "end": None, "source": "poll"} for n, s in self.tilt_open.items()]
        try:
            logged = self._log_windows()
        except Exception:  # noqa: BLE001 - the polled windows stand on their own
            logged = []
        slack = 3_000_000_000
        for w in logged:
            end = w["end"] if w["end"] is not None else 1 << 62
            if not any(p["node"] == w["node"] and p["start"] - slack <= end and
                       w["start"] <= (p["end"] if p["end"] is not None else 1 << 62) + slack for p in windows):
                windows.append(w)
        out["sentinel_tilt"] = sorted(windows, key=lambda w: (w["start"], w["node"]))
        return out


def state_of(ctx) -> ClockState:
    """The run's one ClockState (every clock fault of a run shares it)."""
    st = getattr(ctx, "_clock_state", None)
    if st is None:
        st = ClockState(ctx)
        ctx._clock_state = st
    return st


class Strobe(threading.Thread):
    def __init__(self, state: ClockState, offsets: dict[str, float], period: float, duration: float):
        super().__init__(name="clock-strobe", daemon=True)
        self.state, self.offsets, self.period, self.duration = state, offsets, period, duration
        self.halt = threading.Event()
        self.flips = 0
        self.error: str | None = None

    def run(self) -> None:
        end = time.monotonic() + self.duration
        on = False
        try:
            while not self.halt.is_set() and time.monotonic() < end:
                on = not on
                self.state.write(self.offsets if on else {n: 0.0 for n in self.offsets})
                self.flips += 1
                self.state.measure("strobe", "clock-strobe")
                self.halt.wait(self.period)
        except Exception as e:  # noqa: BLE001 - stop()/heal() reset anyway
            self.error = f"{type(e).__name__}: {e}"
        finally:
            try:
                self.state.write({n: 0.0 for n in self.offsets})
            except Exception:  # noqa: BLE001
                pass


class ClockFault(Fault):
    kind = "clock"

    def __init__(self, ctx, name: str):
        super().__init__(ctx, name)
        self.modes = {"clock": ("bump", "strobe"), "clock-bump": ("bump",), "clock-jump": ("jump",),
                      "clock-strobe": ("strobe",),
                      "clock-reset": ("reset",)}[name]
        self.state = state_of(ctx)
        self.mode: str | None = None
        self.skewed: list[str] = []

    def describe(self) -> str:
        if not self.mode:
            return self.name
        return f"clock-{self.mode}" + (f" ({','.join(self.skewed)})" if self.skewed else "")

    def _subset(self) -> list[str]:
        names = [n.name for n in self.ctx.topology.nodes]
        k = self.ctx.rng.randint(1, len(names))
        return sorted(self.ctx.rng.sample(names, k))

    def start(self) -> dict[str, Any]:
        st, rng = self.state, self.ctx.rng
        self.mode = rng.choice(self.modes)
        if self.mode == "reset":
            self.skewed = []
            return {"mode": "reset", **st.reset("clock-reset")}
        if self.mode == "jump":
            prims = sorted(n.name for n in (self.ctx.topology.primaries() or self.ctx.topology.nodes))
            nodes = sorted(rng.sample(prims, max(1, (len(prims) - 1) // 2)))
            self.skewed = nodes
            offsets = {n: round(log_uniform(rng, MIN_JUMP_S, MAX_OFFSET_S), 3) for n in nodes}
            return {"mode": "jump", "offsets_s": offsets, **st.change(offsets, "clock-jump")}
        nodes = self._subset()
        self.skewed = nodes
        if self.mode == "bump":
            offsets = {n: random_offset(rng) for n in nodes}
            return {"mode": "bump", "offsets_s": offsets, **st.change(offsets, "clock-bump")}
        magnitude = random_offset(rng)
        offsets = {n: magnitude for n in nodes}
        period = round(rng.uniform(0.2, 0.5), 3)
        duration = round(rng.uniform(3.0, 6.0), 2)
        st.ensure_watch()
        st.measure("before", "clock-strobe")
        self.stop_strobe()
        st.strobe = Strobe(st, offsets, period, duration)
        st.strobe.start()
        return {"mode": "strobe", "offsets_s": offsets, "period_s": period, "duration_s": duration}

    def stop_strobe(self) -> dict[str, Any]:
        s, self.state.strobe = self.state.strobe, None
        if s is None:
            return {}
        s.halt.set()
        s.join(timeout=30)
        return {"flips": s.flips, **({"error": s.error} if s.error else {})}

    def stop(self) -> dict[str, Any]:
        mode, nodes = self.mode, self.skewed
        self.mode, self.skewed = None, []
        if mode in (None, "reset"):
            return {"mode": mode}
        desc: dict[str, Any] = {"mode": mode, "nodes": nodes}
        if mode == "strobe":
            desc.update(self.stop_strobe())
        desc.update(self.state.reset(f"clock-{mode}", nodes))
        return desc

    def heal(self) -> None:
        self.stop_strobe()
        self.mode, self.skewed = None, []
        st = self.state
        st.write({n.name: 0.0 for n in st.topo.nodes})
        got = st.wait_effect({n.name: 0.0 for n in st.topo.nodes}, "clock", phase="heal")
        bad = {n: v for n, v in got.items() if v is not None and abs(v) > TOLERANCE_MS}
        if bad:
            raise RuntimeError(f"clock offsets still in force after reset: {bad}")

    def findings(self) -> dict[str, Any]:
        return self.state.findings()
