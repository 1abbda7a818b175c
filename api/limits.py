"""A request-body size limit enforced before the body is read: by Content-Length, or by counting."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from index.errors import PayloadTooLarge


class BodyLimit:
    """Answers 413 to a request whose body is larger than the limit for its path.

    A declared Content-Length over the limit is refused before anything is read; a body without one
    is counted as it arrives: once it passes the limit the 413 is sent, the app sees the client leave,
    and whatever it answers then is dropped.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            error = PayloadTooLarge(f"the request body is {int(declared)} bytes, over the limit of {limit}")
            await error_response(error)(scope, receive, send)
            return
        received = 0
        refused = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit and not refused:
                refused = True
                error = PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
                await error_response(error)(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, guarded)
