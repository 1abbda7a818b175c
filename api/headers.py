"""Security headers on every answer: a Content-Security-Policy with a per-request nonce, nosniff,
no framing, no referrer.

Pages may use inline `<script>` or `<style>` only with `nonce="{{ request.state.csp_nonce }}"`;
everything else comes from `'self'` (/static). Images may also be `blob:` (previews of chosen files)
or `data:`. The API docs (/docs, /redoc) are FastAPI's generated shells with inline scripts and get
a policy that allows them; they show no stored data. docs/service.md says the same for page authors.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_STATE = "csp_nonce"
DOCS_PATHS = ("/docs", "/redoc")
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def page_policy(nonce: str) -> str:
    """Return the Content-Security-Policy of every answer but the API docs."""
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}';"
        " img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none';"
        " form-action 'self'; object-src 'none'"
    )


class SecurityHeaders:
    """Adds CSP, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and `Referrer-Policy`
    to every HTTP answer (a header a route set itself is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[NONCE_STATE] = nonce
        docs = scope["path"] in DOCS_PATHS
        policy = DOCS_POLICY if docs else page_policy(nonce)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in (
                    ("Content-Security-Policy", policy),
                    ("X-Content-Type-Options", "nosniff"),
                    ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "no-referrer"),
                    ("Cross-Origin-Resource-Policy", "same-origin"),
                ):
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
