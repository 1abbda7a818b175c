"""Local features of reference views: extracted at registration, kept on disk, cached in memory."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from index.store.files import write_bytes_atomic, write_many_atomic
from model.local import LocalFeatures


class LocalFeatureStore:
    """Derived data keyed by image sha256 and recipe: missing files are recomputed by the caller.

    Why a cache: verification reads the same popular reference views again and again.
    """

    def __init__(self, root: Path, recipe: str, cache_size: int = 4096) -> None:
        self.root = root / recipe
        self._cache: OrderedDict[str, LocalFeatures] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.npz"

    def put(self, sha256: str, features: LocalFeatures) -> None:
        """Store the features of a view durably and cache them."""
        path = self._path(sha256)
        if not path.exists():
            write_bytes_atomic(path, features.to_bytes())
        self._remember(sha256, features)

    def put_many(self, items: list[tuple[str, LocalFeatures]]) -> None:
        """Store the features of several views, durable together when this returns, and cache them."""
        missing = {
            self._path(sha): features.to_bytes() for sha, features in items if not self._path(sha).exists()
        }
        write_many_atomic(self.root, list(missing.items()))
        for sha, features in items:
            self._remember(sha, features)

    def get(self, sha256: str) -> LocalFeatures | None:
        """Return the stored features of a view, or None when they were never stored (or are unreadable)."""
        with self._lock:
            if sha256 in self._cache:
                self._cache.move_to_end(sha256)
                return self._cache[sha256]
        try:
            features = LocalFeatures.from_bytes(self._path(sha256).read_bytes())
        except (OSError, ValueError, KeyError):
            return None
        self._remember(sha256, features)
        return features

    def _remember(self, sha256: str, features: LocalFeatures) -> None:
        with self._lock:
            self._cache[sha256] = features
            self._cache.move_to_end(sha256)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
