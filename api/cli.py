"""The `lanternguard` command line: register, inspect, scan, evaluate; serve the service; manage keys."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from api import i18n
from api.cli_alerts import add_alert_commands
from api.cli_maintenance import CliAudit, add_maintenance_commands, cli_actor
from api.demo import DEMO_DESIGNS, DEMO_FIRM, DEMO_KEY_LABEL
from api.errors import EXIT_OK, answer_for
from api.progress import Progress, stage_bars
from api.scan_output import ScanReport
from api.services import Services
from api.settings import ServiceSettings, engine_settings, load_service_settings, resolve_home
from api.terminal import printable
from api.territories import country_code
from index.batch.inputs import collect_scan_inputs, read_manifest
from index.batch.reports import scan_line
from index.engine import Engine, Inspection, Registration, RegistrationFailed
from index.errors import HomeInUse, InvalidInput
from index.evaluation.run import evaluate, read_queries
from index.evaluation.transfer import transfer
from index.home.maintenance import home_lock
from index.service.desk import evidence_png
from index.service.keys import Role
from index.store.registry import DesignFields
from model.errors import LanternGuardError

SCAN_BATCH = 32
UVICORN_KEEP_ALIVE_S = 5
"""An idle connection between requests is closed after this long (bodies: api.guards.BodyDeadline)."""
UVICORN_MAX_HEADERS_BYTES = 16 * 1024
"""The largest request line and headers uvicorn buffers before answering 400."""


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
    home = resolve_home(getattr(args, "home", None))
    try:
        with home_lock(home, exclusive=True):
            return _register(args, items)
    except HomeInUse as exc:
        raise HomeInUse(
            f"{home} is held by a running service (or a maintenance job): the service's index would not"
            " see designs written behind its back. Register through its API instead (POST /api/v1/designs"
            " with a firm key, docs/service.md), or stop the service and run this again"
        ) from exc


def _register(args: argparse.Namespace, items: list) -> int:
    """Register the items on a home this process holds alone."""
    engine = _open_engine(args)
    trail = CliAudit(resolve_home(getattr(args, "home", None)))
    progress = Progress("register", sum(len(p) for _, p in items))
    registered = skipped_images = 0
    failed: list[RegistrationFailed] = []
    try:
        for result in engine.register_many(items, progress=progress.update):
            if isinstance(result, RegistrationFailed):
                error = {"error": str(result.error)}
                trail.record("design.register", result.design_id, answer_for(result.error).exit_code, error)
                failed.append(result)
                print(printable(f"error: design {result.design_id}: {result.error}"), file=sys.stderr)
                continue
            registered += 1
            trail.record("design.register", result.design.design_id, EXIT_OK, {"added": len(result.added)})
            if args.acknowledge:
                print(printable(f"registered: {result.design.design_id}"), flush=True)
            skipped_images += _report_registration(result)
    finally:
        engine.close()
        trail.close()
    print(
        f"registered {registered} design(s); {skipped_images} image(s) skipped; "
        f"{len(failed)} design(s) failed; {engine.index_size} reference image(s) searchable"
    )
    if failed and not registered:
        return answer_for(failed[0].error).exit_code
    return EXIT_OK


def _report_registration(result: Registration) -> int:
    for rejected in result.rejected:
        print(printable(f"skipped: {rejected.reason}"), file=sys.stderr)
    return len(result.rejected)


def cmd_inspect(args: argparse.Namespace) -> int:
    engine = _open_engine(args)
    try:
        result = engine.inspect(args.image, country_code(args.destination))
        if args.evidence:
            _write_evidence(engine, args.image, result, args.evidence)
        if args.case:
            _write_case(engine, args, result)
    finally:
        engine.close()
    if args.json:
        print(json.dumps(scan_line(result)))
        return EXIT_OK
    print(printable(f"{result.source}: {result.verdict.value}"))
    for rank, match in enumerate(result.matches, start=1):
        design = match.design
        details = " · ".join(x for x in (design.title, design.owner) if x)
        print(printable(f"{rank:>3}. {match.score:7.4f}  {design.design_id}  {details}"))
    return EXIT_OK


def _write_case(engine: Engine, args: argparse.Namespace, result: Inspection) -> None:
    from api.case_file import case_for_photo, render_pdf

    i18n.use(i18n.normalise(args.lang) or i18n.DEFAULT)
    case = case_for_photo(engine, args.image.read_bytes(), args.image.name, result, args.timezone)
    args.case.write_bytes(render_pdf(i18n.template_environment(), case))
    print(printable(f"case file written to {args.case}"), file=sys.stderr)


def _write_evidence(engine: Engine, photo: Path, result: Inspection, out: Path) -> None:
    if not result.matches:
        raise InvalidInput("no registered design resembles this photo: there is no evidence to draw")
    out.write_bytes(evidence_png(engine, photo.read_bytes(), result.matches[0], result.verdict.value))
    print(f"evidence written to {out}", file=sys.stderr)


def cmd_scan(args: argparse.Namespace) -> int:
    inputs = collect_scan_inputs(args.paths)
    if getattr(args, "ray", None):
        from api.ray_scan import cmd_scan_ray

        return cmd_scan_ray(args, inputs, SCAN_BATCH)
    engine = _open_engine(args)
    try:
        with ScanReport(args.out, inputs) as report:
            for results in engine.inspect_batches(inputs.images, SCAN_BATCH):
                report.write([scan_line(result) for result in results])
    finally:
        engine.close()
    report.summarise()
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    settings = engine_settings(resolve_home(None), args.backbone)
    if args.calibrate_on == "split" and len({d for _, d in read_queries(args.queries) if d}) < 2:
        raise InvalidInput(f"--calibrate-on split: {args.queries} needs photos of at least two designs")
    report = evaluate(args.references, args.queries, settings, progress=stage_bars())
    figures = report.as_json()
    for key in ("uAP", "R@1", "R@P90", "thr@P90", "false_match_rate", "images_per_s"):
        print(f"{key:>17}: {figures[key]}")
    if args.calibrate_on == "split":
        try:
            figures["transfer"] = transfer(report.outcomes, settings.targets, seed=args.split_seed).as_json()
        except ValueError as exc:
            raise InvalidInput(f"--calibrate-on split: {exc}") from exc
        _print_transfer(figures["transfer"])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return EXIT_OK


def _print_transfer(report: dict) -> None:
    for k, fold in enumerate(report["folds"]):
        print(f"  fold {k + 1} fitted: match >= {fold['match']}, review >= {fold['review']}")
    for name, held in report["held_out"].items():
        print(
            f"  held-out {name:>6}: precision {held['precision']}, recall {held['recall']}, "
            f"unregistered photos {held['unregistered_share']}"
        )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = load_service_settings(
        home=getattr(args, "home", None), backbone=args.backbone, demo=True if args.demo else None
    )
    if settings.demo:
        _print_demo_keys(settings, f"http://{args.host}:{args.port}")
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="info",
        timeout_keep_alive=UVICORN_KEEP_ALIVE_S,
        h11_max_incomplete_event_size=UVICORN_MAX_HEADERS_BYTES,
    )
    return EXIT_OK


def _print_demo_keys(settings: ServiceSettings, url: str) -> None:
    services = Services(settings)
    try:
        services.keys.revoke_labelled(DEMO_KEY_LABEL)
        issued = {
            role: services.issue_key(role, DEMO_FIRM if role is Role.FIRM else None, DEMO_KEY_LABEL)
            for role in (Role.INSPECTOR, Role.FIRM, Role.ADMIN)
        }
    finally:
        services.close()
    pages = {Role.INSPECTOR: f"{url}/  and  {url}/scans", Role.FIRM: f"{url}/firm", Role.ADMIN: f"{url}/docs"}
    print(f"LanternGuard demo on {url} (home {settings.home})")
    print(f'Sample firm "{DEMO_FIRM}" with {len(DEMO_DESIGNS)} lantern designs drawn in code.')
    print("Demo keys (shown once; earlier demo keys are revoked) - paste one into the page's key box:")
    for role, key in issued.items():
        print(f"  {role.value:<10} {key.secret}   {pages[role]}")
    print("On the inspector page, press 'Use a demo photo' to see a match.", flush=True)


def cmd_keys_create(args: argparse.Namespace) -> int:
    services = Services(load_service_settings(home=getattr(args, "home", None)))
    try:
        issued = services.issue_key(Role(args.role), args.firm, args.label)
        detail = {"role": args.role, "firm": args.firm, "label": args.label}
        services.audit.record(cli_actor(), "key.issue", str(issued.record.id), EXIT_OK, detail)
    finally:
        services.close()
    record = issued.record
    print(issued.secret)
    owner = f" for firm {record.firm!r}" if record.firm else ""
    print(
        f"created {record.role.value} key {record.id}{owner}: store it now, it is not shown again",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_keys_list(args: argparse.Namespace) -> int:
    services = Services(load_service_settings(home=getattr(args, "home", None)))
    try:
        records = services.keys.records(include_revoked=args.all)
    finally:
        services.close()
    for r in records:
        state = f"revoked {r.revoked_at}" if r.revoked_at else "live"
        who = f"{r.role.value:<9}  {r.firm or '-':<24}  {r.label or '-':<12}"
        print(printable(f"{r.id:>4}  {r.prefix}…  {who}  {state}"))
    return EXIT_OK


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    services = Services(load_service_settings(home=getattr(args, "home", None)))
    try:
        record = services.keys.revoke(args.key_id)
        services.audit.record(cli_actor(), "key.revoke", str(record.id), EXIT_OK, {})
    finally:
        services.close()
    print(f"revoked key {record.id} ({record.prefix}…)")
    return EXIT_OK


def _add_service_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser("serve", parents=[common], help="run the HTTP service and web pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="seed a sample firm and designs; print demo keys")
    serve.set_defaults(run=cmd_serve)

    keys = commands.add_parser("keys", parents=[common], help="issue, list and revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", parents=[common], help="issue a key (printed once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--firm", help="the firm a firm key acts for (created when new)")
    create.add_argument("--label", help="a name to recognise the key by")
    create.set_defaults(run=cmd_keys_create)
    listing = actions.add_parser("list", parents=[common], help="list keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.set_defaults(run=cmd_keys_list)
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key at once")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(run=cmd_keys_revoke)


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
    register.add_argument(
        "--acknowledge", action="store_true", help="print `registered: ID` as each design becomes durable"
    )
    register.set_defaults(run=cmd_register)

    inspect = commands.add_parser("inspect", parents=[common], help="inspect one photo")
    inspect.add_argument("image", type=Path)
    inspect.add_argument("--json", action="store_true", help="print one JSON object like a scan line")
    inspect.add_argument(
        "--evidence", type=Path, metavar="OUT.png", help="write the evidence picture of the best match"
    )
    inspect.add_argument("--case", type=Path, metavar="OUT.pdf", help="write the case file (PDF)")
    inspect.add_argument(
        "--destination", metavar="CC", help="where the goods go (ISO 3166 code): a design must cover it"
    )
    inspect.add_argument("--timezone", metavar="ZONE", help="local time of the case file, e.g. Asia/Shanghai")
    inspect.add_argument("--lang", default="en", choices=["en", "zh-CN"], help="language of the case file")
    inspect.set_defaults(run=cmd_inspect)

    scan = commands.add_parser("scan", parents=[common], help="inspect images, folders or CSV lists")
    scan.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    scan.add_argument("--out", type=Path, default=Path("-"), help="JSON-lines results file (default stdout)")
    scan.add_argument(
        "--ray", metavar="auto|ADDRESS", help="run on a Ray cluster (the cluster extra; docs/scaling.md)"
    )
    scan.set_defaults(run=cmd_scan)

    evaluation = commands.add_parser("evaluate", parents=[common], help="score a benchmark")
    evaluation.add_argument("--references", type=Path, required=True)
    evaluation.add_argument("--queries", type=Path, required=True)
    evaluation.add_argument("--json", type=Path, help="write the metrics as one JSON object")
    evaluation.add_argument(
        "--calibrate-on",
        choices=["split"],
        help="split: fit the verdict thresholds on half of the designs (their photos and half of the"
        " unregistered ones), judge the other half with them, and the reverse (key `transfer`)",
    )
    evaluation.add_argument("--split-seed", type=int, default=0, help="seed of the design split")
    evaluation.set_defaults(run=cmd_evaluate)
    _add_service_commands(commands, common)
    add_maintenance_commands(commands, common)
    add_alert_commands(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.run(args))
    except LanternGuardError as exc:
        print(printable(f"error: {exc}"), file=sys.stderr)
        return answer_for(exc).exit_code


if __name__ == "__main__":
    sys.exit(main())
