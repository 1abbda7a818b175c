"""Evidence pictures: the inspected photo and the registered design's view side by side, with the score."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont, ImageOps

PANEL = (480, 360)
"""Largest size of each picture in the evidence (width, height); pictures keep their aspect ratio."""

MARGIN = 16
HEADER = 64
FOOTER = 36
BACKGROUND = (255, 255, 255)
INK = (31, 41, 55)
BAND = (30, 58, 95)


def _fit(image: Image.Image) -> Image.Image:
    return ImageOps.contain(image.convert("RGB"), PANEL, Image.Resampling.LANCZOS)


def render_evidence(photo: Image.Image, reference: Image.Image, score: float, caption: str = "") -> bytes:
    """Return a PNG with the photo (left) and the reference view (right) at equal height, the score
    and an optional caption (design id, title, owner) above them."""
    left, right = _fit(photo), _fit(reference)
    height = max(left.height, right.height)
    width = MARGIN * 3 + PANEL[0] * 2
    canvas = Image.new("RGB", (width, HEADER + height + FOOTER + MARGIN), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([0, 0, width, HEADER - MARGIN // 2], fill=BAND)
    title = ImageFont.load_default(size=22)
    small = ImageFont.load_default(size=15)
    draw.text((MARGIN, 10), f"Similarity score {score:.3f}", font=title, fill=(255, 255, 255))
    room = width - MARGIN * 2 - 280
    while caption and draw.textlength(caption, font=small) > room:
        caption = caption[:-2] + "…"
    if caption:
        draw.text(
            (width - MARGIN - draw.textlength(caption, font=small), 18),
            caption,
            font=small,
            fill=(219, 234, 254),
        )
    for column, (picture, label) in enumerate(((left, "Inspected photo"), (right, "Registered design"))):
        x0 = MARGIN + column * (PANEL[0] + MARGIN)
        x = x0 + (PANEL[0] - picture.width) // 2
        y = HEADER + (height - picture.height) // 2
        canvas.paste(picture, (x, y))
        draw.rectangle([x - 1, y - 1, x + picture.width, y + picture.height], outline=(203, 213, 225))
        text_width = draw.textlength(label, font=small)
        draw.text((x0 + (PANEL[0] - text_width) / 2, HEADER + height + 10), label, font=small, fill=INK)
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()
