"""Visual words: the vocabulary, the inverted file, the candidates they add, and their checkpoint."""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from index.engine import Engine, EngineSettings
from index.matching.ranking import appearance_candidates
from index.search.words import WORDS_FILE, InvertedFile, learn_vocabulary
from index.store.registry import DesignFields
from model.embedder import Embedder
from model.local import LocalConfig, LocalFeatures, extract_local
from tests.conftest import draw_design, jpeg_bytes

DESIGNS = 24
SHOWN = 17


def _sift(image: Image.Image) -> LocalFeatures:
    return extract_local(image, LocalConfig())


def _scene(design: int, share: float, seed: int = 3) -> Image.Image:
    """A cluttered 640 x 480 photo (a mosaic of four unregistered drawings) with `design` pasted at
    `share` of its width."""
    rng = random.Random(seed)
    scene = Image.new("RGB", (640, 480))
    for row in range(2):
        for column in range(2):
            scene.paste(draw_design(1000 + row * 2 + column), (column * 320, row * 240))
    width = round(640 * share)
    small = draw_design(design).resize((width, width * 3 // 4))
    scene.paste(small, (rng.randrange(640 - small.width), rng.randrange(480 - small.height)))
    return scene


@pytest.fixture(scope="module")
def views() -> dict[int, LocalFeatures]:
    return {seed: _sift(draw_design(seed)) for seed in range(DESIGNS)}


@pytest.fixture(scope="module")
def inverted(views: dict[int, LocalFeatures]) -> InvertedFile:
    vocabulary = learn_vocabulary((v.descriptors for v in views.values()), 512, len(views))
    words = InvertedFile(vocabulary)
    words.add((seed, v.descriptors) for seed, v in views.items())
    return words


def test_a_small_design_in_clutter_gets_the_most_votes(inverted: InvertedFile) -> None:
    votes, ids = inverted.search(_sift(_scene(SHOWN, 0.4)).descriptors, 5)
    assert ids[0] == SHOWN
    assert votes[0] > 1.2 * votes[1]


def test_a_withdrawn_view_gets_no_votes(views: dict[int, LocalFeatures]) -> None:
    vocabulary = learn_vocabulary((v.descriptors for v in views.values()), 512, len(views))
    words = InvertedFile(vocabulary)
    words.add((seed, v.descriptors) for seed, v in views.items())
    words.remove([SHOWN])
    _, ids = words.search(views[SHOWN].descriptors, DESIGNS)
    assert SHOWN not in ids.tolist() and words.count == DESIGNS - 1


def test_the_vocabulary_needs_as_many_descriptors_as_words(views: dict[int, LocalFeatures]) -> None:
    with pytest.raises(ValueError, match="needs at least"):
        learn_vocabulary([views[0].descriptors[:10]], 256, 1)


def test_the_words_file_round_trips_and_refuses_damage(inverted: InvertedFile, tmp_path: Path) -> None:
    path = tmp_path / WORDS_FILE
    inverted.save(path, generation=5)
    loaded, generation = InvertedFile.load(path)
    assert generation == 5 and loaded.count == inverted.count
    np.testing.assert_array_equal(loaded.vocabulary.fine, inverted.vocabulary.fine)
    probe = np.concatenate([draw_design_descriptors(s) for s in (SHOWN, 3)])
    np.testing.assert_array_equal(loaded.search(probe, 5)[1], inverted.search(probe, 5)[1])
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError):
        InvertedFile.load(path)


def draw_design_descriptors(seed: int) -> np.ndarray:
    return _sift(draw_design(seed)).descriptors


def test_voted_designs_follow_the_verified_appearance_candidates() -> None:
    design_of = {10: 1, 11: 2, 12: 3, 13: 4, 14: 5}
    rows = [np.asarray([0.9, 0.8, 0.7, 0.6], np.float32)], [np.asarray([10, 11, 12, 13])]
    votes = (np.asarray([5.0, 4.0, 3.0, 2.0], np.float32), np.asarray([14, 10, 13, 12]))
    merged = appearance_candidates(*rows, design_of, 10, votes, (2, 2))
    assert [h.design_pk for h in merged] == [1, 2, 5, 4, 3]
    assert merged[2].score == pytest.approx(0.6)  # not returned by appearance: its lowest score
    assert merged[3].score == pytest.approx(0.6)  # returned: its own appearance
    assert appearance_candidates(*rows, design_of, 10, votes, (2, 0)) == appearance_candidates(
        *rows, design_of, 10
    )


def test_local_settings_are_checked_and_named_by_the_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        EngineSettings(home=tmp_path, local_votes=0)
    on = EngineSettings(home=tmp_path)
    off = replace(on, local_candidates=0)
    assert on.local_path and not off.local_path
    assert off.candidates_recipe == "" and on.candidates_recipe in on.model("d")
    assert on.verified_candidates == on.verify_top_k + on.local_candidates
    assert off.verified_candidates == off.verify_top_k and off.index_policy.words == 0


@pytest.fixture
def local_settings(settings: EngineSettings) -> EngineSettings:
    return replace(settings, local_words=512, local_candidates=3, verify_top_k=2)


def _register(engine: Engine) -> None:
    items = [
        (DesignFields(f"D{seed}", f"design {seed}"), [jpeg_bytes(draw_design(seed))])
        for seed in range(DESIGNS)
    ]
    assert len(list(engine.register_many(items))) == DESIGNS


def test_a_design_appearance_does_not_verify_is_found_by_its_words(
    local_settings: EngineSettings, embedder: Embedder
) -> None:
    photo = jpeg_bytes(_scene(SHOWN, 0.4))
    engine = Engine(replace(local_settings, local_candidates=0), embedder)
    _register(engine)
    without = engine.inspect(photo)
    engine.close()
    verified = [m.design.design_id for m in without.matches if m.verification is not None]
    assert f"D{SHOWN}" not in verified
    engine = Engine(local_settings, embedder)
    assert engine._live.words is not None and engine._live.words.count == DESIGNS
    found = engine.inspect(photo)
    engine.close()
    assert found.matches[0].design.design_id == f"D{SHOWN}"
    assert found.matches[0].inliers >= 12


def test_visual_words_are_checkpointed_and_learned_again_when_damaged(
    local_settings: EngineSettings, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(local_settings, embedder)
    _register(engine)
    centroids = engine._live.words.vocabulary.fine.copy()
    engine.withdraw(f"D{SHOWN}")
    engine.close()
    engine = Engine(local_settings, embedder)
    np.testing.assert_array_equal(engine._live.words.vocabulary.fine, centroids)
    assert engine._live.words.count == DESIGNS - 1
    engine.close()
    path = local_settings.home / "index" / WORDS_FILE
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.INFO, logger="index.search.live"):
        engine = Engine(local_settings, embedder)
    assert "no usable visual words" in caplog.text
    assert engine._live.words is not None and engine._live.words.count == DESIGNS - 1
    engine.close()
    InvertedFile.load(path)
