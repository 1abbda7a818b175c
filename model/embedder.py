"""The embedder: a pretrained trunk, aspect-preserving multi-scale inputs, GeM pooling, L2 norm."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from model.backbones import Backbone, load_backbone
from model.errors import UnsupportedRuntime
from model.int8_trunk import int8_fingerprint, load_int8_trunk
from model.onnx_trunk import OnnxTrunk, export_fingerprint, load_onnx_trunk, onnx_available
from model.pooling import gem, l2_normalise
from model.regions import regional_descriptors
from model.runtime import keep_freed_memory, machine_precision

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "efficientnet-lite0"
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}
RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")
"""How the trunk runs: torch (the reference), ONNX Runtime (float32), or auto: ONNX Runtime for float32
where it is installed, torch for bfloat16 (oneDNN's bfloat16 kernels are the faster ones there).
"onnx-int8" (opt-in, float32 precision only) runs the trunk quantized to int8 (model/int8_trunk.py):
descriptors of their own, named apart by the fingerprint."""


@contextmanager
def inference(precision: str) -> Iterator[None]:
    """Run torch without autograd, in `precision` (bfloat16 through CPU autocast)."""
    dtype = PRECISIONS[precision]
    with torch.inference_mode(), torch.autocast("cpu", dtype, enabled=dtype != torch.float32):
        yield


@dataclass(frozen=True)
class EmbedderConfig:
    """Everything that changes a descriptor; its fingerprint keys stored embeddings and indexes."""

    backbone: str = DEFAULT_BACKBONE
    scales: tuple[int, ...] = (320, 448)
    gem_p: float = 3.0
    flip: bool = False
    region_fraction: float = 0.5
    batch_size: int = 16
    precision: str = field(default_factory=machine_precision)
    runtime: str = "auto"

    def __post_init__(self) -> None:
        if not self.scales or any(s < 64 or s > 1024 for s in self.scales):
            raise ValueError(f"scales must be 64..1024 pixels, got {self.scales}")
        if not 1.0 <= self.gem_p <= 10.0:
            raise ValueError(f"gem_p must be in [1, 10], got {self.gem_p}")
        if not 0.2 <= self.region_fraction <= 1.0:
            raise ValueError(f"region_fraction must be in [0.2, 1], got {self.region_fraction}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {self.precision!r}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.runtime.startswith("onnx") and self.precision != "float32":
            raise ValueError(
                f"the {self.runtime} runtime runs float32 only: choose precision float32 or runtime torch"
            )

    @property
    def fingerprint(self) -> str:
        """Return a stable string naming the descriptor recipe (not the batch size).

        bfloat16 descriptors are named apart ("/bf16"): a registry moved to a machine of the other
        precision re-embeds its images rather than mix the two. So are int8 ones ("/int8"): torch and
        ONNX Runtime float32 agree to a cosine of 0.99999 and share a name, the int8 trunk does not
        (about 0.99), so thresholds and cascade bounds measured with float32 do not apply unseen.
        """
        scales = "-".join(str(s) for s in self.scales)
        precision = "/bf16" if self.precision == "bfloat16" else ""
        if self.runtime == "onnx-int8":
            precision = "/int8"
        return f"{self.backbone}/gem{self.gem_p:g}/s{scales}/flip{int(self.flip)}/v1{precision}"

    @property
    def max_side(self) -> int:
        """Return the largest input side the recipe needs (decoders may stop there)."""
        return max(self.scales)


class Embedder:
    """Turns decoded images into L2-normalised global descriptors, batched, under inference mode.

    Images keep their aspect ratio: each is resized so its longest side is the scale, padded to a
    square for batching, and pooled over its own (unpadded) part of the feature map only.
    """

    def __init__(self, config: EmbedderConfig, backbone: Backbone | None = None) -> None:
        self.config = config
        keep_freed_memory()
        self.backbone = backbone if backbone is not None else load_backbone(config.backbone)
        self.backbone.trunk.eval().to(memory_format=torch.channels_last)
        self._mean = torch.tensor(self.backbone.mean).view(1, 3, 1, 1)
        self._std = torch.tensor(self.backbone.std).view(1, 3, 1, 1)
        self._onnx: OnnxTrunk | None = None

    @property
    def runtime(self) -> str:
        """Return how the trunk runs now: "torch", "onnx" or "onnx-int8"."""
        return self._onnx.runtime if self._onnx is not None else "torch"

    def use_runtime(self, folder: Path) -> str:
        """Run the trunk as `config.runtime` asks, its ONNX export cached under `folder`; return which.

        "auto" falls back to torch (and logs why) when ONNX Runtime is missing or the export fails;
        "onnx" and "onnx-int8" raise UnsupportedRuntime instead. "onnx-int8" quantizes the export
        once (under half a minute on 2 cores; cached beside it). An embedder already running the
        same model keeps it.
        """
        wanted = self.config.runtime
        if wanted == "torch" or (wanted == "auto" and self.config.precision != "float32"):
            self._onnx = None
            return self.runtime
        if not onnx_available():
            if wanted != "auto":
                raise UnsupportedRuntime(f"runtime {wanted} needs the onnxruntime and onnx packages")
            logger.info("onnxruntime is not installed; the trunk runs in torch")
            return self.runtime
        int8 = wanted == "onnx-int8"
        sides = self.config.scales
        expected = int8_fingerprint(self.backbone, sides) if int8 else export_fingerprint(self.backbone)
        if self._onnx is not None and self._onnx.fingerprint == expected:
            return self.runtime
        try:
            if int8:
                self._onnx = load_int8_trunk(self.backbone, folder, sides, self.trunk_input)
            else:
                self._onnx = load_onnx_trunk(self.backbone, folder)
        except Exception as exc:  # the exporter and onnxruntime raise many unrelated types
            if wanted != "auto":
                raise UnsupportedRuntime(f"the trunk could not run as {wanted}: {exc}") from exc
            logger.warning("the ONNX export failed (%s); the trunk runs in torch", exc)
            self._onnx = None
        return self.runtime

    @property
    def dim(self) -> int:
        """Return the descriptor dimension."""
        return self.backbone.channels

    def batch(self, images: Sequence[Image.Image], side: int) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """Return the normalised (n, 3, side, side) input of the trunk and each image's (height, width).

        Each image is resized so its longest side is `side` and padded at the bottom and right.
        """
        batch = torch.zeros(len(images), 3, side, side)
        sizes = []
        for i, image in enumerate(images):
            scale = side / max(image.size)
            width = max(1, round(image.width * scale))
            height = max(1, round(image.height * scale))
            resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
            pixels = torch.from_numpy(np.asarray(resized, dtype=np.uint8).copy())
            batch[i, :, :height, :width] = pixels.permute(2, 0, 1).float().div_(255.0)
            sizes.append((height, width))
        return (batch - self._mean) / self._std, sizes

    def trunk_input(self, images: Sequence[Image.Image], side: int) -> np.ndarray:
        """Return `batch`'s input as a float32 array (what int8 calibration feeds ONNX Runtime)."""
        return self.batch(images, side)[0].numpy()

    def feature_maps(self, images: Sequence[Image.Image], side: int) -> list[torch.Tensor]:
        """Return one (C, h, w) feature map per image, each cropped to the image's own area."""
        maps: list[torch.Tensor] = []
        stride = self.backbone.stride
        for start in range(0, len(images), self.config.batch_size):
            batch, sizes = self.batch(images[start : start + self.config.batch_size], side)
            if self._onnx is not None:
                output = self._onnx(batch)
            else:
                with inference(self.config.precision):
                    output = self.backbone.trunk(batch.contiguous(memory_format=torch.channels_last)).float()
            for i, (height, width) in enumerate(sizes):
                h, w = math.ceil(height / stride), math.ceil(width / stride)
                maps.append(output[i, :, :h, :w].contiguous())
        return maps

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit-norm global descriptors, one row per image."""
        return self.describe(images, regions=False)[0]

    def describe(
        self, images: Sequence[Image.Image], regions: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Return (global descriptors (n, dim), per image an (r, dim) array of regional descriptors).

        Regions are windows of `region_fraction` of the largest scale's feature map, so that an
        object filling part of a photo is described on its own; `regions=False` skips them.
        """
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32), []
        per_scale, regional = self.scale_descriptors(images, self.config.scales, regions)
        return self.combine(list(per_scale.values())), regional

    def scale_descriptors(
        self, images: Sequence[Image.Image], scales: Sequence[int], regions: bool
    ) -> tuple[dict[int, torch.Tensor], list[np.ndarray]]:
        """Return per scale (ascending) the (n, dim) GeM descriptors, and the regional ones.

        Each scale's descriptor is unit-norm (with `flip`, the sum of the photo's and its mirror's).
        Regions come from the largest scale of the recipe, so only when it is among `scales`.
        Why separate scales: the inspection cascade describes every photo at one scale first and
        only the photos in doubt at the others (index/pipeline/cascade.py).
        """
        views = list(images)
        if self.config.flip:
            views += [image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for image in images]
        per_scale: dict[int, torch.Tensor] = {}
        regional: list[np.ndarray] = []
        for side in sorted(scales):
            maps = self.feature_maps(views, side)
            pooled = l2_normalise(torch.stack([gem(m, self.config.gem_p) for m in maps]))
            if self.config.flip:
                pooled = pooled[: len(images)] + pooled[len(images) :]
            per_scale[side] = pooled
            if regions and side == max(self.config.scales):
                regional = [
                    regional_descriptors(m, self.config.region_fraction, self.config.gem_p).numpy()
                    for m in maps[: len(images)]
                ]
        return per_scale, regional

    def combine(self, per_scale: Sequence[torch.Tensor]) -> np.ndarray:
        """Return the global descriptors from per-scale ones: their sum, L2 normalised, float32."""
        return l2_normalise(sum(per_scale, torch.zeros_like(per_scale[0]))).numpy().astype(np.float32)
