"""Early-stopping rules on made-up objective histories (step → value)."""

from __future__ import annotations

import pytest

from jupyter_dlbench.errors import InvalidInput
from jupyter_dlbench.sweeps.pruning import Asha, MedianStop, make_pruner


def curve(values: list[float]) -> dict[int, float]:
    return dict(enumerate(values))


GOOD = [curve([0.5, 0.7, 0.8, 0.85, 0.9]), curve([0.4, 0.6, 0.75, 0.8, 0.88])]


def test_median_stops_a_trial_worse_than_finished_ones_at_the_same_step() -> None:
    rule = MedianStop(warmup_steps=2, min_trials=2)
    reason = rule.decide(3, curve([0.1, 0.1, 0.12]), GOOD, GOOD, maximize=True)
    assert reason is not None and "median" in reason and "step 2" in reason


def test_median_spares_a_trial_doing_as_well_as_the_median() -> None:
    rule = MedianStop(warmup_steps=2, min_trials=2)
    assert rule.decide(3, curve([0.5, 0.7, 0.8]), GOOD, GOOD, maximize=True) is None


def test_median_waits_for_warmup_and_for_enough_finished_trials() -> None:
    rule = MedianStop(warmup_steps=3, min_trials=2)
    bad = curve([0.1, 0.1])
    assert rule.decide(3, bad, GOOD, GOOD, maximize=True) is None, "still warming up"
    assert MedianStop(warmup_steps=2).decide(3, bad, GOOD[:1], GOOD, maximize=True) is None, \
        "one finished trial is not enough"


def test_median_minimises_when_the_objective_is_a_loss() -> None:
    losses = [curve([2.0, 1.0, 0.5]), curve([2.1, 1.1, 0.6])]
    rule = MedianStop()
    assert rule.decide(3, curve([3.0, 2.9, 2.8]), losses, losses, maximize=False) is not None
    assert rule.decide(3, curve([1.0, 0.5, 0.3]), losses, losses, maximize=False) is None


def test_median_ignores_finished_trials_that_never_reached_the_step() -> None:
    short = [curve([0.9]), curve([0.9])]
    assert MedianStop(warmup_steps=2).decide(3, curve([0.1, 0.1, 0.1]), short, short, True) is None


def test_asha_keeps_only_the_top_third_at_each_rung_and_decides_once() -> None:
    rule = Asha(min_steps=1, reduction=3)
    others = [curve([0.0, 0.9]), curve([0.0, 0.8]), curve([0.0, 0.7]), curve([0.0, 0.6]), curve([0.0, 0.5])]
    reason = rule.decide("t", curve([0.0, 0.55]), [], others, maximize=True)
    assert reason is not None and "rung 1" in reason
    assert rule.decide("t", curve([0.0, 0.55]), [], others, maximize=True) is None, "decided once per rung"
    assert Asha().decide("u", curve([0.0, 0.95]), [], others, maximize=True) is None
    assert Asha().decide("v", curve([0.0, 0.1]), [], [], maximize=True) is None, "the first trial always continues"


def test_asha_rungs_grow_geometrically() -> None:
    assert Asha(min_steps=2, reduction=3).rung_steps(60) == [2, 6, 18, 54]


def test_unknown_rule_is_refused() -> None:
    assert make_pruner(None) is None
    assert isinstance(make_pruner("median"), MedianStop)
    assert make_pruner({"rule": "asha", "min_steps": 4}).min_steps == 4
    with pytest.raises(InvalidInput, match="unknown early stopping rule 'hyperband'; use median or asha"):
        make_pruner("hyperband")
