"""The one schema of a home's SQLite file: every table, and which of them cite designs, images or photos.

`Database` applies `SCHEMA` whenever it opens a file; `check`, repair and `backup` read `TABLES` to
learn which rows keep a design, a reference image or a stored photo alive, so a new table that cites
one of them is declared here once and none of them can forget it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

REGISTRY_FILE = "registry.sqlite3"
"""The SQLite file of a home, beside its folders of images, features and the index."""


@dataclass(frozen=True)
class Citation:
    """A column whose value names a row of `table` (its `id`) that must not be removed while cited."""

    column: str
    table: str


@dataclass(frozen=True)
class Table:
    """One table: what it cites (rows it keeps alive) and which columns hold sha256s of stored blobs.

    `parts_of` names the table whose rows this one's rows belong to (removed with them, never keep
    them alive): the embeddings of an image, the images of a design.
    """

    name: str
    cites: tuple[Citation, ...] = ()
    blobs: tuple[str, ...] = ()
    parts_of: str | None = None


TABLES: tuple[Table, ...] = (
    Table("firms"),
    Table("designs"),
    Table("images", blobs=("sha256",), parts_of="designs"),
    Table("embeddings", parts_of="images"),
    Table("meta"),
    Table("api_keys"),
    Table("audit_log"),
    Table("inspections", blobs=("photo_sha256",)),
    Table(
        "inspection_matches",
        cites=(Citation("design_pk", "designs"), Citation("image_id", "images")),
        parts_of="inspections",
    ),
    Table("scans"),
    Table("scan_results", cites=(Citation("image_id", "images"),), blobs=("photo_sha256",), parts_of="scans"),
    Table("photo_descriptors", blobs=("sha256",)),
    Table("scan_photos", blobs=("sha256",), parts_of="scans"),
    Table("expired_photos"),
    Table(
        "alerts",
        cites=(Citation("design_pk", "designs"), Citation("image_id", "images")),
    ),
    Table("retro_runs", cites=(Citation("design_pk", "designs"),)),
    Table("webhooks"),
    Table("webhook_deliveries", parts_of="webhooks"),
)
"""Photos a retention run removed stay named in `expired_photos`: their blobs are gone on purpose, so
`blob_hashes` leaves them out (the survey does not call them missing, a backup does not look for them)."""


def citations_of(table: str) -> list[tuple[str, str]]:
    """Return (table, column) of every column that cites a row of `table` and so keeps it."""
    return [(t.name, c.column) for t in TABLES for c in t.cites if c.table == table]


def blob_columns() -> list[tuple[str, str]]:
    """Return (table, column) of every column that holds the sha256 of a stored blob."""
    return [(t.name, column) for t in TABLES for column in t.blobs]


ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("designs", "territories", "TEXT"),
    ("inspections", "destination", "TEXT"),
    ("inspections", "match_threshold", "REAL"),
    ("inspections", "review_threshold", "REAL"),
    ("inspections", "model", "TEXT"),
    ("inspections", "index_generation", "INTEGER"),
    ("scans", "skipped", "TEXT"),
    ("scans", "failure", "TEXT"),
    ("scan_results", "photo_sha256", "TEXT"),
    ("scan_results", "image_id", "INTEGER"),
    ("inspection_matches", "appearance", "REAL"),
    ("inspection_matches", "keypoints", "REAL"),
    ("inspection_matches", "rival", "REAL"),
    ("inspection_matches", "inliers", "INTEGER"),
)
"""(table, column, type) of columns added after a table was first released: `SCHEMA` declares them
for new homes, `add_missing_columns` adds them to older homes' tables (NULL in existing rows)."""


def add_missing_columns(db: sqlite3.Connection) -> list[str]:
    """Add every column of `ADDED_COLUMNS` that an existing table lacks. Returns `table.column` added."""
    added = []
    for table, column, kind in ADDED_COLUMNS:
        present = {str(r[1]) for r in db.execute(f"PRAGMA table_info({table})")}
        if present and column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            added.append(f"{table}.{column}")
    return added


def _exists(db: sqlite3.Connection, table: str) -> bool:
    """Return whether a table exists (a read-only look at a file an older version wrote may lack one)."""
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return db.execute(query, (table,)).fetchone() is not None


def cited_ids(db: sqlite3.Connection, table: str) -> set[int]:
    """Return the ids of the rows of `table` that some record cites."""
    found: set[int] = set()
    for citing, column in citations_of(table):
        if _exists(db, citing):
            query = f"SELECT DISTINCT {column} FROM {citing} WHERE {column} IS NOT NULL"
            found.update(int(r[0]) for r in db.execute(query))
    return found


def is_cited(db: sqlite3.Connection, table: str, row_id: int) -> bool:
    """Return whether some record cites row `row_id` of `table`."""
    for citing, column in citations_of(table):
        query = f"SELECT 1 FROM {citing} WHERE {column} = ? LIMIT 1"
        if _exists(db, citing) and db.execute(query, (row_id,)).fetchone() is not None:
            return True
    return False


def blob_hashes(db: sqlite3.Connection, skip: str | None = None) -> set[str]:
    """Return the sha256 of every stored blob a row refers to (but those of table `skip`).

    Photos removed by retention (`expired_photos`) are not counted: their blobs are gone on purpose.
    """
    found: set[str] = set()
    for table, column in blob_columns():
        if table != skip and _exists(db, table):
            query = f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"
            found.update(str(r[0]) for r in db.execute(query))
    if _exists(db, "expired_photos"):
        found -= {str(r[0]) for r in db.execute("SELECT sha256 FROM expired_photos")}
    return found


