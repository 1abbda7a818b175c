"""Robustness report: how often edited copies of registered designs still reach a `match` verdict.

python scripts/robustness.py --benchmark ../shared/benchmark/dev --designs 40 \
    --out docs/robustness.md --plot docs/robustness.png

Every reference of the benchmark is registered (so the registry has its real size and regime);
`--designs` of them are edited by each transform below and inspected. Reported per transform:
recall at the match threshold (verdict `match` and the right design first), R@1, and candidate
recall (the right design among the candidates verified, whatever their order), so that a design
the candidate stage never found is told apart from one found but ranked low. The thresholds are
the engine's own (its self-calibration once whitened), which the report names.

The "small in clutter" rows are the hard case of issue 11: the registered view perspective-warped
(corners moved up to 18 %), relit (brightness 0.6-1.4, contrast 0.7-1.2, colour 0.6-1.2) and
pasted so that it spans the named share of the photo's side, into one of `--backgrounds`
unregistered photos of the benchmark (read at run time; shelves, crates and stalls of fruit and
vegetables on dev). `--only small` runs only those rows; `--local-candidates 0` turns the
local-feature candidate path off (index.search.words), to compare.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from api.progress import Progress
from index.batch.inputs import read_manifest
from index.engine import Engine, EngineSettings, Inspection
from index.matching.verdict import Verdict
from index.pipeline.settings import SELF_CALIBRATION_MODES
from model.images import load_image

DEFAULT_LOCAL = EngineSettings(Path()).local_candidates
Transform = Callable[[Image.Image, random.Random, list[Image.Image]], Image.Image]


def crop(share: float) -> Transform:
    def apply(image: Image.Image, rng: random.Random, _: list[Image.Image]) -> Image.Image:
        keep = (1 - share) ** 0.5
        w, h = round(image.width * keep), round(image.height * keep)
        x, y = rng.randrange(image.width - w + 1), rng.randrange(image.height - h + 1)
        return image.crop((x, y, x + w, y + h))

    return apply


def quad(size: tuple[int, int], rng: random.Random) -> list[float]:
    """Return a perspective warp's source quadrilateral: each corner moved inwards up to 18 %."""
    w, h = size
    d = 0.18
    corners = [
        (rng.uniform(0, d) * w, rng.uniform(0, d) * h),
        (rng.uniform(0, d) * w, h - rng.uniform(0, d) * h),
        (w - rng.uniform(0, d) * w, h - rng.uniform(0, d) * h),
        (w - rng.uniform(0, d) * w, rng.uniform(0, d) * h),
    ]
    return [c for p in corners for c in p]


def perspective(image: Image.Image, rng: random.Random, _: list[Image.Image]) -> Image.Image:
    return image.transform(image.size, Image.Transform.QUAD, quad(image.size, rng), Image.Resampling.BILINEAR)


def paste(area: float) -> Transform:
    def apply(image: Image.Image, rng: random.Random, backgrounds: list[Image.Image]) -> Image.Image:
        canvas = rng.choice(backgrounds).copy()
        scale = (area * canvas.width * canvas.height / (image.width * image.height)) ** 0.5
        item = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        item = item.crop((0, 0, min(item.width, canvas.width), min(item.height, canvas.height)))
        canvas.paste(
            item,
            (rng.randrange(canvas.width - item.width + 1), rng.randrange(canvas.height - item.height + 1)),
        )
        return canvas

    return apply


def relight(image: Image.Image, rng: random.Random) -> Image.Image:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.6, 1.4))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.2))
    return ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.2))


def small_in_clutter(side: float) -> Transform:
    """Warp and relight the view, then paste it spanning `side` of a background photo's side."""

    def apply(image: Image.Image, rng: random.Random, backgrounds: list[Image.Image]) -> Image.Image:
        canvas = rng.choice(backgrounds).copy()
        corners = quad(image.size, rng)
        item = relight(image, rng).transform(
            image.size, Image.Transform.QUAD, corners, Image.Resampling.BILINEAR
        )
        mask = Image.new("L", image.size, 255).transform(image.size, Image.Transform.QUAD, corners)
        scale = side * min(canvas.width / item.width, canvas.height / item.height)
        size = (max(1, round(item.width * scale)), max(1, round(item.height * scale)))
        item, mask = item.resize(size), mask.resize(size)
        at = (rng.randrange(canvas.width - size[0] + 1), rng.randrange(canvas.height - size[1] + 1))
        canvas.paste(item, at, mask)
        return canvas

    return apply


def jpeg(quality: int) -> Transform:
    def apply(image: Image.Image, _: random.Random, __: list[Image.Image]) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return apply


