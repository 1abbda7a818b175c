"""The SQLite registry: firms, designs, reference images by sha256 and their stored embeddings."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.errors import Conflict, DuplicateDesign, InvalidInput, UnknownDesign
from index.store.database import Database, utc_now
from index.store.validation import check_design, refuse_control
from model.errors import LanternGuardError


@dataclass(frozen=True)
class DesignRecord:
    """A registered design as stored, with its owner's name and number of reference images."""

    pk: int
    design_id: str
    registration_number: str | None
    title: str | None
    owner: str | None
    locarno_class: str | None
    valid_from: str | None
    valid_until: str | None
    withdrawn_at: str | None
    image_count: int
    territories: str | None = None
    """ISO 3166 alpha-2 codes the registration covers, comma-separated (None: not given)."""


@dataclass(frozen=True)
class DesignFields:
    """The descriptive fields a firm gives when registering a design (all optional but the id)."""

    design_id: str
    registration_number: str | None = None
    title: str | None = None
    owner: str | None = None
    locarno_class: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    territories: str | None = None


@dataclass(frozen=True)
class NewImage:
    """A decoded reference image ready to store: its content hash, size and raw embedding."""

    sha256: str
    width: int
    height: int
    vector: np.ndarray


_DESIGN_SELECT = """
SELECT d.id, d.design_id, d.registration_number, d.title, f.name, d.locarno_class, d.valid_from,
       d.valid_until, d.withdrawn_at, (SELECT count(*) FROM images i WHERE i.design_pk = d.id),
       d.territories
FROM designs d LEFT JOIN firms f ON f.id = d.firm_id
"""


