"""The trunk in other runtimes: ONNX Runtime int8 and OpenVINO against the shipped ONNX Runtime float32.

nice -n 10 .venv/bin/python scripts/bench_trunk_runtimes.py
ONEDNN_MAX_CPU_ISA=AVX2 nice -n 10 .venv/bin/python scripts/bench_trunk_runtimes.py   # oneDNN: AVX2 only

The int8 model is the engine's (`LANTERNGUARD_RUNTIME=onnx-int8`, model/int8_trunk.py): the float32
export of model/onnx_trunk.py quantized by ONNX Runtime (static, QDQ, per-channel int8 weights,
uint8 activations) on `--calibration` images drawn in code (coloured shapes, at 320 and 448 px;
never benchmark photos), then
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_speed import cpu_flags, load  # noqa: E402

from model.backbones import load_backbone  # noqa: E402
from model.embedder import Embedder, EmbedderConfig  # noqa: E402
from model.images import load_image  # noqa: E402
from model.int8_trunk import load_int8_trunk  # noqa: E402
from model.onnx_trunk import load_onnx_trunk  # noqa: E402

SIDES = (320, 448)


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
        int8 = load_int8_trunk(backbone, Path(scratch), SIDES, embedder.trunk_input, args.calibration)
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
            for name, path in (("openvino float32", fp32.path), ("openvino int8", int8.path)):
                runs[name] = core.compile_model(core.read_model(str(path)), "CPU", config)
        for side in SIDES:
            batch = np.random.default_rng(0).standard_normal((16, 3, side, side)).astype(np.float32)
            with torch.inference_mode():
                for name, run in runs.items():
                    print(f"{name} {side} px, batch 16: {rate(run, batch):.1f} images/s", flush=True)
    print(f"load {load()}")


if __name__ == "__main__":
    main()
