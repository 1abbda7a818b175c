"""Engine settings: where state lives and how descriptors are made, whitened, verified and judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from index.matching.calibration import DEFAULT_CALIBRATION, Calibration
from index.pipeline.cascade import DEFAULT_CASCADE, CascadeTable
from index.search.live import IndexPolicy
from model.embedder import EmbedderConfig
from model.local import LocalConfig

SELF_CALIBRATION_MODES = ("off", "report", "use")
"""`report` (default): derive, store and show the registry's own thresholds, judge with the shipped
ones (on dev the self-calibrated pair let 10.5 % of unregistered photos reach `match`, see
docs/matching.md); `use`: judge with them; `off`: never derive them."""


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
    inlier_saturation: int = 30
    inlier_spread: float | None = 0.3
    mirror_retry_below: int = 12
    checkpoint_every: int = 256
    self_calibration: str = "report"
    self_calibration_designs: int = 150
    self_calibration_min_designs: int = 40
    match_target: float = 0.95
    review_target: float = 0.80
    retain_days: int = 365

    def __post_init__(self) -> None:
        if self.whitening_min_images < self.whitening_dim:
            raise ValueError("whitening_min_images must be at least whitening_dim")
        if self.whitening_regrowth <= 1.0:
            raise ValueError("whitening_regrowth must be above 1")
        if not 0 <= self.verify_top_k <= 100:
            raise ValueError("verify_top_k must be 0..100")
        if self.self_calibration not in SELF_CALIBRATION_MODES:
            raise ValueError(f"self_calibration must be one of {SELF_CALIBRATION_MODES}")
        if not 0.5 <= self.review_target <= self.match_target < 1.0:
            raise ValueError("need 0.5 <= review_target <= match_target < 1")
        if not 2 <= self.self_calibration_min_designs <= self.self_calibration_designs:
            raise ValueError("need 2 <= self_calibration_min_designs <= self_calibration_designs")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        if self.inlier_saturation < 1:
            raise ValueError("inlier_saturation must be at least 1")
        if self.inlier_spread is not None and self.inlier_spread <= 0:
            raise ValueError("inlier_spread must be above 0 (or None: every inlier weighs 1)")
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
