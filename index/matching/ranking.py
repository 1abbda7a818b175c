"""Ranking: fold global and regional neighbours into designs, then fold verification into scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.errors import ScoreOutOfRange
from index.matching.verdict import MAX_MATCHES, DesignHit, rank_designs
from index.matching.verification import Verification, inlier_weights, unique_claims


@dataclass(frozen=True)
class RankedHit:
    """A candidate design: its appearance score, verified inliers, fused score and the verdict score.

    `hit.score` is the fused score (`appearance` + `keypoints`); `rival` the fused score of the best
    other candidate design (at least its own when verified without agreeing keypoints),
    subtracted from it by `against_rivals` (0 until then); `score` is what the verdict judges:
    fused - rival.
    """

    hit: DesignHit
    appearance: float
    inliers: int
    verification: Verification | None
    keypoints: float = 0.0
    rival: float = 0.0

    @property
    def fused(self) -> float:
        """Return the fused score: appearance plus the verified keypoints' part."""
        return self.hit.score

    @property
    def score(self) -> float:
        """Return the score the verdict judges: the fused score less the best other design's."""
        return self.hit.score - self.rival


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
    score_rows: Sequence[np.ndarray],
    id_rows: Sequence[np.ndarray],
    design_of: Mapping[int, int],
    limit: int,
    votes: tuple[np.ndarray, np.ndarray] | None = None,
    local: tuple[int, int] = (0, 0),
) -> list[DesignHit]:
    """Return up to `limit` designs ranked by their best view's best appearance score.

    With `votes` (scores, image ids: the views best voted by the photo's visual words, see
    index.search.words) and `local` = (after, extra): up to `extra` voted designs that are not
    among the first `after` appearance candidates come right after them, best voted first, each
    with its best-voted view, so that verification sees them. Such a view keeps its appearance
    score when appearance search returned it; otherwise it gets the photo's lowest returned score
    (the most it can have: search returned every view above it).
    """
    scores, ids = best_per_image(score_rows, id_rows)
    ranked = rank_designs(scores, ids, design_of, limit=limit)
    after, extra = local
    if votes is None or not extra:
        return ranked
    seen = {hit.design_pk for hit in ranked[:after]}
    appearance = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    floor = float(scores[-1]) if len(scores) else 0.0
    added: list[DesignHit] = []
    for image_id in votes[1].tolist():
        design_pk = design_of.get(image_id)
        if design_pk is None or design_pk in seen:
            continue
        seen.add(design_pk)
        added.append(DesignHit(design_pk, image_id, appearance.get(image_id, floor)))
        if len(added) == extra:
            break
    rest = [hit for hit in ranked[after:] if hit.design_pk not in seen]
    return [*ranked[:after], *added, *rest]


SLACK = 1e-3
"""Float rounding allowed past the bounds of a cosine and of the fused score."""


def fuse(appearance: float, inliers: float, saturation: int) -> float:
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


@dataclass(frozen=True)
class Scoring:
    """How a candidate's verified inliers fold into its score (see rerank).

    `saturation`: the weighted inliers at which the keypoint part saturates (fuse); `spread`: the
    centre weights' spread (None: every inlier weighs by where it lies alike); `background`: the
    weight of an inlier on the registered view's background; `floor`: the weighted inliers that do
    not count. One value for every caller, so that inspection, the cascade and looking back score
    alike, and the model fingerprint names it (`recipe`).
    """

    saturation: int
    spread: float | None = None
    background: float = 1.0
    floor: float = 0.0

    @property
    def recipe(self) -> str:
        """Return the verdict score's name in the model fingerprint, with the rival (against_rivals).

        A part that is off (no spread, background 1, floor 0) is left out, as in recipes from before
        it existed; thresholds and bounds fitted on another score name another recipe.
        """
        recipe = f"rival/sat{self.saturation}"
        if self.spread is not None:
            recipe += f"/centre{self.spread:g}"
        if self.background < 1.0:
            recipe += f"/bg{self.background:g}"
        if self.floor:
            recipe += f"/floor{self.floor:g}"
        return recipe


def rerank(
    candidates: Sequence[DesignHit], verifications: Sequence[Verification | None], scoring: Scoring
) -> list[RankedHit]:
    """Return the candidates with fused scores, best first, at most MAX_MATCHES.

    `verifications[i]` belongs to `candidates[i]` (None: not verified). Inliers are counted once per
    photo keypoint (see unique_inliers); with a `scoring.spread` each counts by where it lies in the
    reference view and on what (see inlier_weights), and the first `scoring.floor` of that weighted
    count do not count at all (chance: a homography fits any 4 matches, and MAGSAC finds a handful
    of agreeing matches between unrelated images), so `fuse` receives what is left.
    """
    checked = [v for v in verifications if v is not None]
    claims = iter(unique_claims(checked))
    ranked = []
    for hit, verification in zip(candidates, verifications, strict=True):
        inliers, weighted = 0, 0.0
        if verification is not None:
            claim = next(claims)
            inliers = len(claim)
            weights = inlier_weights(verification, scoring.spread, scoring.background)
            weighted = max(0.0, float(weights[claim].sum()) - scoring.floor)
        fused = fuse(hit.score, weighted, scoring.saturation)
        ranked.append(
            RankedHit(replace(hit, score=fused), hit.score, inliers, verification, fused - hit.score)
        )
    ranked.sort(key=lambda r: -r.score)
    return ranked[:MAX_MATCHES]


def against_rivals(ranked: Sequence[RankedHit], decided_unverified: bool = False) -> list[RankedHit]:
    """Return the candidates (best first) with each one's verdict score relative to its best rival.

    Why: a fused score alone is not comparable across photos. An innocent photo on a shared floor, a
    building registered twice, one brand's product line: in each the photo agrees with several
    registered designs about as well, and the best of them scores high without being the one shown.
    Judging a design by how far it stands above the best other registered design (the registry
    as the background set, as SSCD normalises by a background neighbour) turns near ties into
    `review` or `no_match` instead of a confident wrong design, and makes scores comparable across
    photos. A design with no other candidate has no background to lead in appearance: its rival is
    its own appearance, so only its verified keypoints count (a registry of one design). A candidate
    that was verified and has no agreeing keypoint scores at most 0: a lead in appearance alone
    (a plain or blurred photo against a few registered designs) is no evidence of a design.
    `decided_unverified`: the photo was decided without verification (the cascade's first pass),
    so every candidate scores at most 0 (a `no_match`), ranked as before.
    """
    fused = [r.fused for r in ranked]
    result = []
    for i, r in enumerate(ranked):
        others = fused[:i] + fused[i + 1 :]
        rival = max(others) if others else r.appearance
        if (decided_unverified or r.verification is not None) and r.keypoints <= 0.0:
            rival = max(rival, r.fused)
        result.append(replace(r, rival=rival))
    return result
