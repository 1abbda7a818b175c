"""Load shedding: a bound on the API requests served at once; the rest wait briefly, then get 503."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from index.errors import Overloaded

logger = logging.getLogger(__name__)


class LoadShedder:
    """Lets at most `limit` requests under `prefix` run at once; a request that finds no free slot
    within `queue_timeout_s` is answered 503 with `Retry-After` at once.

    Why: on 2 cores a burst of inspections would otherwise queue on the thread pool until clients
    time out; a quick 503 tells them to come back, and health checks and pages stay outside the
    bound so that the service still answers them while saturated. Only requests with a valid key
    get here: `api.guards.KeyGate` runs outside it and answers the others from their headers.
    """

    def __init__(
        self, app: ASGIApp, limit: int, queue_timeout_s: float, retry_after_s: int, prefix: str = "/api/"
    ) -> None:
        if limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        self.app = app
        self.limit = limit
        self.queue_timeout_s = queue_timeout_s
        self.retry_after_s = retry_after_s
        self.prefix = prefix
        self.shed = 0
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop = asyncio.Semaphore(self.limit), loop
        return self._slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        slots = self._semaphore()
        try:
            await asyncio.wait_for(slots.acquire(), timeout=self.queue_timeout_s)
        except TimeoutError:
            self.shed += 1
            logger.warning("shed %s %s: %d requests in flight", scope["method"], scope["path"], self.limit)
            error = Overloaded(
                f"the service is busy ({self.limit} requests in flight): retry in {self.retry_after_s} s",
                self.retry_after_s,
            )
            await error_response(error)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()
