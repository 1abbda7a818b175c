"""Evidence pictures: side by side, with matched keypoints joined and the located region outlined."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from api import i18n
from api.cli import main
from api.explain import evidence_labels
from index.matching.evidence import (
    INK,
    LINE,
    REGION,
    EvidenceLabels,
    ScoreParts,
    cjk_font_file,
    font,
    render_evidence,
)
from index.matching.verification import verify
from model.local import LocalConfig, extract_local
from tests.conftest import draw_design, save_design


def colour_share(png: bytes, colour: tuple[int, int, int]) -> float:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return float(np.mean(np.all(pixels == colour, axis=1)))


def test_plain_evidence_has_no_match_lines() -> None:
    png = render_evidence(draw_design(1), draw_design(1), 0.91, "D1 · Lantern")
    assert Image.open(io.BytesIO(png)).format == "PNG"
    assert colour_share(png, LINE) == 0.0


def test_verified_evidence_draws_lines_and_region() -> None:
    reference = draw_design(2)
    canvas = Image.new("RGB", (640, 480), (200, 200, 200))
    canvas.paste(reference, (200, 150))
    config = LocalConfig(max_side=640, keypoints=500)
    verification = verify(extract_local(canvas, config), extract_local(reference, config))
    png = render_evidence(canvas, reference, 1.7, "D2", verification)
    assert verification.inliers > 20
    assert colour_share(png, LINE) > 0.001
    assert colour_share(png, REGION) > 0.0005


def test_no_match_evidence_draws_no_keypoint_lines_and_says_the_parts() -> None:
    reference = draw_design(2)
    canvas = Image.new("RGB", (640, 480), (200, 200, 200))
    canvas.paste(reference, (200, 150))
    config = LocalConfig(max_side=640, keypoints=500)
    verification = verify(extract_local(canvas, config), extract_local(reference, config))
    parts = ScoreParts(appearance=0.4, keypoints=0.5, rival=0.8, inliers=verification.inliers)
    assert parts.line().startswith("= appearance 0.400 + keypoints 0.500")
    drawn = render_evidence(canvas, reference, 0.1, "D2", verification, parts, "review")
    withheld = render_evidence(canvas, reference, 0.1, "D2", verification, parts, "no_match")
    assert colour_share(drawn, LINE) > 0.001
    assert colour_share(withheld, LINE) == 0.0 and colour_share(withheld, REGION) == 0.0
    plain = render_evidence(canvas, reference, 0.1, "D2")
    assert colour_share(withheld, INK) > colour_share(plain, INK)
    assert ScoreParts(None, None, None, None).line() == ""


def test_cli_writes_the_evidence_of_the_best_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    for seed in range(3):
        main(["register", "--home", home, str(save_design(tmp_path, seed)), "--design-id", f"D{seed}"])
    photo = tmp_path / "photo.jpg"
    draw_design(1).rotate(8, fillcolor=(0, 0, 0)).save(photo)
    out = tmp_path / "evidence.png"
    assert main(["inspect", "--home", home, str(photo), "--evidence", str(out)]) == 0
    assert Image.open(out).size[0] > 900
    assert colour_share(out.read_bytes(), LINE) > 0.001
    assert "evidence written" in capsys.readouterr().err


def test_the_words_are_english_by_default_and_the_api_gives_them_in_chinese() -> None:
    canvas, reference = draw_design(3), draw_design(3)
    parts = ScoreParts(appearance=0.4, keypoints=0.5, rival=0.8, inliers=12)
    default = render_evidence(canvas, reference, 0.1, "D3 · 灯笼", parts=parts, verdict="no_match")
    try:
        i18n.use("en")
        english = evidence_labels()
        i18n.use("zh_CN")
        chinese = evidence_labels()
    finally:
        i18n.use(i18n.DEFAULT)
    assert english == EvidenceLabels() and chinese.photo == "被检查的照片"
    assert parts.line(chinese).startswith("= 外观 0.400 + 特征点 0.500") and "12 个点" in parts.line(chinese)
    assert render_evidence(
        canvas, reference, 0.1, "D3 · 灯笼", parts=parts, verdict="no_match", labels=english
    ) == (default)
    zh = render_evidence(canvas, reference, 0.1, "D3 · 灯笼", parts=parts, verdict="no_match", labels=chinese)
    assert zh != default and Image.open(io.BytesIO(zh)).size == Image.open(io.BytesIO(default)).size


def test_the_words_are_drawn_in_a_font_that_has_chinese() -> None:
    if shutil.which("fc-list") is None:
        pytest.skip("no fontconfig here (make test installs fonts-noto-cjk)")
    assert cjk_font_file() is not None, "install fonts-noto-cjk (make system-packages)"

    def drawn(text: str) -> bytes:
        image = Image.new("L", (60, 40), 0)
        ImageDraw.Draw(image).text((4, 4), text, font=font(22), fill=255)
        return image.tobytes()

    assert drawn("照") != drawn("片"), "a font without Chinese draws both as the same box"
