"""Read-only consistency check of a home: registry, image blobs, embeddings and the index checkpoint."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import CorruptDerivedData
from index.search.vectors import SIDECAR, VectorIndex, checkpoint_files, named_files
from index.service.audit import COLUMNS, entry_of_row, verify_entries
from index.service.audit_seal import anchor_path, load_key, read_head
from index.store.features import features_intact
from index.store.files import file_sha256
from index.store.schema import REGISTRY_FILE, blob_hashes, cited_ids, row_count

SHA256 = re.compile(r"^[0-9a-f]{64}$")
TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}$")
"""What `index.store.files.write_atomic` names its temporary files; left behind only by a killed process."""
DERIVED_FOLDERS = ("images", "index", "features", "scans")


@dataclass(frozen=True)
class Finding:
    """One inconsistency: its kind, what it concerns, and whether `check` can repair it."""

    kind: str
    subject: str
    detail: str
    repairable: bool = True

    def line(self) -> str:
        """Return the finding as one line of text."""
        note = "" if self.repairable else " [cannot be repaired automatically]"
        return f"{self.kind}: {self.subject}: {self.detail}{note}"


@dataclass
class Survey:
    """What a check found, with counts of what it looked at; `deferred` are files too new to judge."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    deferred: list[Path] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Return whether nothing is inconsistent."""
        return not self.findings

    def of(self, kind: str) -> list[Finding]:
        """Return the findings of one kind."""
        return [f for f in self.findings if f.kind == kind]


@dataclass(frozen=True)
class _Snapshot:
    images: list[tuple[int, int, str]]
    designs: dict[int, str]
    photos: set[str]
    cited_images: set[int]
    cited_designs: set[int]
    active_ids: set[int]
    missing_embedding: list[int]
    generation: int
    problems: list[str]
    inspections: int
    scans_running: int


