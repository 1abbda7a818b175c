"""Reviewer feedback that changes what happens next: suppression of rejected photos, generic motifs.

A rejection is an inspector rejecting a match of photo P to design D, or the firm dismissing an
alert of P for D. After it, neither P nor a near-duplicate of P (same sha256, or global descriptors
with cosine >= `near_duplicate`) raises an alert for D again. A design whose matches are rejected
again and again (at least `generic_min` rejections, and at least `generic_share` of its judged
matches) is flagged as a likely generic motif, to its owner and to the admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.store.database import Database
from index.store.photos import PhotoStore

NEAR_DUPLICATE = 0.97
"""Cosine of raw global descriptors at or above which two photos count as one (scripts/bench_retro.py
measures re-encodings, resizes and crops of dev photos against distinct photos of the same product)."""
GENERIC_MIN = 5
GENERIC_SHARE = 0.8

_REJECTED = """
SELECT i.photo_sha256 FROM inspection_matches m JOIN inspections i ON i.id = m.inspection_id
WHERE m.design_pk = ? AND m.review = 'rejected'
UNION SELECT photo_sha256 FROM alerts WHERE design_pk = ? AND state = 'dismissed'
"""
_COUNTS = """
SELECT design_pk,
       sum(review = 'confirmed'), sum(review = 'rejected'), sum(review = 'pending'), 0, 0, 0
FROM inspection_matches WHERE design_pk IN ({marks}) GROUP BY design_pk
UNION ALL
SELECT design_pk, 0, 0, 0, sum(state = 'confirmed'), sum(state = 'dismissed'), sum(state = 'new')
FROM alerts WHERE design_pk IN ({marks}) GROUP BY design_pk
"""


@dataclass(frozen=True)
class FeedbackCounts:
    """How one design's matches were judged: by inspectors (reviews) and by its firm (alerts)."""

    design_pk: int
    confirmed: int = 0
    rejected: int = 0
    pending: int = 0
    alerts_confirmed: int = 0
    alerts_dismissed: int = 0
    alerts_new: int = 0

    @property
    def rejections(self) -> int:
        """Return the rejections of either kind."""
        return self.rejected + self.alerts_dismissed

    @property
    def likely_generic(self) -> bool:
        """Return whether the design's matches are rejected so often that its motif is likely generic."""
        judged = self.rejections + self.confirmed + self.alerts_confirmed
        return self.rejections >= GENERIC_MIN and self.rejections >= GENERIC_SHARE * judged


class Feedback:
    """Reads the reviews and marks already stored; decides which new alerts are suppressed."""

    def __init__(
        self, database: Database, photos: PhotoStore, near_duplicate: float = NEAR_DUPLICATE
    ) -> None:
        self._db = database
        self.photos = photos
        self.near_duplicate = near_duplicate

    def rejected_photos(self, design_pk: int) -> set[str]:
        """Return the sha256 of every photo rejected for this design."""
        return {str(r[0]) for r in self._db.rows(_REJECTED, (design_pk, design_pk))}

    def suppresses(self, design_pk: int, sha256: str, vector: np.ndarray | None) -> bool:
        """Return whether a rejection of this photo or a near-duplicate rules out an alert for the design."""
        rejected = self.rejected_photos(design_pk)
        if sha256 in rejected:
            return True
        if vector is None or not rejected:
            return False
        kept = self.photos.vectors_by_sha(sorted(rejected))
        if not kept:
            return False
        similarity = np.stack(list(kept.values())) @ np.asarray(vector, dtype=np.float32)
        return bool(similarity.max() >= self.near_duplicate)

    def counts(self, design_pks: Sequence[int]) -> dict[int, FeedbackCounts]:
        """Return the feedback counts of these designs, by design key (zeros for a design never judged)."""
        found = {pk: FeedbackCounts(pk) for pk in design_pks}
        if not design_pks:
            return found
        marks = ",".join("?" * len(design_pks))
        totals: dict[int, list[int]] = {pk: [0] * 6 for pk in design_pks}
        for row in self._db.rows(_COUNTS.format(marks=marks), [*design_pks, *design_pks]):
            totals[int(row[0])] = [a + int(b or 0) for a, b in zip(totals[int(row[0])], row[1:], strict=True)]
        return {pk: FeedbackCounts(pk, *values) for pk, values in totals.items()}

    def flagged(self, design_pks: Sequence[int]) -> list[FeedbackCounts]:
        """Return the counts of those of these designs that are flagged as a likely generic motif."""
        return [c for c in self.counts(design_pks).values() if c.likely_generic]
