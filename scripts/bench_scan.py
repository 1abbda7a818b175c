"""Scan throughput: the Engine's batched pipeline (as `lanternguard scan`) against per-image loops.

nice -n 10 .venv/bin/python scripts/bench_scan.py --images ../shared/benchmark/dev/images --count 96

In one process, on the same photos and the same model, one after the other (then again in reverse
order with `--rounds 2`): a plain loop (full decode, the global descriptor of one image, search), the
Engine's whole inspection one image per call, and the Engine in batches as `lanternguard scan` runs
it. Prints images/s and CPU utilisation (CPU seconds / wall seconds / cores) as a Markdown table.
The registry is a temporary home with `--references` other photos, each its own design.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.cli import SCAN_BATCH
from api.settings import engine_settings
from index.engine import Engine
from index.inputs import IMAGE_SUFFIXES
from index.matcher import rank_designs
from index.registry import DesignFields
from index.vectors import VectorIndex
from model.images import load_image
from model.whitening import Whitening


@dataclass
class Run:
    """One timed pass over the photos."""

    pipeline: str
    images: int
    wall_s: float
    images_per_s: float
    cpu_s: float
    cpu_utilisation: float


def timed(name: str, count: int, work: Callable[[], None]) -> Run:
    """Run `work` and return its wall time, CPU time (all threads) and utilisation of every core."""
    cpu_before, wall_before = os.times(), time.perf_counter()
    work()
    cpu_after, wall = os.times(), time.perf_counter() - wall_before
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    cores = os.cpu_count() or 1
    return Run(
        name, count, round(wall, 2), round(count / wall, 2), round(cpu, 2), round(cpu / wall / cores, 3)
    )


def photos(folder: Path) -> list[Path]:
    """Return the image files of a folder, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def batched(engine: Engine, paths: list[Path], batch: int) -> None:
    """Inspect the photos as `lanternguard scan` does: Engine.inspect_many in batches."""
    for start in range(0, len(paths), batch):
        engine.inspect_many(paths[start : start + batch])


@dataclass(frozen=True)
class Searcher:
    """The registry's vectors as the engine searches them (whitened when the engine whitens)."""

    index: VectorIndex
    whitening: Whitening | None
    design_of: dict[int, int]

    @classmethod
    def of(cls, engine: Engine, home: Path) -> Searcher:
        """Return the searcher of the engine's registry, with the whitening of its checkpoint."""
        whitening = VectorIndex.load(home / "index")[2]
        ids, designs, vectors = engine.registry.active_embeddings(engine.fingerprint)
        index = VectorIndex.build(ids, whitening.apply(vectors) if whitening else vectors)
        return cls(index, whitening, dict(zip(ids.tolist(), designs.tolist(), strict=True)))


def plain(engine: Engine, searcher: Searcher, paths: list[Path]) -> None:
    """Inspect the photos one at a time: full decode, embed one, search, fold into designs."""
    for path in paths:
        image = load_image(path)
        vector = engine.embedder.embed([image])
        if searcher.whitening is not None:
            vector = searcher.whitening.apply(vector)
        scores, ids = searcher.index.search(vector, engine.settings.neighbours)
        rank_designs(scores[0], ids[0], searcher.design_of)


def stages(engine: Engine, paths: list[Path], batch: int) -> list[Run]:
    """Time the batched pipeline's two stages apart: decoding (2 threads, draft) and embedding."""
    side = engine.embedder.config.max_side
    decoded: list[Image.Image] = []

    def decode() -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            decoded.extend(pool.map(lambda p: load_image(p, max_side=side), paths))

    def embed() -> None:
        for start in range(0, len(decoded), batch):
            engine.embedder.embed(decoded[start : start + batch])

    return [
        timed("stage: decode only (2 threads, draft)", len(paths), decode),
        timed(f"stage: embed only (batches of {batch})", len(paths), embed),
    ]


def table(runs: list[Run]) -> str:
    """Return the runs as a Markdown table."""
    lines = ["| pipeline | images | wall s | images/s | CPU s | CPU utilisation |", "|" + " --- |" * 6]
    for r in runs:
        cells = [r.pipeline, r.images, r.wall_s, r.images_per_s, r.cpu_s, f"{r.cpu_utilisation:.0%}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def register(engine: Engine, references: list[Path]) -> None:
    """Register each reference photo as its own design."""
    items = [(DesignFields(design_id=f"bench-{i}"), [path]) for i, path in enumerate(references)]
    for _ in engine.register_many(items):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, default=Path("../shared/benchmark/dev/images"))
    parser.add_argument("--count", type=int, default=96, help="photos scanned by each pipeline")
    parser.add_argument("--references", type=int, default=64, help="other photos registered first")
    parser.add_argument("--batch", type=int, default=SCAN_BATCH, help="images per inspect_many call")
    parser.add_argument("--rounds", type=int, default=1, help="2: run again in the other order")
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument(
        "--only", nargs="+", choices=["plain", "single", "batched", "stages"], help="run only these"
    )
    parser.add_argument("--json", type=Path, help="also write the runs as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    found = photos(args.images)
    if len(found) < args.count + args.references:
        parser.error(f"{args.images} holds {len(found)} photos; need --count + --references")
    references, scanned = found[: args.references], found[args.references : args.references + args.count]
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(engine_settings(Path(home), args.backbone))
        try:
            register(engine, references)
            searcher = Searcher.of(engine, Path(home))
            print(
                f"{engine.fingerprint}; torch {torch.__version__} with {torch.get_num_threads()} threads, "
                f"faiss {faiss.omp_get_max_threads()} threads; {os.cpu_count()} cores; "
                f"{engine.index_size} reference images; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            warm = timed(
                "warm-up (caches reference features), batched",
                len(scanned),
                lambda: batched(engine, scanned, args.batch),
            )
            print(table([warm]), flush=True)
            pipelines = {
                "plain loop: full decode, embed 1 (global), search": lambda: plain(engine, searcher, scanned),
                "Engine.inspect_many, 1 image per call": lambda: batched(engine, scanned, 1),
                f"Engine.inspect_many, batches of {args.batch} (scan)": lambda: batched(
                    engine, scanned, args.batch
                ),
            }
            chosen = dict(zip(("plain", "single", "batched"), pipelines, strict=True))
            only = set(args.only or [*chosen, "stages"])
            pipelines = {
                name: run for key, name in chosen.items() if key in only for run in [pipelines[name]]
            }
            runs: list[Run] = []
            for round_ in range(args.rounds):
                names = list(pipelines) if round_ % 2 == 0 else list(reversed(pipelines))
                for name in names:
                    runs.append(timed(name, len(scanned), pipelines[name]))
                    print(table(runs[-1:]), flush=True)
            if "stages" in only:
                runs += stages(engine, scanned, args.batch)
        finally:
            engine.close()
    print(table(runs))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")


if __name__ == "__main__":
    main()
