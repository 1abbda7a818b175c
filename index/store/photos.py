"""Descriptors of inspected photos, kept so that a design registered later can look back at them.

Each photo (by sha256 and model fingerprint) keeps its global descriptor and its regional ones, as
float16: the global ones feed the photo index (index/search/photos.py), the regional ones are read
back only for the few photos a look-back verifies. Its SIFT features live in the local-feature store
under the same sha256, as the reference views' do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from index.store.database import Database, utc_now


@dataclass(frozen=True)
class PhotoDescriptor:
    """One kept photo: its row id (the photo index's id), sha256, when it was last seen, descriptors."""

    id: int
    sha256: str
    seen_at: str
    vector: np.ndarray
    regions: np.ndarray


def _half(vectors: np.ndarray) -> bytes:
    return np.ascontiguousarray(vectors, dtype=np.float16).tobytes()


def _full(blob: bytes, dim: int) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, dim)


class PhotoStore:
    """The `photo_descriptors` table: one row per photo and model, refreshed when a photo is seen again."""

    def __init__(self, database: Database, fingerprint: str, dim: int) -> None:
        self._db = database
        self.fingerprint = fingerprint
        self.dim = dim

    def put(self, sha256: str, vector: np.ndarray, regions: np.ndarray) -> tuple[int, bool]:
        """Keep a photo's descriptors (or stamp it seen again). Returns (row id, whether it is new).

        A photo that retention removed earlier and that comes back is no longer counted as removed.
        """
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT id FROM photo_descriptors WHERE sha256 = ? AND fingerprint = ?",
                (sha256, self.fingerprint),
            ).fetchone()
            db.execute("DELETE FROM expired_photos WHERE sha256 = ?", (sha256,))
            if row is not None:
                db.execute("UPDATE photo_descriptors SET seen_at = ? WHERE id = ?", (utc_now(), row[0]))
                return int(row[0]), False
            cursor = db.execute(
                "INSERT INTO photo_descriptors(sha256, fingerprint, seen_at, vector, regions)"
                " VALUES (?, ?, ?, ?, ?)",
                (sha256, self.fingerprint, utc_now(), _half(vector), _half(regions.reshape(-1, self.dim))),
            )
            return int(cursor.lastrowid or 0), True

    def vectors(self, chunk: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (row ids, global descriptors as float16) of every kept photo of this model, in chunks."""
        after = 0
        while True:
            rows = self._db.rows(
                "SELECT id, vector FROM photo_descriptors WHERE fingerprint = ? AND id > ?"
                " ORDER BY id LIMIT ?",
                (self.fingerprint, after, chunk),
            )
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            yield ids, np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(len(rows), -1)
            after = int(ids[-1])

    def get(self, ids: Sequence[int]) -> list[PhotoDescriptor]:
        """Return the kept photos with these row ids (those that still exist), in the order given."""
        found: dict[int, PhotoDescriptor] = {}
        for start in range(0, len(ids), 500):
            chunk = [int(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            rows = self._db.rows(
                f"SELECT id, sha256, seen_at, vector, regions FROM photo_descriptors WHERE id IN ({marks})",
                chunk,
            )
            for r in rows:
                found[int(r[0])] = PhotoDescriptor(
                    int(r[0]), str(r[1]), str(r[2]), _full(r[3], self.dim)[0], _full(r[4], self.dim)
                )
        return [found[int(i)] for i in ids if int(i) in found]

    def count(self) -> int:
        """Return how many photos of this model are kept."""
        query = "SELECT count(*) FROM photo_descriptors WHERE fingerprint = ?"
        row = self._db.row(query, (self.fingerprint,))
        return int(row[0]) if row else 0

    def oldest(self) -> str | None:
        """Return when the least recently seen kept photo was seen (None: none is kept)."""
        query = "SELECT min(seen_at) FROM photo_descriptors WHERE fingerprint = ?"
        row = self._db.row(query, (self.fingerprint,))
        return str(row[0]) if row and row[0] else None

    def ids_of(self, sha256s: Sequence[str]) -> list[int]:
        """Return the row ids of these photos (any model), to drop them from the photo index."""
        if not sha256s:
            return []
        marks = ",".join("?" * len(sha256s))
        rows = self._db.rows(f"SELECT id FROM photo_descriptors WHERE sha256 IN ({marks})", list(sha256s))
        return [int(r[0]) for r in rows]

    def vectors_by_sha(self, sha256s: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the global descriptors of these kept photos of this model, by sha256."""
        if not sha256s:
            return {}
        marks = ",".join("?" * len(sha256s))
        rows = self._db.rows(
            f"SELECT sha256, vector FROM photo_descriptors WHERE fingerprint = ? AND sha256 IN ({marks})",
            [self.fingerprint, *sha256s],
        )
        return {str(r[0]): _full(r[1], self.dim)[0] for r in rows}
