"""Everything between a decoded image and a verdict, in subpackages along the data flow.

store -> search -> matching -> pipeline -> engine -> batch -> evaluation -> service -> home: each
imports only those before it (tests/test_layers.py), and nothing here imports `api`. The layout and
the import rule: docs/architecture.md.
"""

import model  # noqa: F401  (sets the OpenMP wait policy before torch or faiss loads)
from index.engine import (
    MAX_VIEWS,
    Engine,
    EngineSettings,
    Inspection,
    Match,
    Registration,
    RegistrationFailed,
    Rejected,
)
from index.matching.calibration import DEFAULT_CALIBRATION, Calibration
from index.matching.verdict import Thresholds, Verdict
from index.store.registry import DesignFields, DesignRecord

__all__ = [
    "DEFAULT_CALIBRATION",
    "MAX_VIEWS",
    "Calibration",
    "DesignFields",
    "DesignRecord",
    "Engine",
    "EngineSettings",
    "Inspection",
    "Match",
    "Registration",
    "RegistrationFailed",
    "Rejected",
    "Thresholds",
    "Verdict",
]
