"""The nemesis schedule, driven step by step with fake faults and a real history file."""

import random

import pytest

from harness.errors import UsageError
from harness.history import NEMESIS, fault_windows, read_history
from harness.history_writer import HistoryWriter
from harness.nemesis.schedule import Nemesis, NemesisContext
from harness.roles import Fault


class World:
    """What the fakes did, in order, and which of them are in force right now."""

    def __init__(self):
        self.log: list[tuple[str, str, object]] = []   # (action, fault name, returned value)
        self.on: set["FakePartition"] = set()


class FakePartition(Fault):
    kind = "partition"

    def __init__(self, world, name, start_error=None, stop_error=None, heal_error=None):
        super().__init__(None, name)
        self.world = world
        self.start_error, self.stop_error, self.heal_error = start_error, stop_error, heal_error
        self.n = 0

    def start(self):
        self.world.on.add(self)
        self.n += 1
        if self.start_error:
            self.world.log.append(("start", self.name, None))
            raise RuntimeError(self.start_error)
        value = {"started": self.name, "n": self.n}
        self.world.log.append(("start", self.name, value))
        return value

    def stop(self):
        assert self in self.world.on, f"{self.name} stopped while not started"
        self.world.on.discard(self)
        if self.stop_error:
            self.world.log.append(("stop", self.name, None))
            raise RuntimeError(self.stop_error)
        value = {"stopped": self.name, "n": self.n}
        self.world.log.append(("stop", self.name, value))
        return value

    def heal(self):
        self.world.log.append(("heal", self.kind, None))
        if self.heal_error:
            raise RuntimeError(self.heal_error)

    def findings(self):
        self.world.log.append(("findings", self.kind, None))
        if self.kind == "broken":
            raise RuntimeError("no findings")
        return {f"{self.kind}_windows": [self.kind]}


class FakeClock(FakePartition):
    kind = "clock"


class FakeBroken(FakePartition):
    kind = "broken"


@pytest.fixture
def history(tmp_path):
    writer = HistoryWriter(tmp_path / "history.jsonl")
    yield writer
    writer.close()


def nemesis(history, faults, seed=0, overlap=False):
    ctx = NemesisContext(topology=object(), history=history, rng=random.Random(seed))
    return Nemesis(faults, ctx, interval=1.0, overlap=overlap)


def read_back(history):
    history.close()
    return [op for op in read_history(history.path) if op["process"] == NEMESIS]


def kinds_on(world):
    return sorted(f.kind for f in world.on)


def test_interval_must_be_positive(history):
    with pytest.raises(UsageError):
        Nemesis([], NemesisContext(object(), history, random.Random(0)), interval=0)


def test_same_seed_same_schedule(tmp_path):
    def actions(seed, path):
        world = World()
        with HistoryWriter(path) as h:
            nem = nemesis(h, [FakePartition(world, "p1"), FakePartition(world, "p2"),
                              FakeClock(world, "c")], seed=seed, overlap=True)
            for _ in range(60):
                nem.step()
        return [(action, name) for action, name, _ in world.log]

    first = actions(7, tmp_path / "a.jsonl")
    assert first == actions(7, tmp_path / "b.jsonl")
    assert ("start", "c") in first and ("stop", "c") in first


def test_without_overlap_one_fault_at_a_time(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1"), FakeClock(world, "c")], seed=3)
    for i in range(40):
        nem.step()
        # Nothing else may start while one is in force, so steps alternate start and stop.
        assert len(world.on) == (1 if i % 2 == 0 else 0)
        assert nem.current == (world.log[-1][1] if world.on else "none")


def test_with_overlap_never_two_of_one_kind(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1"), FakePartition(world, "p2"),
                            FakeClock(world, "c")], seed=11, overlap=True)
    seen = set()
    for _ in range(200):
        nem.step()
        kinds = kinds_on(world)
        assert len(kinds) == len(set(kinds)), kinds
        seen.add(tuple(kinds))
    assert ("clock", "partition") in seen          # different kinds were in force together
    assert {name for _, name, _ in world.log} == {"p1", "p2", "c"}


