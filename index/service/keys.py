"""API keys: issued once, stored only as a sha256 hash, each with a role and (for firms) a firm."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from index.errors import InvalidInput, NotAuthenticated, UnknownRecord
from index.store.database import Database, utc_now
from index.store.validation import refuse_control

KEY_PREFIX = "lg_"
SHOWN_CHARS = 10


_SELECT = """
SELECT k.id, k.prefix, k.role, k.firm_id, f.name, k.label, k.created_at, k.revoked_at, k.key_hash
FROM api_keys k LEFT JOIN firms f ON f.id = k.firm_id
"""


class Role(StrEnum):
    """What a key may do: manage keys and firms, register a firm's designs, or inspect goods."""

    ADMIN = "admin"
    FIRM = "firm"
    INSPECTOR = "inspector"


@dataclass(frozen=True)
class KeyRecord:
    """A stored key without its secret: who it belongs to and what it may do."""

    id: int
    prefix: str
    role: Role
    firm_id: int | None
    firm: str | None
    label: str | None
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key: the record, and the secret that is shown this once and never stored."""

    record: KeyRecord
    secret: str


def hash_key(secret: str) -> str:
    """Return the hex sha256 under which a key is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _record(row: tuple) -> KeyRecord:
    return KeyRecord(row[0], row[1], Role(row[2]), row[3], row[4], row[5], row[6], row[7])


class KeyStore:
    """Issues, checks and revokes API keys; the firms table belongs to the registry."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, role: Role, firm_id: int | None = None, label: str | None = None) -> IssuedKey:
        """Issue a key. Returns the IssuedKey. Raises InvalidInput when the role and firm disagree."""
        if (role is Role.FIRM) != (firm_id is not None):
            raise InvalidInput("a firm key needs a firm, and only a firm key may have one")
        refuse_control("a key label", label)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO api_keys(key_hash, prefix, role, firm_id, label, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (hash_key(secret), secret[:SHOWN_CHARS], role.value, firm_id, label, utc_now()),
            )
            key_id = int(cursor.lastrowid or 0)
        return IssuedKey(self.get(key_id), secret)

    def authenticate(self, secret: str) -> KeyRecord:
        """Return the live key with this secret. Raises NotAuthenticated for an unknown or revoked key."""
        digest = hash_key(secret)
        row = self._db.row(_SELECT + " WHERE k.key_hash = ?", (digest,))
        if row is None or not hmac.compare_digest(str(row[8]), digest):
            raise NotAuthenticated("unknown API key: check the key, or ask an admin for a new one")
        record = _record(row)
        if record.revoked_at is not None:
            raise NotAuthenticated(f"API key {record.prefix}… was revoked on {record.revoked_at}")
        return record

    def get(self, key_id: int) -> KeyRecord:
        """Return the key with this id. Raises UnknownRecord."""
        row = self._db.row(_SELECT + " WHERE k.id = ?", (key_id,))
        if row is None:
            raise UnknownRecord(f"no API key {key_id}")
        return _record(row)

    def records(self, include_revoked: bool = False) -> list[KeyRecord]:
        """Return the keys, oldest first (live ones only unless asked)."""
        where = "" if include_revoked else " WHERE k.revoked_at IS NULL"
        return [_record(r) for r in self._db.rows(_SELECT + where + " ORDER BY k.id")]

    def revoke(self, key_id: int) -> KeyRecord:
        """Revoke a key at once (a no-op when already revoked). Returns it. Raises UnknownRecord."""
        self.get(key_id)
        with self._db.transaction() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (utc_now(), key_id)
            )
        return self.get(key_id)

    def revoke_labelled(self, label: str) -> int:
        """Revoke every live key with this label (the demo's keys of an earlier start). Returns how many."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE label = ? AND revoked_at IS NULL",
                (utc_now(), label),
            )
            return cursor.rowcount
