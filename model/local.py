"""Local features for geometric verification: SIFT keypoints and descriptors of an image."""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from model.foreground import foreground_at, foreground_mask

cv2.setNumThreads(1)


def _mirror_order() -> np.ndarray:
    """Return where each of the 128 SIFT dimensions goes when the image is mirrored left to right.

    A descriptor is 4 x 4 cells (rows along the keypoint's orientation) by 8 orientation bins.
    Mirroring the image mirrors each keypoint's frame: the cell rows reverse and the orientation
    bins negate. Checked against SIFT re-extracted from mirrored dev photos: median relative error
    1.4 % (tests/test_verification.py checks it on a drawn image).
    """
    rows, columns, bins = np.meshgrid(np.arange(4), np.arange(4), np.arange(8), indexing="ij")
    return (((3 - rows) * 4 + columns) * 8 + (8 - bins) % 8).ravel()


_MIRROR_ORDER = _mirror_order()


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoint positions (in the analysed image's pixels) and their SIFT descriptors.

    `size` is (width, height) of the analysed image, which was scaled by `scale` from the original.
    `foreground` (reference views only, see model.foreground): per keypoint 1 when it lies on the
    design, 0 on its background; None when not known (photos being inspected).
    """

    points: np.ndarray
    descriptors: np.ndarray
    size: tuple[int, int]
    scale: float
    foreground: np.ndarray | None = None

    @property
    def count(self) -> int:
        """Return the number of keypoints."""
        return len(self.points)

    def to_bytes(self) -> bytes:
        """Return an .npz serialisation (no pickle)."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            points=self.points,
            descriptors=self.descriptors,
            size=np.asarray(self.size),
            scale=np.asarray(self.scale),
            **({} if self.foreground is None else {"foreground": self.foreground}),
        )
        return buffer.getvalue()

    def mirrored(self) -> LocalFeatures:
        """Return the features of the image mirrored left to right, without extracting them again."""
        points = self.points.copy()
        points[:, 0] = self.size[0] - points[:, 0]
        descriptors = np.empty_like(self.descriptors)
        descriptors[:, _MIRROR_ORDER] = self.descriptors
        return LocalFeatures(points, descriptors, self.size, self.scale, self.foreground)

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        """Return features serialised by `to_bytes`."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            width, height = (int(v) for v in arrays["size"])
            foreground = arrays["foreground"] if "foreground" in arrays.files else None
            return cls(
                arrays["points"], arrays["descriptors"], (width, height), float(arrays["scale"]), foreground
            )


@dataclass(frozen=True)
class LocalConfig:
    """How local features are extracted; part of the model fingerprint.

    `foreground`: reference views also get a foreground mask (model.foreground), read per keypoint.
    """

    max_side: int = 512
    keypoints: int = 800
    foreground: bool = True

    @property
    def fingerprint(self) -> str:
        """Return a stable name of the recipe."""
        return f"sift{self.keypoints}@{self.max_side}" + ("+fg" if self.foreground else "")


def extract_local(image: Image.Image, config: LocalConfig, reference: bool = False) -> LocalFeatures:
    """Return the SIFT features of `image`; of a registered view (`reference`) with its foreground."""
    gray = image.convert("L")
    scale = min(1.0, config.max_side / max(gray.size))
    if scale < 1.0:
        gray = gray.resize(
            (max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.Resampling.BILINEAR
        )
    sift = cv2.SIFT_create(nfeatures=config.keypoints)
    keypoints, descriptors = sift.detectAndCompute(np.asarray(gray), None)
    if descriptors is None:
        descriptors = np.zeros((0, 128), dtype=np.float32)
    points = np.asarray([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    foreground = None
    if reference and config.foreground:
        foreground = foreground_at(foreground_mask(image), points, gray.size)
    return LocalFeatures(
        points=points,
        descriptors=np.clip(descriptors, 0, 255).astype(np.uint8),
        size=gray.size,
        scale=scale,
        foreground=foreground,
    )
