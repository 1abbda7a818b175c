"""The photo index: global descriptors of kept inspection and scan photos, searched by a new design's views.

Why its own index, not the live one: a look-back asks the opposite question (few design views
against many photos), and the photos never match live inspections. Exact inner-product search
over float16 codes (FAISS `SQfp16`): 2 bytes a dimension, 100,000 photos of 1280 dimensions in
256 MB; no training, so photos come and go one at a time. The codes are kept in shards of
SHARD photos, searched one after another on the calling thread alone, so that a look-back can give
way to live inspections between shards (about 25 ms each on one core).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import faiss
import numpy as np

from index.search.vectors import _one_thread
from index.store.photos import PhotoStore

SHARD = 16_384


class PhotoIndex:
    """Kept photos by their store row id, loaded from the store on first use and kept in step after."""

    def __init__(self, store: PhotoStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self._shards: list[faiss.Index] | None = None

    def _empty(self) -> faiss.Index:
        quantizer = faiss.IndexScalarQuantizer(
            self.store.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        return faiss.IndexIDMap2(quantizer)

    def _add(self, shards: list[faiss.Index], ids: np.ndarray, vectors: np.ndarray) -> None:
        done = 0
        while done < len(ids):
            if not shards or shards[-1].ntotal >= SHARD:
                shards.append(self._empty())
            take = min(SHARD - int(shards[-1].ntotal), len(ids) - done)
            part = slice(done, done + take)
            shards[-1].add_with_ids(np.ascontiguousarray(vectors[part], dtype=np.float32), ids[part])
            done += take

    def _loaded(self) -> list[faiss.Index]:
        if self._shards is None:
            shards: list[faiss.Index] = []
            for ids, vectors in self.store.vectors():
                self._add(shards, ids, vectors)
            self._shards = shards
        return self._shards

    def reload(self) -> None:
        """Forget the loaded index; the next use loads it from the store (rows written behind its back)."""
        with self.lock:
            self._shards = None

    @property
    def count(self) -> int:
        """Return how many photos can be searched."""
        with self.lock:
            return sum(int(shard.ntotal) for shard in self._loaded())

    def add(self, photo_id: int, vector: np.ndarray) -> None:
        """Make one kept photo searchable (once loaded; before that the store holds it)."""
        with self.lock:
            if self._shards is not None:
                one = np.asarray(vector, dtype=np.float32).reshape(1, -1)
                self._add(self._shards, np.array([photo_id], dtype=np.int64), one)

    def remove(self, photo_ids: list[int]) -> None:
        """Stop photos from being searched (retention removed them)."""
        with self.lock:
            if self._shards is not None and photo_ids:
                gone = np.asarray(photo_ids, dtype=np.int64)
                for shard in self._shards:
                    shard.remove_ids(gone)

    def nearest(
        self, queries: np.ndarray, k: int, between: Callable[[], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (best cosine over the queries, photo ids) of the `k` photos nearest any query.

        `between` is called before each shard (a look-back gives way to live inspections there).
        """
        best: dict[int, float] = {}
        with self.lock:
            shards = list(self._loaded())
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        for shard in shards if len(queries) else []:
            if between is not None:
                between()
            with self.lock:
                if shard.ntotal == 0:
                    continue
                with _one_thread():
                    scores, ids = shard.search(queries, min(k, shard.ntotal))
            for score, photo_id in zip(scores.ravel().tolist(), ids.ravel().tolist(), strict=True):
                if photo_id >= 0 and score > best.get(photo_id, -np.inf):
                    best[photo_id] = score
        ordered = sorted(best.items(), key=lambda kv: -kv[1])[:k]
        return (
            np.array([s for _, s in ordered], dtype=np.float32),
            np.array([i for i, _ in ordered], dtype=np.int64),
        )
