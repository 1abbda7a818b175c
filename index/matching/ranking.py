"""Ranking: fold global and regional neighbours into designs, then fold verification into scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.errors import ScoreOutOfRange
from index.matching.verdict import MAX_MATCHES, DesignHit, rank_designs
from index.matching.verification import Verification, unique_inliers


@dataclass(frozen=True)
class RankedHit:
    """A candidate design with its appearance score, its verified inliers and the fused score."""

    hit: DesignHit
    appearance: float
    inliers: int
    verification: Verification | None

    @property
    def score(self) -> float:
        """Return the fused score."""
        return self.hit.score


def best_per_image(
    score_rows: Sequence[np.ndarray], id_rows: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Merge several neighbour lists of one photo (whole image, regions): best score per image id.

    Returns (scores, ids) sorted best first.
    """
    best: dict[int, float] = {}
    for scores, ids in zip(score_rows, id_rows, strict=True):
        for score, image_id in zip(scores.tolist(), ids.tolist(), strict=True):
            if image_id >= 0 and score > best.get(image_id, -np.inf):
                best[image_id] = score
    ordered = sorted(best.items(), key=lambda kv: -kv[1])
    return (
        np.asarray([s for _, s in ordered], dtype=np.float32),
        np.asarray([i for i, _ in ordered], dtype=np.int64),
    )


def appearance_candidates(
    score_rows: Sequence[np.ndarray], id_rows: Sequence[np.ndarray], design_of: Mapping[int, int], limit: int
) -> list[DesignHit]:
    """Return up to `limit` designs ranked by their best view's best appearance score."""
    scores, ids = best_per_image(score_rows, id_rows)
    return rank_designs(scores, ids, design_of, limit=limit)


SLACK = 1e-3
"""Float rounding allowed past the bounds of a cosine and of the fused score."""


def fuse(appearance: float, inliers: int, saturation: int) -> float:
    """Return the fused score: appearance cosine plus verified inliers, saturating at `saturation`.

    Range: [-1, 2]. An unverified candidate keeps its appearance score. Raises ScoreOutOfRange for
    an appearance outside [-1, 1] or a fused score outside [-1, 2] (damaged data, never a verdict).
    """
    fused = appearance + min(max(inliers, 0), saturation) / saturation
    if not (-1.0 - SLACK <= appearance <= 1.0 + SLACK and -1.0 - SLACK <= fused <= 2.0 + SLACK):
        raise ScoreOutOfRange(
            f"a fused score of {fused:.4g} (appearance {appearance:.4g}) is outside [-1, 2]: the index or"
            " its vectors are damaged; run `lanternguard check`"
        )
    return fused


def rerank(
    candidates: Sequence[DesignHit], verifications: Sequence[Verification | None], saturation: int
) -> list[RankedHit]:
    """Return the candidates with fused scores, best first, at most MAX_MATCHES.

    `verifications[i]` belongs to `candidates[i]` (None: not verified). Inliers are counted once per
    photo keypoint (see unique_inliers).
    """
    checked = [v for v in verifications if v is not None]
    counts = iter(unique_inliers(checked))
    ranked = []
    for hit, verification in zip(candidates, verifications, strict=True):
        inliers = next(counts) if verification is not None else 0
        fused = fuse(hit.score, inliers, saturation)
        ranked.append(RankedHit(replace(hit, score=fused), hit.score, inliers, verification))
    ranked.sort(key=lambda r: -r.score)
    return ranked[:MAX_MATCHES]
