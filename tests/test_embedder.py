"""The embedder: shapes, unit norm, determinism, batching and aspect handling."""

from __future__ import annotations

import numpy as np
import pytest

from model.backbones import load_backbone
from model.embedder import Embedder, EmbedderConfig
from model.errors import UnknownBackbone
from tests.conftest import draw_design


def test_descriptors_are_unit_norm_rows(embedder: Embedder) -> None:
    vectors = embedder.embed([draw_design(i) for i in range(3)])
    assert vectors.shape == (3, embedder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_empty_array(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_batching_does_not_change_descriptors(embedder: Embedder) -> None:
    pictures = [draw_design(i, size=(200 + 40 * i, 300 - 30 * i)) for i in range(5)]
    together = embedder.embed(pictures)
    alone = np.concatenate([embedder.embed([p]) for p in pictures])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_same_design_is_closer_than_another(embedder: Embedder) -> None:
    original, resized, other = draw_design(7), draw_design(7).resize((240, 180)), draw_design(8)
    a, b, c = embedder.embed([original, resized, other])
    assert a @ b > a @ c


def test_flip_option_makes_mirrors_equal(embedder: Embedder) -> None:
    mirrored = Embedder(EmbedderConfig(scales=(160,), flip=True), embedder.backbone)
    picture = draw_design(9)
    a, b = mirrored.embed([picture, picture.transpose(0)])
    assert a @ b == pytest.approx(1.0, abs=1e-4)


def test_fingerprint_names_the_recipe() -> None:
    assert EmbedderConfig(scales=(224, 320)).fingerprint != EmbedderConfig(scales=(224,)).fingerprint
    assert EmbedderConfig(batch_size=4).fingerprint == EmbedderConfig(batch_size=8).fingerprint


@pytest.mark.parametrize("scales", [(), (32,), (4096,)])
def test_bad_scales_are_refused(scales: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="scales"):
        EmbedderConfig(scales=scales)


def test_unknown_backbone_is_named() -> None:
    with pytest.raises(UnknownBackbone, match="resnet-9000"):
        load_backbone("resnet-9000")


def test_mobilenet_weights_load_strictly() -> None:
    backbone = load_backbone("mobilenet-v2")
    assert backbone.channels == 1280
    assert not backbone.trunk.training


def test_bfloat16_descriptors_stay_close_to_float32_and_are_named_apart(embedder: Embedder) -> None:
    pictures = [draw_design(i) for i in range(4)]
    exact = Embedder(EmbedderConfig(scales=(160,), precision="float32"), embedder.backbone)
    fast = Embedder(EmbedderConfig(scales=(160,), precision="bfloat16"), embedder.backbone)
    agreement = (exact.embed(pictures) * fast.embed(pictures)).sum(axis=1)
    assert agreement.min() > 0.99
    assert exact.config.fingerprint != fast.config.fingerprint


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        EmbedderConfig(precision="float8")
