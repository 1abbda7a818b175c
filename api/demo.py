"""Demo data drawn in code: a clearly marked sample firm, lantern designs, keys and query photos."""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from index.service.catalogue import Catalogue, NewDesign
from index.service.uploads import Upload

DEMO_FIRM = "DEMO Lantern Works (sample data)"
DEMO_KEY_LABEL = "demo"
SIZE = (480, 600)


@dataclass(frozen=True)
class LanternStyle:
    """How one demo lantern looks: its outline, colours and decoration."""

    registration_number: str
    title: str
    shape: str
    body: tuple[int, int, int]
    trim: tuple[int, int, int]
    motif: str


DEMO_DESIGNS = (
    LanternStyle(
        "DEMO-0001", "Round silk lantern, red and gold", "round", (200, 30, 40), (230, 180, 40), "ribs"
    ),
    LanternStyle("DEMO-0002", "Hexagonal palace lantern", "hexagon", (120, 60, 20), (210, 40, 40), "flowers"),
    LanternStyle("DEMO-0003", "Tall blue wave lantern", "cylinder", (30, 80, 170), (240, 240, 250), "waves"),
    LanternStyle("DEMO-0004", "Five-point star lantern", "star", (250, 200, 30), (230, 90, 20), "rays"),
)


def _outline(shape: str, cx: int, cy: int, w: int, h: int) -> list[tuple[float, float]]:
    if shape == "round":
        return [
            (cx + w / 2 * math.cos(a / 40 * math.tau), cy + h / 2 * math.sin(a / 40 * math.tau))
            for a in range(40)
        ]
    if shape == "hexagon":
        third, half = w / 3, h / 2
        return [(cx - third, cy - half), (cx + third, cy - half), (cx + w / 2, cy),
                (cx + third, cy + half), (cx - third, cy + half), (cx - w / 2, cy)]  # fmt: skip
    if shape == "star":
        points = []
        for i in range(10):
            radius = (w / 2) if i % 2 == 0 else (w / 4.5)
            angle = -math.pi / 2 + i * math.pi / 5
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle) * h / w))
        return points
    return [
        (cx - w / 3, cy - h / 2),
        (cx + w / 3, cy - h / 2),
        (cx + w / 3, cy + h / 2),
        (cx - w / 3, cy + h / 2),
    ]


def _decorate(draw: ImageDraw.ImageDraw, style: LanternStyle, cx: int, cy: int, w: int, h: int) -> None:
    trim = style.trim
    if style.motif == "ribs":
        for k in range(1, 6):
            half = w / 2 * abs(math.cos(k / 6 * math.pi))
            draw.arc([cx - half, cy - h / 2, cx + half, cy + h / 2], 0, 360, fill=trim, width=4)
    elif style.motif == "flowers":
        for fx, fy in ((-0.18, -0.2), (0.18, -0.2), (0, 0.05), (-0.18, 0.28), (0.18, 0.28)):
            x, y = cx + fx * w, cy + fy * h
            for petal in range(5):
                a = petal / 5 * math.tau
                px, py = x + 16 * math.cos(a), y + 16 * math.sin(a)
                draw.ellipse([px - 11, py - 11, px + 11, py + 11], fill=(250, 190, 200))
            draw.ellipse([x - 8, y - 8, x + 8, y + 8], fill=trim)
        draw.line([(cx, cy - h / 2), (cx, cy + h / 2)], fill=(70, 30, 10), width=6)
    elif style.motif == "waves":
        for row in range(7):
            y0 = cy - h / 2 + (row + 0.7) * h / 7.5
            points = [(cx - w / 3 + t, y0 + 9 * math.sin(t / 14)) for t in range(0, int(w * 2 / 3), 4)]
            draw.line(points, fill=trim, width=5)
    else:
        for i in range(5):
            angle = -math.pi / 2 + i * 2 * math.pi / 5
            draw.line(
                [(cx, cy), (cx + w / 2.6 * math.cos(angle), cy + h / 2.6 * math.sin(angle))],
                fill=trim,
                width=7,
            )
        draw.ellipse([cx - 28, cy - 28, cx + 28, cy + 28], fill=trim)


