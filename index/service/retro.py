"""Retroaction: when a design is registered or gains views, the kept photos are checked against it.

Runs queue on one background thread at low priority (nice 10 for that thread only: Linux
schedules threads on their own), so that live inspections keep their speed while it runs; each
run's state, counts and look-back period are kept in `retro_runs`, its results are the alerts it
raised. The look-back covers the photos kept now: those inspected or scanned within the retention
period (`LANTERNGUARD_RETAIN_DAYS`), from the oldest kept photo's last sighting on.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from index.engine import Engine
from index.errors import UnknownRecord
from index.service.followup import FollowUp
from index.store.database import Database, utc_now
from index.store.registry import DesignRecord

logger = logging.getLogger(__name__)

_COLUMNS = (
    "id, design_pk, state, reason, photos, shortlisted, verified, found, suppressed, alerts, look_back_from,"
    " retain_days, message, seconds, created_at, finished_at"
)
RETRO_NICE = 10


class RetroState(StrEnum):
    """Where a look-back is."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True)
class RetroRecord:
    """One look-back of one design: counts of photos searched, shortlisted, verified, found, alerted."""

    id: int
    design_pk: int
    state: RetroState
    reason: str
    photos: int
    shortlisted: int
    verified: int
    found: int
    suppressed: int
    alerts: int
    look_back_from: str | None
    retain_days: int
    message: str | None
    seconds: float | None
    created_at: str
    finished_at: str | None


def _record(row: tuple) -> RetroRecord:
    values = list(row)
    values[2] = RetroState(values[2])
    return RetroRecord(*values)


class RetroLog:
    """The `retro_runs` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, design_pk: int, reason: str, retain_days: int) -> RetroRecord:
        """Store a queued look-back. Returns it."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO retro_runs(design_pk, state, reason, retain_days, created_at)"
                " VALUES (?, 'queued', ?, ?, ?)",
                (design_pk, reason, retain_days, utc_now()),
            )
        return self.get(int(cursor.lastrowid or 0))

    def get(self, retro_id: int) -> RetroRecord:
        """Return one look-back. Raises UnknownRecord."""
        row = self._db.row(f"SELECT {_COLUMNS} FROM retro_runs WHERE id = ?", (retro_id,))
        if row is None:
            raise UnknownRecord(f"no look-back {retro_id}")
        return _record(row)

    def latest(self, design_pk: int) -> RetroRecord | None:
        """Return the design's latest look-back, or None when it never had one."""
        row = self._db.row(
            f"SELECT {_COLUMNS} FROM retro_runs WHERE design_pk = ? ORDER BY id DESC LIMIT 1", (design_pk,)
        )
        return _record(row) if row else None

    def update(self, retro_id: int, **fields: object) -> None:
        """Change some columns of a look-back."""
        names = ", ".join(f"{name} = ?" for name in fields)
        with self._db.transaction() as db:
            db.execute(f"UPDATE retro_runs SET {names} WHERE id = ?", [*fields.values(), retro_id])

    def fail_unfinished(self, reason: str) -> int:
        """Mark look-backs that a stopped service left queued or running as failed. Returns how many."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "UPDATE retro_runs SET state = 'failed', message = ?, finished_at = ?"
                " WHERE state IN ('queued', 'running')",
                (reason, utc_now()),
            )
            return cursor.rowcount


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RETRO_NICE)
    except (AttributeError, OSError):
        logger.info("look-backs run at normal priority (this system cannot lower one thread's)")


class Retro:
    """Queues look-backs and runs them one at a time; `run` also serves the command line directly."""

    def __init__(
        self, engine: Engine, log: RetroLog, follow_up: FollowUp, retain_days: int, shortlist: int
    ) -> None:
        self.engine = engine
        self.log = log
        self.follow_up = follow_up
        self.retain_days = retain_days
        self.shortlist = shortlist
        self._worker = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="retro", initializer=_lower_priority
        )

    def close(self) -> None:
        """Finish the running look-back, drop queued ones (marked failed)."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.log.fail_unfinished(
            "the service stopped before this look-back ran; add a view or run `lanternguard retro`"
        )

    def queue(self, design: DesignRecord, reason: str) -> RetroRecord:
        """Queue a look-back of a design. Returns the queued run."""
        record = self.log.create(design.pk, reason, self.retain_days)
        self._worker.submit(self.run, record.id)
        return record

    def run(self, retro_id: int) -> RetroRecord:
        """Run a queued look-back now and raise its alerts. Returns the finished (or failed) run."""
        record = self.log.get(retro_id)
        self.log.update(retro_id, state=RetroState.RUNNING.value)
        try:
            look = self.engine.look_back(record.design_pk, self.shortlist)
            alerts, suppressed = self.follow_up.looked_back(retro_id, look)
        except Exception as exc:
            logger.exception("look-back %d failed", retro_id)
            self.log.update(retro_id, state="failed", message=str(exc), finished_at=utc_now())
            return self.log.get(retro_id)
        self.log.update(
            retro_id, state=RetroState.FINISHED.value, photos=look.photos, shortlisted=look.shortlisted,
            verified=look.verified, found=len(look.hits), suppressed=suppressed, alerts=alerts,
            look_back_from=self.look_back_from(), seconds=round(look.seconds, 3), finished_at=utc_now(),
        )  # fmt: skip
        logger.info(
            "look-back %d: %d photo(s), %d found, %d alert(s)", retro_id, look.photos, len(look.hits), alerts
        )
        return self.log.get(retro_id)

    def look_back_from(self) -> str:
        """Return the earliest time a look-back now covers: the oldest kept photo, or the retention limit."""
        limit = (datetime.now(UTC) - timedelta(days=self.retain_days)).isoformat(timespec="seconds")
        oldest = self.engine.photo_store.oldest()
        return max(oldest, limit) if oldest else limit

    def run_now(self, design: DesignRecord, reason: str) -> RetroRecord:
        """Look back for a design on the calling thread (the command line). Returns the finished run."""
        return self.run(self.log.create(design.pk, reason, self.retain_days).id)
