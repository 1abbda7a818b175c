"""Scan throughput: the Engine's batched pipeline (as `lanternguard scan`) against per-image loops.

.venv/bin/python scripts/bench_scan.py --images ../shared/benchmark/dev/images --count 96 --rounds 2

In one process, on the same photos and the same model, one after the other (then again in reverse
order with `--rounds 2`), each doing the whole inspection (descriptors, search, SIFT verification):
  plain   a plain loop: one photo per call, the trunk in float32;
  single  the scan's engine (precision chosen for the machine) fed one photo per call;
  chunks  the scan's engine in batches, one after the other (Engine.inspect_many per batch);
  batched the scan's engine in batches that decode ahead, as `lanternguard scan` runs it.
Prints images/s and CPU utilisation (CPU seconds / wall seconds / cores) as a Markdown table, and
how often the plain loop and the scan agree on each photo's verdict and best design. Each engine has
its own temporary home holding the same `--references` other photos, each its own design.
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
from typing import TypeVar

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.cli import SCAN_BATCH
from api.settings import embedder_config, engine_settings
from index.batch.inputs import IMAGE_SUFFIXES
from index.engine import Engine, EngineSettings, Inspection, Rejected
from index.store.registry import DesignFields
from model.embedder import Embedder
from model.images import load_image

T = TypeVar("T")


@dataclass
class Run:
    """One timed pass over the photos."""

    pipeline: str
    images: int
    wall_s: float
    images_per_s: float
    cpu_s: float
    cpu_utilisation: float


def timed(name: str, count: int, work: Callable[[], T]) -> tuple[Run, T]:
    """Run `work`; return its wall and CPU time (all threads), utilisation of every core, and result."""
    cpu_before, wall_before = os.times(), time.perf_counter()
    result = work()
    cpu_after, wall = os.times(), time.perf_counter() - wall_before
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    cores = os.cpu_count() or 1
    run = Run(
        name, count, round(wall, 2), round(count / wall, 2), round(cpu, 2), round(cpu / wall / cores, 3)
    )
    return run, result


def photos(folder: Path) -> list[Path]:
    """Return the image files of a folder, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def batched(engine: Engine, paths: list[Path], batch: int) -> list[Inspection | Rejected]:
    """Inspect the photos as `lanternguard scan` does: Engine.inspect_batches."""
    return [result for results in engine.inspect_batches(paths, batch) for result in results]


def outcome(result: Inspection | Rejected) -> tuple[str, str | None]:
    """Return a photo's verdict and best design, as the scan report gives them."""
    if isinstance(result, Rejected):
        return "rejected", None
    return result.verdict.value, result.matches[0].design.design_id if result.matches else None


def agreement(first: list[Inspection | Rejected], second: list[Inspection | Rejected]) -> str:
    """Return how often two result lists agree on the verdict, and on the verdict and best design."""
    pairs = [(outcome(a), outcome(b)) for a, b in zip(first, second, strict=True)]
    verdicts = sum(a[0] == b[0] for a, b in pairs) / max(1, len(pairs))
    both = sum(a == b for a, b in pairs) / max(1, len(pairs))
    return f"verdict {verdicts:.1%}, verdict and best design {both:.1%}"


def stages(engine: Engine, plain: Engine, paths: list[Path], batch: int) -> list[Run]:
    """Time the descriptors alone: a plain loop against the scan's decoding and network stages.

    Plain: full decode, then global and regional descriptors of one photo, float32 trunk. Scan:
    decoding in worker threads with JPEG draft mode at the network's size, then batches.
    """
    side = engine.embedder.config.max_side
    decoded: list[Image.Image] = []

    def plain_loop() -> None:
        for path in paths:
            plain.embedder.describe([load_image(path)])

    def decode() -> None:
        with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
            decoded.extend(pool.map(lambda p: load_image(p, max_side=side), paths))

    def describe() -> None:
        for start in range(0, len(decoded), batch):
            engine.embedder.describe(decoded[start : start + batch])

    precision = engine.embedder.config.precision
    return [
        timed("descriptors only, plain loop: full decode, 1 photo, float32", len(paths), plain_loop)[0],
        timed("descriptors only, scan stage 1: decode in threads, draft", len(paths), decode)[0],
        timed(f"descriptors only, scan stage 2: batches of {batch}, {precision}", len(paths), describe)[0],
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
    parser.add_argument("--batch", type=int, default=SCAN_BATCH, help="images per batch")
    parser.add_argument("--rounds", type=int, default=1, help="2: run again in the other order")
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument(
        "--only", nargs="+", choices=["plain", "single", "chunks", "batched", "stages"], help="run only these"
    )
    parser.add_argument("--json", type=Path, help="also write the runs as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import faiss  # here, after the project's packages set OpenMP's wait policy (model/__init__.py)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    found = photos(args.images)
    if len(found) < args.count + args.references:
        parser.error(f"{args.images} holds {len(found)} photos; need --count + --references")
    references, scanned = found[: args.references], found[args.references : args.references + args.count]
    with tempfile.TemporaryDirectory() as scan_home, tempfile.TemporaryDirectory() as plain_home:
        engine = Engine(engine_settings(Path(scan_home), args.backbone))
        config = embedder_config(engine.embedder.config.backbone, "float32")
        plain = Engine(
            EngineSettings(home=Path(plain_home), embedder=config), Embedder(config, engine.embedder.backbone)
        )
        try:
            for each in (engine, plain):
                register(each, references)
                batched(each, scanned, args.batch)
            print(
                f"scan: {engine.fingerprint}, plain: {plain.fingerprint}; torch {torch.__version__} with "
                f"{torch.get_num_threads()} threads, faiss {faiss.omp_get_max_threads()} threads; "
                f"{os.cpu_count()} cores; {engine.index_size} reference images; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            precision, count = engine.embedder.config.precision, len(scanned)
            pipelines = {
                "plain": ("plain loop: 1 photo per call, float32 trunk", lambda: batched(plain, scanned, 1)),
                "single": (
                    f"scan engine ({precision}), 1 photo per call",
                    lambda: batched(engine, scanned, 1),
                ),
                "chunks": (
                    f"scan engine ({precision}), batches of {args.batch}, no read-ahead",
                    lambda: [
                        r
                        for i in range(0, count, args.batch)
                        for r in engine.inspect_many(scanned[i : i + args.batch])
                    ],
                ),
                "batched": (
                    f"scan engine ({precision}), batches of {args.batch} read ahead (scan)",
                    lambda: batched(engine, scanned, args.batch),
                ),
            }
            only = set(args.only or [*pipelines, "stages"])
            keys = [key for key in pipelines if key in only]
            runs: list[Run] = []
            results: dict[str, list[Inspection | Rejected]] = {}
            for round_ in range(args.rounds):
                for key in keys if round_ % 2 == 0 else reversed(keys):
                    name, work = pipelines[key]
                    run, results[key] = timed(name, len(scanned), work)
                    runs.append(run)
                    print(table(runs[-1:]), flush=True)
            if "stages" in only:
                runs += stages(engine, plain, scanned, args.batch)
        finally:
            engine.close()
            plain.close()
    print(table(runs))
    if {"plain", "batched"} <= results.keys():
        print(f"plain loop and scan agree on: {agreement(results['plain'], results['batched'])}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")


if __name__ == "__main__":
    main()
