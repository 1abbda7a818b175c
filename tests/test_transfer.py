"""The transfer protocol: thresholds fitted on one half of the designs, judged on the other half."""

from __future__ import annotations

import pytest

from index.evaluation.metrics import QueryOutcome
from index.evaluation.transfer import design_folds, transfer, verdict_figures
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
