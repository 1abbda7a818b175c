"""Engine settings and the calibrated verdict thresholds they carry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from index.matcher import Thresholds
from model.embedder import EmbedderConfig
from model.local import LocalConfig

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    """Verdict thresholds per scoring regime: `whitened` once the registry is large enough, else `raw`.

    Derived by scripts/calibrate.py from a benchmark; `source` says from which, with what precision.
    """

    whitened: Thresholds
    raw: Thresholds
    source: str = "built-in defaults"

    @classmethod
    def from_json(cls, payload: dict) -> Calibration:
        """Return the calibration stored in a calibration.json object."""
        return cls(
            whitened=Thresholds(**payload["whitened"]),
            raw=Thresholds(**payload["raw"]),
            source=str(payload.get("source", "")),
        )

    def to_json(self) -> dict:
        """Return the calibration as a JSON-ready object."""
        return {
            "whitened": {"match": self.whitened.match, "review": self.whitened.review},
            "raw": {"match": self.raw.match, "review": self.raw.review},
            "source": self.source,
        }


def load_calibration(path: Path | None = None) -> Calibration:
    """Return the calibration in `path`, or the one shipped with the package."""
    if path is not None:
        return Calibration.from_json(json.loads(path.read_text()))
    text = resources.files("index").joinpath(CALIBRATION_FILE).read_text()
    return Calibration.from_json(json.loads(text))


DEFAULT_CALIBRATION = load_calibration()
"""The thresholds shipped with this build (index/calibration.json)."""


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
    neighbours: int = 100
    region_neighbours: int = 20
    verify_top_k: int = 10
    inlier_saturation: int = 50
    mirror_retry_below: int = 12
    checkpoint_every: int = 256

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
