"""Calibration: verdict thresholds chosen from a benchmark run for stated targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.evaluation.metrics import QueryOutcome
from index.matching.precision import (
    DEFAULT_TARGETS,
    Targets,
    fit_thresholds,
    lowest_threshold,
    precision_curve,
)
from index.matching.verdict import Thresholds


def _tops(outcomes: Sequence[QueryOutcome]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tops = [
        (o.predictions[0][1], o.truth is not None and o.predictions[0][0] == o.truth, o.truth is None)
        for o in outcomes
        if o.predictions
    ]
    return (
        np.asarray([s for s, _, _ in tops], dtype=np.float64),
        np.asarray([r for _, r, _ in tops], dtype=bool),
        np.asarray([n for _, _, n in tops], dtype=bool),
    )


def verdict_precision_curve(outcomes: Sequence[QueryOutcome]) -> tuple[np.ndarray, np.ndarray]:
    """Return (thresholds, precision) of "best design >= threshold" verdicts, one point per distinct score.

    A verdict is right when the photo shows a registered design and the best match is that design;
    a photo of unregistered goods that reaches the threshold is a false match.
    """
    scores, right, _ = _tops(outcomes)
    return precision_curve(scores, right)


def threshold_at(outcomes: Sequence[QueryOutcome], precision: float) -> float:
    """Return the lowest threshold at which verdicts are still >= `precision` right.

    Falls back to just above the highest score when no threshold reaches it (see lowest_threshold).
    Raises ValueError when no outcome has a prediction.
    """
    scores, right, _ = _tops(outcomes)
    return lowest_threshold(scores, right, precision)


def calibrate(outcomes: Sequence[QueryOutcome], targets: Targets = DEFAULT_TARGETS) -> Thresholds:
    """Return thresholds whose verdicts reach `targets` on these outcomes (index.matching.precision).

    The unregistered photos of the outcomes (truth None, scored or not) are the negatives of the
    `targets.unregistered` share. Raises ValueError when no outcome has a prediction.
    """
    negatives = sum(1 for o in outcomes if o.truth is None)
    return fit_thresholds(*_tops(outcomes), targets, negatives)
