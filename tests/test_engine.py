"""The engine end to end on generated designs: register, inspect, withdraw, rebuild, whiten."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.engine import Engine, EngineSettings, Inspection, Rejected
from index.errors import IndexNotReady, InvalidInput
from index.matching.verdict import Verdict
from index.store.registry import DesignFields
from model.embedder import Embedder, EmbedderConfig
from model.errors import InvalidImage
from tests.conftest import draw_design, jpeg_bytes


def register_designs(engine: Engine, seeds: range) -> None:
    items = [(DesignFields(f"D{s}", title=f"Design {s}"), [jpeg_bytes(draw_design(s))]) for s in seeds]
    results = list(engine.register_many(items))
    assert all(not hasattr(r, "error") for r in results)


def summary(result: Inspection) -> list[tuple[str, float, int]]:
    return [(m.design.design_id, round(m.score, 4), m.inliers) for m in result.matches]


def state_of(home: Path) -> tuple[int, list[str]]:
    files = sorted(str(p.relative_to(home)) for p in (home / "images").rglob("*") if p.is_file())
    return len(files), files


def test_registered_design_is_found_first(engine: Engine) -> None:
    register_designs(engine, range(4))
    result = engine.inspect(jpeg_bytes(draw_design(2), quality=70))
    assert result.matches[0].design.design_id == "D2"
    assert result.matches[0].design.title == "Design 2"
    assert result.matches[0].score > result.matches[1].score
    assert result.verdict == Verdict.MATCH


def test_inspecting_before_any_registration_is_not_ready(engine: Engine) -> None:
    with pytest.raises(IndexNotReady):
        engine.inspect(jpeg_bytes(draw_design(1)))


def test_bad_images_are_refused_and_change_nothing(engine: Engine, settings: EngineSettings) -> None:
    register_designs(engine, range(2))
    generation, blobs = engine.registry.generation(), state_of(settings.home)
    for payload in (b"", b"not an image", jpeg_bytes(draw_design(5))[:500]):
        with pytest.raises(InvalidImage):
            engine.register(DesignFields("BAD"), [payload])
    assert engine.registry.generation() == generation
    assert state_of(settings.home) == blobs
    assert engine.index_size == 2


def test_a_bad_view_is_skipped_and_reported(engine: Engine) -> None:
    result = engine.register(DesignFields("D1"), [jpeg_bytes(draw_design(1)), b"garbage"])
    assert result.design.image_count == 1
    assert [r.reason for r in result.rejected] == ["uploaded image: not an image in a supported format"]


def test_too_many_views_are_refused(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="1 to 7"):
        engine.register(DesignFields("D1"), [jpeg_bytes(draw_design(i)) for i in range(8)])


def test_inspect_many_keeps_order_and_marks_bad_files(engine: Engine) -> None:
    register_designs(engine, range(3))
    results = engine.inspect_many([jpeg_bytes(draw_design(1)), b"", jpeg_bytes(draw_design(0))])
    assert isinstance(results[1], Rejected)
    assert isinstance(results[0], Inspection) and results[0].matches[0].design.design_id == "D1"
    assert isinstance(results[2], Inspection) and results[2].matches[0].design.design_id == "D0"


def test_inspect_batches_reads_ahead_and_gives_what_inspect_many_gives(engine: Engine) -> None:
    register_designs(engine, range(3))
    photos = [jpeg_bytes(draw_design(i % 3, size=(300 + 20 * i, 240)), quality=80) for i in range(5)]
    photos.insert(2, b"not an image")
    batches = list(engine.inspect_batches(photos, 2))
    assert [len(b) for b in batches] == [2, 2, 2]
    flat = [r for b in batches for r in b]
    alone = engine.inspect_many(photos)
    assert isinstance(flat[2], Rejected) and isinstance(alone[2], Rejected)
    pairs = [(a, b) for a, b in zip(flat, alone, strict=True) if isinstance(a, Inspection)]
    assert all(isinstance(b, Inspection) and summary(a) == summary(b) for a, b in pairs)
    assert list(engine.inspect_batches([], 4)) == []


def test_second_view_finds_its_design(engine: Engine) -> None:
    engine.register(DesignFields("LANTERN"), [jpeg_bytes(draw_design(10)), jpeg_bytes(draw_design(11))])
    register_designs(engine, range(3))
    assert engine.inspect(jpeg_bytes(draw_design(11))).matches[0].design.design_id == "LANTERN"


def test_withdrawn_design_stops_matching_at_once(engine: Engine) -> None:
    register_designs(engine, range(3))
    engine.withdraw("D1")
    result = engine.inspect(jpeg_bytes(draw_design(1)))
    assert "D1" not in [m.design.design_id for m in result.matches]
    assert engine.registry.design("D1").withdrawn_at is not None


def test_missing_index_is_rebuilt_from_the_registry(settings: EngineSettings, embedder: Embedder) -> None:
    engine = Engine(settings, embedder)
    register_designs(engine, range(3))
    expected = summary(engine.inspect(jpeg_bytes(draw_design(0))))
    engine.close()
    for file in (settings.home / "index").iterdir():
        file.unlink()
    reopened = Engine(settings, embedder)
    assert summary(reopened.inspect(jpeg_bytes(draw_design(0)))) == expected
    reopened.close()


def test_stale_checkpoint_is_rebuilt(settings: EngineSettings, embedder: Embedder) -> None:
    engine = Engine(settings, embedder)
    register_designs(engine, range(3))
    engine.close()
    sidecar = settings.home / "index" / "index.json"
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "generation": meta["generation"] - 1}))
    reopened = Engine(settings, embedder)
    assert reopened.index_size == 3
    assert json.loads(sidecar.read_text())["generation"] == meta["generation"]
    reopened.close()


def test_other_model_re_embeds_stored_images(settings: EngineSettings, embedder: Embedder) -> None:
    engine = Engine(settings, embedder)
    register_designs(engine, range(3))
    engine.close()
    other = Embedder(EmbedderConfig(scales=(128,)), embedder.backbone)
    reopened = Engine(replace(settings, embedder=other.config), other)
    assert reopened.index_size == 3
    assert reopened.inspect(jpeg_bytes(draw_design(2))).matches[0].design.design_id == "D2"
    reopened.close()


def test_whitening_starts_at_the_configured_size_and_persists(
    settings: EngineSettings, embedder: Embedder
) -> None:
    engine = Engine(settings, embedder)
    register_designs(engine, range(10))
    assert engine.thresholds == settings.calibration.raw
    register_designs(engine, range(10, 18))
    assert engine.thresholds == settings.calibration.whitened
    query = jpeg_bytes(draw_design(12))
    scores = [m.score for m in engine.inspect(query).matches]
    engine.close()
    reopened = Engine(settings, embedder)
    assert reopened.thresholds == settings.calibration.whitened
    np.testing.assert_allclose([m.score for m in reopened.inspect(query).matches], scores, atol=1e-5)
    assert reopened.inspect(query).matches[0].design.design_id == "D12"
    reopened.close()
