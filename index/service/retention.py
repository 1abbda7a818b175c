"""Retention: inspection photos and scan images are kept `retain_days` after they were last seen, then go.

A photo goes with its descriptors (every model's) and its local features; the inspection and scan
records stay (who inspected what, the verdict, the sha256), and the photo is named in
`expired_photos` so that check and backup know it was removed on purpose. A photo that is also a
registered view (a confirmed photo added as a field view) is a reference image and stays.
`lanternguard check` runs this, and the service runs it once a day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from index.store.blobs import BlobStore
from index.store.database import Database, utc_now

logger = logging.getLogger(__name__)

DEFAULT_RETAIN_DAYS = 365

_LAST_SEEN = """
SELECT sha256, max(at) FROM (
    SELECT photo_sha256 AS sha256, created_at AS at FROM inspections
    UNION ALL SELECT p.sha256, s.created_at FROM scan_photos p JOIN scans s ON s.id = p.scan_id
    UNION ALL SELECT sha256, seen_at FROM photo_descriptors
) GROUP BY sha256 HAVING max(at) < ?
   AND sha256 NOT IN (SELECT sha256 FROM images)
   AND sha256 NOT IN (SELECT sha256 FROM expired_photos)
"""


@dataclass(frozen=True)
class Expired:
    """What a retention run removed: the photos' sha256 and their ids in the photo index."""

    cutoff: str
    sha256s: list[str]
    photo_ids: list[int]


def cutoff_for(retain_days: int, now: datetime | None = None) -> str:
    """Return the ISO time before which a photo last seen is removed."""
    return ((now or datetime.now(UTC)) - timedelta(days=retain_days)).isoformat(timespec="seconds")


def expiring(database: Database, retain_days: int, now: datetime | None = None) -> list[str]:
    """Return the sha256 of the photos last seen more than `retain_days` ago (changes nothing)."""
    return [str(r[0]) for r in database.rows(_LAST_SEEN, (cutoff_for(retain_days, now),))]


def expire_photos(database: Database, home: Path, retain_days: int, now: datetime | None = None) -> Expired:
    """Remove the photos last seen more than `retain_days` ago, with their descriptors and features.

    Rows first (one transaction), files after: a crash in between leaves files that `check`
    removes as orphans. Returns what was removed.
    """
    cutoff = cutoff_for(retain_days, now)
    shas = expiring(database, retain_days, now)
    if not shas:
        return Expired(cutoff, [], [])
    photo_ids: list[int] = []
    with database.transaction() as db:
        for sha in shas:
            photo_ids += [
                int(r[0]) for r in db.execute("SELECT id FROM photo_descriptors WHERE sha256 = ?", (sha,))
            ]
            db.execute("DELETE FROM photo_descriptors WHERE sha256 = ?", (sha,))
            db.execute(
                "INSERT OR REPLACE INTO expired_photos(sha256, removed_at) VALUES (?, ?)", (sha, utc_now())
            )
    blobs = BlobStore(home / "images")
    for sha in shas:
        blobs.path(sha).unlink(missing_ok=True)
        for features in (home / "features").glob(f"*/{sha[:2]}/{sha}.npz"):
            features.unlink(missing_ok=True)
    logger.info("retention: removed %d photo(s) last seen before %s", len(shas), cutoff)
    return Expired(cutoff, shas, photo_ids)
