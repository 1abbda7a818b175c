"""Where a registered view's design lies: a foreground mask, so that inliers on its background count little.

A registered photo is framed on its design, but it was taken somewhere: a garment laid on a
carpet, a carton on a shelf, a cap on a bedspread. Innocent photos taken on the same spot share
that background with it, and their keypoints on it verify as well as any on the design (on dev,
unregistered clothing photos reached 35-150 inliers against registered garments on the same
carpet). GrabCut (Rother et al. 2004) separates the design from its surroundings by colour,
started from the assumption that the outer tenth of each side is background; the mask is
dilated a little so that keypoints on the design's edge (whose patch straddles both) count as
design. Measured on dev (docs/matching.md, "Background inliers").
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

SIDE = 128
"""The mask is computed on the view shrunk to this longest side (about 20 ms on one core)."""
ITERATIONS = 2
INSET = 0.10
"""The share of each side assumed to be background when GrabCut starts."""
DILATION = 9
"""Pixels (at SIDE) by which the foreground is grown: about 7 % of the side."""


def foreground_mask(image: Image.Image) -> np.ndarray:
    """Return a (h, w) uint8 mask, 1 on the design, of `image` shrunk to SIDE on its longest side.

    Falls back to all ones (everything counts) when the image is too small to split or GrabCut
    finds no foreground.
    """
    scale = SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    pixels = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR))[:, :, ::-1].copy()
    height, width = pixels.shape[:2]
    dx, dy = max(1, round(width * INSET)), max(1, round(height * INSET))
    if width - 2 * dx < 2 or height - 2 * dy < 2:
        return np.ones((height, width), dtype=np.uint8)
    labels = np.zeros((height, width), dtype=np.uint8)
    background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models by k-means++ from this thread's RNG
    cv2.grabCut(
        pixels,
        labels,
        (dx, dy, width - 2 * dx, height - 2 * dy),
        background,
        foreground,
        ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )
    mask = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.uint8)
    if not mask.any():
        return np.ones((height, width), dtype=np.uint8)
    return cv2.dilate(mask, np.ones((DILATION, DILATION), dtype=np.uint8))


def foreground_at(mask: np.ndarray, points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return per point (x, y in an image of `size` = (width, height)) whether it lies on the design."""
    height, width = mask.shape
    if not len(points):
        return np.zeros(0, dtype=np.uint8)
    xs = np.clip((points[:, 0] / size[0] * width).astype(int), 0, width - 1)
    ys = np.clip((points[:, 1] / size[1] * height).astype(int), 0, height - 1)
    return mask[ys, xs].astype(np.uint8)
