"""Decoding: every mode becomes RGB, EXIF orientation is applied, bad files give InvalidImage."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model import images
from model.errors import InvalidImage
from model.images import load_image
from tests.conftest import draw_design, jpeg_bytes


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "LA", "CMYK", "I;16", "1"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    source = draw_design(1).convert("RGBA" if mode in ("RGBA", "LA") else "RGB")
    if mode == "I;16":
        array = (np.asarray(source.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        picture = Image.fromarray(array)
    else:
        picture = source.convert(mode)
    decoded = load_image(encoded(picture, "JPEG" if mode == "CMYK" else "PNG"))
    assert decoded.mode == "RGB"
    assert decoded.size == source.size


def test_sixteen_bit_keeps_contrast() -> None:
    ramp = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (8, 1))
    decoded = np.asarray(load_image(encoded(Image.fromarray(ramp), "PNG")))
    assert decoded[..., 0].min() == 0 and decoded[..., 0].max() == 255


def test_transparent_pixels_become_white() -> None:
    clear = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert load_image(encoded(clear, "PNG")).getpixel((5, 5)) == (255, 255, 255)


def test_exif_orientation_is_applied() -> None:
    wide = draw_design(2, size=(200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    decoded = load_image(encoded(wide, "JPEG", exif=exif.tobytes()))
    assert decoded.size == (100, 200)


def test_draft_mode_decodes_no_smaller_than_asked() -> None:
    big = jpeg_bytes(draw_design(3, size=(1600, 1200)))
    decoded = load_image(big, max_side=300)
    assert 300 <= max(decoded.size) < 1600


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty"),
        (b"this is plain text, not a picture", "not an image"),
        (jpeg_bytes(draw_design(4))[:600], "damaged or truncated"),
    ],
)
def test_bad_bytes_are_refused_with_a_reason(payload: bytes, message: str) -> None:
    with pytest.raises(InvalidImage, match=message):
        load_image(payload, name="upload.jpg")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidImage, match="no such file"):
        load_image(tmp_path / "absent.jpg")


def test_pixel_limit_refuses_bombs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "MAX_PIXELS", 100 * 100)
    with pytest.raises(InvalidImage, match="over the limit"):
        load_image(encoded(Image.new("RGB", (101, 100)), "PNG"))
