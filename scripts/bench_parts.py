"""The parts of the scan one at a time: trunk variants, descriptor matching, bfloat16 agreement.

.venv/bin/python scripts/bench_parts.py --images ../shared/benchmark/dev/images

Trunk: images/s of the backbone alone on random input, as loaded before the fold (BatchNorm and
padding as separate layers), folded (what the engine runs), folded in bfloat16, and folded in
float32 through ONNX Runtime (model/onnx_trunk.py), at batch 1 and 16. Matching: milliseconds of
one photo's SIFT extraction, and per photo-view pair of 800 SIFT keypoints each, OpenCV's
brute-force kNN against `nearest_two`, and whether their ratio-test matches agree. Agreement:
cosine between float32 and bfloat16 descriptors of real photos. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.batch.inputs import IMAGE_SUFFIXES
from index.matching.verification import nearest_two
from model.backbones import BACKBONES, load_backbone
from model.embedder import DEFAULT_BACKBONE, Embedder, EmbedderConfig, inference
from model.images import load_image
from model.local import LocalConfig, extract_local
from model.runtime import keep_freed_memory


def rate(work: Callable[[], object], items: int, repeats: int) -> float:
    """Return items per second of `work` (after one untimed call)."""
    work()
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    return items * repeats / (time.perf_counter() - start)


def trunk_table(backbone: str, sides: list[int]) -> list[str]:
    """Return table rows: images/s of each trunk variant at each side and batch size."""
    import torch

    variants = {
        "as loaded, float32": (BACKBONES[backbone]().trunk.eval(), "float32"),
        "folded, float32": (load_backbone(backbone).trunk, "float32"),
        "folded, bfloat16": (load_backbone(backbone).trunk, "bfloat16"),
    }
    rows = []
    for name, (trunk, precision) in variants.items():
        trunk = trunk.to(memory_format=torch.channels_last)
        for side in sides:
            for batch in (1, 16):
                x = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(0))
                x = x.contiguous(memory_format=torch.channels_last)

                def run(
                    trunk: torch.nn.Module = trunk, x: torch.Tensor = x, precision: str = precision
                ) -> None:
                    with inference(precision):
                        trunk(x)

                speed = rate(run, batch, max(2, 32 // batch))
                rows.append(f"| {name} | {side} | {batch} | {speed:.1f} |")
    return rows + onnx_rows(backbone, sides)


def onnx_rows(backbone: str, sides: list[int]) -> list[str]:
    """Return table rows for the folded trunk exported to ONNX Runtime (float32), as the engine runs it."""
    import tempfile

    import torch

    from model.onnx_trunk import load_onnx_trunk, onnx_available

    if not onnx_available():
        return ["| folded, float32, ONNX Runtime | - | - | onnxruntime not installed |"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        trunk = load_onnx_trunk(load_backbone(backbone), Path(folder))
        for side in sides:
            for batch in (1, 16):
                x = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(0))
                speed = rate(lambda x=x: trunk(x), batch, max(2, 32 // batch))
                rows.append(f"| folded, float32, ONNX Runtime | {side} | {batch} | {speed:.1f} |")
    return rows


def matching_table(paths: list[Path], pairs: int) -> list[str]:
    """Return table rows: ms per pair for brute-force kNN and nearest_two, and their agreement."""
    import cv2

    images = [load_image(p, max_side=LocalConfig().max_side) for p in paths]
    start = time.perf_counter()
    features = [extract_local(image, LocalConfig()) for image in images]
    extraction_ms = 1000 * (time.perf_counter() - start) / len(images)
    full = [f for f in features if f.count == LocalConfig().keypoints][: pairs + 1]
    query, references = full[0], full[1:]
    matcher = cv2.BFMatcher(cv2.NORM_L2)

    def brute() -> None:
        for r in references:
            matcher.knnMatch(query.descriptors.astype(np.float32), r.descriptors.astype(np.float32), k=2)

    def product() -> None:
        for r in references:
            nearest_two(query.descriptors, r.descriptors)

    same = total = 0
    for r in references:
        knn = matcher.knnMatch(query.descriptors.astype(np.float32), r.descriptors.astype(np.float32), k=2)
        theirs = {(m.queryIdx, m.trainIdx) for m, n in knn if m.distance < 0.8 * n.distance}
        nearest, first, second = nearest_two(query.descriptors, r.descriptors)
        mine = {(int(i), int(nearest[i])) for i in np.flatnonzero(first < 0.64 * second)}
        same += len(theirs & mine)
        total += len(theirs | mine)
    count = len(references)
    return [
        f"| SIFT extraction {LocalConfig().fingerprint} | {len(images)} | {extraction_ms:.1f} | - |",
        f"| cv2.BFMatcher.knnMatch (k = 2) | {count} | {1000 / rate(brute, count, 2):.2f} | - |",
        f"| nearest_two (one matrix product) | {count} | {1000 / rate(product, count, 2):.2f} | "
        f"{same}/{total} ratio-test matches equal |",
    ]


def agreement_line(paths: list[Path], backbone: str) -> str:
    """Return the cosine between float32 and bfloat16 global descriptors of the photos."""
    shared = load_backbone(backbone)
    images = [load_image(p, max_side=448) for p in paths]
    exact = Embedder(EmbedderConfig(backbone=backbone, precision="float32"), shared).embed(images)
    fast = Embedder(EmbedderConfig(backbone=backbone, precision="bfloat16"), shared).embed(images)
    cosine = (exact * fast).sum(axis=1)
    return (
        f"float32 vs bfloat16 descriptors of {len(paths)} photos: "
        f"cosine min {cosine.min():.4f}, mean {cosine.mean():.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, default=Path("../shared/benchmark/dev/images"))
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--sides", type=int, nargs="+", default=[320, 448])
    parser.add_argument("--pairs", type=int, default=20, help="photo-view pairs timed for matching")
    parser.add_argument("--photos", type=int, default=64, help="photos for the bfloat16 agreement")
    args = parser.parse_args()
    keep_freed_memory()
    paths = sorted(p for p in args.images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    print("| trunk | side | batch | images/s |\n| --- | --- | --- | --- |")
    print("\n".join(trunk_table(args.backbone, args.sides)), flush=True)
    print("\n| matching | items | ms each | agreement |\n| --- | --- | --- | --- |")
    print("\n".join(matching_table(paths[: 4 * args.pairs], args.pairs)), flush=True)
    print("\n" + agreement_line(paths[: args.photos], args.backbone))


if __name__ == "__main__":
    main()
