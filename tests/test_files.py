"""Durable writes: new folders are recorded in their parents, files replace atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.store import files


def test_new_folders_and_the_file_are_made_durable_in_their_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real = files.fsync_folder
    monkeypatch.setattr(files, "fsync_folder", lambda folder: (synced.append(folder), real(folder)))
    target = tmp_path / "a" / "b" / "c.bin"
    files.write_bytes_atomic(target, b"first")
    assert synced == [tmp_path, tmp_path / "a", tmp_path / "a" / "b"]
    synced.clear()
    files.write_bytes_atomic(target, b"second")
    assert synced == [tmp_path / "a" / "b"]
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["c.bin"]
