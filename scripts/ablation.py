"""Ablation on a benchmark: what each stage of matching adds, from cached feature maps.

python scripts/ablation.py --benchmark ../shared/benchmark/dev stages   # the pipeline, stage by stage
python scripts/ablation.py --benchmark ../shared/benchmark/dev grid     # descriptor recipes

CNN feature maps (and SIFT features) of every image are computed once and cached under --cache;
each variant is then scored with the benchmark's metrics (index.evaluation.metrics) using the library's own
pooling, whitening, regions, verification and score fusion. The engine's end-to-end figures come
from `lanternguard evaluate`; this script explains them.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from index.engine import EngineSettings
from index.evaluation.metrics import QueryOutcome, compute_metrics
from index.matching.ranking import fuse
from index.matching.verification import Verification, unique_inliers, verify
from model.embedder import PRECISIONS, Embedder, EmbedderConfig
from model.images import load_image
from model.local import LocalFeatures, extract_local
from model.pooling import gem, l2_normalise
from model.regions import regional_descriptors
from model.runtime import machine_precision
from model.whitening import learn_whitening


@dataclass(frozen=True)
class Bench:
    """The benchmark's images in one list: references first, then queries."""

    paths: list[Path]
    ref_designs: list[str]
    truths: list[str | None]

    @property
    def n_refs(self) -> int:
        return len(self.ref_designs)


def read_bench(folder: Path) -> Bench:
    with (folder / "references.csv").open(newline="") as handle:
        refs = list(csv.DictReader(handle))
    with (folder / "queries.csv").open(newline="") as handle:
        queries = list(csv.DictReader(handle))
    return Bench(
        paths=[folder / r["image"] for r in refs] + [folder / q["image"] for q in queries],
        ref_designs=[r["design_id"] for r in refs],
        truths=[q["design_id"] or None for q in queries],
    )


def cached_maps(embedder: Embedder, paths: list[Path], side: int, cache: Path) -> list[torch.Tensor]:
    precision = "" if embedder.config.precision == "float32" else f"-{embedder.config.precision}"
    file = cache / f"{embedder.config.backbone}-{side}{precision}.pt"
    if file.exists():
        return torch.load(file)
    start, maps = time.time(), []
    for i in range(0, len(paths), 64):
        images = [load_image(p, max_side=side) for p in paths[i : i + 64]]
        maps += [m.half() for m in embedder.feature_maps(images, side)]
        print(
            f"  maps {side}: {len(maps)}/{len(paths)} {len(maps) / (time.time() - start):.1f} img/s",
            flush=True,
        )
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(maps, file)
    return maps


def cached_local(bench: Bench, settings: EngineSettings, cache: Path) -> list[LocalFeatures]:
    file = cache / f"local-{settings.local.fingerprint}.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as arrays:
            return [LocalFeatures.from_bytes(arrays[f"i{i}"].tobytes()) for i in range(len(bench.paths))]
    features = []
    for i, path in enumerate(bench.paths):
        features.append(extract_local(load_image(path, max_side=settings.local.max_side), settings.local))
        if i % 500 == 0:
            print(f"  local features {i}/{len(bench.paths)}", flush=True)
    np.savez(file, **{f"i{i}": np.frombuffer(f.to_bytes(), dtype=np.uint8) for i, f in enumerate(features)})
    return features


def outcomes_of(bench: Bench, sims: np.ndarray) -> list[QueryOutcome]:
    """Design-level predictions (best view per design, top 10) of a (queries, references) score matrix."""
    outcomes = []
    for row, truth in zip(sims, bench.truths, strict=True):
        best: dict[str, float] = {}
        for j in np.argsort(-row)[:100]:
            best.setdefault(bench.ref_designs[j], float(row[j]))
        outcomes.append(QueryOutcome(truth, sorted(best.items(), key=lambda kv: -kv[1])[:10], "no_match"))
    return outcomes


def figures(bench: Bench, sims: np.ndarray) -> str:
    m = compute_metrics(outcomes_of(bench, sims))
    return f"{m.uap:.3f} | {m.recall_at_1:.3f} | {m.recall_at_p90:.3f}"


def global_descriptors(maps: dict[int, list[torch.Tensor]], scales: tuple[int, ...], p: float) -> np.ndarray:
    total = sum(l2_normalise(torch.stack([gem(m.float(), p) for m in maps[s]])) for s in scales)
    return l2_normalise(total).numpy()


