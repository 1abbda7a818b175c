"""Maintenance commands of the CLI: index rebuild, check, backup, restore and audit export."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from api.errors import EXIT_OK, answer_for
from api.settings import engine_settings, resolve_home
from api.terminal import printable
from index.engine import Engine
from index.errors import Inconsistent
from index.home.backup import backup, restore
from index.home.maintenance import DEFAULT_GRACE_S, check, rebuild_index, require_home
from index.service.audit import Actor, AuditLog
from index.store.database import Database
from index.store.schema import REGISTRY_FILE


def cli_actor() -> Actor:
    """Return who acts on the command line: the operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", role="operator")


def audit(home: Path, action: str, target: str | None, status: int, detail: dict[str, Any]) -> None:
    """Append an entry for a command-line action to the home's audit log."""
    database = Database(home / REGISTRY_FILE)
    try:
        AuditLog(database).record(cli_actor(), action, target, status, detail)
    finally:
        database.close()


class CliAudit:
    """The audit log of a home, kept open while a command writes entry after entry."""

    def __init__(self, home: Path) -> None:
        self._database = Database(home / REGISTRY_FILE)
        self._log = AuditLog(self._database)
        self._actor = cli_actor()

    def record(self, action: str, target: str | None, status: int, detail: dict[str, Any]) -> None:
        """Append one entry for this command."""
        self._log.record(self._actor, action, target, status, detail)

    def close(self) -> None:
        """Close the database connection."""
        self._database.close()


def _home(args: argparse.Namespace) -> Path:
    return resolve_home(getattr(args, "home", None))


def cmd_index_rebuild(args: argparse.Namespace) -> int:
    home = _home(args)
    count = rebuild_index(engine_settings(home, args.backbone))
    audit(home, "index.rebuild", None, EXIT_OK, {"searchable": count})
    print(f"index rebuilt: {count} reference image(s) searchable")
    return EXIT_OK


def cmd_index_info(args: argparse.Namespace) -> int:
    home = _home(args)
    require_home(home)
    engine = Engine(engine_settings(home, args.backbone))
    try:
        info = engine.calibration_info()
    finally:
        engine.close()
    print(json.dumps(info, indent=2))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    home = _home(args)
    grace = DEFAULT_GRACE_S if args.grace is None else args.grace
    report = check(engine_settings(home, args.backbone), not args.dry_run, grace, not args.quick)
    before, after = report.before, report.after
    if args.json:
        print(json.dumps({
            "found": [asdict(f) for f in before.findings], "left": [asdict(f) for f in after.findings],
            "deferred": [str(p) for p in after.deferred], "counts": after.counts, "clean": report.clean,
            "expired_photos": report.expired,
        }))  # fmt: skip
    else:
        counts = ", ".join(f"{k} {v}" for k, v in after.counts.items())
        print(f"checked {home}: {counts}")
        for finding in before.findings:
            print(("repaired  " if report.repaired and finding not in after.findings else "found     ")
                  + printable(finding.line()))  # fmt: skip
        for finding in after.findings if report.repaired else []:
            print("left      " + printable(finding.line()))
        for path in after.deferred:
            print(f"deferred  {path}: changed less than {grace:g} s ago (a write may be in progress)")
        if report.expired:
            print(f"retention: removed {report.expired} photo(s) kept longer than the retention period")
        print("clean" if report.clean else f"{len(after.findings)} inconsistenc(ies) left")
    if report.repaired:
        detail = {"found": len(before.findings), "left": len(after.findings)}
        audit(home, "check.repair", None, EXIT_OK if report.clean else 1, detail)
    if not report.clean:
        return answer_for(Inconsistent("")).exit_code
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    home = _home(args)
    summary = backup(home, args.dest)
    detail = {"files": summary.files, "bytes": summary.bytes, "missing": len(summary.missing)}
    audit(home, "backup", str(summary.path), EXIT_OK, detail)
    print(
        f"backed up {summary.designs} design(s), {summary.images} image(s): {summary.files} file(s), "
        f"{summary.bytes} bytes in {summary.path}"
    )
    if summary.missing:
        print(f"warning: {len(summary.missing)} image file(s) were missing or damaged", file=sys.stderr)
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    home = _home(args)
    previous = restore(args.source, home)
    audit(home, "restore", str(args.source), EXIT_OK, {"previous": str(previous) if previous else None})
    print(f"restored {home} from {args.source}")
    if previous is not None:
        print(f"the previous home was kept in {previous}")
    return EXIT_OK


