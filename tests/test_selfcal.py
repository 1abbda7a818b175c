"""Self-calibration: thresholds derived from the registry's own views when whitening is learned."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace

import pytest
from PIL import Image

from api.cli import main
from index.engine import Engine, EngineSettings
from index.matching.calibration import DEFAULT_CALIBRATION
from index.pipeline.selfcal import PHOTO_SIDE, inspection_photo, mosaic
from index.store.registry import DesignFields
from model.embedder import Embedder
from tests.conftest import draw_design, jpeg_bytes


def small_registry(settings: EngineSettings) -> EngineSettings:
    return replace(
        settings, self_calibration_min_designs=12, self_calibration_designs=20, self_calibration="use"
    )


def register(engine: Engine, count: int) -> None:
    items = [(DesignFields(f"D{s}"), [jpeg_bytes(draw_design(s))]) for s in range(count)]
    assert all(not hasattr(r, "error") for r in engine.register_many(items))


def test_synthetic_photos_are_photos_of_the_view() -> None:
    rng = random.Random(1)
    views = [draw_design(s) for s in range(3)]
    photo = Image.open(io.BytesIO(inspection_photo(views[0], mosaic(views[1:], rng), rng)))
    assert photo.format == "JPEG" and max(photo.size) <= PHOTO_SIDE
    assert mosaic(views, rng).size == (PHOTO_SIDE, PHOTO_SIDE)


def test_a_whitened_registry_calibrates_itself_and_keeps_it(
    settings: EngineSettings, embedder: Embedder, tmp_path
) -> None:
    settings = small_registry(settings)
    engine = Engine(settings, embedder)
    register(engine, 20)
    own = engine.self_calibration
    assert own is not None and own.designs == 20
    assert own.positives == 20 and own.negatives >= 20
    assert -3 <= own.review <= own.match <= 3
    assert engine.thresholds == own.thresholds()
    assert engine.thresholds_source() == "self-calibration of this registry"
    info = engine.calibration_info()
    assert info["self_calibration"]["match"] == own.match
    engine.close()
    reopened = Engine(settings, embedder)
    assert reopened.self_calibration == own
    reopened.close()
    overridden = Engine(replace(settings, calibration=replace(DEFAULT_CALIBRATION, source="set")), embedder)
    assert overridden.thresholds == DEFAULT_CALIBRATION.whitened
    overridden.close()
    reported = Engine(replace(settings, self_calibration="report"), embedder)
    assert reported.self_calibration == own and reported.thresholds == DEFAULT_CALIBRATION.whitened
    assert "reported, not used" in reported.thresholds_source()
    reported.close()


def test_too_small_a_registry_falls_back_to_the_shipped_thresholds(
    settings: EngineSettings, embedder: Embedder
) -> None:
    engine = Engine(small_registry(settings), embedder)
    register(engine, 8)
    assert engine.self_calibration is None
    assert "fallback" in engine.thresholds_source()
    assert engine.thresholds in (DEFAULT_CALIBRATION.whitened, DEFAULT_CALIBRATION.raw)
    engine.close()


def test_index_info_prints_the_thresholds_and_their_source(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    photo = tmp_path / "d.jpg"
    draw_design(3).save(photo)
    assert main(["register", "--home", home, str(photo), "--design-id", "D3"]) == 0
    capsys.readouterr()
    assert main(["index", "info", "--home", home]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["views_searchable"] == 1 and info["self_calibration"] is None
    assert "fallback" in info["thresholds_from"]
    assert main(["index", "info", "--home", str(tmp_path / "none")]) != 0
