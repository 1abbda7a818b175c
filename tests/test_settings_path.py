"""One settings path for the CLI and the service, and thresholds that name the model they belong to."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ServiceSettings, engine_settings, load_service_settings
from index.engine import Engine, EngineSettings
from index.errors import InvalidInput
from index.matching.calibration import DEFAULT_CALIBRATION
from model.embedder import Embedder


def test_cli_and_service_build_the_same_engine_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANTERNGUARD_WHITENED_MATCH", "1.3")
    monkeypatch.setenv("LANTERNGUARD_WHITENED_REVIEW", "0.6")
    monkeypatch.setenv("LANTERNGUARD_RAW_MATCH", "1.2")
    monkeypatch.setenv("LANTERNGUARD_PRECISION", "float32")
    cli = engine_settings(tmp_path)
    service = load_service_settings(home=str(tmp_path)).engine_settings()
    assert cli == service
    assert cli.calibration.whitened.match == 1.3
    assert cli.calibration.raw.match == 1.2
    assert cli.calibration.model is None
    monkeypatch.setenv("LANTERNGUARD_RAW_REVIEW", "1.5")
    with pytest.raises(InvalidInput, match="review <= match"):
        engine_settings(tmp_path)


def test_unchanged_thresholds_keep_the_shipped_calibration_and_its_model(tmp_path: Path) -> None:
    assert engine_settings(tmp_path).calibration == DEFAULT_CALIBRATION
    assert DEFAULT_CALIBRATION.model is not None


def test_an_engine_of_another_model_says_its_thresholds_may_not_hold(
    settings: EngineSettings, embedder: Embedder
) -> None:
    own = settings.model(embedder.config.fingerprint)
    fitted = replace(settings, calibration=replace(DEFAULT_CALIBRATION, model=own))
    engine = Engine(fitted, embedder)
    assert engine.calibration_warning is None
    engine.close()
    other = replace(settings, calibration=replace(DEFAULT_CALIBRATION, model="mobilenet-v2/x|sift1@1"))
    engine = Engine(other, embedder)
    assert engine.calibration_warning is not None
    assert "mobilenet-v2/x|sift1@1" in engine.calibration_warning
    assert own in engine.calibration_warning
    engine.close()


def test_readiness_names_thresholds_of_another_model(tmp_path: Path, embedder: Embedder) -> None:
    app = create_app(ServiceSettings(home=tmp_path / "home"), embedder)
    with TestClient(app) as client:
        assert app.state.services.wait_ready(30)
        ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert DEFAULT_CALIBRATION.model in ready.json()["detail"]
    assert embedder.config.fingerprint in ready.json()["detail"]
