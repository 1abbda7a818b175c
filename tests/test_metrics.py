"""The benchmark metrics on hand-worked examples."""

from __future__ import annotations

import pytest

from index.evaluation.metrics import QueryOutcome, compute_metrics, threshold_for_precision


def outcomes() -> list[QueryOutcome]:
    return [
        QueryOutcome("a", [("a", 0.9), ("b", 0.5)], "match"),
        QueryOutcome("b", [("c", 0.8), ("b", 0.7)], "match"),
        QueryOutcome("c", [("a", 0.6)], "review"),
        QueryOutcome(None, [("a", 0.85)], "match"),
        QueryOutcome(None, [("b", 0.1)], "no_match"),
    ]


def test_uap_pools_all_queries() -> None:
    # pooled: .9 a✓, .85 ✗, .8 ✗, .7 b✓, .6 ✗, .5 ✗, .1 ✗ -> (1/1 + 2/4) / 3 positives
    assert compute_metrics(outcomes()).uap == pytest.approx((1.0 + 0.5) / 3)


def test_recall_at_one_and_false_match_rate() -> None:
    metrics = compute_metrics(outcomes())
    assert metrics.recall_at_1 == pytest.approx(1 / 3)
    assert metrics.false_match_rate == pytest.approx(1 / 2)


def test_recall_at_p90_takes_the_highest_recall_at_that_precision() -> None:
    metrics = compute_metrics(outcomes())
    assert metrics.recall_at_p90 == pytest.approx(1 / 3)
    assert metrics.threshold_at_p90 == pytest.approx(0.9)


def test_no_precise_point_gives_zero_and_no_threshold() -> None:
    metrics = compute_metrics([QueryOutcome("a", [("b", 0.9), ("a", 0.1)], "match")])
    assert metrics.recall_at_p90 == 0.0
    assert metrics.threshold_at_p90 is None


def test_tied_scores_are_one_operating_point() -> None:
    tied = [QueryOutcome("a", [("a", 0.5)], "match"), QueryOutcome(None, [("a", 0.5)], "match")]
    assert threshold_for_precision(tied, 0.9) is None
