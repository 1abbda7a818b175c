"""Backups of a home (SQLite online backup, referenced image blobs, the index checkpoint) and restores."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from index.errors import BackupError
from index.home.maintenance import home_lock, require_home
from index.home.survey import SHA256, TEMPORARY
from index.service.audit_seal import HEAD_IN_BACKUP, KEY_FILE, Head, anchor_path, read_head, write_head
from index.store.database import utc_now
from index.store.files import ensure_folder, fsync_folder, write_json_atomic
from index.store.schema import REGISTRY_FILE, blob_hashes, row_count

logger = logging.getLogger(__name__)

MANIFEST = "backup.json"
FORMAT = "lanternguard-backup/1"


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds: files, bytes, designs and images, and blobs that were already missing."""

    path: Path
    files: int
    bytes: int
    designs: int
    images: int
    missing: list[str]


def _copy(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file durably; return the sha256 and size of what was copied."""
    ensure_folder(target.parent)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as src, target.open("wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_tree(root: Path) -> None:
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        fsync_folder(folder)


def _snapshot_database(source: Path, target: Path) -> tuple[set[str], int, int, Head | None]:
    """Copy the registry with SQLite's online backup; return its blob hashes, designs, images and
    the head of its audit log."""
    with closing(sqlite3.connect(source, timeout=30.0)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        hashes = blob_hashes(dst)
        designs, images = row_count(dst, "designs"), row_count(dst, "images")
        last = dst.execute("SELECT id, digest FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return hashes, designs, images, Head(int(last[0]), str(last[1])) if last else None


def backup(home: Path, dest: Path) -> BackupSummary:
    """Write a consistent backup of `home` to the new folder `dest`; safe while the service runs.

    The registry is copied with SQLite's online backup API; then every image blob it refers to
    (blobs are immutable), the index checkpoint, the audit key and the audit log's head anchor
    (`audit-head.json`, the snapshot's last entry). A manifest with each file's sha256 is written
    last and the folder appears under its name only when complete. Returns the BackupSummary.
    Raises BackupError when `dest` exists and is not empty.
    """
    require_home(home)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder: choose a new one")
    ensure_folder(dest.parent)
    staging = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        hashes, designs, images, head = _snapshot_database(home / REGISTRY_FILE, staging / REGISTRY_FILE)
        database = staging / REGISTRY_FILE
        files = {REGISTRY_FILE: {"sha256": _hash(database), "size": database.stat().st_size}}
        if (home / KEY_FILE).is_file():
            digest, size = _copy(home / KEY_FILE, staging / KEY_FILE)
            os.chmod(staging / KEY_FILE, 0o600)
            files[KEY_FILE] = {"sha256": digest, "size": size}
        if head is not None:
            write_head(staging / HEAD_IN_BACKUP, head)
            path = staging / HEAD_IN_BACKUP
            files[HEAD_IN_BACKUP] = {"sha256": _hash(path), "size": path.stat().st_size}
        missing = []
        for sha in sorted(hashes):
            relative = f"images/{sha[:2]}/{sha}"
            if not (home / relative).is_file():
                missing.append(sha)
                continue
            digest, size = _copy(home / relative, staging / relative)
            if digest != sha:
                (staging / relative).unlink()
                missing.append(sha)
                continue
            files[relative] = {"sha256": digest, "size": size}
        index = home / "index"
        for path in sorted(index.iterdir()) if index.is_dir() else []:
            if path.is_file() and not TEMPORARY.match(path.name):
                relative = f"index/{path.name}"
                digest, size = _copy(path, staging / relative)
                files[relative] = {"sha256": digest, "size": size}
        manifest = {
            "format": FORMAT, "created_at": utc_now(), "source": str(home.resolve()),
            "designs": designs, "images": images, "missing_blobs": missing, "files": files,
        }  # fmt: skip
        write_json_atomic(staging / MANIFEST, manifest)
        _fsync_tree(staging)
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
        fsync_folder(dest.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if missing:
        logger.warning(
            "%d image file(s) were already missing or damaged and are not in the backup", len(missing)
        )
    total = sum(int(f["size"]) for f in files.values())
    return BackupSummary(dest, len(files), total, designs, images, missing)


def verify_backup(source: Path) -> dict:
    """Check a backup folder: its manifest, every file's sha256, the database's integrity.

    Returns the manifest. Raises BackupError naming the first problem.
    """
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a LanternGuard backup ({MANIFEST}: {exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}")
    for relative, entry in manifest["files"].items():
        path = source / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            raise BackupError(f"{source}: the manifest names a path outside the backup: {relative}")
        if not path.is_file() or _hash(path) != entry["sha256"]:
            raise BackupError(f"{source}: {relative} is missing or damaged")
    for relative in manifest["files"]:
        name = Path(relative).name
        if relative.startswith("images/") and not SHA256.match(name):
            raise BackupError(f"{source}: {relative} is not an image blob")
    uri = f"file:{source / REGISTRY_FILE}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        status = db.execute("PRAGMA integrity_check").fetchone()[0]
    if status != "ok":
        raise BackupError(f"{source}: the database fails its integrity check ({status})")
    return manifest


def restore(source: Path, home: Path) -> Path | None:
    """Replace `home` with the backup in `source`, after verifying it; the old home is kept aside.

    The audit anchor beside the home becomes the backup's (its log ends where the backup's did).
    Returns where the previous home was moved (None when there was none). Raises BackupError for
    a damaged backup, HomeInUse while a service or maintenance job holds the home.
    """
    manifest = verify_backup(source)
    ensure_folder(home.parent)
    staging = home.parent / f".{home.name}.restore-{uuid.uuid4().hex[:8]}"
    try:
        for relative, entry in manifest["files"].items():
            digest, _ = _copy(source / relative, staging / relative)
            if digest != entry["sha256"]:
                raise BackupError(f"{source}: {relative} changed while it was being restored")
        _fsync_tree(staging)
        previous = None
        if home.exists() and any(p.name != ".lanternguard.lock" for p in home.iterdir()):
            with home_lock(home, exclusive=True):
                previous = home.parent / f"{home.name}.before-restore-{utc_now().replace(':', '')}"
                os.replace(home, previous)
        elif home.exists():
            shutil.rmtree(home)
        os.replace(staging, home)
        fsync_folder(home.parent)
        write_head(anchor_path(home), read_head(home / HEAD_IN_BACKUP))
        (home / HEAD_IN_BACKUP).unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("restored %s from %s", home, source)
    return previous
