"""Pooling of CNN feature maps into descriptors: generalised-mean (GeM) and L2 normalisation."""

from __future__ import annotations

import torch


def gem(feature_map: torch.Tensor, p: float, eps: float = 1e-6) -> torch.Tensor:
    """Return the GeM pooling of a (C, H, W) map: (mean over H, W of x^p)^(1/p), shape (C,).

    p = 1 is average pooling; large p tends to max pooling (Radenovic et al., TPAMI 2018).
    """
    clamped = feature_map.clamp(min=eps)
    return clamped.pow(p).mean(dim=(-2, -1)).pow(1.0 / p)


def l2_normalise(vectors: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Return `vectors` scaled to unit L2 norm along the last axis."""
    return vectors / vectors.norm(dim=-1, keepdim=True).clamp(min=eps)
