"""Photos in: read, decoded, resized and described by local features on worker threads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from model.errors import InvalidImage, RejectionCode
from model.images import ImageSource, load_image
from model.local import LocalConfig, LocalFeatures, extract_local

WORKERS = max(2, os.cpu_count() or 1)
"""Threads that decode photos, extract SIFT and verify (OpenCV and NumPy release the GIL): one per core."""


@dataclass(frozen=True)
class Decoded:
    """A readable photo: its name, bytes, decoded image and (when verification is on) local features."""

    source: str
    data: bytes
    image: Image.Image
    local: LocalFeatures | None


@dataclass(frozen=True)
class Rejected:
    """An input that could not be used, why in English words, and why as a code."""

    source: str
    reason: str
    code: RejectionCode = RejectionCode.OTHER


def source_name(source: ImageSource) -> str:
    """Return how an input is named in reports."""
    return "uploaded image" if isinstance(source, bytes) else str(source)


def read_file(path: str | Path) -> bytes:
    """Return a file's bytes. Raises InvalidImage when it is missing or unreadable."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InvalidImage(f"{path}: no such file", code=RejectionCode.MISSING) from exc
    except OSError as exc:
        raise InvalidImage(f"{path}: cannot be read ({exc.strerror})", code=RejectionCode.UNREADABLE) from exc


class Decoder:
    """Decodes photos on a pool of worker threads, which the inspection also uses to verify."""

    def __init__(self, max_side: int, local: LocalConfig, with_local: bool) -> None:
        self.max_side = max(max_side, local.max_side)
        self.local = local
        self.with_local = with_local
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="decode")

    def close(self) -> None:
        """Stop the worker threads."""
        self.pool.shutdown()

    def decode(self, source: ImageSource, local: bool = True, reference: bool = False) -> Decoded:
        """Return the decoded photo, with local features when verification is on and `local`.

        `reference`: the image is a view being registered (its features get a foreground mask).
        Raises InvalidImage.
        """
        name = source_name(source)
        data = source if isinstance(source, bytes) else read_file(source)
        image = load_image(data, max_side=self.max_side, name=name)
        features = extract_local(image, self.local, reference) if self.with_local and local else None
        return Decoded(name, data, image, features)

    def attempt(self, source: ImageSource, local: bool = True, reference: bool = False) -> Decoded | Rejected:
        """Return the decoded photo, or a Rejected that says why it cannot be read."""
        try:
            return self.decode(source, local, reference)
        except InvalidImage as exc:
            return Rejected(source_name(source), str(exc), exc.code)

    def decode_all(self, sources: Sequence[ImageSource], local: bool = True) -> list[Decoded | Rejected]:
        """Decode photos on the workers; return them in order."""
        return [future.result() for future in self.decode_later(sources, local)]

    def decode_later(
        self, sources: Sequence[ImageSource], local: bool = True, reference: bool = False
    ) -> list[Future[Decoded | Rejected]]:
        """Start decoding photos on the workers; return their futures in order.

        `local=False` leaves SIFT out (the inspection cascade extracts it only for photos in doubt);
        `reference`: views being registered (see `decode`).
        """
        return [self.pool.submit(self.attempt, source, local, reference) for source in sources]
