"""`lanternguard scan --ray`: the batch scan on a Ray cluster, writing the same results file as locally."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import TextIO

from api.errors import EXIT_OK
from api.progress import Progress
from api.settings import engine_settings, resolve_home
from index.distributed import RayScanOptions, scan_on_ray
from index.engine import Engine
from index.errors import IndexNotReady
from index.inputs import ScanInputs


def cmd_scan_ray(args: argparse.Namespace, inputs: ScanInputs, batch: int) -> int:
    """Scan `inputs` on Ray (`args.ray`: "auto" or an address) into `args.out`; return the exit code.

    The engine is opened here first, so the index checkpoint is current before actors read it.
    Lines come in input order, as in the local scan. Raises IndexNotReady with an empty registry.
    """
    settings = engine_settings(resolve_home(getattr(args, "home", None)), args.backbone)
    engine = Engine(settings)
    try:
        if engine.index_size == 0:
            raise IndexNotReady("no design is registered yet: register designs before inspecting")
    finally:
        engine.close()
    verdicts: Counter[str] = Counter()
    progress = Progress("scan", len(inputs.images))
    out: TextIO = sys.stdout if str(args.out) == "-" else args.out.open("w", encoding="utf-8")
    try:
        for line in scan_on_ray(inputs.images, settings, RayScanOptions(address=args.ray, batch=batch)):
            verdicts[line["verdict"] or "error"] += 1
            out.write(json.dumps(line) + "\n")
            progress.update()
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    summary = ", ".join(f"{verdicts[k]} {k}" for k in ("match", "review", "no_match", "error"))
    print(
        f"scanned {len(inputs.images)} image(s) on Ray ({args.ray}): {summary}; "
        f"{inputs.ignored} non-image file(s) ignored; results in {args.out}",
        file=sys.stderr,
    )
    return EXIT_OK
