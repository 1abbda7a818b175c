"""Self-calibration: the verdict thresholds derived from the registry the engine serves.

A threshold fitted on one benchmark says little about another registry (its size, its whitening,
its kind of images move the scores). So when whitening is (re)learned the engine makes inspection
photos from its own registered views and picks the thresholds that reach the stated precisions on
them:

- positives: one view of each sampled design, edited as an inspector's photo would show it (crop,
  perspective, mirror, relight, pasted at several sizes into a cluttered background, blur, JPEG);
  right when the design comes out first;
- negatives, made without any benchmark image: (1) the same photos with their own design left out
  ("leave one out": the photo then shows a design that is not registered, and the registry's other
  designs are its look-alikes), (2) mosaics of small shuffled tiles of several designs' views
  (the registry's textures and colours, none of its designs).

What it measures is precision on these photos, an estimate: docs/matching.md reports how it
transfers to real photos.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from index.matching.precision import Targets, fit_thresholds
from index.matching.verdict import Thresholds
from index.pipeline.inspection import Inspection, Match

PHOTO_SIDE = 640
TILE = 40
NEGATIVE_SOURCES = (
    "leave-one-out photos of the registry's own views (their design removed from the results) and "
    "mosaics of shuffled tiles of its views; no benchmark image"
)


@dataclass(frozen=True)
class SelfCalibration:
    """Thresholds fitted on synthetic inspection photos of the registry, with what they reached there.

    `match_precision` / `review_precision` (review meaning review or match) and the recalls are
    measured on the same photos (positives: `positives`, negatives: `negatives`), `designs` were
    sampled, `whitening_samples` names the whitening they belong to, `seconds` what it took.
    `unregistered_target`: the most share of negatives allowed at `review` (None: no such
    target, as in calibrations stored before it existed).
    """

    match: float
    review: float
    match_target: float
    review_target: float
    match_precision: float | None
    match_recall: float
    review_precision: float | None
    review_recall: float
    negatives_at_review: float
    positives: int
    negatives: int
    designs: int
    whitening_samples: int
    seconds: float
    built_at: str
    negatives_from: str = NEGATIVE_SOURCES
    unregistered_target: float | None = None

    def thresholds(self) -> Thresholds:
        """Return the fitted thresholds."""
        return Thresholds(match=self.match, review=self.review)

    def to_json(self) -> dict:
        """Return a JSON-ready object (stored in the index sidecar)."""
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict) -> SelfCalibration:
        """Return the calibration of a stored object, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})


def _perspective(image: Image.Image, rng: random.Random, strength: float) -> Image.Image:
    w, h = image.size
    source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = np.float32(
        [[rng.uniform(-1, 1) * strength * w, rng.uniform(-1, 1) * strength * h] for _ in range(4)]
    )
    matrix = cv2.getPerspectiveTransform(source, source + jitter)
    warped = cv2.warpPerspective(np.asarray(image), matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(warped)


def mosaic(views: Sequence[Image.Image], rng: random.Random, side: int = PHOTO_SIDE) -> Image.Image:
    """Return a photo of shuffled, turned tiles of several views: their textures, none of them whole."""
    canvas = Image.new("RGB", (side, side))
    squares = [v.convert("RGB").resize((side, side)) for v in views]
    cells = [(x, y) for y in range(0, side, TILE) for x in range(0, side, TILE)]
    for x, y in cells:
        sx, sy = rng.choice(cells)
        tile = rng.choice(squares).crop((sx, sy, sx + TILE, sy + TILE))
        canvas.paste(tile.rotate(90 * rng.randrange(4)), (x, y))
    return canvas


def inspection_photo(view: Image.Image, background: Image.Image, rng: random.Random) -> bytes:
    """Return JPEG bytes of a view edited as a photo of the goods: cropped, warped, relit, maybe
    mirrored, pasted at a random size (a fifth to nine tenths of the side) into `background`."""
    image = view.convert("RGB")
    w, h = image.size
    c = [rng.uniform(0, 0.15) for _ in range(4)]
    image = image.crop((int(c[0] * w), int(c[1] * h), int(w - c[2] * w), int(h - c[3] * h)))
    image = _perspective(image, rng, 0.08)
    if rng.random() < 0.15:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.6, 1.4))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.2))
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.2))
    if rng.random() < 0.7:
        fraction = rng.choice([0.2, 0.35, 0.5, 0.7, 0.9])
        canvas = background.convert("RGB").resize((PHOTO_SIDE, PHOTO_SIDE * 3 // 4))
        scale = fraction * canvas.width / max(image.size)
        image = image.resize((max(8, int(image.width * scale)), max(8, int(image.height * scale))))
        left = rng.randrange(0, max(1, canvas.width - image.width))
        top = rng.randrange(0, max(1, canvas.height - image.height))
        canvas.paste(image, (left, top))
        image = canvas
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.5)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=rng.randint(35, 90))
    return out.getvalue()


