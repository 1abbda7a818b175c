"""Atomic, durable file writes: temporary name, fsync, rename, fsync of the folder."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def fsync_folder(folder: Path) -> None:
    """Make a folder's entries (new, renamed or removed names) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_folder(folder: Path) -> None:
    """Create `folder` and its missing parents, each one made durable in the folder that holds it.

    Why: a new folder's entry lives in its parent; without that parent's fsync, a power loss can
    lose the folder and every durable file written into it.
    """
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        fsync_folder(created.parent)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Have `write` fill a temporary file beside `path`, make it durable, then rename it over `path`."""
    ensure_folder(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        write(temporary)
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync_folder(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically and durably."""
    write_atomic(path, lambda temporary: temporary.write_bytes(data))


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` as indented JSON to `path` atomically and durably."""
    write_bytes_atomic(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
