"""The transfer protocol: thresholds fitted on one half of the designs, judged on the other half."""

from __future__ import annotations

import numpy as np
import pytest

from index.evaluation.fitting import calibrate
from index.evaluation.metrics import QueryOutcome
from index.evaluation.transfer import design_folds, transfer, verdict_figures
from index.matching.precision import Targets, wilson_upper
from index.matching.verdict import Thresholds


def outcome(truth: str | None, top: str, score: float) -> QueryOutcome:
    return QueryOutcome(truth, [(top, score), ("other", score - 0.5)], "no_match")


def test_figures_per_verdict_level() -> None:
    outcomes = [
        outcome("a", "a", 1.5),
        outcome("b", "c", 1.4),
        outcome("c", "c", 0.9),
        outcome(None, "a", 1.0),
        outcome(None, "b", 0.2),
    ]
    figures = verdict_figures(outcomes, Thresholds(match=1.2, review=0.8))
    assert figures["match"].precision == pytest.approx(1 / 2)
    assert figures["match"].recall == pytest.approx(1 / 3)
    assert figures["match"].unregistered_share == 0.0
    # review means review or match: a, c (right), b->c and one unregistered (wrong)
    assert figures["review"].precision == pytest.approx(2 / 4)
    assert figures["review"].recall == pytest.approx(2 / 3)
    assert figures["review"].unregistered_share == pytest.approx(1 / 2)


def test_folds_split_designs_and_unregistered_photos() -> None:
    outcomes = [outcome(d, d, 1.0) for d in "aabbccdd"] + [outcome(None, "a", 0.1) for _ in range(6)]
    a, b = design_folds(outcomes, seed=3)
    assert sorted(a + b) == list(range(len(outcomes)))
    designs_a = {outcomes[i].truth for i in a} - {None}
    designs_b = {outcomes[i].truth for i in b} - {None}
    assert len(designs_a) == 2 and not designs_a & designs_b
    assert sum(outcomes[i].truth is None for i in a) == 3


def test_held_out_verdicts_use_the_other_folds_thresholds() -> None:
    outcomes = [outcome(d, d, 1.0 + 0.1 * i) for i, d in enumerate("abcdef")]
    outcomes += [outcome("g", "a", 1.55), outcome("h", "h", 0.9)]
    outcomes += [outcome(None, "a", 0.2 + 0.1 * i) for i in range(4)]
    report = transfer(outcomes, seed=1)
    fold_a, fold_b = design_folds(outcomes, seed=1)
    first = verdict_figures([outcomes[i] for i in fold_b], report.thresholds[0])
    second = verdict_figures([outcomes[i] for i in fold_a], report.thresholds[1])
    held = report.held_out["match"]
    assert held.selected == first["match"].selected + second["match"].selected
    right = (first["match"].recall * 4 + second["match"].recall * 4) / 8
    assert held.recall == pytest.approx(right)
    assert report.fitted_on["match"].precision == 1.0
    assert report.as_json()["held_out"]["match"]["recall"] == round(held.recall, 4)
    assert [f["fitted_on_designs"] for f in report.as_json()["folds"]] == [4, 4]


def test_one_design_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="two registered designs"):
        transfer([outcome("a", "a", 1.0), outcome(None, "a", 0.1)])


def test_review_is_raised_until_few_unregistered_photos_reach_it() -> None:
    # 40 right photos at 1.00..1.39, 60 unregistered at 0.10..0.69: review at 80 % precision alone
    # admits the 10 highest unregistered photos (40 of 50 right); at most 10 % of them (6 of 60)
    # on the observed share, fewer at its 90 % upper bound, so that it holds on other photos.
    right = [outcome(f"d{i}", f"d{i}", 1.0 + i / 100) for i in range(40)]
    innocent = [outcome(None, "d0", 0.10 + i / 100) for i in range(60)]

    def admitted(thresholds: Thresholds) -> int:
        return sum(o.predictions[0][1] >= thresholds.review for o in innocent)

    plain = calibrate(right + innocent, Targets(0.95, 0.80, None))
    observed = calibrate(right + innocent, Targets(0.95, 0.80, 0.10, 0.5))
    bounded = calibrate(right + innocent, Targets(0.95, 0.80, 0.10, 0.90))
    assert (admitted(plain), admitted(observed)) == (10, 6)
    assert 0 < admitted(bounded) < 6 and bounded.review <= bounded.match
    assert verdict_figures(right + innocent, bounded)["review"].unregistered_share < 0.10


def test_the_share_bound_is_wilsons_upper_bound() -> None:
    bound = wilson_upper(np.asarray([0, 5, 50]), 100, 0.90)
    assert bound[0] == pytest.approx(0.0161, abs=1e-3)
    assert bound[1] == pytest.approx(0.0862, abs=1e-3)
    assert 0.5 < bound[2] < 0.57


def test_targets_are_validated_and_reported() -> None:
    with pytest.raises(ValueError, match="unregistered"):
        Targets(unregistered=1.5)
    report = transfer([outcome(d, d, 1.0) for d in "abcd"] + [outcome(None, "a", 0.5)] * 4)
    assert report.as_json()["targets"] == {
        "match": 0.95,
        "review": 0.8,
        "review_unregistered": 0.1,
        "confidence": 0.9,
    }
