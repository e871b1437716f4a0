"""Sentinel scale-up during a partition (`--nemesis sentinel-scale-up`), against a real
Sentinel deployment (`-m docker`): the sequence the seed documents say splits the brain.

Five Sentinels agree; two more join at once while a partition splits the nodes into
{n1 n5 n6 n7} and {n2 n3 n4}. The run shows what each Sentinel counted, which primary
each named over time, and that two Redis were primary at once; then that the stop took
the four added nodes out again and left a healthy three-node deployment."""

from __future__ import annotations

import pytest

from harness.history import NEMESIS, read_history
from harness.rundir import RunDir

from .conftest import kept_run

pytestmark = pytest.mark.docker


def test_two_sentinels_added_at_once_during_a_partition_elect_a_second_primary(tmp_path):
    from harness.spec import TestSpec
    spec = TestSpec(topology="sentinel", workload="set", nemesis=["sentinel-scale-up"], nemesis_interval=5,
                    time_limit=30, concurrency=6, seed=31, results_dir=str(tmp_path))
    with kept_run(spec) as (outcome, topo):
        history = read_history(RunDir(outcome.run_dir).history_path)
        starts = [o["value"] for o in history if o["process"] == NEMESIS
                  and o["f"] == "start-sentinel-membership" and o["type"] == "info"]
        assert starts, [o for o in history if o["process"] == NEMESIS]
        counted = starts[0]["counted"]
        # The side the joiners reached counts seven Sentinels, the other side five.
        assert {counted[n] for n in ("n1", "n5")} == {6} and {counted[n] for n in ("n2", "n3", "n4")} == {4}, counted
        windows = outcome.results["windows"]
        # The side of three cut off from n1 elected a primary of its own (n2 or n3: the
        # joiners are never promoted) while the Sentinels with n1 kept naming n1.
        seen = windows["sentinel_primary"]
        other = {w["primary"] for w in seen if w["node"] in ("Sentinel n2", "Sentinel n3", "Sentinel n4")}
        assert other & {"n2", "n3"}, seen
        assert any(w["node"] == "Sentinel n1" and w["primary"] == "n1" for w in seen), seen
        assert windows["two_primaries"], seen
        # Undone: the spares are out, three nodes agree on one primary.
        assert outcome.results["healed"] is True
        assert [n.name for n in topo.nodes] == ["n1", "n2", "n3"]
        assert topo.problems() == []
