"""Scan sources that arrive from outside: zip archives checked entry by entry, and allowed folders."""

from __future__ import annotations

import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from index.batch.inputs import IMAGE_SUFFIXES
from index.errors import InvalidInput, PayloadTooLarge
from model.errors import RejectionCode

NESTED_SUFFIXES = frozenset({".zip", ".jar", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst"})
_END = b"PK\x05\x06"
_END64_LOCATOR = b"PK\x06\x07"
_END64 = b"PK\x06\x06"


@dataclass(frozen=True)
class ScanPlan:
    """What a scan will read: names of the images (archive entries or files under the folder) and
    how many other files it passes over."""

    names: list[str]
    ignored: int
    skipped: tuple[tuple[str, str], ...] = ()
    """(name, why) of each file passed over; why is a `skip_reason`."""


def _is_image_name(name: str) -> bool:
    path = PurePosixPath(name)
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
    return not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def skip_reason(name: str) -> str:
    """Return why a file that is not scanned is passed over: `hidden` (a hidden or system file) or
    `not_image` (its name does not end in an image type)."""
    path = PurePosixPath(name)
    return "hidden" if any(part.startswith(".") or part == "__MACOSX" for part in path.parts) else "not_image"


def _check_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise InvalidInput(f"archive entry {name!r} has an absolute path: refused")
    if ".." in PurePosixPath(name).parts:
        raise InvalidInput(f"archive entry {name!r} points outside the archive (`..`): refused")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InvalidInput(f"archive entry {name!r} is a symbolic link: refused")
    if info.flag_bits & 0x1:
        raise InvalidInput(f"archive entry {name!r} is encrypted: refused")
    if PurePosixPath(name).suffix.lower() in NESTED_SUFFIXES:
        raise InvalidInput(f"archive entry {name!r} is a nested archive: unpack it first")


DIRECTORY_ENTRY_BYTES = 46 + 1024
"""The most central-directory bytes allowed per entry: its fixed 46 bytes, and name, extra field and
comment together up to 1 KiB (real archives use far less)."""


def declared_entries(handle: BinaryIO) -> int | None:
    """Return how many entries a zip's end record declares (zip64 too), read before its directory is.

    Returns None when there is no end record (ZipFile then says what is wrong).
    """
    declared = declared_directory(handle)
    return None if declared is None else declared[0]


def declared_directory(handle: BinaryIO) -> tuple[int, int] | None:
    """Return (entries, central directory bytes) as a zip's end record declares them (zip64 too).

    Why the size too: ZipFile reads and parses as many bytes as the end record says the directory
    has, whatever entry count it claims. Returns None when there is no end record.
    """
    handle.seek(0, 2)
    size = handle.tell()
    span = min(size, 65_535 + 22)
    handle.seek(size - span)
    tail = handle.read(span)
    handle.seek(0)
    at = tail.rfind(_END)
    if at < 0 or len(tail) - at < 22:
        return None
    total, directory = struct.unpack("<HI", tail[at + 10 : at + 16])
    locator = at - 20
    if (
        (total != 0xFFFF and directory != 0xFFFFFFFF)
        or locator < 0
        or tail[locator : locator + 4] != _END64_LOCATOR
    ):
        return total, directory
    (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
    handle.seek(offset)
    record = handle.read(56)
    handle.seek(0)
    if len(record) < 48 or record[:4] != _END64:
        return total, directory
    entries, size = struct.unpack("<QQ", record[32:48])
    return int(entries), int(size)


def plan_archive(
    source: BinaryIO | Path, max_bytes: int, max_images: int, max_entries: int | None = None
) -> ScanPlan:
    """Check a zip archive before anything is stored and list the images it holds.

    `max_entries` (default: twice `max_images` plus 1000) bounds every entry, images or not, and is
    checked from the end record before the central directory is read; so is the directory's size,
    which may not exceed DIRECTORY_ENTRY_BYTES per declared entry. Returns the ScanPlan. Raises
    InvalidInput for a file that is not a zip, an entry with an absolute or `..` path, a symbolic
    link, an encrypted or nested archive, or no image at all; PayloadTooLarge when the number of
    entries, the unpacked size or the number of images is over the limit.
    """
    limit = 2 * max_images + 1000 if max_entries is None else max_entries
    try:
        if isinstance(source, Path):
            with source.open("rb") as handle:
                declared = declared_directory(handle)
        else:
            declared = declared_directory(source)
    except OSError as exc:
        raise InvalidInput(f"not a readable zip archive ({exc})") from exc
    if declared is not None:
        entries_declared, directory = declared
        if entries_declared > limit:
            raise PayloadTooLarge(f"the archive holds {entries_declared} entries, over the limit of {limit}")
        if directory > min(entries_declared, limit) * DIRECTORY_ENTRY_BYTES:
            raise PayloadTooLarge(
                f"the archive's directory is {directory} bytes, more than {entries_declared} entries need:"
                " it hides more entries than it declares"
            )
    try:
        with zipfile.ZipFile(source) as archive:
            entries = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InvalidInput(f"not a readable zip archive ({exc})") from exc
    if len(entries) > limit:
        raise PayloadTooLarge(f"the archive holds {len(entries)} entries, over the limit of {limit}")
    for info in entries:
        _check_entry(info)
    names = [info.filename for info in entries if _is_image_name(info.filename)]
    unpacked = sum(info.file_size for info in entries)
    if unpacked > max_bytes:
        raise PayloadTooLarge(f"the archive unpacks to {unpacked} bytes, over the limit of {max_bytes}")
    others = [info.filename for info in entries if not _is_image_name(info.filename)]
    return _plan(names, others, max_images, "the archive")


def read_entry(archive: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    """Return one entry's bytes, reading no more than `max_bytes` + 1 whatever its header claims.

    Raises PayloadTooLarge for a larger entry, InvalidInput for a damaged one.
    """
    try:
        with archive.open(name) as handle:
            data = handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InvalidInput(f"{name}: damaged archive entry ({exc})", code=RejectionCode.DAMAGED) from exc
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{name}: over the limit of {max_bytes} bytes per image", code=RejectionCode.TOO_LARGE
        )
    return data


def allowed_folder(folder: str, roots: list[Path]) -> Path:
    """Return the resolved folder when it lies under one of the allowed roots.

    Raises InvalidInput when folder scans are off, the folder is outside every root, or is not a folder.
    """
    if not roots:
        raise InvalidInput(
            "folder scans are off: set LANTERNGUARD_SCAN_ROOTS to the folders that may be scanned"
        )
    resolved = Path(folder).expanduser().resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise InvalidInput(f"{folder} is outside the allowed scan roots ({allowed})")
    if not resolved.is_dir():
        raise InvalidInput(f"{folder} is not a folder on the server")
    return resolved


def plan_folder(folder: Path, max_images: int) -> ScanPlan:
    """List the images under an allowed folder (recursively), as paths relative to it.

    Returns the ScanPlan. Raises InvalidInput when it holds no image, PayloadTooLarge when too many.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    names = [p.relative_to(folder).as_posix() for p in files]
    images = [n for n in names if _is_image_name(n)]
    return _plan(images, [n for n in names if not _is_image_name(n)], max_images, str(folder))


def read_file(folder: Path, name: str, max_bytes: int) -> bytes:
    """Return the bytes of a file under the scanned folder, refusing links that lead out of it.

    Raises InvalidInput for an escaping link or an unreadable file, PayloadTooLarge for a large one.
    """
    path = folder / name
    if not path.resolve().is_relative_to(folder):
        raise InvalidInput(
            f"{name}: a link that leads outside the scanned folder: refused", code=RejectionCode.OUTSIDE_LINK
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot be read ({exc.strerror})", code=RejectionCode.UNREADABLE) from exc
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{name}: over the limit of {max_bytes} bytes per image", code=RejectionCode.TOO_LARGE
        )
    return data


def _plan(names: list[str], others: list[str], max_images: int, where: str) -> ScanPlan:
    if not names:
        raise InvalidInput(f"{where} holds no image ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(names) > max_images:
        raise PayloadTooLarge(f"{where} holds {len(names)} images, over the limit of {max_images} per scan")
    skipped = tuple((name, skip_reason(name)) for name in others)
    return ScanPlan(names=names, ignored=len(others), skipped=skipped)
