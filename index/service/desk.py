"""The inspector's desk: check a photo against every design, record it, review matches, draw evidence."""

from __future__ import annotations

import logging

from index.engine import Engine, Match
from index.errors import UnknownRecord
from index.matching.evidence import ENGLISH, EvidenceLabels, ScoreParts, design_caption, render_evidence
from index.service.design_records import ServiceRegistry
from index.service.followup import FollowUp
from index.service.inspections import InspectionLog, InspectionRecord, Provenance, Review
from index.service.uploads import Upload, check_pixels
from index.store.registry import DesignRecord
from model.images import load_image

logger = logging.getLogger(__name__)


def evidence_png(
    engine: Engine,
    photo: bytes,
    match: Match,
    verdict: str | None = None,
    labels: EvidenceLabels = ENGLISH,
) -> bytes:
    """Return the evidence PNG of a match just found (its verification at hand): photo beside view,
    with the parts of its score, in the words of `labels`; no keypoint lines when the `verdict` is
    no_match."""
    sha = engine.registry.image_hashes([match.image_id])[match.image_id]
    reference = load_image(engine.blobs.get(sha))
    parts = ScoreParts(match.appearance, match.keypoints, match.rival, match.inliers)
    return render_evidence(
        load_image(photo),
        reference,
        match.score,
        design_caption(match.design),
        match.verification,
        parts,
        verdict,
        labels,
    )


class Desk:
    """Runs inspections through the engine and keeps every one in the log, with the photo it checked.

    A photo that cannot be used raises before anything is stored; a recorded inspection keeps citing
    its designs after they are withdrawn.
    """

    def __init__(
        self,
        engine: Engine,
        log: InspectionLog,
        registry: ServiceRegistry,
        max_pixels: int,
        follow_up: FollowUp,
    ) -> None:
        self.follow_up = follow_up
        self.engine = engine
        self.log = log
        self.registry = registry
        self.max_pixels = max_pixels

    def inspect(
        self,
        key_id: int,
        photo: Upload,
        note: str | None = None,
        shipment_ref: str | None = None,
        destination: str | None = None,
    ) -> InspectionRecord:
        """Inspect a photo of goods bound for `destination` and record the result durably.

        Returns the recorded inspection, with the model and registry generation that produced it.
        Raises InvalidImage (nothing is recorded) or IndexNotReady when no design is registered.
        """
        check_pixels(photo, self.max_pixels)
        generation = self.engine.registry.generation()
        result = self.engine.inspect(photo.data, destination)
        self.engine.blobs.put(photo.data)
        provenance = Provenance(destination, self.engine.model, generation)
        record = self.log.record(key_id, result, photo.name, note, shipment_ref, provenance)
        self.follow_up.inspected(record, result)
        logger.info("inspection %d: %s (%d match(es))", record.id, record.verdict, len(record.matches))
        return record

    def designs_of(self, records: list[InspectionRecord]) -> dict[int, DesignRecord]:
        """Return the designs that these inspections cite, by design key."""
        return self.registry.designs_by_pk(sorted({m.design_pk for r in records for m in r.matches}))

    def review(self, inspection_id: int, rank: int, review: Review, key_id: int) -> InspectionRecord:
        """Mark one match confirmed, rejected or pending. Returns the inspection. Raises UnknownRecord."""
        return self.log.review(inspection_id, rank, review, key_id)

    def photo(self, inspection_id: int) -> bytes:
        """Return the bytes of the photo an inspection checked. Raises UnknownRecord."""
        record = self.log.get(inspection_id)
        return self._blob(record.photo_sha256, f"the photo of inspection {inspection_id}")

    def evidence(self, inspection_id: int, rank: int = 1, labels: EvidenceLabels = ENGLISH) -> bytes:
        """Return a PNG with the photo and the matched design's view side by side, with the score
        (the words: `labels`).

        Raises UnknownRecord when the inspection has no match of that rank.
        """
        record = self.log.get(inspection_id)
        match = next((m for m in record.matches if m.rank == rank), None)
        if match is None:
            raise UnknownRecord(f"inspection {inspection_id} has no match ranked {rank}")
        parts = ScoreParts(match.appearance, match.keypoints, match.rival, match.inliers)
        return self.evidence_of(
            record.photo_sha256, match.image_id, match.score, parts, record.verdict, labels
        )

    def evidence_of(
        self,
        photo_sha256: str,
        image_id: int,
        score: float,
        parts: ScoreParts | None = None,
        verdict: str | None = None,
        labels: EvidenceLabels = ENGLISH,
    ) -> bytes:
        """Return the evidence PNG of a stored photo against one reference view, verified again;
        with the parts of the score when known, no keypoint lines for a no_match `verdict`, in the
        words of `labels`.

        Raises UnknownRecord when the photo or the view is no longer stored.
        """
        view = self.registry.reference_image(image_id)
        design = self.registry.design_by_pk(view.design_pk)
        data = self._blob(photo_sha256, "the inspected photo")
        reference = load_image(self._blob(view.sha256, f"reference image {view.id}"))
        verification = self.engine.explain(data, image_id)
        return render_evidence(
            load_image(data), reference, score, design_caption(design), verification, parts, verdict, labels
        )

    def _blob(self, sha256: str, what: str) -> bytes:
        try:
            return self.engine.blobs.get(sha256)
        except FileNotFoundError as exc:
            raise UnknownRecord(f"{what} is no longer stored") from exc
