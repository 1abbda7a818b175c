"""Content-addressed store of original image bytes: one durable file per sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from index.store.files import write_bytes_atomic, write_many_atomic


def sha256_of(data: bytes) -> str:
    """Return the hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Keeps the exact bytes that were registered, so evidence and re-embedding never need the source."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Return where the blob with this hash lives (whether or not it exists)."""
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` durably (a no-op when already stored); return its sha256."""
        digest = sha256_of(data)
        target = self.path(digest)
        if not target.exists():
            write_bytes_atomic(target, data)
        return digest

    def get(self, sha256: str) -> bytes:
        """Return the stored bytes. Raises FileNotFoundError when absent."""
        return self.path(sha256).read_bytes()

    def put_many(self, datas: list[bytes]) -> list[str]:
        """Store several blobs, durable together on return (write_many_atomic); return their sha256."""
        digests = [sha256_of(data) for data in datas]
        missing = {
            self.path(d): data for d, data in zip(digests, datas, strict=True) if not self.path(d).exists()
        }
        write_many_atomic(self.root, list(missing.items()))
        return digests