def _without(matches: list[Match], design_pk: int) -> float | None:
    """Return the best score of the matches once `design_pk` is left out (its rival recomputed)."""
    fused = [m.appearance + m.keypoints for m in matches if m.design.pk != design_pk]
    if not fused:
        return None
    ordered = sorted(fused, reverse=True)
    return ordered[0] - (ordered[1] if len(ordered) > 1 else 0.0)


def _figures(
    scores: np.ndarray, right: np.ndarray, negative: np.ndarray, threshold: float
) -> tuple[float | None, float, float]:
    chosen = scores >= threshold
    precision = float(right[chosen].mean()) if chosen.any() else None
    positives = int((~negative).sum())
    recall = float((chosen & right).sum() / positives) if positives else 0.0
    negatives = int(negative.sum())
    share = float((chosen & negative).sum() / negatives) if negatives else 0.0
    return precision, recall, share


def self_calibrate(
    views: Sequence[tuple[int, Image.Image]],
    inspect: Callable[[list[bytes]], list[Inspection | None]],
    targets: Targets,
    whitening_samples: int,
    seed: int = 0,
) -> SelfCalibration:
    """Fit match/review thresholds for `targets` on synthetic photos of `views` (negatives: see below).

    `views` holds one (design key, image) per sampled design; `inspect` runs the engine's
    inspection (None for a photo it could not read). Raises ValueError with fewer than 2 views.
    """
    if len(views) < 2:
        raise ValueError("self-calibration needs views of at least two designs")
    start = time.perf_counter()
    rng = random.Random(seed)
    images = [image for _, image in views]
    photos = [inspection_photo(image, mosaic(rng.sample(images, 2), rng), rng) for image in images]
    mosaics = [mosaic(rng.sample(images, min(4, len(images))), rng) for _ in range(max(1, len(views) // 2))]
    encoded = []
    for picture in mosaics:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=80)
        encoded.append(out.getvalue())
    results = inspect(photos + encoded)
    scores, right, negative = [], [], []
    for (design_pk, _), result in zip(views, results[: len(photos)], strict=True):
        if result is None or not result.matches:
            continue
        scores.append(result.matches[0].score)
        right.append(result.matches[0].design.pk == design_pk)
        negative.append(False)
        left_out = _without(result.matches, design_pk)
        if left_out is not None:
            scores.append(left_out), right.append(False), negative.append(True)
    for result in results[len(photos) :]:
        if result is not None and result.matches:
            scores.append(result.matches[0].score), right.append(False), negative.append(True)
    s, r, n = np.asarray(scores), np.asarray(right, dtype=bool), np.asarray(negative, dtype=bool)
    fitted = fit_thresholds(s, r, n, targets)
    match, review = fitted.match, fitted.review
    match_figures = _figures(s, r, n, match)
    review_figures = _figures(s, r, n, review)
    return SelfCalibration(
        match=match,
        review=review,
        match_target=targets.match,
        review_target=targets.review,
        unregistered_target=targets.unregistered,
        match_precision=match_figures[0],
        match_recall=match_figures[1],
        review_precision=review_figures[0],
        review_recall=review_figures[1],
        negatives_at_review=review_figures[2],
        positives=int((~n).sum()),
        negatives=int(n.sum()),
        designs=len(views),
        whitening_samples=whitening_samples,
        seconds=round(time.perf_counter() - start, 1),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
