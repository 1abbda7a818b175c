"""Where a CLI scan's report goes: one JSON line per image, a progress bar, and a summary at the end."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from api.progress import Progress
from index.batch.inputs import ScanInputs

VERDICTS = ("match", "review", "no_match", "error")


class ScanReport:
    """Writes scan lines to a file (or stdout for "-"), counts verdicts, and prints the summary.

    Use as a context manager: the file is closed even when the scan stops on an error.
    """

    def __init__(self, out: Path, inputs: ScanInputs) -> None:
        self.out = out
        self.inputs = inputs
        self.verdicts: Counter[str] = Counter()
        self._progress = Progress("scan", len(inputs.images))
        self._stream: TextIO = sys.stdout if str(out) == "-" else out.open("w", encoding="utf-8")

    def __enter__(self) -> ScanReport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._stream is not sys.stdout:
            self._stream.close()

    def write(self, lines: list[dict[str, Any]]) -> None:
        """Write the lines of some images, in input order, and count them as done."""
        for line in lines:
            self.verdicts[line["verdict"] or "error"] += 1
            self._stream.write(json.dumps(line) + "\n")
        self._stream.flush()
        self._progress.update(len(lines))

    def summarise(self, where: str = "") -> None:
        """Print what the scan found to stderr; `where` names a cluster (" on Ray (auto)")."""
        counts = ", ".join(f"{self.verdicts[k]} {k}" for k in VERDICTS)
        print(
            f"scanned {len(self.inputs.images)} image(s){where}: {counts}; "
            f"{self.inputs.ignored} non-image file(s) ignored; results in {self.out}",
            file=sys.stderr,
        )
