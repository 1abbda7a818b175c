"""Evidence pictures: the inspected photo and the registered design's view side by side, with the score.

The words drawn are English unless the caller passes an `EvidenceLabels` (the api passes them in the
reader's language); they are drawn in a font that covers Chinese, found once through fontconfig.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from index.matching.verification import Verification
from index.store.registry import DesignRecord

PANEL = (480, 360)
"""Largest size of each picture in the evidence (width, height); pictures keep their aspect ratio."""

MARGIN = 16
HEADER = 64
FOOTER = 36
BACKGROUND = (255, 255, 255)
INK = (31, 41, 55)
BAND = (30, 58, 95)
LINE = (16, 185, 129)
REGION = (245, 158, 11)
MAX_LINES = 60
CJK_FAMILY = "Noto Sans CJK SC"
"""The face preferred for the words (Debian `fonts-noto-cjk`); any other face covering Chinese will do."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvidenceLabels:
    """The words of an evidence picture, as format strings (`{name}` fields); English by default."""

    score: str = "Score {score}"
    points: str = "{count} matching points"
    mirrored: str = "(mirrored)"
    photo: str = "Inspected photo"
    design: str = "Registered design"
    breakdown: str = "= appearance {appearance} + keypoints {keypoints}{points} - best other design {rival}"
    breakdown_points: str = " ({count} points)"
    no_match: str = "verdict no_match: no agreeing points drawn"


ENGLISH = EvidenceLabels()


@dataclass(frozen=True)
class ScoreParts:
    """Where a match's score came from: score = appearance + keypoints - rival.

    `appearance` is the CNN cosine of photo and view; `keypoints` the part from the `inliers` photo
    keypoints that agree geometrically with the view; `rival` the same sum of the best other
    registered design, subtracted. None where it was not recorded (inspections stored before).
    """

    appearance: float | None
    keypoints: float | None
    rival: float | None
    inliers: int | None

    def line(self, labels: EvidenceLabels = ENGLISH) -> str:
        """Return the breakdown as one line of text, or "" when it was not recorded."""
        if self.appearance is None or self.keypoints is None or self.rival is None:
            return ""
        points = labels.breakdown_points.format(count=self.inliers) if self.inliers is not None else ""
        return labels.breakdown.format(
            appearance=f"{self.appearance:.3f}",
            keypoints=f"{self.keypoints:.3f}",
            points=points,
            rival=f"{self.rival:.3f}",
        )


@cache
def cjk_font_file() -> tuple[str, int] | None:
    """Return (file, face index) of a regular font that covers simplified Chinese, `CJK_FAMILY` first,
    as fontconfig lists them (the fonts WeasyPrint's case files use too); None, with a warning, when
    there is none."""
    found = _listed_cjk_font()
    if found is None:
        logger.warning("no font covers Chinese (install fonts-noto-cjk): Chinese on evidence shows as boxes")
    return found


def _listed_cjk_font() -> tuple[str, int] | None:
    if shutil.which("fc-list") is None:
        return None
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh-cn", "-f", "%{family[0]}|%{style[0]}|%{index}|%{file}\n"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    faces = [line.split("|", 3) for line in listed.splitlines() if line.count("|") >= 3]
    faces = [f for f in faces if f[2].isdigit()]
    if not faces:
        return None
    _, _, index, path = min(faces, key=lambda f: (f[0] != CJK_FAMILY, f[1] != "Regular", f[0], f[3]))
    return path, int(index)


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Return the font of the words at `size` pixels: one that covers Chinese, else Pillow's own
    (which draws Chinese as boxes)."""
    found = cjk_font_file()
    if found is not None:
        try:
            return ImageFont.truetype(found[0], size, index=found[1])
        except OSError:
            logger.warning("the font %s cannot be loaded", found[0])
    return ImageFont.load_default(size=size)


def design_caption(design: DesignRecord) -> str:
    """Return the caption naming a design in evidence: id · title · owner."""
    return " · ".join(x for x in (design.design_id, design.title, design.owner) if x)


def _fit(image: Image.Image) -> Image.Image:
    return ImageOps.contain(image.convert("RGB"), PANEL, Image.Resampling.LANCZOS)


def _photo_points(points: np.ndarray, verification: Verification, photo_width: int) -> np.ndarray:
    if verification.mirrored:
        points = points.copy()
        points[:, 0] = photo_width - points[:, 0]
    return points


def _located_region(
    verification: Verification, reference: Image.Image, photo_width: int
) -> np.ndarray | None:
    """Return the reference view's outline mapped into the photo (4 corners), or None."""
    if verification.homography is None:
        return None
    w, h = reference.size
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=np.float64).T
    mapped = verification.homography @ corners
    if np.any(np.abs(mapped[2]) < 1e-9):
        return None
    return _photo_points((mapped[:2] / mapped[2]).T.astype(np.float32), verification, photo_width)


