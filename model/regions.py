"""Regional descriptors: GeM over a grid of overlapping windows of one feature map (R-MAC style)."""

from __future__ import annotations

import numpy as np
import torch

from model.pooling import gem, l2_normalise


def grid_windows(height: int, width: int, fraction: float) -> list[tuple[int, int, int, int]]:
    """Return (top, left, h, w) windows of `fraction` of the map's sides, overlapping by about half.

    A map too small for the fraction gives the whole map once.
    """
    window_h, window_w = max(1, round(height * fraction)), max(1, round(width * fraction))
    steps = round(1 / fraction) + 1
    tops = sorted({int(t) for t in np.linspace(0, height - window_h, steps).round()})
    lefts = sorted({int(x) for x in np.linspace(0, width - window_w, steps).round()})
    return [(top, left, window_h, window_w) for top in tops for left in lefts]


def regional_descriptors(feature_map: torch.Tensor, fraction: float, p: float) -> torch.Tensor:
    """Return (r, C) unit-norm GeM descriptors of the windows of a (C, H, W) map."""
    _, height, width = feature_map.shape
    pooled = [
        gem(feature_map[:, top : top + h, left : left + w], p)
        for top, left, h, w in grid_windows(height, width, fraction)
    ]
    return l2_normalise(torch.stack(pooled))
