"""Webhooks: a firm's endpoints, the deliveries of its alerts (signed, retried, recorded), and the URL rules.

Every delivery is a JSON POST with two headers: `X-LanternGuard-Timestamp` (Unix seconds when it
was sent) and `X-LanternGuard-Signature: sha256=HEX`, the HMAC-SHA256 with the endpoint's secret of
`TIMESTAMP.BODY` (the timestamp, a dot, the raw body bytes). A receiver recomputes it, compares in
constant time and refuses a timestamp more than `REPLAY_WINDOW_S` from its clock (`verify_signature`
does exactly that). Deliveries wait in the `webhook_deliveries` table, so none is lost when the
service stops; one worker thread sends them (see index/service/delivery.py).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from index.errors import Forbidden, InvalidInput, UnknownRecord
from index.store.database import Database, utc_now

EVENTS = ("alert.created", "alert.updated")
REPLAY_WINDOW_S = 300
SIGNATURE_HEADER = "X-LanternGuard-Signature"
TIMESTAMP_HEADER = "X-LanternGuard-Timestamp"
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
"""Cloud metadata services by name; by address they are link-local (169.254.169.254, fd00:ec2::254 aside)."""
_HOOK_SELECT = (
    "SELECT w.id, f.name, w.url, w.events, w.created_at FROM webhooks w JOIN firms f ON f.id = w.firm_id"
)
_DELIVERY_SELECT = (
    "SELECT id, webhook_id, alert_id, event, state, attempts, last_status, last_error, created_at,"
    " finished_at"
    " FROM webhook_deliveries"
)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header's value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, body: bytes, timestamp: str, signature: str, now: float | None = None
) -> bool:
    """Return whether a delivery is authentic and fresh: the receiver's side of `sign`."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > REPLAY_WINDOW_S:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def _refused(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return "a private or reserved address"
    return None


def check_url(url: str, allow_private: bool) -> str:
    """Return the URL when deliveries may go there. Raises InvalidInput saying why not.

    Only http(s); no credentials in the URL; never a metadata host name, nor a host that resolves
    to a link-local, loopback, private or reserved address, unless `allow_private`
    (LANTERNGUARD_WEBHOOK_ALLOW_PRIVATE, meant for tests and closed networks).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("a webhook URL must be http:// or https:// with a host name")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL must not carry a user name or password")
    if allow_private:
        return url.strip()
    host = parts.hostname.rstrip(".").lower()
    if host in METADATA_HOSTS:
        raise InvalidInput(f"webhooks may not go to {host}: it is a cloud metadata service")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"the webhook host {host} cannot be resolved ({exc})") from exc
    for address in sorted(addresses):
        reason = _refused(str(address))
        if reason:
            raise InvalidInput(f"webhooks may not go to {host}: it resolves to {address}, {reason}")
    return url.strip()


@dataclass(frozen=True)
class Webhook:
    """A registered endpoint of a firm and the events it wants."""

    id: int
    firm: str
    url: str
    events: list[str]
    created_at: str


@dataclass(frozen=True)
class IssuedWebhook:
    """A new endpoint and its signing secret, shown this once."""

    webhook: Webhook
    secret: str


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint: pending, delivered or failed, after how many attempts."""

    id: int
    webhook_id: int
    alert_id: int | None
    event: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str
    finished_at: str | None


@dataclass(frozen=True)
class Due:
    """A delivery the worker sends now: where, with which secret, what."""

    id: int
    url: str
    secret: str
    event: str
    body: bytes
    attempts: int


def _webhook(row: tuple) -> Webhook:
    return Webhook(int(row[0]), str(row[1]), str(row[2]), json.loads(row[3]), str(row[4]))