def _label(draw: ImageDraw.ImageDraw, style: LanternStyle, cx: int, cy: int, w: int, h: int) -> None:
    """Draw the maker's label band and a seeded lattice: the fine detail a real design carries."""
    rng = random.Random(style.registration_number)
    top = int(cy + h * 0.12)
    draw.rectangle([cx - w // 3, top, cx + w // 3, top + 34], fill=(250, 244, 225), outline=(40, 30, 20))
    font = ImageFont.load_default(size=20)
    text = style.registration_number
    draw.text((cx - draw.textlength(text, font=font) / 2, top + 6), text, font=font, fill=(120, 20, 20))
    for _ in range(40):
        x = cx + rng.uniform(-w / 3, w / 3)
        y = cy + rng.uniform(-h / 2.6, h * 0.08)
        r = rng.uniform(3, 7)
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=style.trim, outline=(40, 30, 20))


def draw_lantern(style: LanternStyle, view: int = 0, transparent: bool = False) -> Image.Image:
    """Return a picture of a demo lantern; `view` 1 is a second reference view (closer, warmer light).

    With `transparent`, an RGBA picture without background (to place in a scene).
    """
    width, height = SIZE
    background = (245, 240, 228) if view == 0 else (232, 226, 210)
    image = Image.new("RGBA", SIZE, (0, 0, 0, 0)) if transparent else Image.new("RGB", SIZE, background)
    draw = ImageDraw.Draw(image)
    cx, cy = width // 2, int(height * 0.52)
    w, h = (300, 340) if view == 0 else (330, 372)
    top, bottom = cy - h // 2, cy + h // 2
    draw.line([(cx, 0), (cx, top - 30)], fill=(60, 60, 60), width=4)
    draw.ellipse([cx - 14, top - 44, cx + 14, top - 16], outline=(60, 60, 60), width=4)
    draw.polygon(_outline(style.shape, cx, cy, w, h), fill=style.body, outline=(40, 30, 20))
    _decorate(draw, style, cx, cy, w, h)
    _label(draw, style, cx, cy, w, h)
    draw.rectangle([cx - w // 5, top - 18, cx + w // 5, top + 6], fill=style.trim, outline=(40, 30, 20))
    draw.rectangle([cx - w // 5, bottom - 6, cx + w // 5, bottom + 18], fill=style.trim, outline=(40, 30, 20))
    for k in range(-3, 4):
        draw.line(
            [(cx + k * 5, bottom + 18), (cx + k * 7, min(height - 8, bottom + 80))], fill=style.trim, width=3
        )
    return image


def demo_uploads(style: LanternStyle) -> list[Upload]:
    """Return the two reference views of a demo design as PNG uploads."""
    uploads = []
    for view in (0, 1):
        buffer = io.BytesIO()
        draw_lantern(style, view).save(buffer, "PNG")
        uploads.append(Upload(f"{style.registration_number}-view{view + 1}.png", buffer.getvalue()))
    return uploads


def demo_photo(index: int, seed: int = 0) -> bytes:
    """Return a JPEG 'photo' of demo design `index` in a shop: tilted, smaller, in other light."""
    rng = random.Random(seed * 31 + index)
    lantern = draw_lantern(DEMO_DESIGNS[index % len(DEMO_DESIGNS)], transparent=True)
    lantern = lantern.rotate(rng.uniform(-7, 7), resample=Image.Resampling.BICUBIC)
    lantern = ImageOps.scale(lantern, rng.uniform(0.8, 0.92))
    photo = Image.new("RGB", (640, 640))
    scene = ImageDraw.Draw(photo)
    for y in range(640):
        shade = int(205 - y * 0.12)
        scene.line([(0, y), (640, y)], fill=(shade, shade - 12, shade - 30))
    scene.rectangle([0, 560, 640, 640], fill=(120, 86, 58))
    photo.paste(lantern, (rng.randrange(20, 640 - lantern.width - 20), rng.randrange(0, 30)), lantern)
    photo = (
        ImageEnhance.Brightness(photo).enhance(rng.uniform(0.9, 1.08)).filter(ImageFilter.GaussianBlur(0.7))
    )
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def seed_demo(catalogue: Catalogue) -> int:
    """Register the demo firm's designs unless they are there already. Returns how many were added."""
    added = 0
    for style in DEMO_DESIGNS:
        if catalogue.registry.has_active_registration(style.registration_number):
            continue
        design = NewDesign(
            registration_number=style.registration_number, title=style.title, locarno_class="26-05"
        )
        catalogue.register(DEMO_FIRM, design, demo_uploads(style))
        added += 1
    return added