def text_overlay(image: Image.Image, rng: random.Random, _: list[Image.Image]) -> Image.Image:
    edited = image.copy()
    draw = ImageDraw.Draw(edited)
    font = ImageFont.load_default(size=max(12, image.height // 10))
    for line in range(3):
        draw.text(
            (rng.randrange(max(1, image.width // 3)), (line + 1) * image.height // 5),
            "SALE -50% ORIGINAL",
            font=font,
            fill=(255, 0, 0),
        )
    return edited


TRANSFORMS: dict[str, Transform] = {
    "none": lambda image, _, __: image,
    "crop 10%": crop(0.10),
    "crop 30%": crop(0.30),
    "crop 50%": crop(0.50),
    "rotate 10°": lambda image, _, __: image.rotate(10, expand=True, fillcolor=(255, 255, 255)),
    "rotate 90°": lambda image, _, __: image.transpose(Image.Transpose.ROTATE_90),
    "mirror": lambda image, _, __: image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "perspective": perspective,
    "scale 50%": lambda image, _, __: image.resize((max(1, image.width // 2), max(1, image.height // 2))),
    "blur r=2": lambda image, _, __: image.filter(ImageFilter.GaussianBlur(2)),
    "JPEG q=15": jpeg(15),
    "brightness x1.6": lambda image, _, __: ImageEnhance.Brightness(image).enhance(1.6),
    "colour x0.2, contrast x0.6": lambda image, _, __: ImageEnhance.Contrast(
        ImageEnhance.Color(image).enhance(0.2)
    ).enhance(0.6),
    "pasted at 60% area": paste(0.60),
    "pasted at 40% area": paste(0.40),
    "pasted at 20% area": paste(0.20),
    "text overlay": text_overlay,
    "small in clutter, 20% of the side": small_in_clutter(0.20),
    "small in clutter, 30% of the side": small_in_clutter(0.30),
    "small in clutter, 45% of the side": small_in_clutter(0.45),
}


def encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def plot(rows: list[tuple[str, float, float, float]], path: Path) -> None:
    """Draw a horizontal bar chart of recall at the match threshold per transform (PNG)."""
    bar_w, label_w, row_h = 420, 230, 26
    canvas = Image.new("RGB", (label_w + bar_w + 80, 50 + row_h * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=14)
    draw.text(
        (10, 12), "Recall at the match threshold, per edit of the registered image", font=font, fill="black"
    )
    for i, (name, recall, _, _) in enumerate(rows):
        y = 44 + i * row_h
        draw.text((10, y + 4), name, font=font, fill="black")
        draw.rectangle([label_w, y + 3, label_w + bar_w * recall, y + row_h - 5], fill=(37, 99, 235))
        draw.text((label_w + bar_w * recall + 6, y + 4), f"{recall:.2f}", font=font, fill="black")
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, required=True)
    parser.add_argument("--designs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("docs/robustness.md"))
    parser.add_argument("--plot", type=Path, default=Path("docs/robustness.png"))
    parser.add_argument(
        "--self-calibration",
        choices=SELF_CALIBRATION_MODES,
        default=EngineSettings(Path()).self_calibration,
        help="the engine's mode (default: the engine's)",
    )
    parser.add_argument("--backgrounds", type=int, default=20, help="unregistered photos to paste into")
    parser.add_argument("--only", default="", help="run only the transforms whose name contains this")
    parser.add_argument("--local-candidates", type=int, default=DEFAULT_LOCAL)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    designs = read_manifest(args.benchmark / "references.csv")
    with (args.benchmark / "queries.csv").open(newline="") as handle:
        unregistered = [args.benchmark / r["image"] for r in csv.DictReader(handle) if not r["design_id"]]
    backgrounds = [load_image(p) for p in rng.sample(unregistered, args.backgrounds)]
    chosen = rng.sample(designs, args.designs)
    rows: list[tuple[str, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="lanternguard-robustness-") as home:
        settings = EngineSettings(
            home=Path(home), self_calibration=args.self_calibration, local_candidates=args.local_candidates
        )
        engine = Engine(settings)
        try:
            bar = Progress("register", sum(len(p) for _, p in designs))
            for _ in engine.register_many(designs, progress=bar.update):
                pass
            transforms = {name: t for name, t in TRANSFORMS.items() if args.only in name}
            bar = Progress("inspect", len(transforms) * len(chosen))
            for name, transform in transforms.items():
                photos = [encode(transform(load_image(paths[0]), rng, backgrounds)) for _, paths in chosen]
                results = engine.inspect_many(photos)
                bar.update(len(photos))
                hits = [
                    isinstance(r, Inspection)
                    and bool(r.matches)
                    and r.matches[0].design.design_id == f.design_id
                    for r, (f, _) in zip(results, chosen, strict=True)
                ]
                matched = [
                    hit and isinstance(r, Inspection) and r.verdict == Verdict.MATCH
                    for hit, r in zip(hits, results, strict=True)
                ]
                found = [
                    isinstance(r, Inspection) and any(m.design.design_id == f.design_id for m in r.matches)
                    for r, (f, _) in zip(results, chosen, strict=True)
                ]
                n = len(chosen)
                rows.append((name, sum(matched) / n, sum(hits) / n, sum(found) / n))
            thresholds = f"{engine.thresholds} ({engine.thresholds_source()})"
        finally:
            engine.close()
    lines = [
        "# Robustness of matching to edits of the registered image",
        "",
        f"{args.designs} registered designs of `{args.benchmark}`"
        f" (all {len(designs)} references registered),",
        "each edited as named and inspected; measured with",
        "",
        "    python scripts/robustness.py --benchmark ../shared/benchmark/dev"
        f" --designs {args.designs} --seed {args.seed} --self-calibration {args.self_calibration}"
        f" --backgrounds {args.backgrounds}"
        + (f" --only {args.only!r}" if args.only else "")
        + (
            f" --local-candidates {args.local_candidates}"
            if args.local_candidates != settings.local_candidates
            else ""
        ),
        "",
        f"Verdict thresholds: {thresholds}.",
        "",
        f"![recall per transform]({args.plot.name})",
        "",
        "| transform | recall at `match` | R@1 | candidate recall |",
        "| --- | --- | --- | --- |",
        *[f"| {name} | {recall:.3f} | {r1:.3f} | {found:.3f} |" for name, recall, r1, found in rows],
    ]
    args.out.write_text("\n".join(lines) + "\n")
    plot(rows, args.plot)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
