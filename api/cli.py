"""The `lanternguard` command line: register, inspect, scan and evaluate."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from api.errors import EXIT_OK, answer_for
from api.progress import Progress
from api.settings import engine_settings, resolve_home
from index.engine import Engine, Inspection, Registration, RegistrationFailed, Rejected
from index.errors import InvalidInput
from index.evaluation import evaluate
from index.inputs import collect_scan_inputs, read_manifest
from index.registry import DesignFields
from model.errors import LanternGuardError

SCAN_BATCH = 32


def scan_line(result: Inspection | Rejected) -> dict[str, Any]:
    """Return the JSON object of one scanned image (the `scan` output contract)."""
    if isinstance(result, Rejected):
        return {"image": result.source, "verdict": None, "matches": [], "error": result.reason}
    return {
        "image": result.source,
        "verdict": result.verdict.value,
        "matches": [{"design_id": m.design.design_id, "score": round(m.score, 4)} for m in result.matches],
    }


def _open_engine(args: argparse.Namespace) -> Engine:
    return Engine(engine_settings(resolve_home(getattr(args, "home", None)), args.backbone))


def cmd_register(args: argparse.Namespace) -> int:
    if args.manifest and (args.images or args.design_id):
        raise InvalidInput("give either --manifest FILE or IMAGE... --design-id ID, not both")
    if args.manifest:
        items = [(f, list(paths)) for f, paths in read_manifest(args.manifest)]
    elif args.images and args.design_id:
        fields = DesignFields(design_id=args.design_id, title=args.title, owner=args.owner)
        items = [(fields, list(args.images))]
    else:
        raise InvalidInput("give IMAGE... with --design-id ID, or --manifest FILE")
    engine = _open_engine(args)
    progress = Progress("register", sum(len(p) for _, p in items))
    registered = skipped_images = 0
    failed: list[RegistrationFailed] = []
    try:
        for result in engine.register_many(items, progress=progress.update):
            if isinstance(result, RegistrationFailed):
                failed.append(result)
                print(f"error: design {result.design_id}: {result.error}", file=sys.stderr)
                continue
            registered += 1
            skipped_images += _report_registration(result)
    finally:
        engine.close()
    print(
        f"registered {registered} design(s); {skipped_images} image(s) skipped; "
        f"{len(failed)} design(s) failed; {engine.index_size} reference image(s) searchable"
    )
    if failed and not registered:
        return answer_for(failed[0].error).exit_code
    return EXIT_OK


def _report_registration(result: Registration) -> int:
    for rejected in result.rejected:
        print(f"skipped: {rejected.reason}", file=sys.stderr)
    return len(result.rejected)


def cmd_inspect(args: argparse.Namespace) -> int:
    engine = _open_engine(args)
    try:
        result = engine.inspect(args.image)
    finally:
        engine.close()
    if args.json:
        print(json.dumps(scan_line(result)))
        return EXIT_OK
    print(f"{result.source}: {result.verdict.value}")
    for rank, match in enumerate(result.matches, start=1):
        design = match.design
        details = " · ".join(x for x in (design.title, design.owner) if x)
        print(f"{rank:>3}. {match.score:7.4f}  {design.design_id}  {details}")
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    inputs = collect_scan_inputs(args.paths)
    engine = _open_engine(args)
    verdicts: Counter[str] = Counter()
    progress = Progress("scan", len(inputs.images))
    out: TextIO = sys.stdout if str(args.out) == "-" else args.out.open("w", encoding="utf-8")
    try:
        for start in range(0, len(inputs.images), SCAN_BATCH):
            for result in engine.inspect_many(inputs.images[start : start + SCAN_BATCH]):
                line = scan_line(result)
                verdicts[line["verdict"] or "error"] += 1
                out.write(json.dumps(line) + "\n")
            out.flush()
            progress.update(min(SCAN_BATCH, len(inputs.images) - start))
    finally:
        engine.close()
        if out is not sys.stdout:
            out.close()
    summary = ", ".join(f"{verdicts[k]} {k}" for k in ("match", "review", "no_match", "error"))
    print(
        f"scanned {len(inputs.images)} image(s): {summary}; "
        f"{inputs.ignored} non-image file(s) ignored; results in {args.out}",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    bars: dict[str, Progress] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bars.setdefault(stage, Progress(stage, total)).set(done)

    settings = engine_settings(resolve_home(None), args.backbone)
    report = evaluate(args.references, args.queries, settings, progress=progress)
    figures = report.as_json()
    for key in ("uAP", "R@1", "R@P90", "thr@P90", "false_match_rate", "images_per_s"):
        print(f"{key:>17}: {figures[key]}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help="state folder (default: $LANTERNGUARD_HOME or ./var)"
    )
    common.add_argument("--backbone", default=None, help="CNN backbone (default: $LANTERNGUARD_BACKBONE)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser = argparse.ArgumentParser(prog="lanternguard", description=__doc__, parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)

    register = commands.add_parser("register", parents=[common], help="register a design or a manifest")
    register.add_argument("images", nargs="*", type=Path, metavar="IMAGE")
    register.add_argument("--design-id")
    register.add_argument("--title")
    register.add_argument("--owner")
    register.add_argument("--manifest", type=Path, help="CSV with design_id,image[,title,owner]")
    register.set_defaults(run=cmd_register)

    inspect = commands.add_parser("inspect", parents=[common], help="inspect one photo")
    inspect.add_argument("image", type=Path)
    inspect.add_argument("--json", action="store_true", help="print one JSON object like a scan line")
    inspect.set_defaults(run=cmd_inspect)

    scan = commands.add_parser("scan", parents=[common], help="inspect images, folders or CSV lists")
    scan.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    scan.add_argument("--out", type=Path, default=Path("-"), help="JSON-lines results file (default stdout)")
    scan.set_defaults(run=cmd_scan)

    evaluation = commands.add_parser("evaluate", parents=[common], help="score a benchmark")
    evaluation.add_argument("--references", type=Path, required=True)
    evaluation.add_argument("--queries", type=Path, required=True)
    evaluation.add_argument("--json", type=Path, help="write the metrics as one JSON object")
    evaluation.set_defaults(run=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.run(args))
    except LanternGuardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return answer_for(exc).exit_code


if __name__ == "__main__":
    sys.exit(main())
