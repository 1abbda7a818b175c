"""The trunk in ONNX Runtime agrees with torch, is cached under the home and exported again when stale."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from api.settings import embedder_config
from index.engine import RUNTIME_FOLDER, Engine, EngineSettings
from index.errors import InvalidInput
from model.embedder import Embedder, EmbedderConfig
from model.errors import UnsupportedRuntime
from model.onnx_trunk import export_fingerprint, load_onnx_trunk
from tests.conftest import draw_design

CONFIG = EmbedderConfig(scales=(160, 224), batch_size=4, precision="float32", runtime="onnx")


@pytest.fixture(scope="module")
def pair(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> tuple[Embedder, Embedder]:
    """The same weights run by torch and by ONNX Runtime (float32)."""
    torch_side = Embedder(replace(CONFIG, runtime="torch"), embedder.backbone)
    onnx_side = Embedder(CONFIG, embedder.backbone)
    assert torch_side.use_runtime(tmp_path_factory.mktemp("rt")) == "torch"
    assert onnx_side.use_runtime(tmp_path_factory.mktemp("rt")) == "onnx"
    return torch_side, onnx_side


def test_onnx_and_torch_agree_on_global_and_regional_descriptors(pair: tuple[Embedder, Embedder]) -> None:
    images = [draw_design(seed, size=(200 + 30 * seed, 180)) for seed in range(5)]
    (g_torch, r_torch), (g_onnx, r_onnx) = (side.describe(images) for side in pair)
    assert (g_torch * g_onnx).sum(axis=1).min() >= 0.999
    for a, b in zip(r_torch, r_onnx, strict=True):
        assert a.shape == b.shape
        assert (a * b).sum(axis=1).min() >= 0.999


def test_export_is_cached_and_redone_when_stale_or_damaged(embedder: Embedder, tmp_path: Path) -> None:
    first = load_onnx_trunk(embedder.backbone, tmp_path)
    assert first.path.name == f"{embedder.backbone.name}-{export_fingerprint(embedder.backbone)}.onnx"
    written = first.path.stat().st_mtime_ns
    assert load_onnx_trunk(embedder.backbone, tmp_path).path.stat().st_mtime_ns == written
    stale = tmp_path / f"{embedder.backbone.name}-0123456789abcdef0123.onnx"
    stale.write_bytes(b"an export of other weights")
    first.path.write_bytes(b"damaged")
    again = load_onnx_trunk(embedder.backbone, tmp_path)
    assert not stale.exists()
    assert again.path.stat().st_size > 1_000_000
    pixels = np.random.default_rng(0).standard_normal((1, 3, 96, 96)).astype(np.float32)
    import torch

    assert tuple(again(torch.from_numpy(pixels)).shape) == (1, embedder.dim, 3, 3)


def test_engine_exports_under_its_home_and_torch_setting_keeps_torch(
    embedder: Embedder, tmp_path: Path
) -> None:
    shared = Embedder(CONFIG, embedder.backbone)
    engine = Engine(EngineSettings(home=tmp_path / "home", embedder=CONFIG), shared)
    try:
        assert shared.runtime == "onnx"
        assert list((tmp_path / "home" / RUNTIME_FOLDER).glob("*.onnx"))
    finally:
        engine.close()
    reference = Embedder(replace(CONFIG, runtime="torch"), embedder.backbone)
    engine = Engine(EngineSettings(home=tmp_path / "torch", embedder=reference.config), reference)
    try:
        assert reference.runtime == "torch"
        assert not (tmp_path / "torch" / RUNTIME_FOLDER).exists()
    finally:
        engine.close()


def test_onnx_with_bfloat16_is_refused_in_plain_words() -> None:
    with pytest.raises(InvalidInput, match="float32 only"):
        embedder_config("efficientnet-lite0", "bfloat16", "onnx")
    with pytest.raises(InvalidInput, match="runtime must be one of"):
        embedder_config("efficientnet-lite0", "float32", "tensorrt")


def test_onnx_runtime_missing_is_an_error_only_when_asked_for(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model.embedder as module

    monkeypatch.setattr(module, "onnx_available", lambda: False)
    with pytest.raises(UnsupportedRuntime, match="onnxruntime"):
        Embedder(CONFIG, embedder.backbone).use_runtime(tmp_path)
    assert Embedder(replace(CONFIG, runtime="auto"), embedder.backbone).use_runtime(tmp_path) == "torch"
