"""Elle's own published examples (tests/elle_examples.py: its README, paper and test
suite) give the same verdicts here, per consistency model, and every anomaly Elle names
is found under the same name. Elle stops at the first anomaly that implies others (a
G-single hides the G-single-realtime it implies), so finding more is allowed."""

from __future__ import annotations

import pytest

from harness.checkers import list_append as la

from .elle_examples import EXAMPLES, _self_check


def test_examples_are_well_formed():
    assert _self_check() == []


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_same_verdicts_and_anomalies_as_elle(example):
    found = set(la.check(example["history"], example.get("final"))["anomaly_types"])
    assert set(example["anomalies"]) <= found
    for model, valid in example["valid"].items():
        assert la.check(example["history"], example.get("final"), model)["valid"] is valid, model
