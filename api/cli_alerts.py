"""Alert commands of the CLI: `retro DESIGN_ID` looks back for one design now, `alerts` lists alerts."""

from __future__ import annotations

import argparse

from api.cli_maintenance import cli_actor
from api.errors import EXIT_OK
from api.services import Services
from api.settings import load_service_settings, resolve_home
from index.errors import IndexNotReady
from index.service.alerts import AlertLog, AlertRecord, AlertState, How
from index.store.database import Database
from index.store.schema import REGISTRY_FILE


def _source(alert: AlertRecord) -> str:
    if alert.inspection_id is not None:
        return f"inspection {alert.inspection_id}"
    return f"scan {alert.scan_id} item {alert.item}"


def _line(alert: AlertRecord) -> str:
    return (
        f"alert {alert.id:>5}  {alert.design_id}  {alert.owner or '-'}  {alert.how.value:<10} "
        f"{alert.verdict:<6} {alert.score:7.4f}  {_source(alert)}  {alert.state.value}  {alert.found_at}"
    )


def cmd_retro(args: argparse.Namespace) -> int:
    services = Services(load_service_settings(home=getattr(args, "home", None), backbone=args.backbone))
    try:
        services.start()
        if not services.wait_ready(600) or services.failure:
            raise IndexNotReady(f"the engine could not be loaded: {services.failure}")
        design = services.registry.design(args.design_id)
        run = services.retro.run_now(design, "command line")
        found = [a for a in services.alerts.page(None, 1000, 0, design_pk=design.pk)[0] if a.how is How.RETRO]
        services.audit.record(cli_actor(), "retro.run", args.design_id, EXIT_OK, {"alerts": run.alerts})
    finally:
        services.close()
    owner = design.owner or "no owner"
    print(f"look-back {run.id} of design {design.design_id} ({owner}): {run.state.value}")
    if run.message:
        print(f"  {run.message}")
    print(
        f"photos kept {run.photos} (seen since {run.look_back_from}; retention {run.retain_days} days), "
        f"shortlisted {run.shortlisted}, verified {run.verified}, found {run.found}, "
        f"already alerted or suppressed {run.suppressed}, new alerts {run.alerts}, {run.seconds or 0:.2f} s"
    )
    print(f"{len(found)} alert(s) of this design found by looking back (this run and earlier ones):")
    for alert in found:
        print("  " + _line(alert))
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    home = resolve_home(getattr(args, "home", None))
    database = Database(home / REGISTRY_FILE)
    try:
        state = AlertState(args.state) if args.state else None
        records, count = AlertLog(database).page(args.firm, args.limit, 0, state)
    finally:
        database.close()
    for alert in records:
        print(_line(alert))
    print(f"{len(records)} of {count} alert(s)" + (f" of firm {args.firm!r}" if args.firm else ""))
    return EXIT_OK


def add_alert_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `retro DESIGN_ID` and `alerts [--firm F]` to the parser."""
    retro = commands.add_parser("retro", parents=[common], help="look back at kept photos for one design now")
    retro.add_argument("design_id", metavar="DESIGN_ID")
    retro.set_defaults(run=cmd_retro)
    alerts = commands.add_parser("alerts", parents=[common], help="list alerts, newest first")
    alerts.add_argument("--firm", help="only this firm's designs' alerts")
    alerts.add_argument("--state", choices=[s.value for s in AlertState])
    alerts.add_argument("--limit", type=int, default=100)
    alerts.set_defaults(run=cmd_alerts)
