"""Retrieval metrics exactly as ../shared/benchmark/README.md defines them (uAP, R@1, R@P90, FMR)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QueryOutcome:
    """One query's ranked design predictions (best first) and the design it truly shows, if any."""

    truth: str | None
    predictions: Sequence[tuple[str, float]]
    verdict: str


@dataclass(frozen=True)
class Metrics:
    """The benchmark's figures for one run; thr@P90 is None when precision 0.90 is never reached."""

    uap: float
    recall_at_1: float
    recall_at_p90: float
    threshold_at_p90: float | None
    false_match_rate: float


def _pooled(outcomes: Sequence[QueryOutcome]) -> tuple[np.ndarray, np.ndarray]:
    scores, correct = [], []
    for outcome in outcomes:
        for design_id, score in outcome.predictions[:10]:
            scores.append(score)
            correct.append(outcome.truth is not None and design_id == outcome.truth)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return np.asarray(scores, dtype=np.float64)[order], np.asarray(correct, dtype=bool)[order]


def precision_recall_curve(
    outcomes: Sequence[QueryOutcome],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (thresholds, precision, recall) of the pooled predictions, one point per distinct score.

    A point means "accept every prediction with score >= threshold".
    """
    positives = sum(1 for o in outcomes if o.truth is not None)
    scores, correct = _pooled(outcomes)
    if scores.size == 0 or positives == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    true_positives = np.cumsum(correct)
    ranks = np.arange(1, scores.size + 1)
    last_of_tie = np.append(scores[1:] != scores[:-1], True)
    return (
        scores[last_of_tie],
        (true_positives / ranks)[last_of_tie],
        (true_positives / positives)[last_of_tie],
    )


def threshold_for_precision(outcomes: Sequence[QueryOutcome], precision: float) -> float | None:
    """Return the lowest pooled score threshold whose precision is still >= `precision`, or None."""
    thresholds, precisions, _ = precision_recall_curve(outcomes)
    passing = np.flatnonzero(precisions >= precision)
    return float(thresholds[passing[-1]]) if passing.size else None


def compute_metrics(outcomes: Sequence[QueryOutcome]) -> Metrics:
    """Return the benchmark metrics of a run."""
    positives = sum(1 for o in outcomes if o.truth is not None)
    negatives = [o for o in outcomes if o.truth is None]
    scores, correct = _pooled(outcomes)
    if positives and scores.size:
        precision_at_hits = np.cumsum(correct)[correct] / (np.flatnonzero(correct) + 1)
        uap = float(precision_at_hits.sum() / positives)
    else:
        uap = 0.0
    hits_at_1 = sum(
        1 for o in outcomes if o.truth is not None and o.predictions and o.predictions[0][0] == o.truth
    )
    thresholds, precisions, recalls = precision_recall_curve(outcomes)
    passing = np.flatnonzero(precisions >= 0.90)
    best = passing[np.argmax(recalls[passing])] if passing.size else None
    return Metrics(
        uap=uap,
        recall_at_1=hits_at_1 / positives if positives else 0.0,
        recall_at_p90=float(recalls[best]) if best is not None else 0.0,
        threshold_at_p90=float(thresholds[best]) if best is not None else None,
        false_match_rate=(
            sum(1 for o in negatives if o.verdict == "match") / len(negatives) if negatives else 0.0
        ),
    )
