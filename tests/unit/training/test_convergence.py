"""The convergence study's verdict from two sweeps (both ways), its plans, and the frozen result figure 12 reads.
The command that reruns it is tested in tests/integration/test_cli_train.py."""

from __future__ import annotations

import pytest

from biper_analysis.training import convergence
from biper_analysis.training.config import preset
from biper_analysis.training.sweep import SweepPlan


def _sweep(best: dict[str, list[float]], length: int) -> dict:
    runs = [
        {
            "binarizer": arm,
            "seed": seed,
            "best_acc": acc,
            "curve": [{"test_acc": acc - 1.0 + e / length} for e in range(length)],
        }
        for arm, accs in best.items()
        for seed, acc in enumerate(accs)
    ]
    return {"runs": runs, "recipe": {"epochs1": length}}


def test_converged_when_doubling_changes_both_arms_by_less_than_the_tolerance():
    short = _sweep({"biper": [89.0, 88.0], "sign": [88.5, 88.7]}, 2)
    long = _sweep({"biper": [89.05, 88.0], "sign": [88.5, 88.6]}, 4)
    r = convergence.summarise(short, long)
    biper, sign = r["arms"]["biper"], r["arms"]["sign"]
    assert biper["seeds"] == [0, 1] and biper["best_E"] == [89.0, 88.0] and biper["best_2E"] == [89.05, 88.0]
    assert biper["change_pp"] == pytest.approx(0.025, abs=1e-12) and biper["converged"]
    assert sign["change_pp"] == pytest.approx(-0.05, abs=1e-12) and sign["converged"]
    assert r["converged"] and r["tolerance_pp"] == convergence.TOLERANCE_PP
    assert len(biper["curve_E"]) == 2 and len(biper["curve_2E"]) == 4  # mean curves over the seeds
    assert biper["curve_E"][0] == pytest.approx(87.5, abs=1e-12)
    assert (r["recipe_E"], r["recipe_2E"]) == ({"epochs1": 2}, {"epochs1": 4})


def test_not_converged_when_one_arm_moves_by_the_tolerance_or_more():
    short = _sweep({"biper": [89.0, 88.0], "sign": [88.5, 88.7]}, 2)
    long = _sweep({"biper": [89.0, 88.0], "sign": [88.7, 88.7]}, 4)  # sign: +0.1 pp, not < 0.1
    r = convergence.summarise(short, long)
    assert r["arms"]["biper"]["converged"] and not r["arms"]["sign"]["converged"] and not r["converged"]


def test_seeds_trained_at_only_one_length_are_left_out():
    short = _sweep({"biper": [89.0, 88.0, 87.0], "sign": [88.0]}, 1)
    long = _sweep({"biper": [89.0, 88.0], "sign": [88.0]}, 2)
    assert convergence.summarise(short, long)["arms"]["biper"]["seeds"] == [0, 1]


def test_the_two_plans_are_the_preset_at_its_length_and_twice_it():
    e = preset("short")
    for factor in (1, 2):
        plan = convergence._plan((0, 1), factor, "short", None)
        assert (plan.overrides["epochs1"], plan.overrides["epochs2"]) == (factor * e.epochs1, factor * e.epochs2)
        assert [n for n, _ in plan.runs()] == ["biper-w20-s0", "biper-w20-s1", "sign-s0", "sign-s1"]
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        convergence._plan((0,), 1, "huge", None)


def test_the_frozen_study_is_shipped_and_matches_the_defaults():
    """figure 12 and the README read the shipped copy; rerunning with the defaults makes the same study."""
    study = convergence.load_study()
    assert convergence.FROZEN.is_file() and convergence.FROZEN.parent.name == "data"
    assert study["provenance"]["producer"] == "biper-analysis convergence"
    assert study["provenance"]["config"] == {"seeds": list(SweepPlan().seeds), "preset": "short"}
    assert set(study["arms"]) == {"biper", "sign"} and isinstance(study["converged"], bool)
    for arm in study["arms"].values():
        assert abs(arm["change_pp"] - (arm["mean_2E"] - arm["mean_E"])) < 1e-9
        assert arm["converged"] == (abs(arm["change_pp"]) < study["tolerance_pp"])
