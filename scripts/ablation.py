"""Ablation of descriptor recipes on a benchmark: caches feature maps once, then scores variants.

python scripts/ablation.py --benchmark ../shared/benchmark/dev --backbone efficientnet-lite0 --scales 224 320
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from index.metrics import QueryOutcome, compute_metrics
from model.embedder import Embedder, EmbedderConfig
from model.images import load_image
from model.pooling import gem, l2_normalise
from model.whitening import learn_whitening


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def cached_maps(embedder: Embedder, paths: list[Path], side: int, cache: Path) -> list[torch.Tensor]:
    file = cache / f"{embedder.config.backbone}-{side}.pt"
    if file.exists():
        return torch.load(file)
    start = time.time()
    maps: list[torch.Tensor] = []
    for i in range(0, len(paths), 64):
        images = [load_image(p, max_side=side) for p in paths[i : i + 64]]
        maps += [m.half() for m in embedder.feature_maps(images, side)]
        print(f"  {side}: {len(maps)}/{len(paths)} {len(maps) / (time.time() - start):.1f} img/s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(maps, file)
    return maps


def score(refs: np.ndarray, ref_designs: list[str], queries: np.ndarray, truths: list[str | None]) -> dict:
    sims = queries @ refs.T
    outcomes = []
    for row, truth in zip(sims, truths, strict=True):
        best: dict[str, float] = {}
        for j in np.argsort(-row)[:50]:
            best.setdefault(ref_designs[j], float(row[j]))
        outcomes.append(QueryOutcome(truth, sorted(best.items(), key=lambda kv: -kv[1])[:10], "no_match"))
    m = compute_metrics(outcomes)
    return {"uAP": round(m.uap, 3), "R@1": round(m.recall_at_1, 3), "R@P90": round(m.recall_at_p90, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", type=Path, required=True)
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--scales", type=int, nargs="+", default=[224, 320])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/lanternguard-ablation")
    args = parser.parse_args()
    refs = read_rows(args.benchmark / "references.csv")
    queries = read_rows(args.benchmark / "queries.csv")
    paths = [args.benchmark / r["image"] for r in refs] + [args.benchmark / q["image"] for q in queries]
    embedder = Embedder(EmbedderConfig(backbone=args.backbone, scales=tuple(args.scales)))
    maps = {s: cached_maps(embedder, paths, s, args.cache) for s in args.scales}
    n_refs = len(refs)
    ref_designs = [r["design_id"] for r in refs]
    truths = [q["design_id"] or None for q in queries]
    results = []
    for p, k in itertools.product([1.0, 3.0], range(1, len(args.scales) + 1)):
        for combo in itertools.combinations(args.scales, k):
            raw = sum(l2_normalise(torch.stack([gem(m.float(), p) for m in maps[s]])) for s in combo)
            raw = l2_normalise(raw).numpy()
            variants = {"none": raw}
            for dim, power in [(128, 0.5), (256, 0.5), (512, 0.5), (256, 0.35)]:
                w = learn_whitening(raw[:n_refs], dim, power)
                variants[f"pcaw{dim}^{power}"] = w.apply(raw)
            for name, vec in variants.items():
                r = score(vec[:n_refs], ref_designs, vec[n_refs:], truths)
                r.update(p=p, scales=combo, whitening=name)
                print(json.dumps(r), flush=True)
                results.append(r)


if __name__ == "__main__":
    main()
