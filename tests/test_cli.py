"""The `lanternguard` command line end to end on a tiny generated set, with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from tests.conftest import draw_design, jpeg_bytes, save_design


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """A folder with 4 registered designs, a broken file, and query photos of designs 1 and 3."""
    folder = tmp_path / "data"
    (folder / "refs").mkdir(parents=True)
    (folder / "queries").mkdir()
    rows = ["design_id,image,title,owner"]
    for seed in range(4):
        save_design(folder / "refs", seed)
        rows.append(f"D{seed},refs/design-{seed}.jpg,Lantern {seed},Zigong Lights")
    (folder / "refs" / "broken.jpg").write_bytes(jpeg_bytes(draw_design(9))[:400])
    rows.append("D9,refs/broken.jpg,Broken,Zigong Lights")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    for seed in (1, 3):
        photo = draw_design(seed).resize((280, 210)).rotate(3, expand=False, fillcolor=(128, 128, 128))
        photo.save(folder / "queries" / f"photo-{seed}.jpg", quality=80)
    (folder / "queries" / "notes.txt").write_text("not a photo")
    (folder / "queries" / "empty.jpg").write_bytes(b"")
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_register_inspect_scan(catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    code, out, err = run(capsys, "register", "--home", home, "--manifest", str(catalogue / "manifest.csv"))
    assert code == 0
    assert "registered 4 design(s)" in out and "1 design(s) failed" in out
    assert "design D9" in err and "damaged or truncated" in err

    code, out, _ = run(
        capsys, "inspect", "--home", home, str(catalogue / "queries" / "photo-3.jpg"), "--json"
    )
    line = json.loads(out)
    assert code == 0
    assert set(line) == {"image", "verdict", "matches"}
    assert line["matches"][0]["design_id"] == "D3"
    assert line["verdict"] in ("match", "review", "no_match")

    results = tmp_path / "results.jsonl"
    code, _, err = run(capsys, "scan", "--home", home, str(catalogue / "queries"), "--out", str(results))
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    assert code == 0
    assert [Path(x["image"]).name for x in lines] == ["empty.jpg", "photo-1.jpg", "photo-3.jpg"]
    assert "empty" in lines[0]["error"]
    assert lines[1]["matches"][0]["design_id"] == "D1" and len(lines[1]["matches"]) <= 10
    assert "scanned 3 image(s)" in err and "1 error" in err and "1 non-image file(s) ignored" in err


def test_scan_reads_a_csv_list(catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    run(capsys, "register", "--home", home, str(catalogue / "refs" / "design-1.jpg"), "--design-id", "D1")
    listing = catalogue / "list.csv"
    listing.write_text("image\nqueries/photo-1.jpg\n")
    code, out, _ = run(capsys, "scan", "--home", home, str(listing))
    assert code == 0
    assert json.loads(out)["matches"][0]["design_id"] == "D1"


def test_evaluate_writes_the_contract_keys(
    catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (catalogue / "references.csv").write_text(
        "design_id,image\n" + "".join(f"D{s},refs/design-{s}.jpg\n" for s in range(4))
    )
    (catalogue / "queries.csv").write_text(
        "image,design_id\nqueries/photo-1.jpg,D1\nqueries/photo-3.jpg,D3\nrefs/broken.jpg,\n"
    )
    out_file = tmp_path / "metrics.json"
    code, out, _ = run(
        capsys,
        "evaluate",
        "--references",
        str(catalogue / "references.csv"),
        "--queries",
        str(catalogue / "queries.csv"),
        "--json",
        str(out_file),
    )
    metrics = json.loads(out_file.read_text())
    assert code == 0
    assert {"uAP", "R@1", "R@P90", "thr@P90", "false_match_rate", "images_per_s"} <= set(metrics)
    assert metrics["R@1"] == 1.0 and metrics["uAP"] == 1.0
    assert metrics["errors"] == 1
    assert "uAP" in out


def test_evaluate_split_reports_held_out_verdicts(
    catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (catalogue / "references.csv").write_text(
        "design_id,image\n" + "".join(f"D{s},refs/design-{s}.jpg\n" for s in range(4))
    )
    (catalogue / "queries.csv").write_text(
        "image,design_id\nqueries/photo-1.jpg,D1\nqueries/photo-3.jpg,D3\nrefs/design-0.jpg,\n"
    )
    out_file = tmp_path / "metrics.json"
    refs, queries = str(catalogue / "references.csv"), str(catalogue / "queries.csv")
    argv = ["evaluate", "--references", refs, "--queries", queries, "--json", str(out_file)]
    code, out, _ = run(capsys, *argv, "--calibrate-on", "split")
    metrics = json.loads(out_file.read_text())
    assert code == 0
    assert {"uAP", "R@1", "R@P90", "thr@P90", "false_match_rate", "images_per_s"} <= set(metrics)
    held = metrics["transfer"]["held_out"]
    assert set(held) == {"match", "review"}
    assert {"precision", "recall", "unregistered_share", "selected"} == set(held["review"])
    assert [f["fitted_on_designs"] for f in metrics["transfer"]["folds"]] == [1, 1]
    assert set(metrics["verdicts"]) == {"match", "review"}
    assert metrics["candidate_recall"] == 1.0
    assert "held-out" in out


def test_evaluate_split_needs_two_designs(catalogue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (catalogue / "references.csv").write_text("design_id,image\nD1,refs/design-1.jpg\n")
    (catalogue / "queries.csv").write_text("image,design_id\nqueries/photo-1.jpg,D1\n")
    refs, queries = str(catalogue / "references.csv"), str(catalogue / "queries.csv")
    argv = ["evaluate", "--references", refs, "--queries", queries, "--calibrate-on", "split"]
    code, _, err = run(capsys, *argv)
    assert code == 3
    assert "at least two designs" in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["register", "--design-id", "X"], 3, "give IMAGE"),
        (["register", "--manifest", "/nonexistent.csv"], 3, "no such file"),
        (["scan", "/nonexistent-folder"], 3, "no such file or folder"),
    ],
)
def test_bad_arguments_exit_with_a_message(
    argv: list[str], code: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code, _, err = run(capsys, *argv[:1], "--home", str(tmp_path / "h"), *argv[1:])
    assert exit_code == code
    assert message in err


def test_inspect_on_an_empty_home_says_what_to_do(
    catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "inspect", "--home", str(tmp_path / "h"), str(catalogue / "refs" / "design-0.jpg")
    )
    assert code == 7
    assert "register designs" in err
