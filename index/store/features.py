"""Local features of reference views: extracted at registration, kept on disk, cached in memory."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from index.store.blobs import BlobStore
from index.store.files import write_bytes_atomic, write_many_atomic
from model.images import load_image
from model.local import LocalConfig, LocalFeatures, extract_local

logger = logging.getLogger(__name__)

MAGIC = b"LGF1"
"""Start of a features file: these 4 bytes, the 32-byte sha256 of the rest, then the .npz bytes."""
_HEADER = len(MAGIC) + 32


def seal(payload: bytes) -> bytes:
    """Return the file bytes of a features payload: magic, its sha256, the payload."""
    return MAGIC + hashlib.sha256(payload).digest() + payload


def unseal(data: bytes) -> bytes:
    """Return the payload of sealed file bytes. Raises ValueError when the magic or the sha256 disagree
    (damaged, or written before features carried checksums)."""
    payload = data[_HEADER:]
    if data[: len(MAGIC)] != MAGIC or hashlib.sha256(payload).digest() != data[len(MAGIC) : _HEADER]:
        raise ValueError("the features file does not match the sha256 it carries")
    return payload


def features_intact(path: Path) -> bool:
    """Return whether a stored features file matches the sha256 it carries."""
    try:
        unseal(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


class LocalFeatureStore:
    """Derived data keyed by image sha256 and recipe: missing files are recomputed by the caller.

    Each file carries the sha256 of its payload (see `seal`): a file that no longer matches it (or
    predates it) reads as missing, so the caller re-extracts and `put` overwrites it.
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
        """Store the features of a view durably (replacing a damaged file) and cache them."""
        path = self._path(sha256)
        if not features_intact(path):
            write_bytes_atomic(path, seal(features.to_bytes()))
        self._remember(sha256, features)

    def put_many(self, items: list[tuple[str, LocalFeatures]]) -> None:
        """Store the features of several views, durable together when this returns, and cache them."""
        missing = {
            self._path(sha): seal(features.to_bytes())
            for sha, features in items
            if not features_intact(self._path(sha))
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
        path = self._path(sha256)
        try:
            features = LocalFeatures.from_bytes(unseal(path.read_bytes()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("local features %s are unusable (%s): re-extracting them", path.name, exc)
            return None
        self._remember(sha256, features)
        return features

    def fetch(self, sha256: str, blobs: BlobStore, config: LocalConfig) -> LocalFeatures:
        """Return the stored features of a view, extracting (and storing) them from its image when missing.

        Raises FileNotFoundError when the image itself is gone, InvalidImage when it is unreadable.
        """
        features = self.get(sha256)
        if features is None:
            features = extract_local(
                load_image(blobs.get(sha256), config.max_side, sha256), config, reference=True
            )
            self.put(sha256, features)
        return features

    def _remember(self, sha256: str, features: LocalFeatures) -> None:
        with self._lock:
            self._cache[sha256] = features
            self._cache.move_to_end(sha256)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