def cmd_audit_export(args: argparse.Namespace) -> int:
    home = _home(args)
    require_home(home)
    database = Database(home / REGISTRY_FILE)
    out: TextIO = sys.stdout if args.out is None else args.out.open("w", encoding="utf-8")
    try:
        written = AuditLog(database).export(out, after_id=args.after)
    finally:
        database.close()
        if out is not sys.stdout:
            out.close()
    print(f"exported {written} audit entr(ies)", file=sys.stderr)
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    home = _home(args)
    require_home(home)
    database = Database(home / REGISTRY_FILE)
    try:
        log = AuditLog(database)
        problems, count = log.verify(), log.count()
    finally:
        database.close()
    for problem in problems:
        print(printable(f"problem   {problem}"))
    if problems:
        print(f"{len(problems)} problem(s) in the audit log of {home}: it was edited outside LanternGuard")
        return answer_for(Inconsistent("")).exit_code
    print(f"the audit log of {home} is intact: {count} entr(ies), keyed chain and head anchor agree")
    return EXIT_OK


def add_maintenance_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `index rebuild`, `check`, `backup`, `restore`, `audit export` and `audit verify` to the parser."""
    index = commands.add_parser("index", parents=[common], help="maintain the vector index")
    actions = index.add_subparsers(dest="action", required=True)
    rebuild = actions.add_parser("rebuild", parents=[common], help="rebuild the index from the registry")
    rebuild.set_defaults(run=cmd_index_rebuild)
    info = actions.add_parser(
        "info", parents=[common], help="the index, its verdict thresholds and the registry's self-calibration"
    )
    info.set_defaults(run=cmd_index_info)

    checking = commands.add_parser("check", parents=[common], help="find and repair inconsistencies")
    checking.add_argument("--dry-run", action="store_true", help="only report, change nothing")
    checking.add_argument(
        "--grace", type=float, help=f"seconds a new unreferenced file may be in use ({DEFAULT_GRACE_S:g})"
    )
    checking.add_argument("--quick", action="store_true", help="do not re-hash every image file")
    checking.add_argument("--json", action="store_true", help="print the report as one JSON object")
    checking.set_defaults(run=cmd_check)

    saving = commands.add_parser("backup", parents=[common], help="write a consistent backup (online)")
    saving.add_argument("dest", type=Path, metavar="DEST", help="a new folder")
    saving.set_defaults(run=cmd_backup)
    loading = commands.add_parser("restore", parents=[common], help="replace the home with a backup")
    loading.add_argument("source", type=Path, metavar="SRC", help="a folder written by `backup`")
    loading.set_defaults(run=cmd_restore)

    auditing = commands.add_parser("audit", parents=[common], help="the audit log")
    audit_actions = auditing.add_subparsers(dest="action", required=True)
    export = audit_actions.add_parser("export", parents=[common], help="write the audit log as JSON lines")
    export.add_argument("--out", type=Path, help="a file (default: stdout)")
    export.add_argument("--after", type=int, default=0, help="only entries after this id")
    export.set_defaults(run=cmd_audit_export)
    verify = audit_actions.add_parser(
        "verify", parents=[common], help="check the keyed chain and head anchor of the audit log"
    )
    verify.set_defaults(run=cmd_audit_verify)
