"""What makes the audit log prove itself: a key kept outside the database and a head anchor.

- The key (`HOME/.audit-key`, mode 0600, created on first use) keys the chain: each new entry's
  digest is HMAC-SHA256 over the previous digest and its fields, so someone who edits the database
  cannot recompute a chain that verifies without also reading this file.
- The head anchor (`<home>.audit-head.json`, a file beside the home folder, and `audit-head.json`
  in every backup) records the last entry's id and digest, so deleting entries from the end
  (truncation) is seen even when what is left still chains.

Entries written before the key existed keep their plain sha256 digests; the key file records from
which entry on the chain is keyed (`keyed_from`), and since the first keyed entry's digest covers
the digest before it, the older entries cannot change without breaking it.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from index.store.files import ensure_folder, fsync_folder, write_json_atomic

KEY_FILE = ".audit-key"
HEAD_IN_BACKUP = "audit-head.json"


def anchor_path(home: Path) -> Path:
    """Return where the head anchor of a home lives: a file beside the home folder."""
    home = home.resolve()
    return home.parent / f"{home.name}.audit-head.json"


@dataclass(frozen=True)
class AuditKey:
    """The chain's key and the first entry id it keys."""

    secret: bytes
    keyed_from: int


@dataclass(frozen=True)
class Head:
    """The last audit entry as an anchor records it."""

    id: int
    digest: str


def load_key(home: Path) -> AuditKey | None:
    """Return the home's audit key, or None when it has none yet. Raises ValueError when unreadable."""
    path = home / KEY_FILE
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return AuditKey(bytes.fromhex(payload["key"]), int(payload["keyed_from"]))


def ensure_key(home: Path, next_id: int) -> AuditKey:
    """Return the home's audit key, creating it (0600) to key entries from `next_id` on when absent.

    The key file appears whole or not at all: it is written under a temporary name, made durable,
    then linked to its name (which fails if another process created it first).
    """
    found = load_key(home)
    if found is not None:
        return found
    ensure_folder(home)
    payload = json.dumps({"key": secrets.token_hex(32), "keyed_from": next_id}) + "\n"
    temporary = home / f".{KEY_FILE}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, payload.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, home / KEY_FILE)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    fsync_folder(home)
    key = load_key(home)
    if key is None:
        raise FileNotFoundError(f"{home / KEY_FILE} could not be created")
    return key


def read_head(path: Path) -> Head | None:
    """Return the head an anchor file records, or None when there is none."""
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return Head(int(payload["id"]), str(payload["digest"]))


def advance_head(home: Path, head: Head) -> None:
    """Move the anchor beside `home` forward to `head` (never back: processes race to write it).

    The read-compare-write runs under an exclusive lock on the key file, which never moves.
    """
    path = anchor_path(home)
    fd = os.open(home / KEY_FILE, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        current = read_head(path)
        if current is None or head.id > current.id:
            write_json_atomic(path, {"id": head.id, "digest": head.digest})
    finally:
        os.close(fd)


def write_head(path: Path, head: Head | None) -> None:
    """Write an anchor as it stands (a backup's, or the home's after a restore); None removes it."""
    if head is None:
        path.unlink(missing_ok=True)
        return
    write_json_atomic(path, {"id": head.id, "digest": head.digest})
