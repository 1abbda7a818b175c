"""The FAISS index: integer ids and vectors only, saved as a checkpoint with a JSON sidecar."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from index.files import write_atomic, write_json_atomic
from model.whitening import Whitening

logger = logging.getLogger(__name__)

SIDECAR = "index.json"


@dataclass(frozen=True)
class Sidecar:
    """What a saved index was built from; an index whose sidecar disagrees with the registry is rebuilt."""

    fingerprint: str
    dimension: int
    count: int
    generation: int
    whitening_samples: int
    built_at: str


class VectorIndex:
    """Exact inner-product search over unit vectors keyed by registry image ids.

    Why a wrapper: callers never see FAISS types, and ids are always the registry's int64 ids.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    @property
    def count(self) -> int:
        """Return the number of vectors held."""
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (n, dimension) vectors under the given int64 ids."""
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(
                f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}"
            )
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Remove the vectors with these ids; return how many were removed."""
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids) of the k nearest vectors per query row, best first; id -1 pads."""
        k = max(1, min(k, self.count))
        if self.count == 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, folder: Path, sidecar: Sidecar, whitening: Whitening | None) -> None:
        """Write the index and whitening under names of this generation, then the sidecar last.

        The sidecar is the commit point: a crash before it leaves the previous checkpoint intact.
        """
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"g{sidecar.generation}"
        write_atomic(folder / f"vectors-{stem}.faiss", lambda p: faiss.write_index(self._index, str(p)))
        if whitening is not None:
            write_atomic(
                folder / f"whitening-{stem}.npz",
                lambda p: np.savez(p.open("wb"), **whitening.to_arrays()),
            )
        write_json_atomic(folder / SIDECAR, asdict(sidecar))
        for old in [*folder.glob("vectors-g*.faiss"), *folder.glob("whitening-g*.npz")]:
            if not old.name.endswith(f"-{stem}{old.suffix}"):
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> tuple[VectorIndex, Sidecar, Whitening | None]:
        """Return the last saved checkpoint. Raises FileNotFoundError or ValueError if unusable."""
        sidecar = Sidecar(**json.loads((folder / SIDECAR).read_text()))
        stem = f"g{sidecar.generation}"
        raw = faiss.read_index(str(folder / f"vectors-{stem}.faiss"))
        index = cls(raw.d)
        index._index = raw
        if index.count != sidecar.count or index.dimension != sidecar.dimension:
            raise ValueError("the index file does not agree with its sidecar")
        whitening = None
        if sidecar.whitening_samples:
            with np.load(folder / f"whitening-{stem}.npz", allow_pickle=False) as arrays:
                whitening = Whitening.from_arrays(dict(arrays))
        return index, sidecar, whitening


def now() -> str:
    """Return the current UTC time for sidecars."""
    return datetime.now(UTC).isoformat(timespec="seconds")
