"""The trunk in other runtimes: ONNX Runtime int8 and OpenVINO against the shipped ONNX Runtime float32.

nice -n 10 .venv/bin/python scripts/bench_trunk_runtimes.py
ONEDNN_MAX_CPU_ISA=AVX2 nice -n 10 .venv/bin/python scripts/bench_trunk_runtimes.py   # oneDNN: AVX2 only

An experiment, not an engine path: the float32 export of model/onnx_trunk.py is quantized by ONNX
Runtime (static, QDQ, per-channel int8 weights, uint8 activations) on `--calibration` images drawn
in code (coloured shapes, at 320 and 448 px; never benchmark photos), then
- the global descriptors (both scales, GeM, as the engine computes them) of `--photos` dev photos
  are compared with float32 ones (cosine min and mean);
- the trunk alone runs batches of 16 random images at 320 and 448 px, 2 threads, in torch
  (folded, float32), ONNX Runtime float32 and int8, and, when the `openvino` package can be
  imported, OpenVINO float32 and int8 (the same ONNX files); images/s.
`ONEDNN_MAX_CPU_ISA=AVX2` restricts oneDNN (torch, OpenVINO) to AVX2 kernels on an AVX-512 CPU;
ONNX Runtime has no such switch.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_speed import cpu_flags, load  # noqa: E402

from model.backbones import load_backbone  # noqa: E402
from model.embedder import Embedder, EmbedderConfig  # noqa: E402
from model.images import load_image  # noqa: E402
from model.onnx_trunk import OnnxTrunk, load_onnx_trunk  # noqa: E402

SIDES = (320, 448)


def drawn(seed: int, size: tuple[int, int] = (448, 336)) -> Image.Image:
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


def pixels(embedder: Embedder, images: list[Image.Image], side: int) -> list[np.ndarray]:
    """Return normalised batches of 8 as the embedder feeds its trunk (longest side `side`, padded)."""
    batches = []
    for start in range(0, len(images), 8):
        chunk = images[start : start + 8]
        batch = torch.zeros(len(chunk), 3, side, side)
        for i, image in enumerate(chunk):
            scale = side / max(image.size)
            resized = image.resize(
                (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                Image.Resampling.BILINEAR,
            )
            values = torch.from_numpy(np.asarray(resized, dtype=np.uint8).copy()).permute(2, 0, 1)
            batch[i, :, : values.shape[1], : values.shape[2]] = values.float() / 255.0
        batches.append(((batch - embedder._mean) / embedder._std).numpy())
    return batches


def quantize(embedder: Embedder, source: Path, target: Path, calibration: int) -> None:
    """Write the int8 (QDQ) model of `source` to `target`, calibrated on drawn images."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    images = [drawn(seed) for seed in range(calibration)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"images": b} for side in SIDES for b in pixels(embedder, images, side)])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(target),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def rate(run, batch: np.ndarray) -> float:
    """Return images/s of `run` on `batch`: one warm-up call, then three timed."""
    run(batch)
    start = time.perf_counter()
    for _ in range(3):
        run(batch)
    return 3 * len(batch) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared/benchmark/dev")
    parser.add_argument("--photos", type=int, default=64, help="dev photos whose descriptors are compared")
    parser.add_argument("--calibration", type=int, default=48, help="drawn images for int8 calibration")
    args = parser.parse_args()
    print(
        f"CPU flags: {cpu_flags()}; ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '-')}; "
        f"threads {torch.get_num_threads()}; load {load()}",
        flush=True,
    )
    backbone = load_backbone("efficientnet-lite0")
    embedder = Embedder(EmbedderConfig(precision="float32", runtime="onnx"), backbone)
    with tempfile.TemporaryDirectory(prefix="trunk-runtimes-") as scratch:
        fp32 = load_onnx_trunk(backbone, Path(scratch))
        int8_path = Path(scratch) / "int8.onnx"
        quantize(embedder, fp32.path, int8_path, args.calibration)
        int8 = OnnxTrunk(int8_path, "int8", torch.get_num_threads())
        with (args.benchmark / "queries.csv").open(newline="", encoding="utf-8-sig") as handle:
            paths = [args.benchmark / row["image"] for row in csv.DictReader(handle)]
        random.Random(1).shuffle(paths)
        photos = [load_image(p) for p in paths[: args.photos]]
        embedder._onnx = fp32
        reference = embedder.embed(photos)
        embedder._onnx = int8
        cosine = (reference * embedder.embed(photos)).sum(1)
        print(
            f"int8 against float32, {len(photos)} dev photos: "
            f"cosine min {cosine.min():.4f}, mean {cosine.mean():.4f}"
        )
        runs = {
            "torch float32": lambda x: backbone.trunk(
                torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            ),
            "onnxruntime float32": lambda x: fp32.session.run(None, {"images": x}),
            "onnxruntime int8": lambda x: int8.session.run(None, {"images": x}),
        }
        try:
            import openvino
        except ImportError:
            print("openvino is not importable: its rows are left out")
        else:
            core = openvino.Core()
            config = {"INFERENCE_NUM_THREADS": torch.get_num_threads(), "INFERENCE_PRECISION_HINT": "f32"}
            for name, path in (("openvino float32", fp32.path), ("openvino int8", int8_path)):
                runs[name] = core.compile_model(core.read_model(str(path)), "CPU", config)
        for side in SIDES:
            batch = np.random.default_rng(0).standard_normal((16, 3, side, side)).astype(np.float32)
            with torch.inference_mode():
                for name, run in runs.items():
                    print(f"{name} {side} px, batch 16: {rate(run, batch):.1f} images/s", flush=True)
    print(f"load {load()}")


if __name__ == "__main__":
    main()
