"""`lanternguard scan --ray`: the batch scan on a Ray cluster, writing the same results file as locally."""

from __future__ import annotations

import argparse

from api.errors import EXIT_OK
from api.scan_output import ScanReport
from api.settings import engine_settings, resolve_home
from index.batch.inputs import ScanInputs
from index.batch.ray_scan import RayScanOptions, scan_on_ray
from index.engine import Engine
from index.errors import IndexNotReady


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
    with ScanReport(args.out, inputs) as report:
        for line in scan_on_ray(inputs.images, settings, RayScanOptions(address=args.ray, batch=batch)):
            report.write([line])
    report.summarise(f" on Ray ({args.ray})")
    return EXIT_OK
