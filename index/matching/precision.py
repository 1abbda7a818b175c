"""Thresholds for a target precision from scored verdicts (benchmark fitting and self-calibration)."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from index.matching.verdict import Thresholds


@dataclass(frozen=True)
class Targets:
    """What the verdict thresholds are fitted for.

    `match` / `review`: the least share of right verdicts among the photos given `match` / `review`
    or `match`. `unregistered`: the most share of photos that show no registered design that may
    get `review` or `match` (an inspector's false alarms: every one is a photo to look at for
    nothing); None leaves it out. `confidence`: that share must hold with this one-sided
    confidence given how few innocent photos it was measured on (Wilson's upper bound), so that
    it also holds on photos the thresholds never saw.
    """

    match: float = 0.95
    review: float = 0.80
    unregistered: float | None = 0.10
    confidence: float = 0.90

    def __post_init__(self) -> None:
        if not 0.5 <= self.review <= self.match < 1.0:
            raise ValueError("need 0.5 <= review target <= match target < 1")
        if self.unregistered is not None and not 0.0 < self.unregistered < 1.0:
            raise ValueError("the unregistered share must lie in (0, 1)")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError("the confidence must lie in [0.5, 1)")


DEFAULT_TARGETS = Targets()
"""95 % right at `match`, 80 % at `review`, at most 10 % of unregistered photos at `review`."""


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


def wilson_upper(count: np.ndarray, total: int, confidence: float) -> np.ndarray:
    """Return Wilson's one-sided upper confidence bound of the rates `count / total`."""
    z = NormalDist().inv_cdf(confidence)
    rate = count / total
    centre = rate + z * z / (2 * total)
    margin = z * np.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total))
    return (centre + margin) / (1 + z * z / total)


def lowest_capped(
    scores: np.ndarray,
    negative: np.ndarray,
    negatives: int,
    share: float,
    confidence: float,
    ceiling: float = 3.0,
) -> float:
    """Return the lowest threshold at which at most `share` of the negatives score at or above it.

    `negative[i]` says item i is a photo of no registered design; `negatives` is how many such
    photos there were (with those that had no score at all). The share must hold at its upper
    confidence bound. Falls back like lowest_threshold.
    """
    thresholds, _ = precision_curve(scores, negative)  # only its distinct scores, as candidates
    if thresholds.size == 0:
        raise ValueError("no predictions to calibrate on")
    if negatives == 0:
        return float(thresholds[-1])
    ordered = np.sort(scores[negative.astype(bool)])
    counted = len(ordered) - np.searchsorted(ordered, thresholds, side="left")
    passing = np.flatnonzero(wilson_upper(counted, negatives, confidence) <= share)
    if passing.size == 0:
        return min(float(thresholds[0]) + 1e-4, ceiling)
    return float(thresholds[passing[-1]])


def fit_thresholds(
    scores: np.ndarray,
    right: np.ndarray,
    negative: np.ndarray,
    targets: Targets,
    negatives: int | None = None,
) -> Thresholds:
    """Return the lowest thresholds that reach `targets` on these scored verdicts.

    `match`: the lowest score at which `match` verdicts are `targets.match` right; `review` the
    same for `targets.review`, raised until at most `targets.unregistered` of the negatives reach
    it, and never above `match`. `negatives` defaults to the count of `negative`.
    Raises ValueError when there are no scores.
    """
    match = lowest_threshold(scores, right, targets.match)
    review = lowest_threshold(scores, right, targets.review)
    if targets.unregistered is not None:
        total = int(negative.sum()) if negatives is None else negatives
        review = max(review, lowest_capped(scores, negative, total, targets.unregistered, targets.confidence))
    return Thresholds(match=round(match, 4), review=round(min(review, match), 4))
