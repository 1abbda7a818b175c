"""Settings from arguments and LANTERNGUARD_* environment variables, validated in one place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.engine import EngineSettings
from index.errors import InvalidInput
from index.matching.calibration import DEFAULT_CALIBRATION, Calibration
from index.matching.verdict import Thresholds
from index.pipeline.cascade import DEFAULT_CASCADE, NO_CASCADE
from model.embedder import DEFAULT_BACKBONE, PRECISIONS, EmbedderConfig
from model.images import MAX_PIXELS
from model.runtime import machine_precision

ENV_PREFIX = "LANTERNGUARD_"


def env(name: str, default: str) -> str:
    """Return LANTERNGUARD_<name> from the environment, or `default`."""
    return os.environ.get(ENV_PREFIX + name, default)


def resolve_home(home: str | None) -> Path:
    """Return the state folder: the argument, else LANTERNGUARD_HOME, else ./var."""
    return Path(home if home else env("HOME", "var")).expanduser()


Precision = Literal["auto", "float32", "bfloat16"]
Runtime = Literal["auto", "torch", "onnx", "onnx-int8"]


def embedder_config(backbone: str, precision: str, runtime: str = "auto") -> EmbedderConfig:
    """Return the embedder recipe; precision "auto" is bfloat16 where the CPU computes it natively.

    `runtime` (auto, torch, onnx, onnx-int8) says how the trunk runs (model/embedder.py RUNTIMES).
    Raises InvalidInput for an unknown precision or runtime, or an onnx runtime with bfloat16.
    """
    if precision != "auto" and precision not in PRECISIONS:
        raise InvalidInput(f"{ENV_PREFIX}PRECISION must be auto, float32 or bfloat16, got {precision!r}")
    resolved = machine_precision() if precision == "auto" else precision
    try:
        return EmbedderConfig(backbone=backbone, precision=resolved, runtime=runtime)
    except ValueError as exc:
        raise InvalidInput(f"{ENV_PREFIX}RUNTIME / {ENV_PREFIX}PRECISION: {exc}") from exc


def _split_paths(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.replace(",", os.pathsep).split(os.pathsep) if part.strip()]
    return value


class EngineEnvironment(BaseSettings):
    """What the engine reads from LANTERNGUARD_* variables: home, backbone, precision, thresholds.

    The CLI and the service both build their engine settings from this, so the same home gives the
    same verdicts from `lanternguard inspect` and from the service. Thresholds are inclusive from
    below (score >= match gives `match`); `raw_*` apply while the registry is too small for
    whitening, `whitened_*` after. Their measured meaning is in README.md.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    home: Path = Path("var")
    backbone: str = DEFAULT_BACKBONE
    precision: Precision = "auto"
    runtime: Runtime = "auto"
    cascade: bool = True
    raw_match: float = DEFAULT_CALIBRATION.raw.match
    raw_review: float = DEFAULT_CALIBRATION.raw.review
    whitened_match: float = DEFAULT_CALIBRATION.whitened.match
    whitened_review: float = DEFAULT_CALIBRATION.whitened.review
    retain_days: int = Field(
        365, ge=1, le=36_500, description="days inspection photos and scan images are kept"
    )

    @model_validator(mode="after")
    def _thresholds_agree(self) -> EngineEnvironment:
        self.calibration()
        return self

    def calibration(self) -> Calibration:
        """Return the verdict thresholds: the shipped calibration unless a setting changes one.

        Raises ValueError when a pair is out of order or range.
        """
        whitened = Thresholds(match=self.whitened_match, review=self.whitened_review)
        raw = Thresholds(match=self.raw_match, review=self.raw_review)
        if (whitened, raw) == (DEFAULT_CALIBRATION.whitened, DEFAULT_CALIBRATION.raw):
            return DEFAULT_CALIBRATION
        return Calibration(whitened=whitened, raw=raw, source=f"{ENV_PREFIX}*_MATCH/_REVIEW settings")

    def engine_settings(self) -> EngineSettings:
        """Return the engine's settings for this home, backbone, precision and calibration."""
        return EngineSettings(
            home=self.home,
            embedder=embedder_config(self.backbone, self.precision, self.runtime),
            calibration=self.calibration(),
            retain_days=self.retain_days,
            cascade=DEFAULT_CASCADE if self.cascade else NO_CASCADE,
        )


