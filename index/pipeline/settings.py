"""Engine settings: where state lives and how descriptors are made, whitened, verified and judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from index.matching.calibration import DEFAULT_CALIBRATION, Calibration
from index.pipeline.cascade import DEFAULT_CASCADE, CascadeTable
from index.search.live import IndexPolicy
from model.embedder import EmbedderConfig
from model.local import LocalConfig


@dataclass(frozen=True)
class EngineSettings:
    """Where state lives and how descriptors are made, whitened, verified and judged."""

    home: Path
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    local: LocalConfig = field(default_factory=LocalConfig)
    whitening_dim: int = 512
    whitening_power: float = 0.25
    whitening_min_images: int = 512
    whitening_regrowth: float = 1.25
    calibration: Calibration = DEFAULT_CALIBRATION
    cascade: CascadeTable = DEFAULT_CASCADE
    neighbours: int = 100
    region_neighbours: int = 20
    verify_top_k: int = 10
    inlier_saturation: int = 50
    mirror_retry_below: int = 12
    checkpoint_every: int = 256
    retain_days: int = 365

    def __post_init__(self) -> None:
        if self.whitening_min_images < self.whitening_dim:
            raise ValueError("whitening_min_images must be at least whitening_dim")
        if self.whitening_regrowth <= 1.0:
            raise ValueError("whitening_regrowth must be above 1")
        if not 0 <= self.verify_top_k <= 100:
            raise ValueError("verify_top_k must be 0..100")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        if self.inlier_saturation < 1:
            raise ValueError("inlier_saturation must be at least 1")
        if self.retain_days < 1:
            raise ValueError("retain_days must be at least 1")

    @property
    def index_policy(self) -> IndexPolicy:
        """Return when the live index whitens and checkpoints."""
        return IndexPolicy(
            whitening_dim=self.whitening_dim,
            whitening_power=self.whitening_power,
            whitening_min_images=self.whitening_min_images,
            whitening_regrowth=self.whitening_regrowth,
            checkpoint_every=self.checkpoint_every,
        )