class Registry:
    """Owns every id and all metadata; the FAISS index is derived from its stored embeddings.

    Writes happen in transactions (WAL mode, synchronous=FULL): a registration is durable when
    the call returns, and a failed one leaves nothing behind. Threads share the connection one
    statement or transaction at a time (index/database.py), so no read sees a half-done write.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path)

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """Run a block atomically (see Database.transaction)."""
        return self.db.transaction()

    def generation(self) -> int:
        """Return the change counter, bumped by every write that changes what can match."""
        row = self.db.row("SELECT value FROM meta WHERE key = 'generation'")
        return int(row[0]) if row else 0

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def _firm_id(self, db: sqlite3.Connection, name: str | None) -> int | None:
        if name is None or not name.strip():
            return None
        refuse_control("a firm name", name)
        db.execute(
            "INSERT INTO firms(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
            (name.strip(), utc_now()),
        )
        return int(db.execute("SELECT id FROM firms WHERE name = ?", (name.strip(),)).fetchone()[0])

    def add_images(
        self,
        fields: DesignFields,
        images: Sequence[NewImage],
        fingerprint: str,
        create_only: bool = False,
        max_images: int | None = None,
    ) -> tuple[DesignRecord, list[int]]:
        """Create the design if new (else keep its record) and attach the images with their vectors.

        An image already attached to the design (same sha256) is not added twice. The design's state
        and its number of images are read in the same transaction as the write (SQLite's write lock,
        `BEGIN IMMEDIATE`), so concurrent calls cannot together pass `max_images` or add to a design
        withdrawn meanwhile. Returns the design and the ids of the newly added images. Raises
        DuplicateDesign when `create_only` and the id exists, Conflict when the design is withdrawn,
        InvalidInput for an empty id or for more than `max_images` images in all.
        """
        design_id = fields.design_id.strip()
        if not design_id:
            raise InvalidInput("a design id must not be empty")
        check_design({k: v for k, v in asdict(fields).items() if v is not None}, require_number=False)
        with self.transaction() as db:
            added = self._attach(db, design_id, fields, images, fingerprint, create_only, max_images)
            self._bump(db)
        return self.design(design_id), added

    def add_many(
        self,
        entries: Sequence[tuple[DesignFields, Sequence[NewImage]]],
        fingerprint: str,
        create_only: bool = False,
        max_images: int | None = None,
    ) -> list[tuple[DesignRecord, list[int]] | LanternGuardError]:
        """Do add_images for several designs in one transaction: one durable commit for all of them.

        Each design runs under its own savepoint, so a refused one (DuplicateDesign, Conflict,
        InvalidInput) changes nothing and the others go on; its error takes its place in the result.
        Why: a commit is an fsync (synchronous=FULL), and registering a registry one commit per
        design spends more time waiting for the disk than embedding.
        """
        kept: list[tuple[str, list[int]] | LanternGuardError] = []
        with self.transaction() as db:
            for fields, images in entries:
                design_id = fields.design_id.strip()
                db.execute("SAVEPOINT design")
                try:
                    if not design_id:
                        raise InvalidInput("a design id must not be empty")
                    check_design(
                        {k: v for k, v in asdict(fields).items() if v is not None}, require_number=False
                    )
                    added = self._attach(db, design_id, fields, images, fingerprint, create_only, max_images)
                except (LanternGuardError, sqlite3.IntegrityError) as exc:
                    db.execute("ROLLBACK TO design")
                    db.execute("RELEASE design")
                    refused = (
                        exc
                        if isinstance(exc, LanternGuardError)
                        else InvalidInput(f"refused by the registry: {exc}")
                    )
                    kept.append(refused)
                    continue
                db.execute("RELEASE design")
                kept.append((design_id, added))
            self._bump(db)
        return [
            item if isinstance(item, LanternGuardError) else (self.design(item[0]), item[1]) for item in kept
        ]

    def _attach(
        self,
        db: sqlite3.Connection,
        design_id: str,
        fields: DesignFields,
        images: Sequence[NewImage],
        fingerprint: str,
        create_only: bool,
        max_images: int | None,
    ) -> list[int]:
        """Create the design if new and insert its new images with their vectors; return their ids."""
        row = db.execute("SELECT id, withdrawn_at FROM designs WHERE design_id = ?", (design_id,)).fetchone()
        if row and create_only:
            raise DuplicateDesign(f"design {design_id!r} is already registered")
        if row and row[1] is not None:
            raise Conflict(f"design {design_id} was withdrawn on {row[1]} and is kept as is")
        if row:
            pk = int(row[0])
            _check_room(db, pk, images, max_images)
        else:
            cursor = db.execute(
                "INSERT INTO designs(design_id, registration_number, title, firm_id, locarno_class,"
                " valid_from, valid_until, created_at, territories) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    design_id,
                    fields.registration_number,
                    fields.title,
                    self._firm_id(db, fields.owner),
                    fields.locarno_class,
                    fields.valid_from,
                    fields.valid_until,
                    utc_now(),
                    fields.territories,
                ),
            )
            pk = int(cursor.lastrowid or 0)
        added = []
        for image in images:
            cursor = db.execute(
                "INSERT INTO images(design_pk, sha256, width, height, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(design_pk, sha256) DO NOTHING",
                (pk, image.sha256, image.width, image.height, utc_now()),
            )
            if cursor.rowcount == 0:
                continue
            image_id = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO embeddings(image_id, fingerprint, vector) VALUES (?, ?, ?)",
                (image_id, fingerprint, np.asarray(image.vector, dtype=np.float32).tobytes()),
            )
            added.append(image_id)
        return added

    def stored_hashes(self, design_ids: Sequence[str]) -> dict[str, set[str]]:
        """Return the sha256 of every image already stored for each of these designs, by design id."""
        found: dict[str, set[str]] = {}
        for start in range(0, len(design_ids), 500):
            chunk = [d.strip() for d in design_ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            rows = self.db.rows(
                "SELECT d.design_id, i.sha256 FROM images i JOIN designs d ON d.id = i.design_pk"
                f" WHERE d.design_id IN ({marks})",
                chunk,
            )
            for design_id, sha in rows:
                found.setdefault(str(design_id), set()).add(str(sha))
        return found

    def withdraw(self, design_id: str) -> DesignRecord:
        """Mark a design withdrawn: it stops matching, its record stays. Raises UnknownDesign."""
        self.design(design_id)
        with self.transaction() as db:
            db.execute(
                "UPDATE designs SET withdrawn_at = ? WHERE design_id = ? AND withdrawn_at IS NULL",
                (utc_now(), design_id),
            )
            self._bump(db)
        return self.design(design_id)

    def design(self, design_id: str) -> DesignRecord:
        """Return the design with that id. Raises UnknownDesign."""
        row = self.db.row(_DESIGN_SELECT + " WHERE d.design_id = ?", (design_id,))
        if row is None:
            raise UnknownDesign(f"no design {design_id!r} is registered")
        return DesignRecord(*row)

    def designs(self, limit: int = 100, offset: int = 0) -> list[DesignRecord]:
        """Return designs ordered by registration, a page at a time."""
        rows = self.db.rows(_DESIGN_SELECT + " ORDER BY d.id LIMIT ? OFFSET ?", (limit, offset))
        return [DesignRecord(*row) for row in rows]

    def designs_by_pk(self, pks: Sequence[int]) -> dict[int, DesignRecord]:
        """Return the designs with these internal keys, by key."""
        if not pks:
            return {}
        marks = ",".join("?" * len(pks))
        rows = self.db.rows(_DESIGN_SELECT + f" WHERE d.id IN ({marks})", list(pks))
        return {row[0]: DesignRecord(*row) for row in rows}

    def image_sha256(self, image_id: int) -> str:
        """Return the content hash of a reference image. Raises UnknownDesign if there is none."""
        row = self.db.row("SELECT sha256 FROM images WHERE id = ?", (image_id,))
        if row is None:
            raise UnknownDesign(f"no reference image {image_id}")
        return str(row[0])

    def image_hashes(self, image_ids: Sequence[int]) -> dict[int, str]:
        """Return the sha256 of each of these reference images that exists, by image id."""
        hashes: dict[int, str] = {}
        for start in range(0, len(image_ids), 500):
            chunk = list(image_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.db.rows(f"SELECT id, sha256 FROM images WHERE id IN ({marks})", chunk)
            hashes.update({int(r[0]): str(r[1]) for r in rows})
        return hashes

    def images_without_embedding(self, fingerprint: str) -> list[tuple[int, str]]:
        """Return (image id, sha256) of every image that has no embedding under `fingerprint`."""
        rows = self.db.rows(
            "SELECT i.id, i.sha256 FROM images i WHERE NOT EXISTS"
            " (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.fingerprint = ?) ORDER BY i.id",
            (fingerprint,),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def add_embeddings(self, fingerprint: str, vectors: dict[int, np.ndarray]) -> None:
        """Store embeddings of existing images under `fingerprint` (e.g. after a backbone change)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings(image_id, fingerprint, vector) VALUES (?, ?, ?)",
                [(i, fingerprint, np.asarray(v, dtype=np.float32).tobytes()) for i, v in vectors.items()],
            )

    def active_embeddings(self, fingerprint: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (image ids, design keys, raw vectors) of every image of a non-withdrawn design."""
        rows = self.db.rows(
            "SELECT i.id, i.design_pk, e.vector FROM images i JOIN designs d ON d.id = i.design_pk"
            " JOIN embeddings e ON e.image_id = i.id AND e.fingerprint = ?"
            " WHERE d.withdrawn_at IS NULL ORDER BY i.id",
            (fingerprint,),
        )
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        designs = np.array([r[1] for r in rows], dtype=np.int64)
        if not rows:
            return ids, designs, np.zeros((0, 0), dtype=np.float32)
        vectors = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        return ids, designs, vectors

    def vectors_of(self, image_ids: Sequence[int], fingerprint: str) -> dict[int, np.ndarray]:
        """Return the raw vectors under `fingerprint` of these reference images, by image id."""
        if not image_ids:
            return {}
        marks = ",".join("?" * len(image_ids))
        rows = self.db.rows(
            f"SELECT image_id, vector FROM embeddings WHERE fingerprint = ? AND image_id IN ({marks})",
            [fingerprint, *image_ids],
        )
        return {int(r[0]): np.frombuffer(r[1], dtype=np.float32) for r in rows}


def _check_room(db: sqlite3.Connection, pk: int, images: Sequence[NewImage], limit: int | None) -> None:
    """Raise InvalidInput when the new images would take a design past `limit` images in all."""
    if limit is None:
        return
    stored = {str(r[0]) for r in db.execute("SELECT sha256 FROM images WHERE design_pk = ?", (pk,))}
    adding = len({image.sha256 for image in images} - stored)
    if adding and len(stored) + adding > limit:
        raise InvalidInput(
            f"a design has at most {limit} views: it has {len(stored)}, and {adding} more were given"
        )
