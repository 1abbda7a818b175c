"""Batch scans on Ray: Ray Data feeds image paths to an actor pool whose actors keep an Engine loaded."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.batch.reports import scan_line
from index.engine import Engine, EngineSettings
from index.errors import InvalidInput
from model.errors import LanternGuardError

logger = logging.getLogger(__name__)

AUTO = "auto"


@dataclass(frozen=True)
class RayScanOptions:
    """Where and how wide a Ray scan runs.

    `address` "auto" connects to the cluster in RAY_ADDRESS or one started on this machine with
    `ray start`, else starts a local instance; anything else is passed to `ray.init(address=...)`.
    `actors` defaults to the cluster's CPUs divided by `cpus_per_actor`.
    """

    address: str = AUTO
    batch: int = 32
    actors: int | None = None
    cpus_per_actor: float = 1.0

    def __post_init__(self) -> None:
        if self.batch < 1 or (self.actors is not None and self.actors < 1) or self.cpus_per_actor <= 0:
            raise ValueError("batch, actors and cpus_per_actor must be positive")


class ScanActor:
    """One Ray actor: opens the Engine (model, registry, index) once and inspects batch after batch.

    Why an actor and not a task: loading the model and the index costs seconds; an actor pays it once.
    """

    def __init__(self, settings: EngineSettings) -> None:
        self.engine = Engine(settings)
        logger.info("scan actor %d ready: %d reference images", os.getpid(), self.engine.index_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the batch's positions with one JSON scan line per image (errors as error lines)."""
        paths = [Path(str(p)) for p in batch["image"]]
        try:
            lines = [json.dumps(scan_line(r)) for r in self.engine.inspect_many(paths)]
        except LanternGuardError as exc:
            lines = [json.dumps(scan_line_error(str(p), str(exc))) for p in paths]
        return {"position": batch["position"], "line": np.array(lines, dtype=object)}


def scan_line_error(image: str, reason: str) -> dict[str, Any]:
    """Return the scan line of an image that could not be inspected (same shape as a Rejected's)."""
    return {"image": image, "verdict": None, "matches": [], "error": reason}


def connect(address: str) -> bool:
    """Connect to Ray (see RayScanOptions.address) unless already connected; return whether it did.

    Raises InvalidInput when Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise InvalidInput("--ray needs the cluster extra: pip install 'lanternguard[cluster]'") from exc
    if ray.is_initialized():
        return False
    ray.init(address=None if address == AUTO else address, logging_level=logging.WARNING)
    return True


def scan_on_ray(
    images: Sequence[Path], settings: EngineSettings, options: RayScanOptions
) -> Iterator[dict[str, Any]]:
    """Yield one scan line per image, in the order of `images`, inspected by a Ray actor pool.

    Every actor opens the engine home itself, so the home (and the images) must be readable at the
    same paths on every node; open the Engine once on the driver first, so the index checkpoint is
    current and actors only read it. Raises InvalidInput when Ray is not installed.
    """
    started = connect(options.address)
    import ray

    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        actors = options.actors or max(
            1, int(ray.cluster_resources().get("CPU", 1) // options.cpus_per_actor)
        )
        rows = [{"position": i, "image": str(path)} for i, path in enumerate(images)]
        dataset = ray.data.from_items(rows).map_batches(
            ScanActor,
            fn_constructor_kwargs={"settings": settings},
            batch_size=options.batch,
            batch_format="numpy",
            concurrency=actors,
            num_cpus=options.cpus_per_actor,
        )
        logger.info("scanning %d image(s) on Ray with %d actor(s)", len(rows), actors)
        yield from in_order(dataset.iter_batches(batch_size=None, batch_format="numpy"))
    finally:
        if started:
            ray.shutdown()


def in_order(batches: Iterator[dict[str, np.ndarray]]) -> Iterator[dict[str, Any]]:
    """Yield the lines of (position, line) batches by position, holding back any that come early."""
    waiting: dict[int, str] = {}
    following = 0
    for batch in batches:
        waiting.update(zip(batch["position"].tolist(), batch["line"].tolist(), strict=True))
        while following in waiting:
            yield json.loads(waiting.pop(following))
            following += 1
    if waiting:
        raise RuntimeError(f"Ray returned {len(waiting)} line(s) past a missing position {following}")
