"""The SQLite registry: constraints, idempotent images, withdrawal and the change counter."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.errors import DuplicateDesign, InvalidInput, UnknownDesign
from index.store.database import Database
from index.store.registry import DesignFields, NewImage, Registry


def image(sha_digit: str, seed: int = 0) -> NewImage:
    vector = np.random.default_rng(seed).normal(size=4).astype(np.float32)
    return NewImage(sha256=sha_digit * 64, width=10, height=20, vector=vector)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "r.sqlite3")
    yield registry
    registry.close()


def test_design_with_views_and_owner(registry: Registry) -> None:
    fields = DesignFields("LG-1", title="Dragon lantern", owner="Zigong Lantern Co", locarno_class="26-05")
    design, added = registry.add_images(fields, [image("a"), image("b")], "fp")
    assert (design.design_id, design.owner, design.image_count) == ("LG-1", "Zigong Lantern Co", 2)
    assert len(added) == 2
    ids, designs, vectors = registry.active_embeddings("fp")
    assert ids.tolist() == added and set(designs.tolist()) == {design.pk}
    assert vectors.shape == (2, 4)


def test_same_image_twice_is_stored_once(registry: Registry) -> None:
    registry.add_images(DesignFields("LG-1"), [image("a")], "fp")
    design, added = registry.add_images(DesignFields("LG-1"), [image("a")], "fp")
    assert added == [] and design.image_count == 1


def test_create_only_refuses_an_existing_id_and_changes_nothing(registry: Registry) -> None:
    registry.add_images(DesignFields("LG-1"), [image("a")], "fp")
    generation = registry.generation()
    with pytest.raises(DuplicateDesign, match="LG-1"):
        registry.add_images(DesignFields("LG-1"), [image("b")], "fp", create_only=True)
    assert registry.generation() == generation
    assert registry.design("LG-1").image_count == 1


def test_empty_id_is_refused(registry: Registry) -> None:
    with pytest.raises(InvalidInput):
        registry.add_images(DesignFields("  "), [image("a")], "fp")


def test_failed_transaction_leaves_nothing(registry: Registry) -> None:
    bad = NewImage(sha256="short", width=1, height=1, vector=np.zeros(4, dtype=np.float32))
    with pytest.raises(InvalidInput, match="CHECK constraint"):
        registry.add_images(DesignFields("LG-2"), [image("a"), bad], "fp")
    with pytest.raises(UnknownDesign):
        registry.design("LG-2")


def test_withdrawn_designs_stop_matching_but_stay(registry: Registry) -> None:
    registry.add_images(DesignFields("LG-1"), [image("a")], "fp")
    before = registry.generation()
    assert registry.withdraw("LG-1").withdrawn_at is not None
    assert registry.generation() > before
    assert registry.active_embeddings("fp")[0].size == 0
    assert registry.design("LG-1").image_count == 1


def test_unknown_design_is_named(registry: Registry) -> None:
    with pytest.raises(UnknownDesign, match="nope"):
        registry.withdraw("nope")


def test_embeddings_are_per_fingerprint(registry: Registry) -> None:
    registry.add_images(DesignFields("LG-1"), [image("a")], "fp-one")
    assert registry.active_embeddings("fp-two")[0].size == 0


def test_an_older_home_gains_the_score_parts_of_its_matches(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE inspection_matches (inspection_id INTEGER NOT NULL, rank INTEGER NOT NULL,"
        " design_pk INTEGER NOT NULL, image_id INTEGER NOT NULL, score REAL NOT NULL,"
        " review TEXT NOT NULL DEFAULT 'pending', reviewed_by INTEGER, reviewed_at TEXT,"
        " PRIMARY KEY (inspection_id, rank))"
    )
    old.execute("INSERT INTO inspection_matches VALUES (1, 1, 1, 1, 0.5, 'pending', NULL, NULL)")
    old.commit()
    old.close()
    Database(path).close()
    Database(path).close()
    db = sqlite3.connect(path)
    columns = {row[1] for row in db.execute("PRAGMA table_info(inspection_matches)")}
    assert {"appearance", "keypoints", "rival", "inliers"} <= columns
    assert db.execute("SELECT score, appearance FROM inspection_matches").fetchall() == [(0.5, None)]
