"""Where an inspection's CPU goes, stage by stage, and what that allows at most.

LANTERNGUARD_PRECISION=float32 .venv/bin/python scripts/bench_stages.py --benchmark ../shared/benchmark/dev

On a sample of the dev benchmark (as scripts/bench_speed.py draws it), the engine registers the
sample's views, then inspects the sampled photos one at a time in full (no cascade, as an HTTP
inspection), and each stage's CPU seconds are summed (the calling thread's; for the trunk, whose
runtime has threads of its own, the process's): decoding, SIFT of the photo, the trunk at each
scale (feature maps), appearance and visual-word search, verification (mirrored retries are calls
of their own). The stages of one photo run one after the other. Registered views: decoding, SIFT,
the foreground mask and the trunk, timed apart on the views. Then the ceilings the figures imply on
this machine's cores: the full inspection with perfect overlap, and a cascade that would decide
every photo ending at `no_match` after decoding and the first scale (the most any first pass could
save on this mix).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_speed import cpu_flags, load, sample  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def cpu_seconds() -> float:
    """Return the process's CPU seconds so far (every thread)."""
    times = os.times()
    return times.user + times.system


def timed(stage: str, function: Callable, clock: Callable[[], float] = time.thread_time) -> Callable:
    """Return `function` adding its CPU seconds by `clock` to SPENT[stage] (nested calls are not subtracted).

    The calling thread's CPU time by default (decoding, SIFT, masks, search and verification run on
    one thread each); the process's for the trunk, whose runtime spreads a call over its own threads.
    """

    def run(*args, **kwargs):
        start = clock()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[stage] += clock() - start
            CALLS[stage] += 1

    return run


def instrument() -> None:
    """Wrap the functions the inspection path calls, where it looks them up."""
    import index.pipeline.inspection as inspection
    import index.pipeline.photos as photos
    import model.local as local
    from index.search.live import LiveIndex
    from model.embedder import Embedder

    photos.load_image = timed("decode", photos.load_image)
    photos.extract_local = timed("SIFT (with the mask for views)", photos.extract_local)
    local.foreground_mask = timed("foreground mask", local.foreground_mask)
    inspection.verify = timed("verification (per call; mirrored retries are calls)", inspection.verify)
    LiveIndex.search = timed("appearance search", LiveIndex.search)
    LiveIndex.votes = timed("visual-word votes", LiveIndex.votes)
    original = Embedder.feature_maps

    def per_side(self, images, side):
        return timed(f"trunk at {side} px", original, cpu_seconds)(self, images, side)

    Embedder.feature_maps = per_side


def measure(job: dict) -> tuple[dict[str, float], dict[str, float], dict[str, int], list[str]]:
    """Return per-view stage CPU s, per-photo stage CPU s, calls per photo stage, and the verdicts."""
    from api.settings import engine_settings
    from index.engine import Engine, Inspection
    from index.store.registry import DesignFields
    from model.images import load_image
    from model.local import extract_local

    os.environ["LANTERNGUARD_CASCADE"] = "false"
    designs = [(DesignFields(design_id=d), [Path(p) for p in paths]) for d, paths in job["designs"]]
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as home:
        engine = Engine(engine_settings(home))
        try:
            list(engine.register_many(designs))
            engine.inspect(Path(job["queries"][0][0]))
            config = engine.settings.local
            views = [path for _, paths in designs for path in paths][:200]
            side = max(engine.embedder.config.max_side, config.max_side)
            SPENT.clear()
            CALLS.clear()
            for path in views:
                image = timed("decode", load_image)(path.read_bytes(), max_side=side)
                timed("SIFT (with the mask for views)", extract_local)(image, config, True)
                engine.embedder.describe([image])
            per_view = {stage: spent / len(views) for stage, spent in SPENT.items()}
            SPENT.clear()
            CALLS.clear()
            verdicts = []
            for path, _ in job["queries"]:
                result = engine.inspect(Path(path))
                verdicts.append(result.verdict.value if isinstance(result, Inspection) else "rejected")
        finally:
            engine.close()
    photos = len(job["queries"])
    per_photo = {stage: spent / photos for stage, spent in SPENT.items()}
    calls = {stage: CALLS[stage] / photos for stage in SPENT}
    return per_view, per_photo, calls, verdicts


def rows(per_item: dict[str, float], calls: dict[str, float] | None = None) -> list[str]:
    """Return Markdown rows: stage, CPU ms per item, calls per item, share (the mask lies inside SIFT)."""
    total = sum(v for k, v in per_item.items() if k != "foreground mask")
    lines = []
    for stage, spent in sorted(per_item.items(), key=lambda item: -item[1]):
        count = f"{calls[stage]:.1f}" if calls else "-"
        lines.append(f"| {stage} | {spent * 1000:.1f} | {count} | {spent / total:.0%} |")
    lines.append(f"| **all (the mask counted once)** | **{total * 1000:.1f}** | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, default=ROOT.parent / "shared" / "benchmark" / "dev")
    parser.add_argument("--views", type=int, default=560)
    parser.add_argument("--queries", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    instrument()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"CPU flags: {cpu_flags()}; cores: {os.cpu_count()}; load at start: {load()}; {started}")
    print(f"precision: {os.environ.get('LANTERNGUARD_PRECISION', 'auto')}")
    job = sample(args.benchmark, args.views, args.queries, args.seed)
    per_view, per_photo, calls, verdicts = measure(job)
    print("\nRegistered view (one at a time):\n")
    print("| stage | CPU ms per view | calls | share |\n| --- | --- | --- | --- |")
    print("\n".join(rows(per_view)))
    print("\nInspection in full (one photo at a time):\n")
    print("| stage | CPU ms per photo | calls per photo | share |\n| --- | --- | --- | --- |")
    print("\n".join(rows(per_photo, calls)))
    cores = os.cpu_count() or 1
    full = sum(v for k, v in per_photo.items() if k != "foreground mask")
    first = per_photo.get("decode", 0.0) + min(v for k, v in per_photo.items() if k.startswith("trunk"))
    innocent = sum(v == "no_match" for v in verdicts) / len(verdicts)
    cascaded = (1 - innocent) * full + innocent * first
    print(f"\nPhotos ending at no_match: {innocent:.0%} of {len(verdicts)}.")
    print(f"Ceiling of the full inspection on {cores} cores, perfect overlap: {cores / full:.1f} photos/s.")
    print(
        f"Ceiling with a first pass deciding every no_match photo after decoding and one scale "
        f"({first * 1000:.0f} CPU ms): {cores / cascaded:.1f} photos/s "
        f"({full / cascaded:.2f}x the full inspection)."
    )
    print(f"load at end: {load()}")


if __name__ == "__main__":
    main()
