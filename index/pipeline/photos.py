"""Photos in: read, decoded, resized and described by local features on worker threads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from model.errors import InvalidImage
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


class RejectionCode(StrEnum):
    """Why an input could not be used, as a stable code beside the English reason: programs and the
    api (which words it in the reader's language) go by the code, logs and the CLI print the reason."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    DAMAGED = "damaged"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_LARGE = "too_large"
    OUTSIDE_LINK = "outside_link"
    OTHER = "other"


@dataclass(frozen=True)
class Rejected:
    """An input that could not be used, why in English words, and why as a code."""

    source: str
    reason: str
    code: RejectionCode = RejectionCode.OTHER


def decode_refusal(error: InvalidImage, data: bytes) -> RejectionCode:
    """Return why the decoder refused readable bytes. Its InvalidImage says so only in words, so the
    code comes from the bytes and from the error that caused it: none but the pixel limit has no cause."""
    cause = error.__cause__
    if not data:
        return RejectionCode.EMPTY
    if isinstance(cause, UnidentifiedImageError):
        return RejectionCode.NOT_AN_IMAGE
    if cause is None or isinstance(cause, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return RejectionCode.TOO_MANY_PIXELS
    return RejectionCode.DAMAGED


def read_refusal(error: InvalidImage) -> RejectionCode:
    """Return why a file could not be read (see `read_file`)."""
    return (
        RejectionCode.MISSING if isinstance(error.__cause__, FileNotFoundError) else RejectionCode.UNREADABLE
    )


def source_name(source: ImageSource) -> str:
    """Return how an input is named in reports."""
    return "uploaded image" if isinstance(source, bytes) else str(source)


def read_file(path: str | Path) -> bytes:
    """Return a file's bytes. Raises InvalidImage when it is missing or unreadable."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InvalidImage(f"{path}: no such file") from exc
    except OSError as exc:
        raise InvalidImage(f"{path}: cannot be read ({exc.strerror})") from exc


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

    def decode(self, source: ImageSource, local: bool = True) -> Decoded:
        """Return the decoded photo, with local features when verification is on and `local`.

        Raises InvalidImage.
        """
        data = source if isinstance(source, bytes) else read_file(source)
        return self._decoded(source_name(source), data, local)

    def _decoded(self, name: str, data: bytes, local: bool) -> Decoded:
        image = load_image(data, max_side=self.max_side, name=name)
        features = extract_local(image, self.local) if self.with_local and local else None
        return Decoded(name, data, image, features)

    def attempt(self, source: ImageSource, local: bool = True) -> Decoded | Rejected:
        """Return the decoded photo, or a Rejected that says why it cannot be read."""
        name = source_name(source)
        try:
            data = source if isinstance(source, bytes) else read_file(source)
        except InvalidImage as exc:
            return Rejected(name, str(exc), read_refusal(exc))
        try:
            return self._decoded(name, data, local)
        except InvalidImage as exc:
            return Rejected(name, str(exc), decode_refusal(exc, data))

    def decode_all(self, sources: Sequence[ImageSource], local: bool = True) -> list[Decoded | Rejected]:
        """Decode photos on the workers; return them in order."""
        return [future.result() for future in self.decode_later(sources, local)]

    def decode_later(
        self, sources: Sequence[ImageSource], local: bool = True
    ) -> list[Future[Decoded | Rejected]]:
        """Start decoding photos on the workers; return their futures in order.

        `local=False` leaves SIFT out (the inspection cascade extracts it only for photos in doubt).
        """
        return [self.pool.submit(self.attempt, source, local) for source in sources]
