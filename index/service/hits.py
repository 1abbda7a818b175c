"""Hits on a firm's designs: the inspections and scan items whose match or review names one of them.

A firm sees only the rows that cite its own designs, and of each only its own design's score: never
the other designs the same photo resembled, the inspector's note or who ran it.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.store.database import Database

_INSPECTION_HITS = """
SELECT 'inspection', i.id, m.rank, i.created_at, d.pk_design, m.score,
       coalesce(i.match_threshold, :match), coalesce(i.review_threshold, :review), i.destination
FROM inspection_matches m
JOIN inspections i ON i.id = m.inspection_id
JOIN (SELECT d.id AS pk_design FROM designs d JOIN firms f ON f.id = d.firm_id WHERE f.name = :firm) d
  ON d.pk_design = m.design_pk
WHERE m.score >= coalesce(i.review_threshold, :review)
"""
_SCAN_HITS = """
SELECT 'scan', r.scan_id, r.position, s.created_at, d.id, CAST(json_extract(j.value, '$.score') AS REAL),
       :match, :review, NULL
FROM scan_results r
JOIN scans s ON s.id = r.scan_id
JOIN json_each(r.line, '$.matches') j
JOIN designs d ON d.design_id = json_extract(j.value, '$.design_id')
JOIN firms f ON f.id = d.firm_id AND f.name = :firm
WHERE NOT r.failed AND CAST(json_extract(j.value, '$.score') AS REAL) >= :review
"""


@dataclass(frozen=True)
class Hit:
    """One inspection match or scan item that names a design of the firm, at or above review.

    `kind` is `inspection` (then `item` is the match's rank) or `scan` (then `item` is the image's
    position in the scan). The thresholds are those the inspection was decided with; a scan keeps
    none, so its items are measured against the thresholds in use now.
    """

    kind: str
    record_id: int
    item: int
    created_at: str
    design_pk: int
    score: float
    match_threshold: float
    review_threshold: float
    destination: str | None


class HitLog:
    """Reads hits from the inspection and scan logs of the home's database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def page(self, firm: str, match: float, review: float, limit: int, offset: int) -> tuple[list[Hit], int]:
        """Return a page of the firm's hits, newest first, and how many there are in all.

        `match` and `review` are the thresholds in use, for records that kept none.
        """
        union = f"{_INSPECTION_HITS} UNION ALL {_SCAN_HITS}"
        values = {"firm": firm, "match": match, "review": review}
        rows = self._db.rows(
            f"SELECT * FROM ({union}) ORDER BY 4 DESC, 2 DESC, 3 LIMIT :limit OFFSET :offset",
            {**values, "limit": limit, "offset": offset},
        )
        count = self._db.row(f"SELECT count(*) FROM ({union})", values)
        return [Hit(*row) for row in rows], int(count[0]) if count else 0

    def inspection_hit(self, firm: str, inspection_id: int, rank: int, review: float) -> bool:
        """Return whether that match of that inspection is a hit on a design of the firm."""
        row = self._db.row(
            "SELECT 1 FROM inspection_matches m JOIN inspections i ON i.id = m.inspection_id"
            " JOIN designs d ON d.id = m.design_pk JOIN firms f ON f.id = d.firm_id"
            " WHERE m.inspection_id = ? AND m.rank = ? AND f.name = ?"
            " AND m.score >= coalesce(i.review_threshold, ?)",
            (inspection_id, rank, firm, review),
        )
        return row is not None
