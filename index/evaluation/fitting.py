"""Calibration: verdict thresholds chosen from a benchmark run for a target precision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.evaluation.metrics import QueryOutcome
from index.matching.verdict import Thresholds


def verdict_precision_curve(outcomes: Sequence[QueryOutcome]) -> tuple[np.ndarray, np.ndarray]:
    """Return (thresholds, precision) of "best design >= threshold" verdicts, one point per distinct score.

    A verdict is right when the photo shows a registered design and the best match is that design;
    a photo of unregistered goods that reaches the threshold is a false match.
    """
    tops = [
        (o.predictions[0][1], o.truth is not None and o.predictions[0][0] == o.truth)
        for o in outcomes
        if o.predictions
    ]
    if not tops:
        return np.zeros(0), np.zeros(0)
    scores = np.asarray([s for s, _ in tops], dtype=np.float64)
    right = np.asarray([r for _, r in tops], dtype=bool)
    order = np.argsort(-scores, kind="stable")
    scores, right = scores[order], right[order]
    precision = np.cumsum(right) / np.arange(1, len(right) + 1)
    last_of_tie = np.append(scores[1:] != scores[:-1], True)
    return scores[last_of_tie], precision[last_of_tie]


def threshold_at(outcomes: Sequence[QueryOutcome], precision: float) -> float:
    """Return the lowest threshold at which verdicts are still >= `precision` right.

    Falls back to just above the highest score when no threshold reaches it (by 1e-4, so that
    the 4-decimal rounding of `calibrate` keeps it above; at most 2.0, the score's ceiling).
    """
    thresholds, precisions = verdict_precision_curve(outcomes)
    if thresholds.size == 0:
        raise ValueError("no predictions to calibrate on")
    passing = np.flatnonzero(precisions >= precision)
    if passing.size == 0:
        return min(float(thresholds[0]) + 1e-4, 2.0)
    return float(thresholds[passing[-1]])


def calibrate(
    outcomes: Sequence[QueryOutcome], match_precision: float = 0.95, review_precision: float = 0.80
) -> Thresholds:
    """Return thresholds whose verdicts reach the given precisions on these outcomes."""
    match = threshold_at(outcomes, match_precision)
    review = min(threshold_at(outcomes, review_precision), match)
    return Thresholds(match=round(match, 4), review=round(review, 4))
