"""Settings from arguments and LANTERNGUARD_* environment variables, validated in one place."""

from __future__ import annotations

import os
from pathlib import Path

from index.engine import EngineSettings
from model.embedder import DEFAULT_BACKBONE, EmbedderConfig

ENV_PREFIX = "LANTERNGUARD_"


def env(name: str, default: str) -> str:
    """Return LANTERNGUARD_<name> from the environment, or `default`."""
    return os.environ.get(ENV_PREFIX + name, default)


def resolve_home(home: str | None) -> Path:
    """Return the state folder: the argument, else LANTERNGUARD_HOME, else ./var."""
    return Path(home if home else env("HOME", "var")).expanduser()


def engine_settings(home: Path, backbone: str | None = None) -> EngineSettings:
    """Return engine settings for a home; the backbone comes from the argument or LANTERNGUARD_BACKBONE."""
    return EngineSettings(
        home=home, embedder=EmbedderConfig(backbone=backbone or env("BACKBONE", DEFAULT_BACKBONE))
    )
