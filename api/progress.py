"""A progress bar on stderr: redrawn in place on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Counts work done against a total and shows rate and time left."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._every_s = every_s if not self._tty else 0.1
        self._start = time.monotonic()
        self._last = 0.0

    def update(self, count: int = 1) -> None:
        """Record `count` more items done and redraw when due."""
        self.done += count
        now = time.monotonic()
        if now - self._last >= self._every_s or self.done >= self.total:
            self._last = now
            self._draw(now)

    def set(self, done: int) -> None:
        """Record the absolute number of items done."""
        self.update(done - self.done)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        share = self.done / self.total if self.total else 1.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        bar = "#" * int(share * 30)
        text = f"{self.label} [{bar:<30}] {self.done}/{self.total} {rate:.1f}/s eta {left:.0f}s"
        if self._tty:
            self._stream.write("\r" + text + ("\n" if self.done >= self.total else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


def stage_bars() -> Callable[[str, int, int], None]:
    """Return a `progress(stage, done, total)` callback that keeps one bar per stage."""
    bars: dict[str, Progress] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bars.setdefault(stage, Progress(stage, total)).set(done)

    return progress