def render_evidence(
    photo: Image.Image,
    reference: Image.Image,
    score: float,
    caption: str = "",
    verification: Verification | None = None,
    parts: ScoreParts | None = None,
    verdict: str | None = None,
    labels: EvidenceLabels = ENGLISH,
) -> bytes:
    """Return a PNG with the photo (left) and the reference view (right) at equal height, the score
    and an optional caption (design id, title, owner) above them. With a `verification`, matched
    keypoints are joined by lines, the located region is outlined in the photo and the inlier
    count is printed; with `parts`, the footer says which part of the score came from appearance
    and which from verified keypoints. For a `no_match` verdict no keypoint lines or outline are
    drawn: the picture shows what was compared, not agreement that the verdict did not find. The
    words are `labels` (English by default)."""
    if verdict == "no_match":
        verification = None
    left, right = _fit(photo), _fit(reference)
    height = max(left.height, right.height)
    width = MARGIN * 3 + PANEL[0] * 2
    canvas = Image.new("RGB", (width, HEADER + height + FOOTER + MARGIN), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([0, 0, width, HEADER - MARGIN // 2], fill=BAND)
    title, small = font(22), font(15)
    headline = labels.score.format(score=f"{score:.3f}")
    if verification is not None:
        headline += " · " + labels.points.format(count=verification.inliers)
        headline += (" " + labels.mirrored) if verification.mirrored else ""
    draw.text((MARGIN, 10), headline, font=title, fill=(255, 255, 255))
    room = width - MARGIN * 2 - 280
    while caption and draw.textlength(caption, font=small) > room:
        caption = caption[:-2] + "…"
    if caption:
        draw.text(
            (width - MARGIN - draw.textlength(caption, font=small), 18),
            caption,
            font=small,
            fill=(219, 234, 254),
        )
    origins = []
    for column, (picture, label) in enumerate(((left, labels.photo), (right, labels.design))):
        x0 = MARGIN + column * (PANEL[0] + MARGIN)
        x = x0 + (PANEL[0] - picture.width) // 2
        y = HEADER + (height - picture.height) // 2
        origins.append((x, y))
        canvas.paste(picture, (x, y))
        draw.rectangle([x - 1, y - 1, x + picture.width, y + picture.height], outline=(203, 213, 225))
        text_width = draw.textlength(label, font=small)
        draw.text((x0 + (PANEL[0] - text_width) / 2, HEADER + height + 10), label, font=small, fill=INK)
    breakdown = parts.line(labels) if parts is not None else ""
    if verdict == "no_match":
        breakdown = (breakdown + " · " if breakdown else "") + labels.no_match
    if breakdown:
        draw.text((MARGIN, HEADER + height + 10 + FOOTER // 2), breakdown, font=small, fill=INK)
    if verification is not None and verification.inliers:
        _outline_region(canvas, verification, photo, reference, left, origins[0])
        _draw_matches(draw, verification, photo, reference, (left, right), origins)
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def _outline_region(
    canvas: Image.Image,
    verification: Verification,
    photo: Image.Image,
    reference: Image.Image,
    panel: Image.Image,
    origin: tuple[int, int],
) -> None:
    """Outline where the reference view lies in the photo, clipped to the photo's panel."""
    region = _located_region(verification, reference, photo.width)
    if region is None:
        return
    scale = panel.width / photo.width
    layer = Image.new("RGBA", panel.size, (0, 0, 0, 0))
    outline = [(x * scale, y * scale) for x, y in region]
    ImageDraw.Draw(layer).line([*outline, outline[0]], fill=(*REGION, 255), width=3)
    canvas.paste(layer, origin, layer)


def _draw_matches(
    draw: ImageDraw.ImageDraw,
    verification: Verification,
    photo: Image.Image,
    reference: Image.Image,
    panels: tuple[Image.Image, Image.Image],
    origins: list[tuple[int, int]],
) -> None:
    photo_scale = panels[0].width / photo.width
    reference_scale = panels[1].width / reference.width
    (px, py), (rx, ry) = origins
    photo_points = _photo_points(verification.query_points, verification, photo.width)
    step = max(1, len(photo_points) // MAX_LINES)
    for (qx, qy), (sx, sy) in list(zip(photo_points, verification.reference_points, strict=True))[::step]:
        start = (px + qx * photo_scale, py + qy * photo_scale)
        end = (rx + sx * reference_scale, ry + sy * reference_scale)
        draw.line([start, end], fill=LINE, width=1)
        for cx, cy in (start, end):
            draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], outline=LINE, width=2)