def test_every_action_is_an_invoke_then_its_info_completion(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1"), FakePartition(world, "p2"),
                            FakeClock(world, "c")], seed=5, overlap=True)
    for _ in range(30):
        nem.step()
    ops = read_back(history)
    kind = {"p1": "partition", "p2": "partition", "c": "clock"}
    expected = []
    for action, name, value in world.log:
        expected += [("invoke", f"{action}-{kind[name]}", None), ("info", f"{action}-{kind[name]}", value)]
    assert [(op["type"], op["f"], op.get("value")) for op in ops] == expected


def test_windows_run_from_start_completion_to_stop_invoke(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1"), FakeClock(world, "c")], seed=1)
    for _ in range(4):                 # without overlap: start, stop, start, stop
        nem.step()
    ops = read_back(history)
    assert [(op["type"], op["f"].split("-")[0]) for op in ops] == [
        ("invoke", "start"), ("info", "start"), ("invoke", "stop"), ("info", "stop")] * 2
    windows = fault_windows(ops)
    expected = [{"fault": ops[i]["f"][len("start-"):], "invoked": ops[i]["time"],
                 "start": ops[i + 1]["time"], "value": ops[i + 1]["value"],
                 "end": ops[i + 2]["time"], "stop_value": ops[i + 3]["value"], "open": False}
                for i in (0, 4)]
    assert windows == sorted(expected, key=lambda w: (w["start"], w["fault"]))


def test_failed_start_is_recorded_and_still_healed(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1", start_error="iptables missing")])
    with pytest.raises(RuntimeError, match="iptables missing"):
        nem.step()
    assert nem.heal() == []
    assert [(a, n) for a, n, _ in world.log] == [("start", "p1"), ("stop", "p1"), ("heal", "partition")]
    ops = read_back(history)
    assert [(op["type"], op["f"], op.get("value")) for op in ops] == [
        ("invoke", "start-partition", None),
        ("info", "start-partition", {"error": "RuntimeError: iptables missing"}),
        ("invoke", "stop-partition", None),
        ("info", "stop-partition", {"stopped": "p1", "n": 1}),
        ("info", "heal", {"problems": []}),
    ]


def step_until_both_kinds_on(nem, world):
    for _ in range(200):
        if kinds_on(world) == ["clock", "partition"]:
            return
        nem.step()
    raise AssertionError("the schedule never had both kinds in force")


def test_heal_stops_the_active_and_heals_each_kind_once(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1"), FakePartition(world, "p2"),
                            FakeClock(world, "c")], seed=2, overlap=True)
    step_until_both_kinds_on(nem, world)
    active = {f.name for f in world.on}
    mark = len(world.log)
    assert nem.heal() == []
    after = [(a, n) for a, n, _ in world.log[mark:]]
    assert sorted(n for a, n in after if a == "stop") == sorted(active)
    assert sorted(n for a, n in after if a == "heal") == ["clock", "partition"]
    assert world.on == set() and nem.active == [] and nem.current == "none"


def test_heal_with_nothing_active_still_heals_every_kind(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1"), FakeClock(world, "c"), FakePartition(world, "p2")])
    assert nem.heal() == []
    assert sorted(world.log) == [("heal", "clock", None), ("heal", "partition", None)]


def test_heal_reports_what_could_not_be_undone(history):
    world = World()
    p = FakePartition(world, "p1")
    c = FakeClock(world, "c", heal_error="clock stuck")
    nem = nemesis(history, [p, c], seed=0, overlap=True)
    step_until_both_kinds_on(nem, world)
    p.stop_error = "flush failed"
    problems = nem.heal()
    assert sorted(problems) == ["heal clock: clock stuck", "stop partition: flush failed"]
    assert sorted(n for a, n, _ in world.log if a == "heal") == ["clock", "partition"]
    assert read_back(history)[-1]["value"] == {"problems": problems}


def test_findings_merged_once_per_kind(history):
    world = World()
    nem = nemesis(history, [FakePartition(world, "p1"), FakePartition(world, "p2"),
                            FakeClock(world, "c"), FakeBroken(world, "b")])
    assert nem.findings() == {"partition_windows": ["partition"], "clock_windows": ["clock"],
                              "broken_error": "no findings"}
    assert sorted(n for a, n, _ in world.log if a == "findings") == ["broken", "clock", "partition"]
