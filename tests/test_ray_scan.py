"""Ray scans on a local Ray instance give the local scan's lines, in the same order, errors included."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from index.batch.inputs import collect_scan_inputs
from index.batch.ray_scan import RayScanOptions, scan_on_ray
from index.batch.reports import scan_line
from index.engine import Engine, EngineSettings
from index.store.registry import DesignFields
from tests.conftest import draw_design, jpeg_bytes, save_design

ray = pytest.importorskip("ray", reason="the cluster extra is not installed (pip install '.[cluster]')")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray instance with two CPUs, as in CI."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def photos(folder: Path) -> list[Path]:
    """Write photos of designs 0 and 2, an unregistered design and a broken file; return the scan inputs."""
    folder.mkdir()
    for seed in (0, 2, 7):
        photo = draw_design(seed).resize((280, 210)).rotate(3, fillcolor=(128, 128, 128))
        photo.save(folder / f"photo-{seed}.jpg", quality=80)
    (folder / "photo-9-broken.jpg").write_bytes(jpeg_bytes(draw_design(9))[:300])
    return collect_scan_inputs([folder]).images


def assert_same_lines(local: list[dict[str, Any]], remote: list[dict[str, Any]]) -> None:
    """Same images, verdicts, designs and errors in the same order; scores equal to 1e-3."""
    assert [line["image"] for line in remote] == [line["image"] for line in local]
    for mine, theirs in zip(local, remote, strict=True):
        assert (theirs["verdict"], theirs.get("error")) == (mine["verdict"], mine.get("error"))
        assert [m["design_id"] for m in theirs["matches"]] == [m["design_id"] for m in mine["matches"]]
        for a, b in zip(theirs["matches"], mine["matches"], strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-3)


def test_ray_scan_gives_the_local_lines_in_order(
    local_ray: None, engine: Engine, settings: EngineSettings, tmp_path: Path
) -> None:
    for seed in range(3):
        engine.register(DesignFields(design_id=f"D{seed}"), [save_design(tmp_path, seed)])
    images = photos(tmp_path / "scan")
    local = [scan_line(result) for result in engine.inspect_many(images)]
    remote = list(scan_on_ray(images, settings, RayScanOptions(batch=1, actors=2)))
    assert_same_lines(local, remote)
    assert local[0]["matches"][0]["design_id"] == "D0" and local[-1]["error"]


def test_cli_scan_with_ray_writes_the_local_results_file(
    local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    rows = [f"D{seed},{save_design(tmp_path, seed).name}" for seed in range(3)]
    (tmp_path / "manifest.csv").write_text("design_id,image\n" + "\n".join(rows) + "\n")
    assert main(["register", "--home", home, "--manifest", str(tmp_path / "manifest.csv")]) == 0
    folder = tmp_path / "scan"
    photos(folder)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["scan", "--home", home, str(folder), "--out", str(local)]) == 0
    assert main(["scan", "--home", home, str(folder), "--ray", "auto", "--out", str(remote)]) == 0
    read = [[json.loads(x) for x in p.read_text().splitlines()] for p in (local, remote)]
    assert_same_lines(*read)
    assert "scanned 4 image(s) on Ray (auto)" in capsys.readouterr().err
