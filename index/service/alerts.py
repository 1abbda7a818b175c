"""Alerts: a firm's design was named by a `match` or `review`, live (inspection, scan) or by looking back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from index.errors import Forbidden, InvalidInput, UnknownRecord
from index.store.database import Database, utc_now

_SELECT = """
SELECT a.id, a.design_pk, d.design_id, f.name, a.how, a.inspection_id, a.scan_id, a.item, a.retro_id,
       a.photo_sha256, a.image_id, a.verdict, a.score, a.found_at, a.state, a.marked_at
FROM alerts a JOIN designs d ON d.id = a.design_pk LEFT JOIN firms f ON f.id = d.firm_id
"""


def scan_item(position: int, name: str) -> str:
    """Return how an alert names one image of a scan: its position in the scan and its name."""
    return f"{position}:{name}"


class How(StrEnum):
    """How an alert was found: a live inspection, a batch scan, or a look-back at kept photos."""

    INSPECTION = "inspection"
    SCAN = "scan"
    RETRO = "retro"


class AlertState(StrEnum):
    """What the firm made of an alert."""

    NEW = "new"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class Sighting:
    """Where a photo was seen: an inspection, or one item of a scan."""

    inspection_id: int | None = None
    scan_id: int | None = None
    item: str | None = None


@dataclass(frozen=True)
class NewAlert:
    """An alert to store: the design, how and where the photo was seen, the view, verdict and score."""

    design_pk: int
    how: How
    source: Sighting
    photo_sha256: str
    image_id: int
    verdict: str
    score: float
    retro_id: int | None = None


@dataclass(frozen=True)
class AlertRecord:
    """A stored alert with its design's id and owner."""

    id: int
    design_pk: int
    design_id: str
    owner: str | None
    how: How
    inspection_id: int | None
    scan_id: int | None
    item: str | None
    retro_id: int | None
    photo_sha256: str
    image_id: int
    verdict: str
    score: float
    found_at: str
    state: AlertState
    marked_at: str | None


def _record(row: tuple) -> AlertRecord:
    values = list(row)
    values[4], values[14] = How(values[4]), AlertState(values[14])
    return AlertRecord(*values)


class AlertLog:
    """Stores alerts and the firm's marks on them; a firm only ever reads its own designs' alerts."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, alerts: list[NewAlert]) -> list[AlertRecord]:
        """Store alerts in one transaction. Returns them."""
        ids = []
        with self._db.transaction() as db:
            for a in alerts:
                cursor = db.execute(
                    "INSERT INTO alerts(design_pk, how, inspection_id, scan_id, item, retro_id, photo_sha256,"
                    " image_id, verdict, score, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        a.design_pk, a.how.value, a.source.inspection_id, a.source.scan_id, a.source.item,
                        a.retro_id, a.photo_sha256, a.image_id, a.verdict, float(a.score), utc_now(),
                    ),
                )  # fmt: skip
                ids.append(int(cursor.lastrowid or 0))
        return [self.get(i) for i in ids]

    def get(self, alert_id: int, owner: str | None = None) -> AlertRecord:
        """Return one alert. Raises UnknownRecord, or Forbidden when `owner` is given and not its firm's."""
        row = self._db.row(_SELECT + " WHERE a.id = ?", (alert_id,))
        if row is None:
            raise UnknownRecord(f"no alert {alert_id}")
        record = _record(row)
        if owner is not None and record.owner != owner:
            raise Forbidden(f"alert {alert_id} concerns another firm's design")
        return record

    def page(
        self,
        owner: str | None,
        limit: int,
        offset: int = 0,
        state: AlertState | None = None,
        design_pk: int | None = None,
    ) -> tuple[list[AlertRecord], int]:
        """Return a page of alerts, newest first, and how many match: a firm's own, or all (None)."""
        where, parameters = ["1 = 1"], []
        if owner is not None:
            where.append("f.name = ?")
            parameters.append(owner)
        if state is not None:
            where.append("a.state = ?")
            parameters.append(state.value)
        if design_pk is not None:
            where.append("a.design_pk = ?")
            parameters.append(design_pk)
        condition = " WHERE " + " AND ".join(where)
        rows = self._db.rows(
            _SELECT + condition + " ORDER BY a.id DESC LIMIT ? OFFSET ?", [*parameters, limit, offset]
        )
        counting = "SELECT count(*) FROM alerts a JOIN designs d ON d.id = a.design_pk"
        count = self._db.row(counting + " LEFT JOIN firms f ON f.id = d.firm_id" + condition, parameters)
        return [_record(r) for r in rows], int(count[0]) if count else 0

    def of_retro(self, retro_id: int) -> list[AlertRecord]:
        """Return the alerts a look-back raised, best score first."""
        rows = self._db.rows(_SELECT + " WHERE a.retro_id = ? ORDER BY a.score DESC", (retro_id,))
        return [_record(r) for r in rows]

    def mark(self, alert_id: int, owner: str, state: AlertState, key_id: int) -> AlertRecord:
        """Record the firm's judgement of an alert. Returns it. Raises UnknownRecord or Forbidden."""
        self.get(alert_id, owner)
        with self._db.transaction() as db:
            db.execute(
                "UPDATE alerts SET state = ?, marked_by = ?, marked_at = ? WHERE id = ?",
                (state.value, key_id, utc_now(), alert_id),
            )
        return self.get(alert_id)

    def known(self, design_pk: int, sha256: str) -> bool:
        """Return whether some alert already names this photo for this design."""
        query = "SELECT 1 FROM alerts WHERE design_pk = ? AND photo_sha256 = ? LIMIT 1"
        return self._db.row(query, (design_pk, sha256)) is not None

    def sighting(self, sha256: str) -> Sighting:
        """Return the latest place a kept photo was seen (an inspection first, else a scan item).

        Raises InvalidInput when nothing records it (a photo kept by an older version).
        """
        row = self._db.row("SELECT max(id) FROM inspections WHERE photo_sha256 = ?", (sha256,))
        if row and row[0] is not None:
            return Sighting(inspection_id=int(row[0]))
        row = self._db.row(
            "SELECT scan_id, position, item FROM scan_photos WHERE sha256 = ?"
            " ORDER BY scan_id DESC, position LIMIT 1",
            (sha256,),
        )
        if row is None:
            raise InvalidInput(f"photo {sha256[:12]} is kept but no inspection or scan records it")
        return Sighting(scan_id=int(row[0]), item=scan_item(int(row[1]), str(row[2])))
