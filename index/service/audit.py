"""The audit log: who wrote or inspected what and when; append-only, hash-chained, exportable."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from index.service.audit_seal import (
    AuditKey,
    Head,
    advance_head,
    anchor_path,
    ensure_key,
    load_key,
    read_head,
)
from index.store.database import Database, utc_now

GENESIS = "0" * 64
MAX_TEXT = 300
"""Longest string kept in an entry's detail (longer ones are cut and say how long they were)."""
MAX_DETAIL = 4096
"""Largest detail an entry keeps, as JSON; a larger one is replaced by its size."""
MAX_NAME = 200
"""Longest action or target an entry keeps."""
COLUMNS = "id, at, actor, key_id, role, firm, action, target, status, detail, previous, digest"


@dataclass(frozen=True)
class Actor:
    """Who acted: an API key (its id, label or prefix, role and firm), the command line, or nobody known."""

    name: str
    key_id: int | None = None
    role: str | None = None
    firm: str | None = None


ANONYMOUS = Actor("anonymous")


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action; `digest` chains it to the entry before (`previous`)."""

    id: int
    at: str
    actor: str
    key_id: int | None
    role: str | None
    firm: str | None
    action: str
    target: str | None
    status: int
    detail: dict[str, Any]
    previous: str
    digest: str

    def as_json(self) -> dict[str, Any]:
        """Return the entry as a JSON-ready dict."""
        return asdict(self)


def _digest(previous: str, fields: tuple[Any, ...], key: bytes | None = None) -> str:
    """Return an entry's digest: HMAC-SHA256 with the home's audit key, plain sha256 without one."""
    canonical = json.dumps([previous, *fields], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if key is None:
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_entries(entries: Iterable[AuditEntry], key: AuditKey | None, head: Head | None) -> list[str]:
    """Return the problems of an audit chain (empty when intact), given the key and the head anchor.

    Entries from `key.keyed_from` on must carry HMACs of that key, earlier ones plain sha256s; each
    must follow the one before; the entry the anchor names must be there, with its digest.
    """
    problems: list[str] = []
    previous, last, anchored = GENESIS, 0, None
    for e in entries:
        detail_text = json.dumps(e.detail, sort_keys=True, ensure_ascii=False)
        fields = (e.at, e.actor, e.key_id, e.role, e.firm, e.action, e.target, e.status, detail_text)
        if e.previous != previous:
            problems.append(f"audit entry {e.id} does not follow the entry before it (one was removed)")
        secret = key.secret if key is not None and e.id >= key.keyed_from else None
        if not hmac.compare_digest(_digest(e.previous, fields, secret), e.digest):
            problems.append(f"audit entry {e.id} was changed after it was written")
        if head is not None and e.id == head.id:
            anchored = e.digest
        previous, last = e.digest, e.id
    if key is None and last and head is not None:
        problems.append("the audit key file (.audit-key) is missing: the keyed entries cannot be checked")
    if head is not None and head.id > last:
        problems.append(
            f"the audit log ends at entry {last}, its anchor names entry {head.id}: entries were removed"
        )
    elif head is not None and anchored != head.digest:
        problems.append(f"audit entry {head.id} differs from its anchor: the log was rewritten")
    return problems


def _short(value: Any) -> Any:
    """Return `value` with every string cut to MAX_TEXT characters and lists to 20 items."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + f"... ({len(value)} characters)"
    if isinstance(value, dict):
        return {str(k)[:MAX_TEXT]: _short(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [_short(v) for v in value[:20]]
    return value


def bounded_detail(detail: dict[str, Any] | None) -> str:
    """Return an entry's detail as JSON of at most about MAX_DETAIL bytes (see MAX_TEXT, MAX_DETAIL).

    Why: details carry what callers sent; an entry must cost the same whatever they sent.
    """
    text = json.dumps(_short(detail or {}), sort_keys=True, ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_DETAIL:
        text = json.dumps({"truncated": True, "bytes": len(text.encode("utf-8"))}, sort_keys=True)
    return text


def entry_of_row(row: tuple[Any, ...]) -> AuditEntry:
    """Return the entry of a row selected with COLUMNS."""
    values = list(row)
    values[9] = json.loads(values[9])
    return AuditEntry(*values)


class AuditLog:
    """Appends entries in their own transaction; the table refuses UPDATE and DELETE (triggers).

    Why a keyed hash chain as well: triggers stop the service's own code paths, the chain lets
    `verify` show that nobody edited the file behind the service's back, its key (outside the
    database) that nobody recomputed it, and the head anchor that nobody cut its end off
    (index/service/audit_seal.py).
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self.home = database.path.parent
        self._key: AuditKey | None = None

    def record(
        self,
        actor: Actor,
        action: str,
        target: str | None = None,
        status: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry durably (WAL, synchronous=FULL), its detail bounded in size. Returns it."""
        detail_text = bounded_detail(detail)
        action, target = action[:MAX_NAME], target[:MAX_NAME] if target is not None else None
        at = utc_now()
        with self._db.transaction() as db:
            last = db.execute("SELECT id, digest FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            entry_id, previous = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
            key = self._key = self._key or ensure_key(self.home, entry_id)
            who = (actor.name, actor.key_id, actor.role, actor.firm)
            fields = (at, *who, action, target, status, detail_text)
            digest = _digest(previous, fields, key.secret if entry_id >= key.keyed_from else None)
            db.execute(
                "INSERT INTO audit_log(id, at, actor, key_id, role, firm, action, target, status, detail,"
                " previous, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry_id, *fields, previous, digest),
            )
        advance_head(self.home, Head(entry_id, digest))
        return AuditEntry(entry_id, *fields[:8], json.loads(detail_text), previous, digest)

    def count(self) -> int:
        """Return how many entries there are."""
        row = self._db.row("SELECT count(*) FROM audit_log")
        return int(row[0]) if row else 0

    def page(self, limit: int, offset: int = 0) -> list[AuditEntry]:
        """Return a page of entries, oldest first."""
        query = f"SELECT {COLUMNS} FROM audit_log ORDER BY id LIMIT ? OFFSET ?"
        rows = self._db.rows(query, (limit, offset))
        return [entry_of_row(r) for r in rows]

    def entries(self, after_id: int = 0, chunk: int = 500) -> Iterator[AuditEntry]:
        """Yield every entry after `after_id`, oldest first, reading `chunk` rows at a time."""
        while True:
            rows = self._db.rows(
                f"SELECT {COLUMNS} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", (after_id, chunk)
            )
            for row in rows:
                yield entry_of_row(row)
            if len(rows) < chunk:
                return
            after_id = int(rows[-1][0])

    def export(self, out: TextIO, after_id: int = 0) -> int:
        """Write the entries after `after_id` as JSON lines. Returns how many were written."""
        written = 0
        for entry in self.entries(after_id):
            out.write(json.dumps(entry.as_json(), ensure_ascii=False) + "\n")
            written += 1
        return written

    def verify(self) -> list[str]:
        """Return the problems of the keyed chain and its head anchor (empty when intact)."""
        return verify_entries(self.entries(), load_key(self.home), read_head(anchor_path(self.home)))
