"""The photo index: global descriptors of kept inspection and scan photos, searched by a new design's views.

Why its own index, not the live one: a look-back asks the opposite question (few design views
against many photos), and the photos never match live inspections. Exact inner-product search
over float16 codes (FAISS `SQfp16`): 2 bytes a dimension, 100,000 photos of 1280 dimensions in
256 MB; searched on the calling thread alone (a look-back runs beside live inspections); no
training, so photos come and go one at a time.
"""

from __future__ import annotations

import threading

import faiss
import numpy as np

from index.search.vectors import _one_thread
from index.store.photos import PhotoStore


class PhotoIndex:
    """Kept photos by their store row id, loaded from the store on first use and kept in step after."""

    def __init__(self, store: PhotoStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self._index: faiss.Index | None = None

    def _empty(self) -> faiss.Index:
        quantizer = faiss.IndexScalarQuantizer(
            self.store.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        return faiss.IndexIDMap2(quantizer)

    def _loaded(self) -> faiss.Index:
        if self._index is None:
            index = self._empty()
            for ids, vectors in self.store.vectors():
                index.add_with_ids(vectors.astype(np.float32), ids)
            self._index = index
        return self._index

    def reload(self) -> None:
        """Forget the loaded index; the next use loads it from the store (rows written behind its back)."""
        with self.lock:
            self._index = None

    @property
    def count(self) -> int:
        """Return how many photos can be searched."""
        with self.lock:
            return int(self._loaded().ntotal)

    def add(self, photo_id: int, vector: np.ndarray) -> None:
        """Make one kept photo searchable (once loaded; before that the store holds it)."""
        with self.lock:
            if self._index is not None:
                self._index.add_with_ids(
                    np.asarray(vector, dtype=np.float32).reshape(1, -1), np.array([photo_id], dtype=np.int64)
                )

    def remove(self, photo_ids: list[int]) -> None:
        """Stop photos from being searched (retention removed them)."""
        with self.lock:
            if self._index is not None and photo_ids:
                self._index.remove_ids(np.asarray(photo_ids, dtype=np.int64))

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (best cosine over the queries, photo ids) of the `k` photos nearest any query."""
        with self.lock:
            index = self._loaded()
            if index.ntotal == 0 or len(queries) == 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            with _one_thread():
                scores, ids = index.search(
                    np.ascontiguousarray(queries, dtype=np.float32), min(k, index.ntotal)
                )
        best: dict[int, float] = {}
        for score, photo_id in zip(scores.ravel().tolist(), ids.ravel().tolist(), strict=True):
            if photo_id >= 0 and score > best.get(photo_id, -np.inf):
                best[photo_id] = score
        ordered = sorted(best.items(), key=lambda kv: -kv[1])[:k]
        return (
            np.array([s for _, s in ordered], dtype=np.float32),
            np.array([i for i, _ in ordered], dtype=np.int64),
        )
