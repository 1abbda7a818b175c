"""The trunk quantized to int8 for ONNX Runtime: opt-in (`LANTERNGUARD_RUNTIME=onnx-int8`), cached.

Why: on CPUs that multiply int8 natively (avx512_vnni, AVX-VNNI) the int8 trunk runs about twice as
fast as the float32 one in ONNX Runtime (docs/performance.md). Its descriptors differ from float32
ones far more than bfloat16's do (cosine about 0.99 against 0.999), so they are a descriptor of
their own: the embedder's fingerprint names them (`/int8`, model/embedder.py), and thresholds and
cascade bounds measured with float32 warn or stay off instead of silently applying.

How: the float32 export (model/onnx_trunk.py) is quantized statically by ONNX Runtime: QDQ,
per-channel int8 weights, uint8 activations whose ranges are the min-max over `CALIBRATION_IMAGES`
images drawn in code (coloured shapes, deterministic; never a registry's photos), fed as the
embedder feeds its trunk at each of the recipe's scales. The result is derived data like the export:
a file beside it under `HOME/runtime/`, named by a fingerprint of the export's fingerprint, the
onnxruntime version, this recipe and the calibration (images, scales); a stale file is removed, an
unreadable one quantized again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from model.backbones import Backbone
from model.onnx_trunk import OnnxTrunk, cached_path, export_fingerprint, load_onnx_trunk

logger = logging.getLogger(__name__)

QUANT_RECIPE = "qdq/int8-weights-per-channel/uint8-activations-minmax/drawn/v1"
"""Names how the int8 model is made; change it (and the embedder's `/int8` name) when that changes."""

CALIBRATION_IMAGES = 48
CALIBRATION_BATCH = 8
RUNTIME = "onnx-int8"

Prepare = Callable[[Sequence[Image.Image], int], np.ndarray]
"""Turns images into the (n, 3, side, side) float32 batch the trunk sees (Embedder.trunk_input)."""


def calibration_image(seed: int, size: tuple[int, int] = (448, 336)) -> Image.Image:
    """Return a calibration image drawn in code: a coloured ground with 30 ellipses and rectangles."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(30):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        box = [x0, y0, x0 + rng.randrange(10, width // 2), y0 + rng.randrange(10, height // 2)]
        fill = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=fill)
        else:
            draw.rectangle(box, fill=fill)
    return image


def int8_fingerprint(backbone: Backbone, sides: Sequence[int], images: int = CALIBRATION_IMAGES) -> str:
    """Return a digest of what the int8 model depends on: the export, onnxruntime, recipe, calibration."""
    import onnxruntime

    scales = "-".join(str(s) for s in sorted(sides))
    key = f"{export_fingerprint(backbone)}|{onnxruntime.__version__}|{QUANT_RECIPE}|{images}|{scales}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def quantize(source: Path, target: Path, batches: Iterable[np.ndarray]) -> None:
    """Write the static int8 (QDQ) model of the float32 ONNX `source` to `target`, atomically.

    `batches` are the calibration inputs, consumed once.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.items, None)
            return None if batch is None else {"images": batch}

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as scratch:
        prepared, written = Path(scratch) / "prepared.onnx", Path(scratch) / "int8.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(written),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        os.replace(written, target)


def load_int8_trunk(
    backbone: Backbone,
    folder: Path,
    sides: Sequence[int],
    prepare: Prepare,
    images: int = CALIBRATION_IMAGES,
) -> OnnxTrunk:
    """Return the int8 trunk cached under `folder`, quantizing it first when missing, stale or unreadable.

    Calibrates on `images` drawn images at each of `sides`, batched as `prepare` feeds the trunk.
    """
    fingerprint = int8_fingerprint(backbone, sides, images)
    path = cached_path(folder, f"{backbone.name}-int8", fingerprint)
    threads = torch.get_num_threads()
    if path.exists():
        try:
            return OnnxTrunk(path, fingerprint, threads, RUNTIME)
        except Exception as exc:  # onnxruntime raises its own unrelated types for a damaged model
            logger.warning("cached int8 model %s is unreadable (%s); quantizing again", path, exc)
    source = load_onnx_trunk(backbone, folder)
    drawn = [calibration_image(seed) for seed in range(images)]
    logger.info("quantizing %s to int8 on %d drawn images under %s", backbone.name, images, folder)
    quantize(
        source.path,
        path,
        (
            prepare(drawn[start : start + CALIBRATION_BATCH], side)
            for side in sorted(sides)
            for start in range(0, images, CALIBRATION_BATCH)
        ),
    )
    return OnnxTrunk(path, fingerprint, threads, RUNTIME)
