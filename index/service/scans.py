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
       s.ignored, s.message, s.created_at, s.finished_at
FROM scans s JOIN api_keys k ON k.id = s.key_id
"""


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


def _record(row: tuple) -> ScanRecord:
    values = list(row)
    values[5] = ScanStatus(values[5])
    return ScanRecord(*values)


class ScanLog:
    """Stores scans and appends their result lines batch by batch, so progress survives a restart."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, key_id: int, kind: str, source: str, total: int, ignored: int) -> ScanRecord:
        """Store a new queued scan. Returns it."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO scans(key_id, kind, source, status, total, ignored, created_at)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                (key_id, kind, source, total, ignored, utc_now()),
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

    def set_status(self, scan_id: int, status: ScanStatus, message: str | None = None) -> None:
        """Move a scan to a new status (finished and failed also stamp the end time)."""
        ended = utc_now() if status in (ScanStatus.FINISHED, ScanStatus.FAILED) else None
        with self._db.transaction() as db:
            db.execute(
                "UPDATE scans SET status = ?, message = coalesce(?, message), finished_at = ? WHERE id = ?",
                (status.value, message, ended, scan_id),
            )

    def add_results(self, scan_id: int, start: int, lines: Sequence[dict[str, Any]]) -> None:
        """Append result lines at positions `start`, `start + 1`, ... in one transaction."""
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO scan_results(scan_id, position, line, failed) VALUES (?, ?, ?, ?)",
                [(scan_id, start + i, json.dumps(x), "error" in x) for i, x in enumerate(lines)],
            )

    def results(self, scan_id: int) -> list[dict[str, Any]]:
        """Return the result lines of a scan in input order. Raises UnknownRecord."""
        self.get(scan_id)
        rows = self._db.rows("SELECT line FROM scan_results WHERE scan_id = ? ORDER BY position", (scan_id,))
        return [json.loads(r[0]) for r in rows]

    def fail_unfinished(self, reason: str) -> int:
        """Mark scans that a stopped service left queued or running as failed. Returns how many."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "UPDATE scans SET status = 'failed', message = ?, finished_at = ?"
                " WHERE status IN ('queued', 'running')",
                (reason, utc_now()),
            )
            return cursor.rowcount

    def add_photos(self, scan_id: int, photos: Sequence[tuple[int, str, str]]) -> None:
        """Note which kept photo (position, item name, sha256) each readable image of a scan was."""
        with self._db.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO scan_photos(scan_id, position, item, sha256) VALUES (?, ?, ?, ?)",
                [(scan_id, position, item, sha) for position, item, sha in photos],
            )
