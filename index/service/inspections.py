"""The inspection log: every photo checked, by whom and when, its verdict, matches and their review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from index.engine import Inspection
from index.errors import InvalidInput, UnknownRecord
from index.store.database import Database, utc_now

_SELECT = """
SELECT i.id, i.key_id, coalesce(k.label, k.prefix), i.created_at, i.photo_sha256, i.filename, i.verdict,
       i.note, i.shipment_ref, i.destination, i.match_threshold, i.review_threshold, i.model,
       i.index_generation
FROM inspections i JOIN api_keys k ON k.id = i.key_id
"""
_MATCHES = """
SELECT m.inspection_id, m.rank, m.design_pk, m.image_id, m.score, m.review, coalesce(k.label, k.prefix),
       m.reviewed_at
FROM inspection_matches m LEFT JOIN api_keys k ON k.id = m.reviewed_by
"""


class Review(StrEnum):
    """An inspector's judgement of one match: not yet looked at, confirmed, or rejected."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class MatchRecord:
    """One recorded match: the design and view it cited, the score, and its review."""

    rank: int
    design_pk: int
    image_id: int
    score: float
    review: Review
    reviewed_by: str | None
    reviewed_at: str | None


@dataclass(frozen=True)
class InspectionRecord:
    """One recorded inspection; `inspector` is the label (or prefix) of the key that ran it."""

    id: int
    key_id: int
    inspector: str
    created_at: str
    photo_sha256: str
    filename: str | None
    verdict: str
    note: str | None
    shipment_ref: str | None
    destination: str | None
    match_threshold: float | None
    review_threshold: float | None
    model: str | None
    index_generation: int | None
    matches: list[MatchRecord]

    @classmethod
    def unrecorded(cls, result: Inspection, filename: str, model: str, generation: int) -> InspectionRecord:
        """Return an inspection that was run but not recorded (the command line): number 0, no key."""
        thresholds = result.thresholds
        matches = [
            MatchRecord(rank, m.design.pk, m.image_id, m.score, Review.PENDING, None, None)
            for rank, m in enumerate(result.matches, start=1)
        ]
        return cls(
            0,
            0,
            "command line",
            utc_now(),
            result.sha256,
            filename,
            result.verdict.value,
            None,
            None,
            None,
            thresholds.match if thresholds else None,
            thresholds.review if thresholds else None,
            model,
            generation,
            matches,
        )


@dataclass(frozen=True)
class Provenance:
    """Where the goods go and what produced the verdict: the model and the registry's generation."""

    destination: str | None = None
    model: str | None = None
    index_generation: int | None = None


@dataclass(frozen=True)
class InspectionSearch:
    """Which inspections a listing shows; every given criterion must hold.

    `since` and `until` are UTC dates (inclusive); `shipment_ref` matches a part of the reference,
    case-insensitively; `design_pk` selects inspections that name that design at or above the review
    level (the best match, for inspections recorded before thresholds were kept).
    """

    verdict: str | None = None
    since: date | None = None
    until: date | None = None
    shipment_ref: str | None = None
    design_pk: int | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.until < self.since:
            raise InvalidInput(
                f"the end date {self.until} is before the start date {self.since}: swap them or change one"
            )

    def where(self) -> tuple[str, list[object]]:
        """Return the SQL condition (with its leading WHERE, or empty) on `inspections i` and its values."""
        clauses: list[str] = []
        values: list[object] = []
        if self.verdict:
            clauses.append("i.verdict = ?")
            values.append(self.verdict)
        if self.since:
            clauses.append("substr(i.created_at, 1, 10) >= ?")
            values.append(self.since.isoformat())
        if self.until:
            clauses.append("substr(i.created_at, 1, 10) <= ?")
            values.append(self.until.isoformat())
        if self.shipment_ref:
            clauses.append("instr(lower(coalesce(i.shipment_ref, '')), lower(?)) > 0")
            values.append(self.shipment_ref)
        if self.design_pk is not None:
            clauses.append(
                "EXISTS (SELECT 1 FROM inspection_matches m WHERE m.inspection_id = i.id AND m.design_pk = ?"
                " AND (m.score >= i.review_threshold OR (i.review_threshold IS NULL AND m.rank = 1)))"
            )
            values.append(self.design_pk)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


class InspectionLog:
    """Stores each inspection with its matches in one transaction; matches cite designs by key."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(
        self,
        key_id: int,
        result: Inspection,
        filename: str | None,
        note: str | None,
        shipment_ref: str | None,
        provenance: Provenance | None = None,
    ) -> InspectionRecord:
        """Store an inspection and its matches durably, with what produced it. Returns the record."""
        p = provenance or Provenance()
        thresholds = result.thresholds
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO inspections(key_id, created_at, photo_sha256, filename, verdict, note,"
                " shipment_ref, destination, match_threshold, review_threshold, model, index_generation)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    utc_now(),
                    result.sha256,
                    filename,
                    result.verdict.value,
                    note,
                    shipment_ref,
                    p.destination,
                    thresholds.match if thresholds else None,
                    thresholds.review if thresholds else None,
                    p.model,
                    p.index_generation,
                ),
            )
            inspection_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO inspection_matches(inspection_id, rank, design_pk, image_id, score)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (inspection_id, rank, m.design.pk, m.image_id, float(m.score))
                    for rank, m in enumerate(result.matches, start=1)
                ],
            )
        return self.get(inspection_id)

    def get(self, inspection_id: int) -> InspectionRecord:
        """Return one inspection. Raises UnknownRecord."""
        row = self._db.row(_SELECT + " WHERE i.id = ?", (inspection_id,))
        if row is None:
            raise UnknownRecord(f"no inspection {inspection_id}")
        return self._with_matches([row])[0]

    def page(
        self, limit: int, offset: int, search: InspectionSearch | None = None
    ) -> tuple[list[InspectionRecord], int]:
        """Return a page of the inspections that `search` selects, newest first, and how many it selects."""
        where, parameters = (search or InspectionSearch()).where()
        rows = self._db.rows(
            _SELECT + where + " ORDER BY i.id DESC LIMIT ? OFFSET ?", [*parameters, limit, offset]
        )
        count = self._db.row("SELECT count(*) FROM inspections i" + where, parameters)
        return self._with_matches(rows), int(count[0]) if count else 0

    def review(self, inspection_id: int, rank: int, review: Review, key_id: int) -> InspectionRecord:
        """Record an inspector's judgement of one match. Returns the inspection. Raises UnknownRecord."""
        inspection = self.get(inspection_id)
        if not any(m.rank == rank for m in inspection.matches):
            raise UnknownRecord(f"inspection {inspection_id} has no match ranked {rank}")
        with self._db.transaction() as db:
            db.execute(
                "UPDATE inspection_matches SET review = ?, reviewed_by = ?, reviewed_at = ?"
                " WHERE inspection_id = ? AND rank = ?",
                (review.value, key_id, utc_now(), inspection_id, rank),
            )
        return self.get(inspection_id)

    def _with_matches(self, rows: list[tuple]) -> list[InspectionRecord]:
        ids = [int(r[0]) for r in rows]
        found: dict[int, list[MatchRecord]] = {i: [] for i in ids}
        if ids:
            marks = ",".join("?" * len(ids))
            query = _MATCHES + f" WHERE m.inspection_id IN ({marks}) ORDER BY m.inspection_id, m.rank"
            for m in self._db.rows(query, ids):
                found[m[0]].append(MatchRecord(m[1], m[2], m[3], m[4], Review(m[5]), m[6], m[7]))
        return [InspectionRecord(*row, matches=found[int(row[0])]) for row in rows]
