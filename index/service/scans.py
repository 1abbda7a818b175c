"""The scan log: each batch scan's source, progress and per-image results, kept as they arrive."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from index.errors import UnknownRecord
from index.store.database import Database, utc_now

_SELECT = """
SELECT s.id, s.key_id, coalesce(k.label, k.prefix), s.kind, s.source, s.status, s.total,
       (SELECT count(*) FROM scan_results r WHERE r.scan_id = s.id),
       (SELECT count(*) FROM scan_results r WHERE r.scan_id = s.id AND r.failed),
       s.ignored, s.message, s.created_at, s.finished_at, s.skipped, s.failure
FROM scans s JOIN api_keys k ON k.id = s.key_id
"""

INTERNAL_FAILURE = "internal"
"""The failure code of a scan stopped by an unexpected error (a bug: the log has the traceback)."""
INTERRUPTED_FAILURE = "interrupted"
"""The failure code of a scan that a stopped service left unfinished."""


class ScanStatus(StrEnum):
    """Where a scan is: waiting for the worker, running, finished (with any error rows), or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True)
class ScanRecord:
    """A scan and its progress: `done` images of `total`, `errors` of them error rows."""

    id: int
    key_id: int
    requested_by: str
    kind: str
    source: str
    status: ScanStatus
    total: int
    done: int
    errors: int
    ignored: int
    message: str | None
    created_at: str
    finished_at: str | None
    skipped: list[tuple[str, str]]
    """(name, why) of each file passed over; empty for scans recorded before names were kept."""
    failure: str | None = None
    """Why a failed scan failed, as a code: the class name of the domain error, INTERNAL_FAILURE or
    INTERRUPTED_FAILURE (None: not failed, or failed before codes were kept); `message` says it in words."""


def _record(row: tuple) -> ScanRecord:
    values = list(row)
    values[5] = ScanStatus(values[5])
    values[13] = [(str(name), str(why)) for name, why in json.loads(values[13] or "[]")]
    return ScanRecord(*values)


class ScanLog:
    """Stores scans and appends their result lines batch by batch, so progress survives a restart."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(
        self,
        key_id: int,
        kind: str,
        source: str,
        total: int,
        ignored: int,
        skipped: Sequence[tuple[str, str]] = (),
    ) -> ScanRecord:
        """Store a new queued scan, with the files it passes over and why. Returns it."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO scans(key_id, kind, source, status, total, ignored, created_at, skipped)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                (key_id, kind, source, total, ignored, utc_now(), json.dumps([list(x) for x in skipped])),
            )
            scan_id = int(cursor.lastrowid or 0)
        return self.get(scan_id)

    def get(self, scan_id: int) -> ScanRecord:
        """Return one scan with its progress. Raises UnknownRecord."""
        row = self._db.row(_SELECT + " WHERE s.id = ?", (scan_id,))
        if row is None:
            raise UnknownRecord(f"no scan {scan_id}")
        return _record(row)

    def page(self, limit: int, offset: int) -> tuple[list[ScanRecord], int]:
        """Return a page of scans, newest first, and how many there are in all."""
        rows = self._db.rows(_SELECT + " ORDER BY s.id DESC LIMIT ? OFFSET ?", (limit, offset))
        count = self._db.row("SELECT count(*) FROM scans")
        return [_record(r) for r in rows], int(count[0]) if count else 0

    def set_status(
        self, scan_id: int, status: ScanStatus, message: str | None = None, failure: str | None = None
    ) -> None:
        """Move a scan to a new status (finished and failed also stamp the end time); a failed one
        with its `message` and `failure` code (see ScanRecord)."""
        ended = utc_now() if status in (ScanStatus.FINISHED, ScanStatus.FAILED) else None
        with self._db.transaction() as db:
            db.execute(
                "UPDATE scans SET status = ?, message = coalesce(?, message), failure = coalesce(?, failure),"
                " finished_at = ? WHERE id = ?",
                (status.value, message, failure, ended, scan_id),
            )

    def add_results(
        self,
        scan_id: int,
        start: int,
        lines: Sequence[dict[str, Any]],
        evidence: Sequence[tuple[str, int] | None] = (),
    ) -> None:
        """Append result lines at positions `start`, `start + 1`, ... in one transaction.

        `evidence` gives, per line, the stored photo's sha256 and the best design's view (None: no
        evidence), so that the evidence picture can be drawn later.
        """
        kept = list(evidence) + [None] * (len(lines) - len(evidence))
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO scan_results(scan_id, position, line, failed, photo_sha256, image_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (scan_id, start + i, json.dumps(x), "error" in x, *(kept[i] or (None, None)))
                    for i, x in enumerate(lines)
                ],
            )

    def evidence_positions(self, scan_id: int) -> set[int]:
        """Return the positions of a scan's results that have an evidence picture."""
        rows = self._db.rows(
            "SELECT position FROM scan_results WHERE scan_id = ? AND photo_sha256 IS NOT NULL", (scan_id,)
        )
        return {int(r[0]) for r in rows}

    def evidence_of(self, scan_id: int, position: int) -> tuple[str, int, dict[str, Any]]:
        """Return (photo sha256, view id, result line) of a result with evidence. Raises UnknownRecord."""
        row = self._db.row(
            "SELECT photo_sha256, image_id, line FROM scan_results WHERE scan_id = ? AND position = ?",
            (scan_id, position),
        )
        if row is None or row[0] is None:
            raise UnknownRecord(f"scan {scan_id} has no evidence for image {position}")
        return str(row[0]), int(row[1]), json.loads(row[2])

    def results(self, scan_id: int) -> list[dict[str, Any]]:
        """Return the result lines of a scan in input order. Raises UnknownRecord."""
        self.get(scan_id)
        rows = self._db.rows("SELECT line FROM scan_results WHERE scan_id = ? ORDER BY position", (scan_id,))
        return [json.loads(r[0]) for r in rows]

    def fail_unfinished(self, reason: str) -> int:
        """Mark scans that a stopped service left queued or running as failed (INTERRUPTED_FAILURE).
        Returns how many."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "UPDATE scans SET status = 'failed', message = ?, failure = ?, finished_at = ?"
                " WHERE status IN ('queued', 'running')",
                (reason, INTERRUPTED_FAILURE, utc_now()),
            )
            return cursor.rowcount

    def add_photos(self, scan_id: int, photos: Sequence[tuple[int, str, str]]) -> None:
        """Note which kept photo (position, item name, sha256) each readable image of a scan was."""
        with self._db.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO scan_photos(scan_id, position, item, sha256) VALUES (?, ?, ?, ?)",
                [(scan_id, position, item, sha) for position, item, sha in photos],
            )
