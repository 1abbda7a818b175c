"""Decode any supported image (path or bytes) into an upright 8-bit RGB picture, or say why not."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model.errors import InvalidImage, RejectionCode

MAX_PIXELS = 40_000_000
"""Largest decoded area accepted (width x height); bigger files are refused as decompression bombs."""

ImageSource = str | Path | bytes


def _open(source: ImageSource, name: str) -> Image.Image:
    if isinstance(source, bytes):
        if not source:
            raise InvalidImage(f"{name}: the file is empty (0 bytes)", code=RejectionCode.EMPTY)
        return Image.open(io.BytesIO(source))
    path = Path(source)
    if not path.is_file():
        raise InvalidImage(f"{path}: no such file", code=RejectionCode.MISSING)
    if path.stat().st_size == 0:
        raise InvalidImage(f"{path}: the file is empty (0 bytes)", code=RejectionCode.EMPTY)
    return Image.open(path)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten every PIL mode (palette, alpha, grayscale, 16-bit, CMYK, float) to 8-bit RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) * (255.0 / (high - low)) if high > low else np.zeros_like(array)
        image = Image.fromarray(scaled.astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("RGB")


def load_image(source: ImageSource, max_side: int | None = None, name: str | None = None) -> Image.Image:
    """Decode `source` into an upright RGB image.

    `max_side` lets JPEG decoding run in draft mode, at no less than that size on the longest side;
    `name` is how messages call the input (default: its path, or "uploaded image" for bytes).
    Returns the decoded image. Raises InvalidImage with a message that names the file and the fault.
    """
    if name is None:
        name = "uploaded image" if isinstance(source, bytes) else str(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _open(source, name)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidImage(
                    f"{name}: {width}x{height} pixels is over the limit of {MAX_PIXELS} pixels",
                    code=RejectionCode.TOO_MANY_PIXELS,
                )
            if max_side is not None and image.format == "JPEG":
                scale = max_side / max(width, height)
                if scale < 1.0:
                    image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
    except InvalidImage:
        raise
    except UnidentifiedImageError as exc:
        raise InvalidImage(
            f"{name}: not an image in a supported format", code=RejectionCode.NOT_AN_IMAGE
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(
            f"{name}: too many pixels to decode safely ({exc})", code=RejectionCode.TOO_MANY_PIXELS
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(
            f"{name}: the image is damaged or truncated ({exc})", code=RejectionCode.DAMAGED
        ) from exc
