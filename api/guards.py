"""Guards in front of the API: the key checked before any body is read, failed keys counted and
rate-limited, uploads per key bounded, and bodies that arrive too slowly dropped.

Order (outermost first, see api/app.py): KeyGate, UploadCap, LoadShedder, AuditTrail, BodyDeadline,
BodyLimit. So a request without a valid key is answered 401 from its headers alone and never takes
a load-shedding slot, and a slot held by a slow body is freed by the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit_trail import KEY_STATE
from api.errors import error_response
from index.errors import NotAuthenticated, RateLimited, RequestTimeout
from index.service.audit import ANONYMOUS, AuditLog
from index.service.keys import KeyRecord, KeyStore
from model.errors import LanternGuardError

logger = logging.getLogger(__name__)

PUBLIC_API = ("/api/v1/demo/",)
"""API paths that need no key (the demo photo)."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_CLIENTS = 10_000
"""Clients whose failures are remembered at once; the oldest are forgotten first."""


def client_of(scope: Scope) -> str:
    """Return the address a request came from."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bearer_of(scope: Scope) -> str | None:
    """Return the key of an `Authorization: Bearer KEY` header, or None."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                return secret.strip()
    return None


class AuthFailures:
    """Failed authentications per client in a fixed window: counted, and refused past `limit`.

    Why: an unauthenticated caller must cost a header check and a counter, never a stored entry
    per request; the audit log gets one entry per client and window (`should_audit`).
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self.total = 0
        self._clients: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def _current(self, client: str) -> tuple[float, int]:
        started, count = self._clients.get(client, (0.0, 0))
        if time.monotonic() - started >= self.window_s:
            return time.monotonic(), 0
        return started, count

    def blocked(self, client: str) -> int:
        """Return the seconds until `client` may try again (0: it may now)."""
        started, count = self._current(client)
        if count < self.limit:
            return 0
        return max(1, int(started + self.window_s - time.monotonic()) + 1)

    def note(self, client: str) -> bool:
        """Count one failure of `client`; return whether it is its first in this window."""
        started, count = self._current(client)
        self._clients[client] = (started, count + 1)
        self._clients.move_to_end(client)
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        self.total += 1
        return count == 0


class KeyGate:
    """Answers 401 to an API request without a live key before its body is read (429 after many
    failures of its client).

    The accepted key is left in the scope's state, where `api.auth.current_key` and the audit
    trail find it.
    """

    def __init__(
        self,
        app: ASGIApp,
        stores: Callable[[Scope], tuple[KeyStore, AuditLog] | None],
        failures: AuthFailures,
        prefix: str = "/api/",
    ) -> None:
        self.app = app
        self.stores = stores
        self.failures = failures
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        stores = self.stores(scope) if scope["type"] == "http" else None
        if stores is None or not path.startswith(self.prefix) or path.startswith(PUBLIC_API):
            await self.app(scope, receive, send)
            return
        keys, audit = stores
        secret = bearer_of(scope)
        try:
            if secret is None:
                raise NotAuthenticated("no API key: send the header `Authorization: Bearer KEY`")
            key = await run_in_threadpool(keys.authenticate, secret)
        except NotAuthenticated as exc:
            await self._refuse(scope, receive, send, audit, exc)
            return
        scope.setdefault("state", {})[KEY_STATE] = key
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, audit: AuditLog, exc: LanternGuardError
    ) -> None:
        """Answer a failed authentication: 401, or 429 once its client failed too often this minute.

        A valid key is never refused for its address's failures (clients behind one NAT share it).
        """
        client, path = client_of(scope), scope["path"][:200]
        wait = self.failures.blocked(client)
        if self.failures.note(client):
            detail = {"client": client, "method": scope["method"], "path": path}
            try:
                await run_in_threadpool(audit.record, ANONYMOUS, "auth.failed", None, 401, detail)
            except Exception:
                logger.exception("could not write the audit entry of a failed authentication")
        if wait:
            exc = RateLimited(f"too many requests with a wrong or missing API key: retry in {wait} s", wait)
        logger.info("refused %s %s from %s: %s", scope["method"], path, client, exc)
        await error_response(exc)(scope, receive, send)


class UploadCap:
    """Lets one key send at most `limit` request bodies at once; more are answered 429 at once."""

    def __init__(self, app: ASGIApp, limit: int, retry_after_s: int) -> None:
        self.app = app
        self.limit = limit
        self.retry_after_s = retry_after_s
        self._open: defaultdict[int, int] = defaultdict(int)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = scope.get("state", {}).get(KEY_STATE) if scope["type"] == "http" else None
        if not isinstance(key, KeyRecord) or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if self._open[key.id] >= self.limit:
            error = RateLimited(
                f"this key already sends {self.limit} requests at once: retry in {self.retry_after_s} s",
                self.retry_after_s,
            )
            await error_response(error)(scope, receive, send)
            return
        self._open[key.id] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._open[key.id] -= 1
            if not self._open[key.id]:
                del self._open[key.id]


class BodyDeadline:
    """Drops a request whose body arrives slower than `min_bytes_per_s` after a `grace_s` start (408).

    The body must be complete by `grace_s + received / min_bytes_per_s` seconds after the request
    began, so a sender trickling a byte a second is cut off after about `grace_s`, while a large
    upload at a modest rate has all the time it needs. uvicorn has no such timeout of its own
    (`timeout_keep_alive` covers only idle connections between requests).
    """

    def __init__(self, app: ASGIApp, grace_s: float, min_bytes_per_s: int) -> None:
        self.app = app
        self.grace_s = grace_s
        self.min_bytes_per_s = min_bytes_per_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started, received, dropped, complete = loop.time(), 0, False, False

        async def timed() -> Message:
            nonlocal received, dropped, complete
            if dropped:
                return {"type": "http.disconnect"}
            if complete:
                return await receive()
            left = started + self.grace_s + received / self.min_bytes_per_s - loop.time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.0))
            except TimeoutError:
                dropped = True
                logger.warning("dropped %s %s from %s: body too slow", scope["method"], scope["path"][:200],
                               client_of(scope))  # fmt: skip
                error = RequestTimeout(
                    f"the request body arrived too slowly ({received} bytes in"
                    f" {loop.time() - started:.0f} s): send it again on a faster connection"
                )
                await error_response(error)(scope, receive, send)
                return {"type": "http.disconnect"}
            received += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def guarded(message: Message) -> None:
            if not dropped:
                await send(message)

        await self.app(scope, timed, guarded)