def _snapshot(path: Path, fingerprint: str) -> _Snapshot:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)) as db:
        db.execute("BEGIN")
        problems = [str(r[0]) for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check"):
            problems.append(f"row {rowid} of {table} cites a missing {parent} row")
        rows = db.execute("SELECT id, design_pk, sha256 FROM images")
        images = [(int(a), int(b), str(c)) for a, b, c in rows]
        designs = {int(a): str(b) for a, b in db.execute("SELECT id, design_id FROM designs")}
        active = {
            int(r[0])
            for r in db.execute(
                "SELECT i.id FROM images i JOIN designs d ON d.id = i.design_pk JOIN embeddings e"
                " ON e.image_id = i.id AND e.fingerprint = ? WHERE d.withdrawn_at IS NULL",
                (fingerprint,),
            )
        }
        missing = [
            int(r[0])
            for r in db.execute(
                "SELECT i.id FROM images i WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.image_id = i.id AND e.fingerprint = ?) ORDER BY i.id",
                (fingerprint,),
            )
        ]
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        photos = blob_hashes(db, skip="images")
        cited_images, cited_designs = cited_ids(db, "images"), cited_ids(db, "designs")
        inspections, scans_running = row_count(db, "inspections"), 0
        if row_count(db, "scans"):
            query = "SELECT count(*) FROM scans WHERE status IN ('queued', 'running')"
            scans_running = int(db.execute(query).fetchone()[0])
        db.execute("COMMIT")
    return _Snapshot(
        images, designs, photos, cited_images, cited_designs, active, missing,
        int(row[0]) if row else 0, problems, inspections, scans_running,
    )  # fmt: skip


def _files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        yield from (p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def _blob_ok(path: Path, sha256: str) -> bool:
    return file_sha256(path) == sha256


def survey(home: Path, fingerprint: str, grace_s: float = 0.0, verify_blobs: bool = True) -> Survey:
    """Look at a home without changing it and list every inconsistency.

    Files changed less than `grace_s` seconds ago are left out (they may belong to a write in
    progress) and listed in `deferred`. Returns the Survey.
    """
    found = Survey()
    snap = _snapshot(home / REGISTRY_FILE, fingerprint)
    young = time.time() - grace_s
    for problem in snap.problems:
        found.findings.append(Finding("database", REGISTRY_FILE, problem, repairable=False))
    _survey_files(home, found, young)
    _survey_spool(home / "scans", snap, found, young)
    _survey_blobs(home / "images", snap, found, young, verify_blobs)
    _survey_features(home / "features", snap, found, young, verify_blobs)
    _survey_rows(snap, found)
    _survey_index(home / "index", snap, found, fingerprint)
    _survey_audit(home, found)
    found.counts.update(
        designs=len(snap.designs), images=len(snap.images), searchable=len(snap.active_ids),
        inspections=snap.inspections, generation=snap.generation,
    )  # fmt: skip
    return found


def _survey_files(home: Path, found: Survey, young: float) -> None:
    for folder in DERIVED_FOLDERS:
        for path in _files(home / folder):
            if not TEMPORARY.match(path.name):
                continue
            if path.lstat().st_mtime > young:
                found.deferred.append(path)
            else:
                found.findings.append(Finding("temporary-file", str(path), "left by an interrupted write"))


def _survey_spool(folder: Path, snap: _Snapshot, found: Survey, young: float) -> None:
    for path in sorted(folder.glob("*.zip")) if folder.is_dir() else []:
        if snap.scans_running or path.stat().st_mtime > young:
            found.deferred.append(path)
        else:
            found.findings.append(Finding("orphan-spool", str(path), "the archive of a scan that ended"))


def _survey_blobs(folder: Path, snap: _Snapshot, found: Survey, young: float, verify: bool) -> None:
    referenced = {sha for _, _, sha in snap.images} | snap.photos
    present: set[str] = set()
    for path in _files(folder):
        if TEMPORARY.match(path.name):
            continue
        name = path.name
        if not SHA256.match(name) or path.parent != folder / name[:2] or path.is_symlink():
            found.findings.append(Finding("stray-file", str(path), "not a blob of the image store"))
            continue
        present.add(name)
        if name not in referenced:
            if path.stat().st_mtime > young:
                found.deferred.append(path)
            else:
                detail = "no image or inspection refers to it"
                found.findings.append(Finding("orphan-blob", str(path), detail))
        elif verify and not _blob_ok(path, name):
            found.findings.append(Finding("corrupt-blob", str(path), "its bytes no longer match its sha256"))
    found.counts["blobs"] = len(present)
    for image_id, design_pk, sha in snap.images:
        if sha not in present:
            cited = image_id in snap.cited_images
            detail = "its image file is missing" + (" (cited by inspections, so kept)" if cited else "")
            subject = f"image {image_id} of design {snap.designs.get(design_pk, design_pk)}"
            found.findings.append(Finding("missing-blob", subject, detail, repairable=not cited))
    for sha in sorted(snap.photos - present):
        found.findings.append(
            Finding("missing-photo", sha, "an inspected photo is missing from the store", repairable=False)
        )


def _survey_features(folder: Path, snap: _Snapshot, found: Survey, young: float, verify: bool) -> None:
    """Local features are derived from stored views and kept photos: a file of neither is debris, a
    file whose bytes no longer match the sha256 it carries is damaged (removed; re-extracted when
    next needed for a view)."""
    views = {sha for _, _, sha in snap.images} | snap.photos
    for path in _files(folder):
        if TEMPORARY.match(path.name):
            continue
        if path.suffix == ".npz" and path.stem in views:
            if verify and not path.is_symlink() and not features_intact(path):
                detail = "its bytes do not match the sha256 it carries (re-extracted when next needed)"
                found.findings.append(Finding("corrupt-features", str(path), detail))
            continue
        if path.lstat().st_mtime > young:
            found.deferred.append(path)
        else:
            detail = "local features of no stored view or kept photo"
            found.findings.append(Finding("orphan-features", str(path), detail))


def _survey_rows(snap: _Snapshot, found: Survey) -> None:
    with_images = {design_pk for _, design_pk, _ in snap.images}
    for pk, design_id in sorted(snap.designs.items()):
        if pk not in with_images:
            cited = pk in snap.cited_designs
            detail = "a design without any reference image"
            found.findings.append(Finding("empty-design", design_id, detail, repairable=not cited))
    for image_id in snap.missing_embedding:
        detail = "no vector of the current model"
        found.findings.append(Finding("missing-embedding", f"image {image_id}", detail))


def _survey_index(folder: Path, snap: _Snapshot, found: Survey, fingerprint: str) -> None:
    if not (folder / SIDECAR).exists():
        found.findings.append(Finding("index", str(folder), "no index checkpoint"))
        return
    try:
        index, sidecar, _ = VectorIndex.load(folder)
    except CorruptDerivedData as exc:
        found.findings.append(Finding("corrupt-index", str(folder), f"the checkpoint is damaged ({exc})"))
        return
    except (OSError, ValueError, TypeError, RuntimeError, KeyError) as exc:
        found.findings.append(Finding("index", str(folder), f"the checkpoint cannot be read ({exc})"))
        return
    if not sidecar.verified:
        detail = "the checkpoint carries no checksums (written by an earlier version)"
        found.findings.append(Finding("index", str(folder), detail))
    if sidecar.fingerprint.split("|")[0] != fingerprint:
        detail = f"built with {sidecar.fingerprint}, the current model is {fingerprint}"
        found.findings.append(Finding("index", str(folder), detail))
    if sidecar.generation != snap.generation:
        detail = f"checkpoint of generation {sidecar.generation}, the registry is at {snap.generation}"
        found.findings.append(Finding("index", str(folder), detail))
    ids = index.ids()
    found.counts["vectors"] = index.count
    if ids is None:
        if index.count != len(snap.active_ids):
            detail = f"{index.count} vector(s) for {len(snap.active_ids)} searchable image(s)"
            found.findings.append(Finding("index", str(folder), detail))
        ids = snap.active_ids
    orphans, absent = ids - snap.active_ids, snap.active_ids - ids
    if orphans:
        detail = f"{len(orphans)} vector(s) of no searchable image (e.g. image {min(orphans)})"
        found.findings.append(Finding("orphan-vector", str(folder), detail))
    if absent:
        detail = f"{len(absent)} searchable image(s) not in the index (e.g. image {min(absent)})"
        found.findings.append(Finding("index", str(folder), detail))
    named = named_files(folder, sidecar)
    for path in checkpoint_files(folder):
        if path.name not in named:
            found.findings.append(Finding("stray-file", str(path), "a file of an earlier checkpoint"))


def _survey_audit(home: Path, found: Survey) -> None:
    """The audit log's keyed chain and head anchor (index/service/audit_seal.py); never repairable."""
    try:
        key, head = load_key(home), read_head(anchor_path(home))
    except (OSError, ValueError, KeyError) as exc:
        found.findings.append(
            Finding("audit", "audit log", f"its key or anchor is unreadable ({exc})", False)
        )
        return
    with closing(sqlite3.connect(f"file:{home / REGISTRY_FILE}?mode=ro", uri=True, timeout=30.0)) as db:
        rows = db.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY id")
        problems = verify_entries((entry_of_row(r) for r in rows), key, head)
    for problem in problems:
        found.findings.append(Finding("audit", "audit log", problem, repairable=False))
