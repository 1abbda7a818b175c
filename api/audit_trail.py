"""The audit trail: every API write and every inspection is logged (who, what, when) before it is answered."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.service.audit import ANONYMOUS, Actor, AuditLog
from index.service.keys import KeyRecord

logger = logging.getLogger(__name__)

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_STATE = "audit_key"
"""Where the auth dependency leaves the request's key in the ASGI scope's state."""
ANSWER_FIELDS = ("id", "verdict", "photo_sha256", "status", "registration_number", "role", "firm", "name")
"""Fields of a JSON answer worth keeping; never the issued key's secret (`key`)."""
REQUEST_FIELDS = frozenset({"review", "title", "registration_number", "locarno_class", "valid_from",
                            "valid_until", "role", "firm", "label", "name",
                            "state", "url", "events"})  # fmt: skip
_CAPTURE = 64 * 1024
_ACTIONS = (
    (re.compile(r"^/api/v1/designs$"), {"POST": "design.register"}),
    (re.compile(r"^/api/v1/designs/[^/]+$"), {"PATCH": "design.update", "DELETE": "design.withdraw"}),
    (re.compile(r"^/api/v1/designs/[^/]+/images$"), {"POST": "design.add_views"}),
    (re.compile(r"^/api/v1/inspections$"), {"POST": "inspection.create"}),
    (re.compile(r"^/api/v1/inspections/[^/]+/matches/[^/]+$"), {"PATCH": "inspection.review"}),
    (re.compile(r"^/api/v1/scans$"), {"POST": "scan.start"}),
    (re.compile(r"^/api/v1/keys$"), {"POST": "key.issue"}),
    (re.compile(r"^/api/v1/keys/[^/]+$"), {"DELETE": "key.revoke"}),
    (re.compile(r"^/api/v1/firms$"), {"POST": "firm.add"}),
    (re.compile(r"^/api/v1/alerts/[^/]+$"), {"PATCH": "alert.mark"}),
    (re.compile(r"^/api/v1/alerts/[^/]+/field-view$"), {"POST": "alert.field_view"}),
    (re.compile(r"^/api/v1/webhooks$"), {"POST": "webhook.create"}),
    (re.compile(r"^/api/v1/webhooks/[^/]+$"), {"DELETE": "webhook.delete"}),
)


def action_of(method: str, path: str) -> str:
    """Return the audit name of a request (`design.register`), or `METHOD path` for any other write."""
    for pattern, names in _ACTIONS:
        if pattern.match(path) and method in names:
            return names[method]
    return f"{method} {path}"


def actor_of(scope: Scope) -> Actor:
    """Return who sent the request: the key the auth dependency accepted, or anonymous."""
    key = scope.get("state", {}).get(KEY_STATE)
    if not isinstance(key, KeyRecord):
        return ANONYMOUS
    return Actor(key.label or key.prefix, key.id, key.role.value, key.firm)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        return None


def describe(path: str, status: int, request: bytes, answer: bytes) -> tuple[str | None, dict[str, Any]]:
    """Return the target and the details worth keeping of a request and its JSON answer."""
    detail: dict[str, Any] = {"path": path}
    sent = _json(request)
    if isinstance(sent, dict):
        detail["request"] = {k: v for k, v in sent.items() if k in REQUEST_FIELDS}
    body = _json(answer)
    target = None
    if isinstance(body, dict):
        if status < 400:
            detail.update({k: body[k] for k in ANSWER_FIELDS if k in body and k != "id"})
            target = str(body["id"]) if "id" in body else None
            matches = body.get("matches")
            if isinstance(matches, list) and matches and isinstance(matches[0], dict):
                detail["best_match"] = {k: matches[0].get(k) for k in ("design_id", "score")}
        elif isinstance(body.get("detail"), str):
            detail["error"] = body["detail"][:300]
    return target, detail


class AuditTrail:
    """Records each write under /api/ in the audit log, then lets its answer go out.

    Why hold the answer back: a client that got its 201 can rely on the entry being durable. The
    request's own change is already committed then; if the entry cannot be written the failure is
    logged and the answer still goes out (refusing it would not undo the change).
    """

    def __init__(self, app: ASGIApp, audit_log: Callable[[Scope], AuditLog | None]) -> None:
        self.app = app
        self.audit_log = audit_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        sent, answer, held = bytearray(), bytearray(), []
        status = 0
        json_request = dict(scope["headers"]).get(b"content-type", b"").startswith(b"application/json")

        async def teed() -> Message:
            message = await receive()
            if json_request and len(sent) < _CAPTURE:
                sent.extend(message.get("body", b""))
            return message

        async def hold(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(answer) < _CAPTURE:
                answer.extend(message.get("body", b""))
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await self._record(scope, status, bytes(sent), bytes(answer))
                for waiting in held:
                    await send(waiting)
                held.clear()

        try:
            await self.app(scope, teed, hold)
        except Exception:
            await self._record(scope, 500, bytes(sent), b"")
            raise

    async def _record(self, scope: Scope, status: int, request: bytes, answer: bytes) -> None:
        log = self.audit_log(scope)
        if log is None:
            return
        target, detail = describe(scope["path"], status, request, answer)
        action = action_of(scope["method"], scope["path"])
        try:
            await run_in_threadpool(log.record, actor_of(scope), action, target, status, detail)
        except Exception:
            logger.exception("could not write the audit entry of %s %s", scope["method"], scope["path"])