class ServiceSettings(EngineEnvironment):
    """Everything the HTTP service reads from LANTERNGUARD_* variables, checked when it starts."""

    max_upload_bytes: int = Field(20_000_000, ge=1_000, description="largest request body with photos")
    max_scan_upload_bytes: int = Field(500_000_000, ge=1_000, description="largest zip upload for a scan")
    max_scan_unpacked_bytes: int = Field(2_000_000_000, ge=1_000, description="largest unpacked zip")
    max_scan_images: int = Field(10_000, ge=1, description="most images in one scan")
    max_pixels: int = Field(MAX_PIXELS, ge=10_000, le=MAX_PIXELS, description="largest decoded image area")
    scan_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="folders that folder scans may read (separated by ',' or ':')"
    )
    page_size: int = Field(50, ge=1, le=1_000, description="default page size of listings")
    max_in_flight: int = Field(24, ge=1, le=1_000, description="API requests served at once; more are shed")
    queue_timeout_s: float = Field(5.0, ge=0, le=120, description="how long a request waits for a slot")
    retry_after_s: int = Field(2, ge=1, le=3_600, description="Retry-After of a shed request (503)")
    max_uploads_per_key: int = Field(4, ge=1, le=1_000, description="request bodies one key may send at once")
    auth_failures_per_minute: int = Field(
        120, ge=1, le=100_000, description="failed keys one client may send a minute; more are 429"
    )
    body_grace_s: float = Field(10.0, gt=0, le=600, description="seconds a request body may take to start")
    body_min_bytes_per_s: int = Field(
        16_384, ge=1, description="slowest a request body may arrive after the grace (else 408)"
    )
    demo: bool = False
    webhook_allow_private: bool = Field(
        False, description="let webhooks go to loopback, private, link-local and metadata addresses (tests)"
    )
    webhook_attempts: int = Field(5, ge=1, le=20, description="tries of a webhook delivery before it fails")
    webhook_backoff_s: float = Field(2.0, ge=0.01, le=3_600, description="wait before the first retry")
    webhook_timeout_s: float = Field(5.0, ge=0.1, le=60, description="how long a receiver may take to answer")
    retro_shortlist: int = Field(200, ge=1, le=10_000, description="kept photos a look-back verifies at most")

    _split = field_validator("scan_roots", mode="before")(_split_paths)

    @field_validator("scan_roots")
    @classmethod
    def _roots_exist(cls, roots: list[Path]) -> list[Path]:
        missing = [str(r) for r in roots if not r.is_dir()]
        if missing:
            raise ValueError(f"scan roots must be existing folders: {', '.join(missing)}")
        return [r.resolve() for r in roots]


def _setting_name(location: tuple) -> str:
    if not location:
        return "thresholds"
    return ENV_PREFIX + str(location[0]).upper()


Loaded = TypeVar("Loaded", bound=EngineEnvironment)


def _load(kind: type[Loaded], overrides: dict[str, object]) -> Loaded:
    try:
        return kind(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{_setting_name(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid settings: {problems}") from exc


def load_service_settings(**overrides: object) -> ServiceSettings:
    """Return the service settings from the environment, with command-line `overrides` on top.

    Raises InvalidInput that lists every bad setting.
    """
    return _load(ServiceSettings, overrides)


def engine_settings(home: Path | str | None = None, backbone: str | None = None) -> EngineSettings:
    """Return engine settings from LANTERNGUARD_* variables with `home` and `backbone` on top.

    The one way both the CLI and the service (through ServiceSettings) build them. Raises
    InvalidInput that lists every bad setting.
    """
    return _load(EngineEnvironment, {"home": home, "backbone": backbone}).engine_settings()
