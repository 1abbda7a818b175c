"""Calibration: verdict thresholds chosen from a benchmark run for a target precision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.evaluation.metrics import QueryOutcome
from index.matching.precision import lowest_threshold, precision_curve
from index.matching.verdict import Thresholds


def _tops(outcomes: Sequence[QueryOutcome]) -> tuple[np.ndarray, np.ndarray]:
    tops = [
        (o.predictions[0][1], o.truth is not None and o.predictions[0][0] == o.truth)
        for o in outcomes
        if o.predictions
    ]
    return (
        np.asarray([s for s, _ in tops], dtype=np.float64),
        np.asarray([r for _, r in tops], dtype=bool),
    )


def verdict_precision_curve(outcomes: Sequence[QueryOutcome]) -> tuple[np.ndarray, np.ndarray]:
    """Return (thresholds, precision) of "best design >= threshold" verdicts, one point per distinct score.

    A verdict is right when the photo shows a registered design and the best match is that design;
    a photo of unregistered goods that reaches the threshold is a false match.
    """
    return precision_curve(*_tops(outcomes))


def threshold_at(outcomes: Sequence[QueryOutcome], precision: float) -> float:
    """Return the lowest threshold at which verdicts are still >= `precision` right.

    Falls back to just above the highest score when no threshold reaches it (see lowest_threshold).
    Raises ValueError when no outcome has a prediction.
    """
    return lowest_threshold(*_tops(outcomes), precision)


def calibrate(
    outcomes: Sequence[QueryOutcome], match_precision: float = 0.95, review_precision: float = 0.80
) -> Thresholds:
    """Return thresholds whose verdicts reach the given precisions on these outcomes."""
    match = threshold_at(outcomes, match_precision)
    review = min(threshold_at(outcomes, review_precision), match)
    return Thresholds(match=round(match, 4), review=round(review, 4))
