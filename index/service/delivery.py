"""The webhook worker: one background thread sends due deliveries, retries with backoff, records each try.

Nothing on a request's path waits for it: an alert only inserts delivery rows and wakes the thread.
A failed try (no answer within `timeout_s`, or any status outside 2xx) is retried after
`backoff_s`, then twice that, and so on, until `attempts` tries have failed; then the delivery is
marked failed (the alert itself stays, whatever happens to its deliveries). Redirects are not
followed and no proxy is used, so a delivery goes only where the checked URL points; the URL is
checked again before each try, in case its host now resolves elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from index.errors import InvalidInput
from index.service.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, Due, Webhooks, check_url, sign

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How often and how patiently deliveries are tried."""

    attempts: int = 5
    backoff_s: float = 2.0
    timeout_s: float = 5.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class Dispatcher:
    """Sends the deliveries that `Webhooks.enqueue` stored, on its own thread, until closed."""

    def __init__(self, hooks: Webhooks, policy: DeliveryPolicy) -> None:
        self.hooks = hooks
        self.policy = policy
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)

    def start(self) -> None:
        """Start the worker (deliveries left pending by an earlier run go out too)."""
        self._thread.start()

    def wake(self) -> None:
        """Tell the worker that deliveries were queued."""
        self._wake.set()

    def close(self) -> None:
        """Stop after the current try; pending deliveries stay queued for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for due in self.hooks.due():
                    if self._stop.is_set():
                        return
                    self._try(due)
                upcoming = self.hooks.next_due()
            except Exception:
                logger.exception("the webhook worker failed a round; it goes on")
                upcoming = None
            wait = 60.0 if upcoming is None else max(0.0, min(60.0, upcoming - time.time()))
            self._wake.wait(wait)
            self._wake.clear()

    def _try(self, due: Due) -> None:
        status, error = self._send(due)
        retry_at = None
        if error is not None and due.attempts + 1 < self.policy.attempts:
            retry_at = time.time() + self.policy.backoff_s * 2**due.attempts
        self.hooks.attempted(due.id, status, error, retry_at)
        if error is None:
            logger.info("webhook delivery %d (%s) delivered", due.id, due.event)
        else:
            then = "retrying" if retry_at is not None else "giving up"
            logger.warning(
                "webhook delivery %d try %d failed (%s); %s", due.id, due.attempts + 1, error, then
            )

    def _send(self, due: Due) -> tuple[int | None, str | None]:
        """Return (HTTP status, error or None) of one try."""
        try:
            check_url(due.url, self.hooks.allow_private)
        except InvalidInput as exc:
            return None, str(exc)
        timestamp = int(time.time())
        request = urllib.request.Request(
            due.url,
            data=due.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "LanternGuard-Webhooks/1",
                "X-LanternGuard-Event": due.event,
                "X-LanternGuard-Delivery": str(due.id),
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(due.secret, timestamp, due.body),
            },
        )
        try:
            with _OPENER.open(request, timeout=self.policy.timeout_s) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            return exc.code, f"the receiver answered {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return None, f"no answer: {getattr(exc, 'reason', exc)}"
        if not 200 <= status < 300:
            return status, f"the receiver answered {status}"
        return status, None
