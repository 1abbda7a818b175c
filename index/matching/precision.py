"""Thresholds for a target precision from scored verdicts (benchmark fitting and self-calibration)."""

from __future__ import annotations

import numpy as np


def precision_curve(scores: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (thresholds, precision) of "score >= threshold" selections, one point per distinct score.

    `right[i]` says whether selecting item i (a photo's best design) is right.
    """
    if scores.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order].astype(np.float64), right[order].astype(bool)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    last_of_tie = np.append(ordered[1:] != ordered[:-1], True)
    return ordered[last_of_tie], precision[last_of_tie]


def lowest_threshold(scores: np.ndarray, right: np.ndarray, precision: float, ceiling: float = 3.0) -> float:
    """Return the lowest threshold at which selections are still >= `precision` right.

    Falls back to just above the highest score when no threshold reaches it (by 1e-4, so that a
    4-decimal rounding keeps it above; at most `ceiling`, the score's upper bound).
    Raises ValueError when there are no scores.
    """
    thresholds, precisions = precision_curve(scores, right)
    if thresholds.size == 0:
        raise ValueError("no predictions to calibrate on")
    passing = np.flatnonzero(precisions >= precision)
    if passing.size == 0:
        return min(float(thresholds[0]) + 1e-4, ceiling)
    return float(thresholds[passing[-1]])
