"""Cluster resharding under load (`--nemesis reshard`): slots move from one primary to
another while the clients run, the way `redis-cli --cluster reshard` moves them.

Per slot: the target is told it is IMPORTING the slot, the source that it is MIGRATING
it; the slot's keys go over with MIGRATE (atomic per key); then `CLUSTER SETSLOT <slot>
NODE <target>` on the target, the source and the other primaries. Between a key's
MIGRATE and the slot's SETSLOT NODE the source answers ASK for it, and the clients follow
with ASKING (`clients.Session.call`); after it, MOVED. Each move pauses a seeded moment
there on a seeded few of the slots with keys, so the clients do meet the ASK window.

`start` picks a source primary that holds keys, a target, and the slots: every slot of
the source that holds a key (the workload's keys: what the clients are using) plus a
seeded number of others up to 1,000–2,000 slots; it returns once the first slot is MIGRATING, while a thread moves the rest.
`stop` lets that thread finish the slot in hand and move no other. A node killed, paused
or cut off mid-migration leaves slots half-moved, the case the Redis documentation warns
about; the fault's `stop` (and `heal`, at the end) finishes them (`fix_slots`), as an
operator's `redis-cli --cluster fix` would: every key of such a slot goes to the primary
that holds the moved keys (or back to the owner), and the slot is made stable. A key found
on both sides (a client made a new one where the old one was missing) is two versions of
one key: one is kept, the other dropped and recorded (`diverged`), and the checker judges
what that cost.

`reshard-kill` is the case the Redis documentation warns about, made certain rather than
left to the schedule: in the middle of a move — a slot's keys gone over, the slot not yet
handed over — it SIGKILLs the source or the target (seeded). The Cluster fails it over to
its replica, which knows nothing of the migration; `stop` restarts the killed server
and finishes the slot.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from redis.crc import key_slot

from ..roles import Fault
from ..topology.base import no_retry
from .process import heal_processes, wait_ping

MIGRATE_TIMEOUT_MS = 10_000     # a set of a million members takes a few hundred ms to move
KEYS_PER_MIGRATE = 100
SLOTS_PER_MOVE = (1000, 2000)   # seeded, as an operator moves a share of a primary's 5,461
ASK_PAUSES = 16                 # keyed slots held a moment in the ASK window (more: slower)
STOP_WAIT_S = 120.0             # how long stop() waits for the moves to finish
HEAL_TRIES_S = 30.0             # how long heal() keeps trying on nodes that restart


def cluster_nodes(text: str) -> list[dict[str, Any]]:
    """CLUSTER NODES → [{id, addr, flags, master, slots: set, migrating: {slot: id},
    importing: {slot: id}}]."""
    out = []
    for line in str(text).strip().splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        node = {"id": parts[0], "addr": parts[1].split("@")[0], "flags": set(parts[2].split(",")),
                "master": parts[3], "slots": set(), "migrating": {}, "importing": {}}
        for part in parts[8:]:
            if part.startswith("["):
                slot, arrow, other = part.strip("[]").partition("->-")
                if arrow:
                    node["migrating"][int(slot)] = other
                else:
                    slot, _, other = part.strip("[]").partition("-<-")
                    node["importing"][int(slot)] = other
            else:
                lo, _, hi = part.partition("-")
                node["slots"].update(range(int(lo), int(hi or lo) + 1))
        out.append(node)
    return out


class ReshardFault(Fault):
    kind = "reshard"
    topologies = ("cluster",)

    def __init__(self, ctx: Any, name: str):
        super().__init__(ctx, name)
        self.strike = name == "reshard-kill"        # kill the source or target mid-move
        self._thread: threading.Thread | None = None
        self._plan: dict[str, Any] = {}
        self.moves: list[dict[str, Any]] = []      # one per start: for findings()
        self.killed: list[Any] = []                # nodes to start again at stop
        self.diverged: list[dict[str, Any]] = []   # key versions heal dropped
        self.moved_slots: list[tuple[int, str, str]] = []  # (slot, from addr, to addr), in order
        self._halt = threading.Event()             # stop(): no new slot after the current one
        self._plan_kill: str | None = None
        self._plan_kill_at: int | None = None
        self._clients: dict[tuple[str, bool], redis.Redis] = {}   # by node: a move is ~10k calls

    # ------------------------------------------------------------------ cluster access

    def _client(self, addr: str, quick: bool = False) -> redis.Redis:
        """The node's client, kept for the fault's life (a connection per call made a
        thousand-slot move take minutes); redis-py reconnects after a node restarts.
        `quick`: for a look at the cluster, which must not wait on a node cut off."""
        c = self._clients.get((addr, quick))
        if c is None:
            host, _, port = addr.rpartition(":")
            timeout = 1.0 if quick else MIGRATE_TIMEOUT_MS / 1000 + 5
            c = self._clients[(addr, quick)] = redis.Redis(
                host=host, port=int(port), socket_timeout=timeout, socket_connect_timeout=min(timeout, 2),
                decode_responses=True, **({"retry": no_retry()} if quick else {}))
        return c

    def _close_clients(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def _layout(self) -> list[dict[str, Any]]:
        """The cluster as the first node that answers sees it (primaries not failed)."""
        topo = self.ctx.topology
        for node in topo.nodes:
            try:
                return cluster_nodes(self._client(node.addr, quick=True).execute_command("CLUSTER", "NODES"))
            except (redis.RedisError, OSError):
                continue
        for node in topo.nodes:         # cut off from the harness: redis-cli inside a node
            try:
                return cluster_nodes(topo.call(node, "CLUSTER", "NODES", timeout=1.0))
            except Exception:  # noqa: BLE001 - ask the next node
                continue
        raise RuntimeError("no node answers CLUSTER NODES")

    @staticmethod
    def _primaries(layout: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted((n for n in layout if "master" in n["flags"] and n["slots"]
                       and not n["flags"] & {"fail", "fail?", "noaddr"}), key=lambda n: n["addr"])

    # ------------------------------------------------------------------ the fault

    def start(self) -> dict[str, Any]:
        rng = self.ctx.rng
        primaries = self._primaries(self._layout())
        if len(primaries) < 2:
            return {"skipped": "fewer than two primaries own slots"}
        # The source is a primary that holds keys (the workload's: what the clients use),
        # so every move meets the traffic; the target is any other.
        keyed_of = {p["id"]: sorted(self._keyed_slots(p)) for p in primaries}
        src = rng.choice([p for p in primaries if keyed_of[p["id"]]] or primaries)
        dst = rng.choice([p for p in primaries if p is not src])
        keyed = keyed_of[src["id"]]
        empty = sorted(src["slots"] - set(keyed))
        # The slots with keys go first, so even a move the schedule stops early meets
        # the clients; the empty ones follow, as the rest of a range would.
        rng.shuffle(keyed)
        count = rng.randint(*SLOTS_PER_MOVE)
        slots = keyed + rng.sample(empty, max(0, min(len(empty), count - len(keyed))))
        pauses = [round(rng.uniform(0.05, 0.5), 3) if i < ASK_PAUSES else 0.0
                  for i in range(len(slots))]
        plan = {"from": src["addr"], "to": dst["addr"], "from_id": src["id"], "to_id": dst["id"],
                "slots": len(slots), "keyed_slots": len(keyed)}
        if self.strike:
            # Once the first slot's keys are on the target: the worst moment.
            plan["kill"] = rng.choice(("source", "target"))
            plan["kill_at_slot"] = 0
        move = {**plan, "moved": 0, "keys": 0, "start": self.ctx.history.now(), "end": None, "error": None}
        self.moves.append(move)
        self._halt.clear()
        self._begin(slots[0], src, dst)
        self._plan_kill, self._plan_kill_at = plan.get("kill"), plan.get("kill_at_slot")
        self._thread = threading.Thread(target=self._move_all, args=(slots, pauses, src, dst, move),
                                        name="reshard", daemon=True)
        self._thread.start()
        self._plan = plan
        return {**{k: v for k, v in plan.items() if not k.endswith("_id")},
                "first_slot": slots[0]}

    def stop(self) -> dict[str, Any]:
        """The move stops after the slot in hand (as an operator interrupting a reshard
        between slots would): the slots not reached stay where they were. A killed server
        is started again, and a slot the failure left half-moved is finished, as the
        operator would with `redis-cli --cluster fix`, so that one window's damage does
        not run on into the next (if that fails, heal tries again at the end)."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        move = self.moves[-1] if self.moves else {}
        done = {k: move.get(k) for k in ("moved", "keys", "error")}
        if self._thread is not None and self._thread.is_alive():
            done["error"] = f"still moving after {STOP_WAIT_S:.0f}s; heal finishes it"
        elif self.killed or move.get("error"):
            if self.killed:
                done["restarted"] = self._restart()
            try:
                done.update(self._settle_and_fix(time.monotonic() + HEAL_TRIES_S))
            except Exception as e:  # noqa: BLE001 - heal() tries again at the end
                done["fix_error"] = f"{type(e).__name__}: {e}"[:300]
        self._thread = None
        return done

    def heal(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        if self.strike:
            self.killed = []
            heal_processes(self.ctx.topology)
        try:
            fixed = self._settle_and_fix(time.monotonic() + HEAL_TRIES_S)
        finally:
            self._close_clients()
        if fixed:
            self.ctx.record("reshard-fixed", fixed)

    def _settle_and_fix(self, deadline: float) -> dict[str, Any]:
        """fix_slots on the cluster as it settles, not while a failover or a node turning
        replica is under way (a node about to turn replica still says it is importing; a
        half-moved slot alone leaves the cluster healthy). Retried until `deadline` while
        nodes restart. Returns {"fixed": slots, "diverged": [...]}, or {} if none."""
        while self.ctx.topology.problems() and time.monotonic() < deadline:
            time.sleep(0.5)
        while True:
            try:
                before = len(self.diverged)
                fixed = self.fix_slots()
                return {"fixed": fixed, "diverged": self.diverged[before:]} if fixed else {}
            except Exception:  # noqa: BLE001 - nodes may still be restarting
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def describe(self) -> str:
        p = self._plan
        return f"reshard {p.get('slots', 0)} slots {p.get('from', '?')} → {p.get('to', '?')}" if p else self.name

    def findings(self) -> dict[str, Any]:
        """The moves, as windows of the report (node: "source → target")."""
        return {"reshard": [{"node": f"{m['from']} → {m['to']}", "start": m["start"],
                             "end": m["end"] if m["end"] is not None else m["start"],
                             "slots": m["moved"], "keys": m["keys"], "error": m["error"]}
                            for m in self.moves],
                "reshard_diverged": self.diverged}

    # ------------------------------------------------------------------ moving slots

    def _keyed_slots(self, src: dict[str, Any]) -> set[int]:
        """The source's slots that hold keys (SCAN: it never blocks the node for long)."""
        r = self._client(src["addr"])
        return {s for s in (key_slot(k.encode()) for k in r.scan_iter(count=1000)) if s in src["slots"]}

    def _begin(self, slot: int, src: dict[str, Any], dst: dict[str, Any]) -> None:
        """Target IMPORTING first, then source MIGRATING (the order redis-cli uses: a
        client sent over by ASK must find the target ready)."""
        self._client(dst["addr"]).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src["id"])
        self._client(src["addr"]).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst["id"])

    def _move_all(self, slots: list[int], pauses: list[float], src: dict[str, Any],
                  dst: dict[str, Any], move: dict[str, Any]) -> None:
        try:
            for i, (slot, pause) in enumerate(zip(slots, pauses)):
                if i and self._halt.is_set():
                    break
                if i:
                    self._begin(slot, src, dst)
                move["keys"] += self._move_keys(slot, src, dst)
                if self.strike and i == self._plan_kill_at:
                    move["killed"] = self._kill(src if self._plan_kill == "source" else dst)
                time.sleep(pause)       # the ASK window: keys gone, slot not yet handed over
                self._assign(slot, dst["id"])
                move["moved"] += 1
                self.moved_slots.append((slot, src["addr"], dst["addr"]))
        except Exception as e:  # noqa: BLE001 - recorded; heal() finishes half-moved slots
            move["error"] = f"{type(e).__name__}: {e}"[:300]
        finally:
            move["end"] = self.ctx.history.now()

    def _kill(self, node: dict[str, Any]) -> dict[str, Any]:
        topo = self.ctx.topology
        victim = topo.node(node["addr"])
        rc, out = topo.signal(victim, "redis", "KILL")
        self.killed.append(victim)
        return {"node": victim.name, "at": self.ctx.history.now(), **({"error": out.strip()[:200]} if rc else {})}

    def _restart(self) -> dict[str, Any]:
        topo = self.ctx.topology
        victims, self.killed = self.killed, []
        for n in victims:
            topo.start_daemon(n, "redis")
        return {n.name: wait_ping(topo, n, 5.0) is not None for n in victims}

    def _move_keys(self, slot: int, src: dict[str, Any], dst: dict[str, Any]) -> int:
        """MIGRATE the slot's keys from src (which owns it, MIGRATING) to dst. A key dst
        has already is two versions of one key (see `fix_slots`): src's is dropped."""
        host, _, port = dst["addr"].rpartition(":")
        s = self._client(src["addr"])
        moved = 0
        while keys := s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, KEYS_PER_MIGRATE):
            try:
                s.execute_command("MIGRATE", host, port, "", 0, MIGRATE_TIMEOUT_MS, "KEYS", *keys)
                moved += len(keys)
                continue
            except redis.ResponseError as e:
                if "BUSYKEY" not in str(e):
                    raise
            for key in keys:        # one by one, to find the ones dst has
                try:
                    s.execute_command("MIGRATE", host, port, key, 0, MIGRATE_TIMEOUT_MS)
                    moved += 1
                except redis.ResponseError as e:
                    if "BUSYKEY" not in str(e):
                        raise
                    self._drop(s, slot, key, src, dst, asking=False)
        return moved

    def _drop(self, c: redis.Redis, slot: int, key: str, dropped: dict[str, Any],
              kept: dict[str, Any], asking: bool) -> None:
        """Drop one version of a key that exists on two primaries, and record it."""
        run = self._asking if asking else (lambda conn, *a: conn.execute_command(*a))
        size = run(c, "MEMORY", "USAGE", key)
        run(c, "DEL", key)
        self.diverged.append({"slot": slot, "key": key, "dropped_on": dropped["addr"],
                              "kept_on": kept["addr"], "dropped_bytes": size})

    def _assign(self, slot: int, owner_id: str) -> None:
        """SETSLOT NODE on the new owner first (it bumps its epoch), then on every other
        primary; the gossip would carry it, but not before clients are sent back and forth."""
        primaries = self._primaries(self._layout())
        owner = [p for p in primaries if p["id"] == owner_id]
        for p in owner + [p for p in primaries if p["id"] != owner_id]:
            try:
                self._client(p["addr"]).execute_command("CLUSTER", "SETSLOT", slot, "NODE", owner_id)
            except (redis.RedisError, OSError):
                if p["id"] == owner_id:     # the others learn it from the owner's gossip
                    raise

    def fix_slots(self) -> list[int]:
        """Finish every slot left MIGRATING or IMPORTING on a primary, so that it ends
        stable, owned by one primary everywhere. Returns the slots fixed; raises if a node
        does not answer.

        Where the owner still migrates the slot to a primary still importing it, the move
        resumes. Otherwise a failover lost one side's state, and the keys already moved
        sit on a primary that does not own the slot (the target, or the replica that took
        its place): the move is carried on to that primary, with the owner kept MIGRATING
        meanwhile, so that a client writing a key the owner lacks is sent on by ASK rather
        than making a second version of it on the owner. Keys on several non-owners, or
        none, go back to the owner. A key found on both sides is two versions of one key:
        the one where the slot ends up is kept, the other dropped and recorded."""
        layout = self._layout()
        masters = [n for n in layout if "master" in n["flags"] and not n["flags"] & {"fail", "noaddr"}]
        by_id = {n["id"]: n for n in masters}
        for n in masters:
            # A node shows slots in migration only on its own line ("myself"): ask each.
            own = [m for m in cluster_nodes(self._command(n, "CLUSTER", "NODES")) if "myself" in m["flags"]]
            n["migrating"], n["importing"] = (own[0]["migrating"], own[0]["importing"]) if own else ({}, {})
        stuck = sorted({s for n in masters for s in (*n["migrating"], *n["importing"])})
        for slot in stuck:
            owner = next((n for n in masters if slot in n["slots"]), None)
            if owner is None:
                raise RuntimeError(f"slot {slot} has no owner")
            target = by_id.get(owner["migrating"].get(slot, ""))
            holders = [n for n in masters if n is not owner
                       and self._command(n, "CLUSTER", "COUNTKEYSINSLOT", slot)]
            if target is None or target["importing"].get(slot) != owner["id"]:
                if len(holders) == 1:
                    target = holders[0]
                    self._command(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", owner["id"])
                    self._command(owner, "CLUSTER", "SETSLOT", slot, "MIGRATING", target["id"])
                else:
                    target = None
            if target is not None:
                self._move_keys(slot, owner, target)
                self._assign(slot, target["id"])
            else:
                # The owner first: while it says MIGRATING it answers ASK to keys sent back.
                self._command(owner, "CLUSTER", "SETSLOT", slot, "STABLE")
                for n in holders:
                    self._evacuate(slot, n, owner)
                self._assign(slot, owner["id"])
            for n in masters:
                if slot in n["migrating"] or slot in n["importing"]:
                    try:
                        self._command(n, "CLUSTER", "SETSLOT", slot, "STABLE")
                    except redis.ResponseError:
                        pass        # already cleared by SETSLOT NODE
        return stuck

    def _command(self, node: dict[str, Any], *args: Any) -> Any:
        return self._client(node["addr"]).execute_command(*args)

    def _evacuate(self, slot: int, node: dict[str, Any], owner: dict[str, Any]) -> None:
        """Move a slot's keys from a primary that does not own it to the owner. Marked as
        importing the slot, the node serves it to a connection that says ASKING; MIGRATE
        goes on that connection (a pipeline keeps one)."""
        host, _, port = owner["addr"].rpartition(":")
        c = self._client(node["addr"])
        if c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot):
            c.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", owner["id"])
            for key in c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1 << 20):
                try:
                    self._asking(c, "MIGRATE", host, port, key, 0, MIGRATE_TIMEOUT_MS)
                except redis.ResponseError as e:
                    if "BUSYKEY" not in str(e):
                        raise
                    self._drop(c, slot, key, node, owner, asking=True)
        c.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")

    @staticmethod
    def _asking(c: redis.Redis, *args: Any) -> Any:
        """A command on a slot the node is importing: ASKING first, on the same connection."""
        pipe = c.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.execute_command(*args)
        return pipe.execute()[1]
