"""The matcher: image neighbours in, one ranked list of designs and a verdict out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

MAX_MATCHES = 10


class Verdict(StrEnum):
    """What an inspector is told: act, look closer, or nothing registered is shown."""

    MATCH = "match"
    REVIEW = "review"
    NO_MATCH = "no_match"


@dataclass(frozen=True)
class Thresholds:
    """Score cut-offs, inclusive from below: score >= match gives `match`, >= review gives `review`.

    The score judged is a design's fused score less its best rival's (index.matching.ranking
    `against_rivals`), in [-3, 3]. Their measured meaning is documented in docs/matching.md.
    """

    match: float
    review: float

    def __post_init__(self) -> None:
        if not -3.0 <= self.review <= self.match <= 3.0:
            raise ValueError(f"need -3 <= review <= match <= 3, got review={self.review} match={self.match}")

    def verdict(self, score: float | None) -> Verdict:
        """Return the verdict for a best design score (None: nothing was found)."""
        if score is None or score < self.review:
            return Verdict.NO_MATCH
        return Verdict.MATCH if score >= self.match else Verdict.REVIEW


@dataclass(frozen=True)
class DesignHit:
    """A candidate design for one query: its best-scoring reference image decides its score."""

    design_pk: int
    image_id: int
    score: float


def rank_designs(
    scores: np.ndarray, image_ids: np.ndarray, design_of: Mapping[int, int], limit: int = MAX_MATCHES
) -> list[DesignHit]:
    """Fold one query's image neighbours (best first) into designs, each scored by its best view.

    Ids of -1 (FAISS padding) and ids without a design (withdrawn since) are skipped.
    Returns at most `limit` hits, best first.
    """
    best: dict[int, DesignHit] = {}
    for score, image_id in zip(scores.tolist(), image_ids.tolist(), strict=True):
        design_pk = design_of.get(image_id)
        if design_pk is None or design_pk in best:
            continue
        best[design_pk] = DesignHit(design_pk=design_pk, image_id=image_id, score=float(score))
        if len(best) == limit:
            break
    return sorted(best.values(), key=lambda hit: -hit.score)
