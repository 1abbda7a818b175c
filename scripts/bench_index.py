"""Benchmark the index kinds on synthetic clustered unit vectors: build, memory, latency, recall@10.

nice -n 10 .venv/bin/python scripts/bench_index.py --sizes 10000 100000 1000000 --dim 256

Vectors are drawn around `--centres` random directions (a mixture of gaussians; `--centres 0` gives
isotropic gaussian vectors, the hardest case for IVF); queries are fresh draws from the same mixture.
"planted found" is the share of 'photos' of stored vectors (cosine 0.5 to their source, like an
inspected photo of a registered design near the review threshold) whose source is among the k results.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.settings import engine_settings
from index.search.ann import PHOTO_COSINE, IndexBudget, photos_of, recall_at
from index.search.vectors import Sidecar, VectorIndex, now
from index.store.registry import Registry
from model.whitening import learn_whitening

Search = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
CHUNK = 100_000
HNSW_EF = (16, 32, 64, 128, 256, 512)
RESIDENT = (
    "import faiss, os, sys\n"
    "page = os.sysconf('SC_PAGE_SIZE')\n"
    "def rss(): return int(open('/proc/self/statm').read().split()[1]) * page\n"
    "before = rss(); index = faiss.read_index(sys.argv[1]); print(rss() - before)\n"
)


@dataclass
class Row:
    """One measured index: what it is and how it did."""

    size: int
    index: str
    build_s: float
    bytes_per_vector: float
    p50_ms: float
    p99_ms: float
    batch_qps: float
    recall_at_10: float
    planted_found: float
    build_recall: float | None = None
    update_ms: float | None = None


def mixture(count: int, dim: int, centres: np.ndarray | None, spread: float, seed: int) -> np.ndarray:
    """Return (count, dim) unit vectors: centre + spread * gaussian / sqrt(dim), or pure gaussian."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, CHUNK):
        rows = min(CHUNK, count - start)
        noise = rng.standard_normal((rows, dim), dtype=np.float32)
        if centres is not None:
            noise = centres[rng.integers(0, len(centres), rows)] + noise * (spread / np.sqrt(dim))
        out[start : start + rows] = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    return out


def resident_bytes(index: VectorIndex | faiss.Index) -> int:
    """Return the memory the index takes once loaded from its file, measured in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(index, VectorIndex):
            index.save(Path(folder), Sidecar("bench", index.dimension, index.count, 0, 0, now()), None)
            (path,) = Path(folder).glob("vectors-g0-*.faiss")
        else:
            path = Path(folder) / "bench.faiss"
            faiss.write_index(index, str(path))
        result = subprocess.run(
            [sys.executable, "-c", RESIDENT, str(path)], capture_output=True, text=True, check=True
        )
    return int(result.stdout.strip())


def latencies(search: Search, queries: np.ndarray, k: int) -> tuple[float, float]:
    """Return p50 and p99 milliseconds of one-query searches (after a short warm-up)."""
    for row in queries[:20]:
        search(row[None, :], k)
    spent = []
    for row in queries:
        started = time.perf_counter()
        search(row[None, :], k)
        spent.append(time.perf_counter() - started)
    return float(np.percentile(spent, 50) * 1e3), float(np.percentile(spent, 99) * 1e3)


def throughput(search: Search, queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Return queries per second of one batched search over all queries, and its ids."""
    started = time.perf_counter()
    _, found = search(queries, k)
    return len(queries) / (time.perf_counter() - started), found


def measure(
    size: int,
    name: str,
    index: VectorIndex | faiss.Index,
    build_s: float,
    data: dict,
    args: argparse.Namespace,
) -> Row:
    """Time searches of `index` (a VectorIndex or a FAISS index) and score it against exact search."""
    p50, p99 = latencies(index.search, data["latency"], args.k)
    qps, found = throughput(index.search, data["queries"], args.k)
    _, planted = index.search(data["planted"], args.k)
    truth = data["planted_truth"]
    return Row(
        size=size,
        index=name,
        build_s=round(build_s, 1),
        bytes_per_vector=round(resident_bytes(index) / size, 1),
        p50_ms=round(p50, 3),
        p99_ms=round(p99, 3),
        batch_qps=round(qps),
        recall_at_10=round(recall_at(found, data["exact"]), 4),
        planted_found=round(float(np.mean([t in row for t, row in zip(truth, planted, strict=True)])), 4),
    )


def bench_auto(size: int, ids: np.ndarray, vectors: np.ndarray, data: dict, args: argparse.Namespace) -> Row:
    """Build what VectorIndex.build picks for this size, measure it and a small remove/add."""
    budget = IndexBudget(memory_bytes=args.memory_bytes, exact_max=args.exact_max)
    started = time.perf_counter()
    index = VectorIndex.build(ids, vectors, budget)
    build_s = time.perf_counter() - started
    described = index.describe()
    name = f"auto: {described['factory']} nprobe={index.nprobe}"
    row = measure(size, name, index, build_s, data, args)
    row.build_recall = described["recall_at_10"]
    started = time.perf_counter()
    index.remove(ids[:7])
    index.add(ids[:7], vectors[:7])
    row.update_ms = round((time.perf_counter() - started) * 1e3, 1)
    return row


def bench_flat(size: int, ids: np.ndarray, vectors: np.ndarray, data: dict, args: argparse.Namespace) -> Row:
    """Measure exact search (IndexFlatIP under IndexIDMap2) at this size."""
    started = time.perf_counter()
    index = VectorIndex(vectors.shape[1])
    index.add(ids, vectors)
    return measure(size, "exact: IDMap2,Flat", index, time.perf_counter() - started, data, args)


