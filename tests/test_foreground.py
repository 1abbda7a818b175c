"""Foreground masks of registered views: inliers on the background a view was photographed on count little."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from index.matching.ranking import Scoring, rerank
from index.matching.verdict import DesignHit
from index.matching.verification import inlier_weights, verify
from model.foreground import foreground_at, foreground_mask
from model.local import LocalConfig, LocalFeatures, extract_local
from tests.conftest import draw_design

CONFIG = LocalConfig(max_side=320, keypoints=600)


def carpet(size: tuple[int, int], seed: int) -> Image.Image:
    """A busy grey-green patterned background, like a carpet or a shelf."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (120, 130, 110))
    draw = ImageDraw.Draw(image)
    for _ in range(900):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        shade = rng.randrange(80, 170)
        draw.rectangle(
            [x, y, x + rng.randrange(2, 9), y + rng.randrange(2, 9)], fill=(shade, shade + 10, shade - 10)
        )
    return image


def garment_on(background: Image.Image, seed: int) -> Image.Image:
    """A saturated, patterned design laid in the middle of the background."""
    image = background.copy()
    design = Image.new("RGB", (150, 170), (200, 30, 40))
    design.paste(draw_design(seed, size=(110, 130)), (20, 20))
    image.paste(design, ((image.width - 150) // 2, (image.height - 170) // 2))
    return image


def test_the_mask_covers_the_design_and_not_its_surroundings() -> None:
    view = garment_on(carpet((320, 320), 1), 5)
    mask = foreground_mask(view)
    assert mask.shape == (128, 128)
    assert mask[64, 64] == 1 and mask[:8, :8].max() == 0 and mask[-8:, -8:].max() == 0
    assert 0.15 < mask.mean() < 0.5
    np.testing.assert_array_equal(mask, foreground_mask(view))  # deterministic
    points = np.asarray([[160.0, 160.0], [5.0, 5.0]])
    assert foreground_at(mask, points, view.size).tolist() == [1, 0]


def test_only_registered_views_carry_a_mask_and_it_survives_storage() -> None:
    view = garment_on(carpet((320, 320), 2), 6)
    reference = extract_local(view, CONFIG, reference=True)
    assert extract_local(view, CONFIG).foreground is None
    assert reference.foreground is not None and len(reference.foreground) == reference.count
    stored = LocalFeatures.from_bytes(reference.to_bytes())
    np.testing.assert_array_equal(stored.foreground, reference.foreground)
    assert stored.mirrored().foreground is not None
    assert CONFIG.fingerprint.endswith("+fg") and not LocalConfig(foreground=False).fingerprint.endswith(
        "+fg"
    )


def test_an_innocent_photo_on_the_same_carpet_loses_its_carpet_inliers() -> None:
    floor = carpet((320, 320), 3)
    registered = extract_local(garment_on(floor, 7), CONFIG, reference=True)
    innocent = verify(extract_local(garment_on(floor, 8), CONFIG), registered)
    elsewhere = verify(extract_local(garment_on(carpet((320, 320), 9), 7), CONFIG), registered)
    assert innocent.reference_foreground is not None
    assert innocent.inliers >= 100  # the shared carpet verifies ...
    assert inlier_weights(innocent, None, 0.2).sum() < 0.35 * innocent.inliers  # ... but weighs little
    assert inlier_weights(innocent, None, 1.0).sum() == innocent.inliers
    assert elsewhere.inliers >= 30  # the design shown on another floor keeps every inlier
    assert inlier_weights(elsewhere, None, 0.2).sum() >= 0.9 * elsewhere.inliers
    hit = DesignHit(1, 1, 0.2)
    plain, masked = (
        rerank([hit], [innocent], Scoring(300)),
        rerank([hit], [innocent], Scoring(300, None, 0.2)),
    )
    assert masked[0].keypoints < 0.5 * plain[0].keypoints