def run_stages(bench: Bench, maps: dict[int, list[torch.Tensor]], args: argparse.Namespace) -> None:
    settings = EngineSettings(home=Path("unused"))
    config = EmbedderConfig(backbone=args.backbone, scales=tuple(args.scales))
    n = bench.n_refs
    raw = global_descriptors(maps, config.scales, config.gem_p)
    print("| stage | uAP | R@1 | R@P90 |\n| --- | --- | --- | --- |")
    print(f"| GeM at {config.scales}, raw cosine | {figures(bench, raw[n:] @ raw[:n].T)} |", flush=True)
    whitening = learn_whitening(raw[:n], settings.whitening_dim, settings.whitening_power)
    refs = whitening.apply(raw[:n])
    whole = whitening.apply(raw[n:]) @ refs.T
    print(
        f"| + PCA whitening {settings.whitening_dim}^{settings.whitening_power} | {figures(bench, whole)} |"
    )
    regional = whole.copy()
    for q in range(len(bench.truths)):
        regions = regional_descriptors(
            maps[max(config.scales)][n + q].float(), config.region_fraction, config.gem_p
        )
        regional[q] = np.maximum(regional[q], (whitening.apply(regions.numpy()) @ refs.T).max(axis=0))
    print(
        f"| + regional query windows ({config.region_fraction:g} of the side) | {figures(bench, regional)} |"
    )
    local = cached_local(bench, settings, args.cache)
    start = time.time()
    checked: list[tuple[np.ndarray, list[Verification]]] = []
    for q in range(len(bench.truths)):
        order, seen = [], set()
        for j in np.argsort(-regional[q]):
            if bench.ref_designs[j] not in seen:
                seen.add(bench.ref_designs[j])
                order.append(j)
            if len(order) == settings.verify_top_k:
                break
        checked.append((np.asarray(order), [verify(local[n + q], local[j]) for j in order]))
    per_query = (time.time() - start) / len(bench.truths)

    def fused(count: Callable[[list[Verification]], list[int]]) -> np.ndarray:
        scores = regional.copy()
        for q, (order, verifications) in enumerate(checked):
            for j, inliers in zip(order, count(verifications), strict=True):
                scores[q, j] = fuse(regional[q, j], inliers, settings.inlier_saturation)
        return scores

    top_k = settings.verify_top_k
    plain = fused(lambda vs: [v.inliers for v in vs])
    stage = f"+ SIFT/MAGSAC verification of the top {top_k} ({per_query * 1000:.0f} ms/query)"
    print(f"| {stage} | {figures(bench, plain)} |")
    print(f"| + inliers counted once per photo keypoint | {figures(bench, fused(unique_inliers))} |")


def run_grid(bench: Bench, maps: dict[int, list[torch.Tensor]], args: argparse.Namespace) -> None:
    n = bench.n_refs
    print("| p | scales | whitening | uAP | R@1 | R@P90 |\n| --- | --- | --- | --- | --- | --- |")
    for p, k in itertools.product([1.0, 3.0], range(1, len(args.scales) + 1)):
        for combo in itertools.combinations(args.scales, k):
            raw = global_descriptors(maps, combo, p)
            variants = {"none": raw}
            for dim, power in [(256, 0.5), (512, 0.5), (512, 0.25)]:
                variants[f"{dim}^{power}"] = learn_whitening(raw[:n], dim, power).apply(raw)
            for name, vectors in variants.items():
                print(
                    f"| {p:g} | {combo} | {name} | {figures(bench, vectors[n:] @ vectors[:n].T)} |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--benchmark", type=Path, required=True)
    parser.add_argument("--backbone", default=EmbedderConfig().backbone)
    parser.add_argument("--scales", type=int, nargs="+", default=list(EmbedderConfig().scales))
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default=machine_precision())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/lanternguard-ablation")
    parser.add_argument("part", choices=["stages", "grid"])
    args = parser.parse_args()
    bench = read_bench(args.benchmark)
    config = EmbedderConfig(backbone=args.backbone, scales=tuple(args.scales), precision=args.precision)
    embedder = Embedder(config)
    maps = {s: cached_maps(embedder, bench.paths, s, args.cache) for s in args.scales}
    (run_stages if args.part == "stages" else run_grid)(bench, maps, args)


if __name__ == "__main__":
    main()
