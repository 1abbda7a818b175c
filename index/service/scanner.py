"""Batch scans in the background: one worker, batches through the engine, results logged as they come."""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from index.batch.reports import scan_line
from index.engine import Engine, Inspection, Rejected, source_name
from index.matching.verdict import Verdict
from index.service.archives import ScanPlan, allowed_folder, plan_archive, plan_folder, read_entry, read_file
from index.service.followup import FollowUp
from index.service.scans import INTERNAL_FAILURE, ScanLog, ScanRecord, ScanStatus
from index.service.uploads import Upload, check_pixels
from index.store.files import write_atomic
from model.errors import LanternGuardError

logger = logging.getLogger(__name__)

_BYTES_NAME = source_name(b"") + ": "


def rejected_line(rejected: Rejected) -> dict[str, Any]:
    """Return the scan line of a rejected image, with the code of why (`error_code`) beside the words."""
    return scan_line(rejected) | {"error_code": rejected.code.value}


@dataclass(frozen=True)
class ScanLimits:
    """How much one scan may hold and read."""

    max_archive_unpacked: int
    max_images: int
    max_image_bytes: int
    max_pixels: int
    batch: int = 16


class Scanner:
    """Runs scans one after another on a worker thread, so request threads only plan and queue them.

    Everything is checked before a scan is stored (archive entries, folder roots); after that a bad
    file becomes one error row, never a failed scan. A scan fails only when nothing can be searched.
    """

    def __init__(
        self, engine: Engine, log: ScanLog, spool: Path, limits: ScanLimits, follow_up: FollowUp
    ) -> None:
        self.follow_up = follow_up
        self.engine = engine
        self.log = log
        self.spool = spool
        self.limits = limits
        self._stopping = threading.Event()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan")

    def close(self) -> None:
        """Stop after the current batch; scans left unfinished are marked failed."""
        self._stopping.set()
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.log.fail_unfinished("the service stopped before this scan finished; start it again")

    def start_archive(self, key_id: int, filename: str, upload: BinaryIO) -> ScanRecord:
        """Check a zip archive, keep a copy and queue its scan. Returns the queued scan.

        Raises InvalidInput or PayloadTooLarge (see `plan_archive`); nothing is stored then.
        """
        limits = self.limits
        plan = plan_archive(upload, limits.max_archive_unpacked, limits.max_images)
        upload.seek(0)
        path = self.spool / f"{uuid.uuid4().hex}.zip"

        def copy(temporary: Path) -> None:
            with temporary.open("wb") as out:
                shutil.copyfileobj(upload, out)

        write_atomic(path, copy)
        record = self.log.create(key_id, "archive", filename, len(plan.names), plan.ignored, plan.skipped)
        self._worker.submit(self._run_archive, record.id, path, plan)
        return record

    def start_folder(self, key_id: int, folder: str, roots: list[Path]) -> ScanRecord:
        """Check a server folder against the allowed roots and queue its scan. Returns the queued scan.

        Raises InvalidInput (outside the roots, not a folder, no image) or PayloadTooLarge.
        """
        resolved = allowed_folder(folder, roots)
        plan = plan_folder(resolved, self.limits.max_images)
        record = self.log.create(key_id, "folder", str(resolved), len(plan.names), plan.ignored, plan.skipped)
        reader = lambda name: read_file(resolved, name, self.limits.max_image_bytes)  # noqa: E731
        self._worker.submit(self._run, record.id, plan, reader)
        return record

    def _run_archive(self, scan_id: int, path: Path, plan: ScanPlan) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                self._run(scan_id, plan, lambda name: read_entry(archive, name, self.limits.max_image_bytes))
        finally:
            path.unlink(missing_ok=True)

    def _run(self, scan_id: int, plan: ScanPlan, reader: Callable[[str], bytes]) -> None:
        self.log.set_status(scan_id, ScanStatus.RUNNING)
        batch = self.limits.batch
        try:
            for start in range(0, len(plan.names), batch):
                if self._stopping.is_set():
                    return
                lines, evidence, kept = self._inspect(plan.names[start : start + batch], reader)
                self.log.add_results(scan_id, start, lines, evidence)
                self.follow_up.scanned(scan_id, start, kept)
        except LanternGuardError as exc:
            self.log.set_status(scan_id, ScanStatus.FAILED, str(exc), type(exc).__name__)
            return
        except Exception as exc:
            logger.exception("scan %d failed", scan_id)
            self.log.set_status(scan_id, ScanStatus.FAILED, f"internal error: {exc}", INTERNAL_FAILURE)
            return
        self.log.set_status(scan_id, ScanStatus.FINISHED)
        logger.info("scan %d finished: %d image(s)", scan_id, len(plan.names))

    def _inspect(
        self, names: list[str], reader: Callable[[str], bytes]
    ) -> tuple[list[dict[str, Any]], list[tuple[str, int] | None], list[tuple[int, str, bytes, Inspection]]]:
        """Return the result line of each image; for those that name a design, the stored photo and
        the view that matched (the evidence picture is drawn from them on request); and (position,
        name, bytes, result) of every readable image, kept for looking back."""
        lines: list[dict[str, Any]] = [{} for _ in names]
        evidence: list[tuple[str, int] | None] = [None for _ in names]
        kept: list[tuple[int, str, bytes, Inspection]] = []
        readable: list[tuple[int, bytes]] = []
        for position, name in enumerate(names):
            try:
                data = reader(name)
            except LanternGuardError as exc:
                lines[position] = rejected_line(Rejected(name, str(exc), exc.code))
                continue
            try:
                check_pixels(Upload(name, data), self.limits.max_pixels)
                readable.append((position, data))
            except LanternGuardError as exc:
                lines[position] = rejected_line(Rejected(name, str(exc), exc.code))
        if readable:
            results = self.engine.inspect_many([data for _, data in readable])
            for (position, data), result in zip(readable, results, strict=True):
                name = names[position]
                if isinstance(result, Rejected):
                    reason = f"{name}: {result.reason.removeprefix(_BYTES_NAME)}"
                    lines[position] = rejected_line(replace(result, source=name, reason=reason))
                    continue
                kept.append((position, name, data, result))
                if result.verdict is not Verdict.NO_MATCH and result.matches:
                    self.engine.blobs.put(data)
                    evidence[position] = (result.sha256, result.matches[0].image_id)
                lines[position] = scan_line(result, image=name)
        return lines, evidence, kept