class Webhooks:
    """The `webhooks` and `webhook_deliveries` tables: endpoints per firm, deliveries per event."""

    def __init__(self, database: Database, allow_private: bool) -> None:
        self._db = database
        self.allow_private = allow_private

    def create(self, firm_id: int, url: str, events: list[str]) -> IssuedWebhook:
        """Register an endpoint. Returns it with its secret. Raises InvalidInput (URL, events)."""
        unknown = sorted(set(events) - set(EVENTS))
        if not events or unknown:
            raise InvalidInput(
                f"events must be some of {', '.join(EVENTS)}; got {', '.join(unknown) or 'none'}"
            )
        checked = check_url(url, self.allow_private)
        secret = secrets.token_urlsafe(32)
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO webhooks(firm_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)",
                (firm_id, checked, json.dumps(sorted(set(events))), secret, utc_now()),
            )
        return IssuedWebhook(self.get(int(cursor.lastrowid or 0)), secret)

    def get(self, webhook_id: int, firm: str | None = None) -> Webhook:
        """Return a live endpoint. Raises UnknownRecord, or Forbidden for another firm's (`firm` given)."""
        row = self._db.row(_HOOK_SELECT + " WHERE w.id = ? AND w.deleted_at IS NULL", (webhook_id,))
        if row is None:
            raise UnknownRecord(f"no webhook {webhook_id}")
        hook = _webhook(row)
        if firm is not None and hook.firm != firm:
            raise Forbidden(f"webhook {webhook_id} belongs to another firm")
        return hook

    def list(self, firm: str | None) -> list[Webhook]:
        """Return the live endpoints of a firm (None: of every firm), oldest first."""
        where = " WHERE w.deleted_at IS NULL" + (" AND f.name = ?" if firm is not None else "")
        rows = self._db.rows(_HOOK_SELECT + where + " ORDER BY w.id", [firm] if firm is not None else [])
        return [_webhook(r) for r in rows]

    def delete(self, webhook_id: int, firm: str | None) -> Webhook:
        """Stop delivering to an endpoint; its pending deliveries are marked failed. Returns it."""
        hook = self.get(webhook_id, firm)
        with self._db.transaction() as db:
            db.execute("UPDATE webhooks SET deleted_at = ? WHERE id = ?", (utc_now(), webhook_id))
            db.execute(
                "UPDATE webhook_deliveries SET state = 'failed', last_error = 'the webhook was deleted',"
                " finished_at = ? WHERE webhook_id = ? AND state = 'pending'",
                (utc_now(), webhook_id),
            )
        return hook

    def enqueue(self, firm: str, event: str, alert_id: int | None, payload: dict[str, Any]) -> list[int]:
        """Queue a delivery of `payload` to each live endpoint of `firm` wanting `event`. Returns the ids."""
        hooks = [h for h in self.list(firm) if event in h.events]
        ids = []
        with self._db.transaction() as db:
            for hook in hooks:
                body = json.dumps({"event": event, **payload}, ensure_ascii=False, sort_keys=True)
                cursor = db.execute(
                    "INSERT INTO webhook_deliveries(webhook_id, alert_id, event, body, state, next_at,"
                    " created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                    (hook.id, alert_id, event, body, time.time(), utc_now()),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def due(self, limit: int = 20) -> list[Due]:
        """Return pending deliveries whose time has come, oldest first."""
        rows = self._db.rows(
            "SELECT d.id, w.url, w.secret, d.event, d.body, d.attempts FROM webhook_deliveries d"
            " JOIN webhooks w ON w.id = d.webhook_id WHERE d.state = 'pending' AND d.next_at <= ?"
            " ORDER BY d.next_at LIMIT ?",
            (time.time(), limit),
        )
        return [Due(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]).encode(), int(r[5])) for r in rows]

    def next_due(self) -> float | None:
        """Return when the next pending delivery is due (Unix seconds), or None."""
        row = self._db.row("SELECT min(next_at) FROM webhook_deliveries WHERE state = 'pending'")
        return float(row[0]) if row and row[0] is not None else None

    def attempted(
        self, delivery_id: int, status: int | None, error: str | None, retry_at: float | None
    ) -> None:
        """Record one attempt: delivered (no error), retried at `retry_at`, or failed for good (None)."""
        state = "delivered" if error is None else ("pending" if retry_at is not None else "failed")
        ended = utc_now() if state != "pending" else None
        with self._db.transaction() as db:
            db.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, last_status = ?,"
                " last_error = ?, next_at = coalesce(?, next_at), finished_at = ? WHERE id = ?",
                (state, status, error, retry_at, ended, delivery_id),
            )

    def deliveries(self, webhook_id: int, limit: int = 100) -> list[Delivery]:
        """Return an endpoint's deliveries, newest first."""
        rows = self._db.rows(
            _DELIVERY_SELECT + " WHERE webhook_id = ? ORDER BY id DESC LIMIT ?", (webhook_id, limit)
        )
        return [Delivery(*r) for r in rows]

    def deliveries_of_alert(self, alert_id: int) -> list[Delivery]:
        """Return the deliveries of one alert, oldest first."""
        rows = self._db.rows(_DELIVERY_SELECT + " WHERE alert_id = ? ORDER BY id", (alert_id,))
        return [Delivery(*r) for r in rows]