def row_count(db: sqlite3.Connection, table: str) -> int:
    """Return the number of rows of a table (0 when it does not exist)."""
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) if _exists(db, table) else 0


SCHEMA = """
CREATE TABLE IF NOT EXISTS firms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS designs (
    id INTEGER PRIMARY KEY,
    design_id TEXT NOT NULL UNIQUE CHECK (length(trim(design_id)) > 0),
    registration_number TEXT,
    title TEXT,
    firm_id INTEGER REFERENCES firms(id),
    locarno_class TEXT,
    valid_from TEXT,
    valid_until TEXT,
    withdrawn_at TEXT,
    created_at TEXT NOT NULL,
    territories TEXT
);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    design_pk INTEGER NOT NULL REFERENCES designs(id),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (design_pk, sha256)
);
CREATE TABLE IF NOT EXISTS embeddings (
    image_id INTEGER NOT NULL REFERENCES images(id),
    fingerprint TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (image_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),
    prefix TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'firm', 'inspector')),
    firm_id INTEGER REFERENCES firms(id),
    label TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((role = 'firm') = (firm_id IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    key_id INTEGER,
    role TEXT,
    firm TEXT,
    action TEXT NOT NULL,
    target TEXT,
    status INTEGER NOT NULL,
    detail TEXT NOT NULL,
    previous TEXT NOT NULL,
    digest TEXT NOT NULL CHECK (length(digest) = 64)
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted'); END;
CREATE TABLE IF NOT EXISTS inspections (
    id INTEGER PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES api_keys(id),
    created_at TEXT NOT NULL,
    photo_sha256 TEXT NOT NULL CHECK (length(photo_sha256) = 64),
    filename TEXT,
    verdict TEXT NOT NULL,
    note TEXT,
    shipment_ref TEXT,
    destination TEXT,
    match_threshold REAL,
    review_threshold REAL,
    model TEXT,
    index_generation INTEGER
);
CREATE TABLE IF NOT EXISTS inspection_matches (
    inspection_id INTEGER NOT NULL REFERENCES inspections(id),
    rank INTEGER NOT NULL CHECK (rank >= 1),
    design_pk INTEGER NOT NULL REFERENCES designs(id),
    image_id INTEGER NOT NULL REFERENCES images(id),
    score REAL NOT NULL,
    review TEXT NOT NULL DEFAULT 'pending' CHECK (review IN ('pending', 'confirmed', 'rejected')),
    reviewed_by INTEGER REFERENCES api_keys(id),
    reviewed_at TEXT,
    appearance REAL,
    keypoints REAL,
    rival REAL,
    inliers INTEGER,
    PRIMARY KEY (inspection_id, rank)
);
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY,
    key_id INTEGER NOT NULL REFERENCES api_keys(id),
    kind TEXT NOT NULL CHECK (kind IN ('archive', 'folder')),
    source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed')),
    total INTEGER NOT NULL,
    ignored INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    skipped TEXT,
    failure TEXT
);
CREATE TABLE IF NOT EXISTS scan_results (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    position INTEGER NOT NULL,
    line TEXT NOT NULL,
    failed INTEGER NOT NULL,
    photo_sha256 TEXT,
    image_id INTEGER,
    PRIMARY KEY (scan_id, position)
);
CREATE TABLE IF NOT EXISTS photo_descriptors (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    fingerprint TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    vector BLOB NOT NULL,
    regions BLOB NOT NULL,
    UNIQUE (sha256, fingerprint)
);
CREATE INDEX IF NOT EXISTS photo_descriptors_seen ON photo_descriptors(seen_at);
CREATE TABLE IF NOT EXISTS scan_photos (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    position INTEGER NOT NULL,
    item TEXT NOT NULL,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    PRIMARY KEY (scan_id, position)
);
CREATE INDEX IF NOT EXISTS scan_photos_sha ON scan_photos(sha256);
CREATE TABLE IF NOT EXISTS expired_photos (
    sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    removed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retro_runs (
    id INTEGER PRIMARY KEY,
    design_pk INTEGER NOT NULL REFERENCES designs(id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished', 'failed')),
    reason TEXT NOT NULL,
    photos INTEGER NOT NULL DEFAULT 0,
    shortlisted INTEGER NOT NULL DEFAULT 0,
    verified INTEGER NOT NULL DEFAULT 0,
    found INTEGER NOT NULL DEFAULT 0,
    suppressed INTEGER NOT NULL DEFAULT 0,
    alerts INTEGER NOT NULL DEFAULT 0,
    look_back_from TEXT,
    retain_days INTEGER NOT NULL,
    message TEXT,
    seconds REAL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    design_pk INTEGER NOT NULL REFERENCES designs(id),
    how TEXT NOT NULL CHECK (how IN ('inspection', 'scan', 'retro')),
    inspection_id INTEGER REFERENCES inspections(id),
    scan_id INTEGER REFERENCES scans(id),
    item TEXT,
    retro_id INTEGER REFERENCES retro_runs(id),
    photo_sha256 TEXT NOT NULL CHECK (length(photo_sha256) = 64),
    image_id INTEGER NOT NULL REFERENCES images(id),
    verdict TEXT NOT NULL CHECK (verdict IN ('match', 'review')),
    score REAL NOT NULL,
    found_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'confirmed', 'dismissed')),
    marked_by INTEGER REFERENCES api_keys(id),
    marked_at TEXT,
    CHECK ((inspection_id IS NULL) != (scan_id IS NULL))
);
CREATE INDEX IF NOT EXISTS alerts_design ON alerts(design_pk, photo_sha256);
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY,
    firm_id INTEGER NOT NULL REFERENCES firms(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id),
    alert_id INTEGER REFERENCES alerts(id),
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(state, next_at);
"""
