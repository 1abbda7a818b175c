"""Registration in batches: one durable commit per batch, and a refused design changes nothing."""

from __future__ import annotations

from pathlib import Path

from index.engine import Engine, Registration, RegistrationFailed
from index.errors import DuplicateDesign
from index.store.files import write_many_atomic
from index.store.registry import DesignFields
from tests.conftest import draw_design, jpeg_bytes


def test_batch_with_a_duplicate_stores_the_others_and_nothing_of_it(engine: Engine) -> None:
    engine.register(DesignFields("taken"), [jpeg_bytes(draw_design(1))])
    items = [
        (DesignFields("first"), [jpeg_bytes(draw_design(2))]),
        (DesignFields("taken"), [jpeg_bytes(draw_design(3))]),
        (DesignFields("second"), [jpeg_bytes(draw_design(4)), jpeg_bytes(draw_design(5))]),
    ]
    results = {
        r.design_id if isinstance(r, RegistrationFailed) else r.design.design_id: r
        for r in engine.register_many(items, create_only=True, batch_images=8)
    }
    assert isinstance(results["taken"], RegistrationFailed)
    assert isinstance(results["taken"].error, DuplicateDesign)
    assert isinstance(results["first"], Registration) and len(results["first"].added) == 1
    assert isinstance(results["second"], Registration) and len(results["second"].added) == 2
    assert engine.registry.design("taken").image_count == 1
    assert engine.index_size == 4
    best = engine.inspect(jpeg_bytes(draw_design(4)))
    assert best.matches[0].design.design_id == "second"


def test_batches_read_ahead_give_one_result_per_design(engine: Engine) -> None:
    items = [(DesignFields(f"d{seed}"), [jpeg_bytes(draw_design(seed))]) for seed in range(7)]
    results = list(engine.register_many(items, batch_images=2))
    assert sorted(r.design.design_id for r in results if isinstance(r, Registration)) == [
        f"d{seed}" for seed in range(7)
    ]
    assert engine.index_size == 7
    features = list((engine.settings.home / "features").rglob("*.npz"))
    assert len(features) == 7


def test_write_many_atomic_leaves_whole_files_and_no_temporaries(tmp_path: Path) -> None:
    items = [(tmp_path / "store" / f"{i:02d}" / f"blob-{i}", bytes([i]) * (1000 + i)) for i in range(5)]
    write_many_atomic(tmp_path / "store", items)
    for path, data in items:
        assert path.read_bytes() == data
    assert not [p for p in (tmp_path / "store").rglob(".*") if p.is_file()]
    write_many_atomic(tmp_path / "store", [])
