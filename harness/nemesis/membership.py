"""Cluster membership under load: a primary joins or leaves while the clients run, and
the slots it took or gave are handed back at the fault's stop.

`add-primary`: two spare containers of the topology (started empty, outside the
deployment) are reset and joined with `CLUSTER MEET`, one as the new primary, the other
as its replica (`CLUSTER REPLICATE`); a seeded share of every primary's slots (those with
keys first) moves to the new primary, slot by slot as `reshard` moves them. At stop the
slots go back to where they were, and the two leave: `CLUSTER FORGET` on every other
node, then `CLUSTER RESET HARD` on them, as `redis-cli --cluster del-node` would.

`remove-primary` is the reverse: a primary hands all its slots to the others (a primary
left with no slot becomes a replica of the one that took its last, since Redis 7.0) and
leaves with its replica; at stop both join again (new ids, as after a reset) and the
slots come back. Either way the deployment ends as it began: the same primaries owning
the same slots.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from ..topology.base import Node
from .process import wait_ping
from .reshard import ASK_PAUSES, STOP_WAIT_S, HEAL_TRIES_S, ReshardFault

SHARE_PER_PRIMARY = (330, 650)   # slots each primary gives a new one: 1,000–2,000 in all
BATCH = 128                       # slots per pipelined step once the ASK pauses are done
SLOT = object()                   # where a slot goes in a batched command
GOSSIP_WAIT_S = 15.0              # how long a join waits for every node to know the new ones


class MembershipFault(ReshardFault):
    kind = "membership"
    topologies = ("cluster",)

    def __init__(self, ctx: Any, name: str):
        super().__init__(ctx, name)
        self.grow = name == "add-primary"
        self.members: list[Node] = []     # [primary, replica] joined (add) or removed (remove)
        self.changes: list[dict[str, Any]] = []    # one per start: for findings()
        self._window_from = 0             # moved_slots index where this window's moves begin
        self._home: dict[int, str] = {}   # slot → the primary that owned it at start
        self._before: dict[int, str] = {}  # every slot → its owner's address at start

    # ------------------------------------------------------------------ the fault

    def start(self) -> dict[str, Any]:
        if self.members:
            return {"skipped": "the last membership change is not undone yet"}
        topo, rng = self.ctx.topology, self.ctx.rng
        primaries = self._primaries(self._layout())
        self._before = self._owners(primaries)
        self._window_from = len(self.moved_slots)
        if self.grow:
            if len(topo.outside) < 2:
                return {"skipped": "no two spare containers in the topology"}
            primary, replica = topo.outside[:2]
            self._join(primary, replica, primaries[0])
            new = self._node_dict(primary.addr)
            plan = []
            for src in primaries:
                keyed = sorted(self._keyed_slots(src))
                rng.shuffle(keyed)
                others = sorted(src["slots"] - set(keyed))
                count = rng.randint(*SHARE_PER_PRIMARY)
                plan.append((src, new, keyed[:count] + rng.sample(others, max(0, min(len(others), count - len(keyed))))))
        else:
            if len(primaries) < 3:
                return {"skipped": "fewer than three primaries own slots"}
            victim = rng.choice(primaries)
            replica_addr = next((n["addr"] for n in self._layout() if n["master"] == victim["id"]), None)
            primary, replica = topo.node(victim["addr"]), topo.node(replica_addr) if replica_addr else None
            if replica is None:
                return {"skipped": f"{victim['addr']} has no replica to leave with"}
            keyed = sorted(self._keyed_slots(victim))
            rng.shuffle(keyed)
            slots = keyed + sorted(victim["slots"] - set(keyed))
            heirs = [p for p in primaries if p is not victim]
            plan = [(victim, heir, slots[i::len(heirs)]) for i, heir in enumerate(heirs)]
        self.members = [primary, replica]
        self._home = {slot: src["addr"] for src, _, slots in plan for slot in slots}
        change = {"change": "add" if self.grow else "remove", "primary": primary.name, "replica": replica.name,
                  "slots": sum(len(s) for _, _, s in plan), "moved": 0, "keys": 0, "returned": 0,
                  "start": self.ctx.history.now(), "end": None, "error": None}
        self.changes.append(change)
        self._halt.clear()
        self._thread = threading.Thread(target=self._move_plan, args=(plan, change), name=self.name, daemon=True)
        self._thread.start()
        self._plan = {"slots": change["slots"], "from": primary.name, "to": replica.name}
        return {k: change[k] for k in ("change", "primary", "replica", "slots")}

    def stop(self) -> dict[str, Any]:
        """The moves stop after the slot in hand; every slot moved goes back; the new
        primary leaves (add) or the removed one joins again (remove)."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        self._thread = None
        change = self.changes[-1] if self.changes else {}
        try:
            self._undo(change)
        except Exception as e:  # noqa: BLE001 - heal() tries again at the end
            change["error"] = change.get("error") or f"undo: {type(e).__name__}: {e}"[:300]
        return {k: change[k] for k in ("moved", "keys", "returned", "left", "slots_back", "not_back", "error")
                if k in change}

    def heal(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        try:
            fixed = self._settle_and_fix(time.monotonic() + HEAL_TRIES_S)
            if self.members or len(self.moved_slots) > self._window_from:
                self._undo(self.changes[-1])
                self.ctx.record("membership-restored", {**fixed, "returned": self.changes[-1]["returned"]})
        finally:
            self._close_clients()

    def describe(self) -> str:
        c = self.changes[-1] if self.changes else None
        if not c:
            return self.name
        return f"{self.name} {c['primary']} (replica {c['replica']}), {c['slots']} slots"

    def findings(self) -> dict[str, Any]:
        sign = {"add": "+", "remove": "−"}
        return {"membership": [{"node": f"{sign[c['change']]}{c['primary']} ({c['replica']})",
                                "start": c["start"], "end": c["end"] if c["end"] is not None else c["start"],
                                "slots": c["moved"], "returned": c["returned"], "keys": c["keys"],
                                "error": c["error"]} for c in self.changes],
                "membership_diverged": self.diverged}

    # ------------------------------------------------------------------ steps

    def _move_plan(self, plan: list, change: dict[str, Any]) -> None:
        for src, dst, slots in plan:
            if not slots or (change["moved"] and self._halt.is_set()):
                continue
            pauses = [0.05 if i < ASK_PAUSES // len(plan) else 0.0 for i in range(len(slots))]
            try:
                self._begin(slots[0], src, dst)     # _move_all begins every slot after the first
            except Exception as e:  # noqa: BLE001 - recorded; stop() moves back what moved
                change["error"] = f"{type(e).__name__}: {e}"[:300]
                break
            # The first few one by one, with a pause in the ASK window; the rest in batches
            # (a primary's 5,461 slots one by one take most of a minute).
            head = max(1, ASK_PAUSES // len(plan))
            self._move_all(slots[:head], pauses[:head], src, dst, change)
            for i in range(head, len(slots), BATCH):
                if change["error"] or self._halt.is_set():
                    break
                try:
                    self._move_batch(slots[i:i + BATCH], src, dst, change)
                except Exception as e:  # noqa: BLE001 - recorded; stop() moves back what moved
                    change["error"] = f"{type(e).__name__}: {e}"[:300]
            change["end"] = self.ctx.history.now()
            if change["error"]:
                break
        if not self.grow and not change["error"] and change["moved"] == change["slots"]:
            try:
                self._leave(*self.members)
                change["left"] = self.ctx.history.now()
            except Exception as e:  # noqa: BLE001 - recorded; stop() joins them again anyway
                change["error"] = f"leave: {type(e).__name__}: {e}"[:300]

    def _move_batch(self, slots: list[int], src: dict[str, Any], dst: dict[str, Any],
                    change: dict[str, Any]) -> None:
        """`reshard`'s steps for many slots at once, one pipeline per step and node."""
        def each(node: dict[str, Any], *args: Any, strict: bool = True) -> list[Any]:
            pipe = self._client(node["addr"]).pipeline(transaction=False)
            for slot in slots:
                pipe.execute_command(*[slot if a is SLOT else a for a in args])
            return pipe.execute(raise_on_error=strict)
        each(dst, "CLUSTER", "SETSLOT", SLOT, "IMPORTING", src["id"])
        each(src, "CLUSTER", "SETSLOT", SLOT, "MIGRATING", dst["id"])
        for slot, count in zip(slots, each(src, "CLUSTER", "COUNTKEYSINSLOT", SLOT)):
            if count:
                change["keys"] += self._move_keys(slot, src, dst)
        each(dst, "CLUSTER", "SETSLOT", SLOT, "NODE", dst["id"])      # the new owner first
        for p in self._primaries(self._layout()):
            if p["id"] != dst["id"]:
                each(p, "CLUSTER", "SETSLOT", SLOT, "NODE", dst["id"], strict=False)
        change["moved"] += len(slots)
        self.moved_slots.extend((slot, src["addr"], dst["addr"]) for slot in slots)

    def _undo(self, change: dict[str, Any]) -> None:
        """Half-moved slots finished, every slot moved this window moved back, the
        membership restored. Idempotent: heal() calls it again if stop() failed."""
        topo = self.ctx.topology
        if self.members and not self.grow and self.members[0] in topo.outside:
            self._join(self.members[0], self.members[1], self._primaries(self._layout())[0])
        self._settle_and_fix(time.monotonic() + HEAL_TRIES_S)
        # Where each planned slot was at the start, not only the slots this fault's moves
        # finished: fix_slots may have finished a half-moved one.
        layout = self._layout()
        by_addr = {n["addr"]: n for n in layout}
        away: dict[tuple[str, str], list[int]] = {}
        for slot, home in sorted(self._home.items()):
            owner = next(n for n in self._primaries(layout) if slot in n["slots"])
            if owner["addr"] != home:
                away.setdefault((owner["addr"], home), []).append(slot)
        for (there, home), slots in away.items():
            for i in range(0, len(slots), BATCH):
                back = {"moved": 0, "keys": 0}
                self._move_batch(slots[i:i + BATCH], by_addr[there], by_addr[home], back)
                change["returned"] = change.get("returned", 0) + back["moved"]
        self.moved_slots = self.moved_slots[:self._window_from]
        if self.members and self.grow and self.members[0] in topo.nodes:
            self._leave(*self.members)
            change["left"] = self.ctx.history.now()
        # The check that matters: every slot owned by the primary that owned it before.
        after = self._owners(self._primaries(self._layout()))
        change["slots_back"] = after == self._before
        if not change["slots_back"]:
            change["not_back"] = sorted(s for s in self._before if after.get(s) != self._before[s])[:20]
        self.members = []
        change["end"] = self.ctx.history.now()

    def _join(self, primary: Node, replica: Node, via: dict[str, Any]) -> None:
        """Reset both (a fresh id, no old slots or keys), MEET them, make one replicate
        the other, and wait until every node knows both; then they count as nodes."""
        for n in (primary, replica):
            if wait_ping(self.ctx.topology, n, 0.5) is None:     # shut down when it left
                self.ctx.topology.start_daemon(n, "redis")
                if wait_ping(self.ctx.topology, n, 10.0) is None:
                    raise RuntimeError(f"{n.name}: Redis does not start")
            self._reset(n)
        c = self._client(via["addr"])
        for n in (primary, replica):
            c.execute_command("CLUSTER", "MEET", n.ip, 6379)
        pid = self._client(primary.addr).execute_command("CLUSTER", "MYID")
        members = [n for n in self.ctx.topology.nodes] + [primary, replica]
        self._until(lambda: all(self._knows(n, pid) for n in members), "every node knows the new primary")
        self._client(replica.addr).execute_command("CLUSTER", "REPLICATE", pid)
        rid = self._client(replica.addr).execute_command("CLUSTER", "MYID")
        self._until(lambda: all(self._knows(n, rid) for n in members), "every node knows the new replica")
        # A node that has just joined answers CLUSTERDOWN (to MIGRATE too) until it has
        # learnt the slot map.
        self._until(lambda: all(self._cluster_ok(n) for n in (primary, replica)), "the new nodes see the cluster ok")
        topo = self.ctx.topology
        topo.set_outside({n.name for n in topo.outside} - {primary.name, replica.name})

    def _leave(self, primary: Node, replica: Node) -> None:
        """FORGET both on every other node, then reset them (within FORGET's 60 s ban,
        so gossip cannot bring them back); from then on they are outside."""
        owned = [n for n in self._primaries(self._layout()) if n["addr"] in (primary.addr, replica.addr)]
        if owned:       # forgetting a node that owns slots would leave them unserved
            raise RuntimeError(f"{primary.name} still owns {len(owned[0]['slots'])} slots")
        ids = [self._client(n.addr).execute_command("CLUSTER", "MYID") for n in (replica, primary)]
        topo = self.ctx.topology
        for n in topo.nodes:
            if n in (primary, replica):
                continue
            for node_id in ids:
                try:
                    self._client(n.addr).execute_command("CLUSTER", "FORGET", node_id)
                except redis.ResponseError as e:
                    if "nknown node" not in str(e):
                        raise
        for n in (replica, primary):
            self._reset(n)
            # Shut down, as an operator does after `del-node`: a reset node left answering
            # serves no slot, and a client that asks it for the slot map finds none.
            try:
                self._client(n.addr, quick=True).execute_command("SHUTDOWN", "NOSAVE")
            except (redis.ConnectionError, redis.TimeoutError):
                pass        # the reply to SHUTDOWN is the connection closing
        topo.set_outside({n.name for n in topo.outside} | {primary.name, replica.name})

    def _reset(self, node: Node) -> None:
        c = self._client(node.addr)
        try:
            c.execute_command("CLUSTER", "RESET", "HARD")   # a replica: flushed, made primary
        except redis.ResponseError:                          # a primary holding keys
            c.execute_command("FLUSHALL")
            c.execute_command("CLUSTER", "RESET", "HARD")

    def _cluster_ok(self, node: Node) -> bool:
        info = self._client(node.addr).execute_command("CLUSTER", "INFO")
        return (info.get("cluster_state") == "ok" if isinstance(info, dict)
                else "cluster_state:ok" in str(info))

    def _knows(self, node: Node, node_id: str) -> bool:
        text = self._client(node.addr).execute_command("CLUSTER", "NODES")
        return any(line.startswith(node_id) and "handshake" not in line and "noaddr" not in line
                   for line in str(text).splitlines())

    @staticmethod
    def _until(ok: Any, what: str) -> None:
        deadline = time.monotonic() + GOSSIP_WAIT_S
        while not ok():
            if time.monotonic() > deadline:
                raise RuntimeError(f"not within {GOSSIP_WAIT_S:.0f}s: {what}")
            time.sleep(0.1)

    @staticmethod
    def _owners(primaries: list[dict[str, Any]]) -> dict[int, str]:
        return {slot: p["addr"] for p in primaries for slot in p["slots"]}

    def _node_dict(self, addr: str) -> dict[str, Any]:
        return next(n for n in self._layout() if n["addr"] == addr)

