"""Calibration: the verdict thresholds per scoring regime, and the model they were measured with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from index.matching.verdict import Thresholds

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    """Verdict thresholds per scoring regime: `whitened` once the registry is large enough, else `raw`.

    Derived by scripts/calibrate.py from a benchmark; `source` says from which. `model` names the
    recipe the scores were measured with (descriptor and local-feature fingerprints, see
    `model_fingerprint`); None for thresholds set by hand, which claim no model.
    """

    whitened: Thresholds
    raw: Thresholds
    source: str = "built-in defaults"
    model: str | None = None

    @classmethod
    def from_json(cls, payload: dict) -> Calibration:
        """Return the calibration stored in a calibration.json object."""
        return cls(
            whitened=Thresholds(**payload["whitened"]),
            raw=Thresholds(**payload["raw"]),
            source=str(payload.get("source", "")),
            model=payload.get("model"),
        )

    def to_json(self) -> dict:
        """Return the calibration as a JSON-ready object."""
        return {
            "whitened": {"match": self.whitened.match, "review": self.whitened.review},
            "raw": {"match": self.raw.match, "review": self.raw.review},
            "source": self.source,
            "model": self.model,
        }

    def mismatch(self, model: str) -> str | None:
        """Return why these thresholds may not hold for `model`, or None when they were measured on it."""
        if self.model is None or self.model == model:
            return None
        return f"verdict thresholds were measured with {self.model}, this engine runs {model}"


def model_fingerprint(descriptor: str, local: str, score: str, candidates: str = "") -> str:
    """Return the name of a scoring recipe: descriptor fingerprint, local-feature recipe, score
    (index.matching.ranking.Scoring.recipe), and how candidates beyond appearance search are found
    (none: left out, as before it existed)."""
    return f"{descriptor}|{local}|{score}" + (f"|{candidates}" if candidates else "")


def load_calibration(path: Path | None = None) -> Calibration:
    """Return the calibration in `path`, or the one shipped with the package."""
    if path is not None:
        return Calibration.from_json(json.loads(path.read_text()))
    text = resources.files("index.matching").joinpath(CALIBRATION_FILE).read_text()
    return Calibration.from_json(json.loads(text))


DEFAULT_CALIBRATION = load_calibration()
"""The thresholds shipped with this build (index/matching/calibration.json)."""
