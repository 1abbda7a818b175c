"""Checks on uploaded image bytes before anything is stored: present, decodable, within the pixel limit."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from index.errors import UnsupportedMediaType
from model.errors import InvalidImage, RejectionCode
from model.images import load_image

ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})
"""Image formats the service decodes (MPO: a camera JPEG with extra views); others are refused unread."""


@dataclass(frozen=True)
class Upload:
    """An uploaded file: the name it came with (for messages) and its bytes."""

    name: str
    data: bytes


def check_pixels(upload: Upload, max_pixels: int) -> None:
    """Refuse an image of a format outside ALLOWED_FORMATS, or whose header declares more than
    `max_pixels` pixels, without decoding it.

    Raises InvalidImage for an empty file or too many pixels, UnsupportedMediaType for another
    format; a header that cannot be read is left for the decoder to describe.
    """
    if not upload.data:
        raise InvalidImage(f"{upload.name}: the file is empty (0 bytes)", code=RejectionCode.EMPTY)
    try:
        with Image.open(io.BytesIO(upload.data)) as image:
            width, height = image.size
            kind = image.format
    except Image.DecompressionBombError as exc:
        raise InvalidImage(
            f"{upload.name}: too many pixels to decode safely ({exc})", code=RejectionCode.TOO_MANY_PIXELS
        ) from exc
    except (OSError, ValueError, SyntaxError):
        return
    if kind not in ALLOWED_FORMATS:
        raise UnsupportedMediaType(
            f"{upload.name}: {kind} images are not accepted (send JPEG, PNG, WebP, GIF, BMP or TIFF)",
            code=RejectionCode.UNSUPPORTED_FORMAT,
        )
    if width * height > max_pixels:
        raise InvalidImage(
            f"{upload.name}: {width}x{height} pixels is over the limit of {max_pixels} pixels",
            code=RejectionCode.TOO_MANY_PIXELS,
        )


def check_images(uploads: Sequence[Upload], max_pixels: int) -> None:
    """Decode every upload fully, so that a design is stored with all its views or not at all.

    Raises InvalidImage naming the first file that is empty, not an image, truncated or too large.
    """
    for upload in uploads:
        check_pixels(upload, max_pixels)
        load_image(upload.data, name=upload.name)
