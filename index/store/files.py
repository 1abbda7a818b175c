"""Atomic, durable file writes: temporary name, fsync, rename, fsync of the folder."""

from __future__ import annotations

import ctypes
import ctypes.util
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


def _syncfs() -> Callable[[int], int] | None:
    """Return libc's syncfs (Linux: flush one filesystem's data and metadata, and wait), or None."""
    name = ctypes.util.find_library("c")
    try:
        function = ctypes.CDLL(name, use_errno=True).syncfs if name else None
    except (OSError, AttributeError):
        return None
    if function is not None:
        function.argtypes = [ctypes.c_int]
    return function


_SYNCFS = _syncfs()


def sync_filesystem(folder: Path) -> bool:
    """Make everything written to `folder`'s filesystem durable (data, new names); False if unsupported."""
    if _SYNCFS is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs of {folder} failed")
    finally:
        os.close(fd)
    return True


def write_many_atomic(root: Path, items: list[tuple[Path, bytes]]) -> None:
    """Write each (path under `root`, data) atomically, all made durable together before returning.

    Why: write_bytes_atomic costs two fsyncs per file (the file, then its folder), and registering a
    batch of views writes four files per view. Here every temporary file is written, one sync of the
    filesystem makes their contents durable, they are renamed into place, and a second sync makes
    the new names durable: the same guarantee (each path holds all of its bytes or does not exist,
    and all exist once this returns) for two syncs per batch. Where syncfs is missing, each file
    falls back to write_bytes_atomic.
    """
    if not items:
        return
    ensure_folder(root)
    if _SYNCFS is None:
        for path, data in items:
            write_bytes_atomic(path, data)
        return
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in items:
            ensure_folder(path.parent)
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((Path(name), path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        sync_filesystem(root)
        for temporary, path in staged:
            os.replace(temporary, path)
        sync_filesystem(root)
    finally:
        for temporary, _ in staged:
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
