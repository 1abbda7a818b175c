"""Engine settings: where state lives and how descriptors are made, whitened, verified and judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from index.matching.calibration import DEFAULT_CALIBRATION, Calibration, model_fingerprint
from index.matching.precision import Targets
from index.matching.ranking import Scoring
from index.pipeline.cascade import DEFAULT_CASCADE, CascadeTable
from index.search.live import IndexPolicy
from model.embedder import EmbedderConfig
from model.local import LocalConfig

SELF_CALIBRATION_MODES = ("off", "report", "use")
"""`use` (default): a whitened registry of enough designs judges with its own thresholds (on dev,
with the foreground masks and the chance floor, they gave `match` precision 0.959 at recall 0.757
and 3.1 % of unregistered photos at `review`+, on photos they never saw; docs/matching.md);
`report`: derive, store and show them, judge with the shipped ones; `off`: never derive them."""


@dataclass(frozen=True)
class EngineSettings:
    """Where state lives and how descriptors are made, whitened, verified and judged.

    `local_words`, `local_candidates`, `local_votes`: the local-feature candidate path (a vocabulary
    of `local_words` visual words learned with the whitening; the `local_votes` views best voted by
    a photo's words are folded into designs and up to `local_candidates` designs that appearance
    did not rank among the `verify_top_k` are verified too; 0 words or candidates: off).
    `match_target`, `review_target`, `review_unregistered`, `target_confidence`: what the
    registry's self-calibration fits its thresholds for (index.matching.precision.Targets).
    """

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
    local_words: int = 65536
    local_candidates: int = 5
    local_votes: int = 50
    inlier_saturation: int = 30
    inlier_spread: float | None = 0.3
    inlier_background: float = 0.2
    inlier_floor: float = 4.0
    mirror_retry_below: int = 12
    checkpoint_every: int = 256
    self_calibration: str = "use"
    self_calibration_designs: int = 150
    self_calibration_min_designs: int = 40
    match_target: float = 0.95
    review_target: float = 0.80
    review_unregistered: float | None = 0.10
    target_confidence: float = 0.90
    retain_days: int = 365

    def __post_init__(self) -> None:
        if self.whitening_min_images < self.whitening_dim:
            raise ValueError("whitening_min_images must be at least whitening_dim")
        if self.whitening_regrowth <= 1.0:
            raise ValueError("whitening_regrowth must be above 1")
        if not 0 <= self.verify_top_k <= 100:
            raise ValueError("verify_top_k must be 0..100")
        if self.local_words < 0 or self.local_candidates < 0 or self.local_votes < 1:
            raise ValueError("need local_words >= 0, local_candidates >= 0 and local_votes >= 1")
        if self.self_calibration not in SELF_CALIBRATION_MODES:
            raise ValueError(f"self_calibration must be one of {SELF_CALIBRATION_MODES}")
        _ = self.targets  # building them validates the targets
        if not 2 <= self.self_calibration_min_designs <= self.self_calibration_designs:
            raise ValueError("need 2 <= self_calibration_min_designs <= self_calibration_designs")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        if self.inlier_saturation < 1:
            raise ValueError("inlier_saturation must be at least 1")
        if self.inlier_spread is not None and self.inlier_spread <= 0:
            raise ValueError("inlier_spread must be above 0 (or None: every inlier weighs 1)")
        if not 0.0 <= self.inlier_background <= 1.0:
            raise ValueError("inlier_background must lie in [0, 1] (1: foreground masks ignored)")
        if not 0.0 <= self.inlier_floor < self.inlier_saturation:
            raise ValueError("inlier_floor must lie in [0, inlier_saturation)")
        if self.retain_days < 1:
            raise ValueError("retain_days must be at least 1")

    @property
    def targets(self) -> Targets:
        """Return what the registry's own thresholds are fitted for (index.matching.precision)."""
        return Targets(
            self.match_target, self.review_target, self.review_unregistered, self.target_confidence
        )

    @property
    def index_policy(self) -> IndexPolicy:
        """Return when the live index whitens and checkpoints."""
        return IndexPolicy(
            whitening_dim=self.whitening_dim,
            whitening_power=self.whitening_power,
            whitening_min_images=self.whitening_min_images,
            whitening_regrowth=self.whitening_regrowth,
            checkpoint_every=self.checkpoint_every,
            words=self.local_words if self.local_path else 0,
        )

    @property
    def local_path(self) -> bool:
        """Return whether designs voted by visual words join the verified candidates (index.search.words)."""
        return bool(self.verify_top_k and self.local_words and self.local_candidates)

    @property
    def verified_candidates(self) -> int:
        """Return how many candidates are verified: the appearance ones and those of the local path."""
        return self.verify_top_k + (self.local_candidates if self.local_path else 0)

    @property
    def candidates_recipe(self) -> str:
        """Return how the verified candidates are found, as the model fingerprint names it."""
        if not self.local_path:
            return ""
        return f"words{self.local_words}+{self.local_candidates}/{self.local_votes}"

    @property
    def scoring(self) -> Scoring:
        """Return how verified inliers fold into the verdict score (index.matching.ranking.Scoring)."""
        return Scoring(self.inlier_saturation, self.inlier_spread, self.inlier_background, self.inlier_floor)

    def model(self, descriptor: str) -> str:
        """Return the model fingerprint of an engine with these settings and this descriptor recipe."""
        local = self.local.fingerprint
        return model_fingerprint(descriptor, local, self.scoring.recipe, self.candidates_recipe)
