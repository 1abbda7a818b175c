"""Maintenance verbs on a home: check and repair its consistency, rebuild the index, lock it."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index.engine import Engine, EngineSettings
from index.errors import HomeInUse, Inconsistent
from index.home.survey import Finding, Survey, survey
from index.service.retention import expire_photos, expiring
from index.store.database import Database
from index.store.files import ensure_folder
from index.store.registry import Registry
from index.store.schema import REGISTRY_FILE, is_cited
from model.embedder import Embedder

logger = logging.getLogger(__name__)

LOCK_FILE = ".lanternguard.lock"
QUARANTINE = "quarantine"
DEFAULT_GRACE_S = 600.0
"""Unreferenced files younger than this may belong to a write in progress and are left alone."""


@contextmanager
def home_lock(home: Path, exclusive: bool) -> Iterator[None]:
    """Hold the home's advisory lock: shared for a service, exclusive for repairs and restores.

    Raises HomeInUse when an exclusive lock is wanted and anyone holds it, or when someone holds
    it exclusively.
    """
    ensure_folder(home)
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            what = "a service or another maintenance job is using" if exclusive else "maintenance runs on"
            raise HomeInUse(f"{what} {home}: stop it first, then try again") from exc
        yield
    finally:
        os.close(fd)


def fingerprint_of(settings: EngineSettings) -> str:
    """Return the fingerprint of the descriptors this engine configuration makes (no model loaded)."""
    return settings.embedder.fingerprint


@dataclass(frozen=True)
class CheckReport:
    """What `check` found before repairing, and what is still wrong after (empty: the home is clean)."""

    before: Survey
    after: Survey
    repaired: bool
    expired: int = 0

    @property
    def clean(self) -> bool:
        """Return whether the home is consistent now."""
        return self.after.clean


def require_home(home: Path) -> None:
    """Raise Inconsistent when `home` holds no registry at all."""
    if not (home / REGISTRY_FILE).is_file():
        raise Inconsistent(f"{home} holds no LanternGuard registry ({REGISTRY_FILE})")


def check(
    settings: EngineSettings,
    repair: bool = True,
    grace_s: float = DEFAULT_GRACE_S,
    verify_blobs: bool = True,
    embedder: Embedder | None = None,
) -> CheckReport:
    """Survey a home and, with `repair`, fix what can be fixed, then survey it again.

    With `repair`, inspection photos and scan images past `settings.retain_days` are removed first
    (index/service/retention.py). Repairs: temporary and orphan files are removed, corrupt blobs
    are moved to `quarantine/`, image rows whose file is missing (and that no inspection cites) are
    removed with their vectors, as are designs left without images, and the local features of views
    no longer stored; then the engine rebuilds the index, embedding images that lack a vector of
    the current model. Returns the CheckReport. Raises HomeInUse when a service
    holds the home.
    """
    home = settings.home
    require_home(home)
    fingerprint = fingerprint_of(settings)
    expired = _expire(home, settings.retain_days) if repair else 0
    before = survey(home, fingerprint, grace_s, verify_blobs)
    if not repair or before.clean:
        return CheckReport(before, before, repaired=False, expired=expired)
    with home_lock(home, exclusive=True):
        _repair_files(home, before)
        _repair_rows(home / REGISTRY_FILE, before)
        again = survey(home, fingerprint, grace_s, verify_blobs=False)
        _repair_files(home, Survey(findings=again.of("orphan-features")))
        if any(f.repairable and f.kind not in _FILE_KINDS for f in before.findings):
            rebuild_index(settings, embedder, locked=True)
    after = survey(home, fingerprint, grace_s, verify_blobs)
    return CheckReport(before, after, repaired=True, expired=expired)


def _expire(home: Path, retain_days: int) -> int:
    """Remove photos past the retention period (index/service/retention.py). Returns how many.

    The home is locked only when there is something to remove, so that a check of a home that a
    service holds still reports (the service removes old photos itself, daily).
    """
    database = Database(home / REGISTRY_FILE)
    try:
        if not expiring(database, retain_days):
            return 0
        with home_lock(home, exclusive=True):
            return len(expire_photos(database, home, retain_days).sha256s)
    finally:
        database.close()


_FILE_KINDS = frozenset(
    {"temporary-file", "orphan-blob", "orphan-features", "corrupt-features", "orphan-spool", "stray-file"}
)


def _repair_files(home: Path, found: Survey) -> None:
    """Remove debris; move what might matter to someone (corrupt blobs, unknown files) to quarantine/."""
    for finding in found.findings:
        path = Path(finding.subject)
        keep = finding.kind == "corrupt-blob" or (
            finding.kind == "stray-file" and path.is_relative_to(home / "images")
        )
        if keep:
            target = home / QUARANTINE / path.name
            ensure_folder(target.parent)
            shutil.move(path, target)
            logger.warning("moved %s to %s (%s)", path, target, finding.kind)
        elif finding.kind in _FILE_KINDS:
            path.unlink(missing_ok=True)
            logger.info("removed %s (%s)", path, finding.kind)


def _repair_rows(path: Path, found: Survey) -> None:
    """Remove rows that point at lost files and designs left empty (never what inspections cite)."""
    lost = [f for f in found.findings if f.repairable and f.kind in ("missing-blob", "corrupt-blob")]
    if not lost and not found.of("empty-design"):
        return
    registry = Registry(path)
    try:
        with registry.transaction() as db:
            for finding in lost:
                _drop_image(db, finding)
            _drop_empty_designs(db)
            db.execute(
                "INSERT INTO meta(key, value) VALUES ('generation', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
    finally:
        registry.close()


def _drop_image(db: sqlite3.Connection, finding: Finding) -> None:
    if finding.kind == "missing-blob":
        image_ids = [int(finding.subject.split()[1])]
    else:
        sha = Path(finding.subject).name
        image_ids = [int(r[0]) for r in db.execute("SELECT id FROM images WHERE sha256 = ?", (sha,))]
    for image_id in image_ids:
        if is_cited(db, "images", image_id):
            continue
        db.execute("DELETE FROM embeddings WHERE image_id = ?", (image_id,))
        db.execute("DELETE FROM images WHERE id = ?", (image_id,))
        logger.warning("removed image %d: its file was lost", image_id)


def _drop_empty_designs(db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT id, design_id FROM designs d"
        " WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.design_pk = d.id)"
    ).fetchall()
    for pk, design_id in rows:
        if not is_cited(db, "designs", int(pk)):
            db.execute("DELETE FROM designs WHERE id = ?", (pk,))
            logger.warning("removed design %s: it had no reference image left", design_id)


def rebuild_index(settings: EngineSettings, embedder: Embedder | None = None, locked: bool = False) -> int:
    """Rebuild the index of a home from its registry (embedding images that lack a vector).

    Returns the number of searchable reference images. Raises HomeInUse when a service holds it.
    """
    if not locked:
        require_home(settings.home)
        with home_lock(settings.home, exclusive=True):
            return rebuild_index(settings, embedder, locked=True)
    engine = Engine(settings, embedder)
    try:
        engine.rebuild()
        return engine.index_size
    finally:
        engine.close()