def bench_hnsw(size: int, vectors: np.ndarray, data: dict, args: argparse.Namespace) -> Row:
    """Measure HNSW32 (flat storage) with efSearch raised until recall@10 reaches the target."""
    started = time.perf_counter()
    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 40
    index.add(vectors)
    build_s = time.perf_counter() - started
    for ef in HNSW_EF:
        index.hnsw.efSearch = ef
        if recall_at(index.search(data["queries"], args.k)[1], data["exact_slots"]) >= args.recall_target:
            break
    positions = {**data, "exact": data["exact_slots"], "planted_truth": data["planted_slots"]}
    return measure(size, f"HNSW32,Flat efSearch={ef}", index, build_s, positions, args)


def run_size(size: int, args: argparse.Namespace) -> list[Row]:
    """Generate one registry of `size` vectors and measure every requested index on it."""
    dim = args.dim
    centres = mixture(args.centres, dim, None, 0.0, args.seed) if args.centres else None
    vectors = mixture(size, dim, centres, args.spread, args.seed + 1)
    queries = mixture(args.queries, dim, centres, args.spread, args.seed + 2)
    ids = np.arange(10 * size, 11 * size, dtype=np.int64)
    rng = np.random.default_rng(args.seed + 3)
    sources = rng.choice(size, args.queries, replace=False)
    photos = photos_of(vectors[sources], PHOTO_COSINE, rng)
    _, slots = faiss.knn(queries, vectors, args.k, metric=faiss.METRIC_INNER_PRODUCT)
    data = {
        "queries": queries,
        "latency": queries[: args.latency_queries],
        "exact": ids[slots],
        "exact_slots": slots,
        "planted": photos,
        "planted_truth": ids[sources],
        "planted_slots": sources,
    }
    rows = []
    if "exact" in args.kinds:
        rows.append(bench_flat(size, ids, vectors, data, args))
    if "auto" in args.kinds:
        rows.append(bench_auto(size, ids, vectors, data, args))
    if "hnsw" in args.kinds and size <= args.hnsw_max:
        rows.append(bench_hnsw(size, vectors, data, args))
    return rows


def profile(vectors: np.ndarray, seed: int) -> str:
    """Return how clustered unit vectors are: mean cosine of their 1st and 10th neighbours (leaving
    themselves out) against the mean and spread of random pairs."""
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), min(len(vectors), 2000), replace=False)]
    scores, _ = faiss.knn(sample, vectors, 11, metric=faiss.METRIC_INNER_PRODUCT)
    pairs = rng.integers(0, len(vectors), (5000, 2))
    random = np.einsum("ij,ij->i", vectors[pairs[:, 0]], vectors[pairs[:, 1]])
    top1, top10, mean, sd = scores[:, 1].mean(), scores[:, 10].mean(), random.mean(), random.std()
    gap = (top10 - mean) / sd
    return f"1st {top1:.3f}, 10th {top10:.3f}, random pairs {mean:.3f} sd {sd:.3f}: 10th at {gap:.1f} sd"


def compare_with_registry(home: Path, args: argparse.Namespace) -> None:
    """Print the neighbour profile of a home's whitened descriptors beside gaussian vectors as many."""
    settings = engine_settings(home)
    _, _, raw = Registry(home / "registry.sqlite3").active_embeddings(settings.embedder.fingerprint)
    if len(raw) < settings.whitening_dim:
        raise SystemExit(f"{home}: {len(raw)} descriptors, too few to whiten to {settings.whitening_dim}")
    real = learn_whitening(raw, settings.whitening_dim, settings.whitening_power).apply(raw)
    count, dim = real.shape
    print(f"{home} ({count} whitened descriptors): {profile(real, args.seed)}")
    print(f"isotropic gaussian: {profile(mixture(count, dim, None, 0.0, 1), 0)}")


def table(rows: list[Row]) -> str:
    """Return the rows as a Markdown table."""
    columns = ["vectors", "index", "build s", "bytes/vector", "p50 ms", "p99 ms", "batch q/s", "recall@10"]
    columns += ["planted found", "at build", "remove+add 7 ms"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for r in rows:
        cells = [
            f"{r.size:,}",
            r.index,
            r.build_s,
            r.bytes_per_vector,
            r.p50_ms,
            r.p99_ms,
            f"{r.batch_qps:,}",
        ]
        cells += [r.recall_at_10, r.planted_found, r.build_recall if r.build_recall is not None else "-"]
        cells += [r.update_ms if r.update_ms is not None else "-"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=256, help="vector dimension (256 after whitening)")
    parser.add_argument("--centres", type=int, default=2000, help="mixture centres; 0: isotropic gaussian")
    parser.add_argument("--spread", type=float, default=1.0, help="noise norm around a centre (unit centres)")
    parser.add_argument("--queries", type=int, default=1000, help="queries for recall and batch throughput")
    parser.add_argument("--latency-queries", type=int, default=500, help="one-at-a-time queries timed")
    parser.add_argument("--k", type=int, default=10)
    kinds = ["exact", "auto", "hnsw"]
    parser.add_argument("--kinds", nargs="+", default=kinds, choices=kinds, help="indexes to measure")
    parser.add_argument("--hnsw-max", type=int, default=100_000, help="largest size HNSW is built for")
    parser.add_argument("--memory-bytes", type=int, default=IndexBudget().memory_bytes)
    parser.add_argument("--exact-max", type=int, default=IndexBudget().exact_max)
    parser.add_argument("--recall-target", type=float, default=IndexBudget().recall_target)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--profile", type=Path, metavar="HOME", help="only compare a home's descriptors")
    args = parser.parse_args()
    if args.profile:
        compare_with_registry(args.profile, args)
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads; {vars(args)}", flush=True)
    rows: list[Row] = []
    for size in args.sizes:
        done = run_size(size, args)
        rows += done
        print(table(done), flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")


if __name__ == "__main__":
    main()
