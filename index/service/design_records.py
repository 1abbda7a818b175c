"""The registry as the service reads it: firms, pages of a firm's designs, field updates, views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from index.errors import Conflict, InvalidInput, UnknownDesign, UnknownRecord
from index.store.registry import _DESIGN_SELECT, DesignRecord, Registry
from index.store.validation import check_design, refuse_control

EDITABLE_FIELDS = frozenset(
    {"registration_number", "title", "locarno_class", "valid_from", "valid_until", "territories"}
)


@dataclass(frozen=True)
class FirmRecord:
    """A firm that owns designs, and how many (withdrawn ones included)."""

    id: int
    name: str
    created_at: str
    design_count: int


@dataclass(frozen=True)
class ReferenceImage:
    """One stored view of a design: its id, the design it belongs to and the blob that holds it."""

    id: int
    design_pk: int
    sha256: str
    width: int
    height: int


_FIRM_SELECT = """
SELECT f.id, f.name, f.created_at, (SELECT count(*) FROM designs d WHERE d.firm_id = f.id) FROM firms f
"""
_IMAGE_SELECT = "SELECT id, design_pk, sha256, width, height FROM images"


class ServiceRegistry(Registry):
    """The registry's tables through a connection of the service's own, beside the engine's.

    Requests and the scan worker share this connection (one transaction at a time, as every
    Registry's); the engine keeps its own, and SQLite's WAL lets both read committed state at any time.
    """

    # ---- firms -----------------------------------------------------------------------------

    def ensure_firm(self, name: str) -> FirmRecord:
        """Return the firm with this name, creating it when new. Raises InvalidInput for an empty name."""
        if not name or not name.strip():
            raise InvalidInput("a firm name must not be empty")
        refuse_control("a firm name", name)
        with self.transaction() as db:
            self._firm_id(db, name)
        return self.firm(name.strip())

    def firm(self, name: str) -> FirmRecord:
        """Return the firm with this name. Raises UnknownRecord."""
        row = self.db.row(_FIRM_SELECT + " WHERE f.name = ?", (name.strip(),))
        if row is None:
            raise UnknownRecord(f"no firm named {name!r}")
        return FirmRecord(*row)

    def firms(self) -> list[FirmRecord]:
        """Return every firm, by name."""
        return [FirmRecord(*r) for r in self.db.rows(_FIRM_SELECT + " ORDER BY f.name")]

    # ---- designs ---------------------------------------------------------------------------

    def count_designs(self, owner: str | None = None) -> int:
        """Return how many designs there are (of one firm when `owner` is given)."""
        if owner is None:
            return int(self.db.row("SELECT count(*) FROM designs")[0])
        row = self.db.row(
            "SELECT count(*) FROM designs d JOIN firms f ON f.id = d.firm_id WHERE f.name = ?", (owner,)
        )
        return int(row[0])

    def designs_page(self, owner: str | None, limit: int, offset: int) -> list[DesignRecord]:
        """Return a page of designs, newest first (of one firm when `owner` is given)."""
        where, parameters = ("", []) if owner is None else (" WHERE f.name = ?", [owner])
        rows = self.db.rows(
            _DESIGN_SELECT + where + " ORDER BY d.id DESC LIMIT ? OFFSET ?", [*parameters, limit, offset]
        )
        return [DesignRecord(*row) for row in rows]

    def designs_by_id(self, design_ids: list[str]) -> dict[str, DesignRecord]:
        """Return the designs with these ids that exist, by id."""
        found: dict[str, DesignRecord] = {}
        for start in range(0, len(design_ids), 500):
            chunk = design_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.rows(_DESIGN_SELECT + f" WHERE d.design_id IN ({marks})", chunk):
                record = DesignRecord(*row)
                found[record.design_id] = record
        return found

    def has_active_registration(self, registration_number: str) -> bool:
        """Return whether a design that is not withdrawn carries this registration number."""
        row = self.db.row(
            "SELECT 1 FROM designs WHERE registration_number = ? AND withdrawn_at IS NULL",
            (registration_number,),
        )
        return row is not None

    def update_design(self, design_id: str, changes: Mapping[str, str | None]) -> DesignRecord:
        """Change descriptive fields of a design (not its views or owner). Returns the new record.

        The design as it will be (stored fields with the changes) must pass the same rules as a new
        design (`index.store.validation.check_design`); that check and the withdrawn check are made in
        the transaction that writes. Raises UnknownDesign, Conflict for a withdrawn design,
        InvalidInput for a field that cannot be changed, InvalidDesignData for data that breaks a rule.
        """
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
        self.design(design_id)
        if changes:
            assignments = ", ".join(f"{name} = ?" for name in sorted(changes))
            values = [changes[name] for name in sorted(changes)]
            names = sorted(EDITABLE_FIELDS)
            with self.transaction() as db:
                row = db.execute(
                    f"SELECT withdrawn_at, {', '.join(names)} FROM designs WHERE design_id = ?", (design_id,)
                ).fetchone()
                if row[0] is not None:
                    raise Conflict(f"design {design_id} was withdrawn on {row[0]} and is kept as is")
                check_design({**dict(zip(names, row[1:], strict=True)), **changes}, require_number=True)
                db.execute(f"UPDATE designs SET {assignments} WHERE design_id = ?", [*values, design_id])
        return self.design(design_id)

    # ---- reference images ------------------------------------------------------------------

    def views(self, design_pk: int) -> list[ReferenceImage]:
        """Return the stored views of a design, oldest first."""
        rows = self.db.rows(_IMAGE_SELECT + " WHERE design_pk = ? ORDER BY id", (design_pk,))
        return [ReferenceImage(*r) for r in rows]

    def views_of(self, design_pks: list[int]) -> dict[int, list[ReferenceImage]]:
        """Return the views of several designs, by design key."""
        found: dict[int, list[ReferenceImage]] = {pk: [] for pk in design_pks}
        if design_pks:
            marks = ",".join("?" * len(design_pks))
            for row in self.db.rows(_IMAGE_SELECT + f" WHERE design_pk IN ({marks}) ORDER BY id", design_pks):
                found[row[1]].append(ReferenceImage(*row))
        return found

    def reference_image(self, image_id: int) -> ReferenceImage:
        """Return one stored view. Raises UnknownRecord."""
        row = self.db.row(_IMAGE_SELECT + " WHERE id = ?", (image_id,))
        if row is None:
            raise UnknownRecord(f"no reference image {image_id}")
        return ReferenceImage(*row)

    def design_by_pk(self, design_pk: int) -> DesignRecord:
        """Return the design with this internal key. Raises UnknownDesign."""
        found = self.designs_by_pk([design_pk])
        if design_pk not in found:
            raise UnknownDesign(f"no design with key {design_pk}")
        return found[design_pk]
