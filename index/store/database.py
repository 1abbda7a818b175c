"""One SQLite connection to a home's file, shared by threads one transaction at a time."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.errors import InvalidInput
from index.store.files import ensure_folder
from index.store.schema import SCHEMA, add_missing_columns


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Database:
    """Opens a home's SQLite file with its one schema (index/store/schema.py), created when missing.

    The service tables live in the registry's file so that they can reference firms and designs;
    each connection is separate (the engine's, the service's), and a lock keeps each transaction whole when
    request threads and the scan worker share it. WAL and synchronous=FULL make commits durable.
    An older file gains the columns added since it was made (`ADDED_COLUMNS`), in one transaction.
    """

    def __init__(self, path: Path) -> None:
        ensure_folder(path.parent)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        with self._lock:
            self._db.executescript(SCHEMA)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                add_missing_columns(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block atomically: commit on success, roll back on any exception.

        Raises InvalidInput when a constraint refuses the change.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                raise InvalidInput(f"refused by the registry: {exc}") from exc
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Return every row of a query."""
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def row(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Return the first row of a query, or None when it has none."""
        with self._lock:
            return self._db.execute(sql, parameters).fetchone()
