"""Firm-scoped design operations on top of the engine: register, page, change, withdraw, add views."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from index.engine import MAX_VIEWS, Engine
from index.errors import Conflict, DuplicateDesign, Forbidden, InvalidInput, UnknownRecord
from index.service.design_records import ReferenceImage, ServiceRegistry
from index.service.uploads import Upload, check_images
from index.store.registry import DesignFields, DesignRecord
from index.store.validation import check_design

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DesignView:
    """A design with its stored views."""

    record: DesignRecord
    views: list[ReferenceImage]


@dataclass(frozen=True)
class NewDesign:
    """The registration data a firm gives for a new design; the service picks its id."""

    registration_number: str
    title: str | None = None
    locarno_class: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    territories: str | None = None


def new_design_id() -> str:
    """Return a fresh, hard-to-guess design id such as LG-3F9A0C1B2E."""
    return "LG-" + secrets.token_hex(5).upper()


class Catalogue:
    """Every design change goes through here, one at a time, and only for the design's own firm.

    `owner` names the firm a caller acts for; reads take None to mean every firm (inspectors,
    admins). Another firm's design raises Forbidden, never a silent empty answer.
    """

    def __init__(self, engine: Engine, registry: ServiceRegistry, max_pixels: int) -> None:
        self.engine = engine
        self.registry = registry
        self.max_pixels = max_pixels
        self._lock = threading.Lock()

    def view(self, record: DesignRecord) -> DesignView:
        """Return the design with its views."""
        return DesignView(record, self.registry.views(record.pk))

    def get(self, design_id: str, owner: str | None) -> DesignView:
        """Return a design. Raises UnknownDesign, or Forbidden when it belongs to another firm."""
        record = self.registry.design(design_id)
        if owner is not None and record.owner != owner:
            raise Forbidden(f"design {design_id} belongs to another firm")
        return self.view(record)

    def page(self, owner: str | None, limit: int, offset: int) -> tuple[list[DesignView], int]:
        """Return a page of designs, newest first, and how many there are in all."""
        records = self.registry.designs_page(owner, limit, offset)
        views = self.registry.views_of([r.pk for r in records])
        return [DesignView(r, views[r.pk]) for r in records], self.registry.count_designs(owner)

    def register(self, owner: str, design: NewDesign, images: Sequence[Upload]) -> DesignView:
        """Register a new design of `owner` with 1 to 7 views, all readable, or store nothing.

        Returns the design once it is durable and searchable. Raises InvalidInput, InvalidImage, or
        Conflict when a design that is not withdrawn has the same registration number.
        """
        check_design(vars(design), require_number=True)
        _check_count(len(images), 0)
        check_images(images, self.max_pixels)
        fields = DesignFields(
            design_id=new_design_id(),
            registration_number=design.registration_number,
            title=design.title,
            owner=owner,
            locarno_class=design.locarno_class,
            valid_from=design.valid_from,
            valid_until=design.valid_until,
            territories=design.territories,
        )
        with self._lock:
            self._check_number_free(design.registration_number)
            try:
                result = self.engine.register(fields, [u.data for u in images], create_only=True)
            except DuplicateDesign as exc:
                raise Conflict("a design id collided; send the registration again") from exc
        logger.info("firm %s registered design %s", owner, result.design.design_id)
        return self.view(result.design)

    def add_views(self, design_id: str, owner: str, images: Sequence[Upload]) -> DesignView:
        """Add views to a design of `owner` (at most 7 in all). Returns the design.

        Raises UnknownDesign, Forbidden, Conflict for a withdrawn design, InvalidInput, InvalidImage.
        """
        current = self.get(design_id, owner)
        _check_live(current.record)
        _check_count(len(images), len(current.views))
        check_images(images, self.max_pixels)
        with self._lock:
            result = self.engine.register(DesignFields(design_id), [u.data for u in images])
        return self.view(result.design)

    def update(self, design_id: str, owner: str, changes: Mapping[str, str | None]) -> DesignView:
        """Change registration data of a design of `owner`. Returns the design.

        Raises UnknownDesign, Forbidden, Conflict (withdrawn, or a registration number in use).
        """
        current = self.get(design_id, owner)
        _check_live(current.record)
        with self._lock:
            number = changes.get("registration_number")
            if number is not None and number != current.record.registration_number:
                self._check_number_free(number)
            record = self.registry.update_design(design_id, changes)
        return self.view(record)

    def withdraw(self, design_id: str, owner: str) -> DesignView:
        """Withdraw a design of `owner`: it stops matching at once; its record and inspections stay.

        Returns the design. Raises UnknownDesign or Forbidden.
        """
        self.get(design_id, owner)
        with self._lock:
            record = self.engine.withdraw(design_id)
        logger.info("firm %s withdrew design %s", owner, design_id)
        return self.view(record)

    def image(self, image_id: int, owner: str | None) -> tuple[ReferenceImage, bytes]:
        """Return a stored view and its bytes. Raises UnknownRecord, or Forbidden for another firm's."""
        image = self.registry.reference_image(image_id)
        record = self.registry.design_by_pk(image.design_pk)
        if owner is not None and record.owner != owner:
            raise Forbidden(f"reference image {image_id} belongs to another firm's design")
        try:
            return image, self.engine.blobs.get(image.sha256)
        except FileNotFoundError as exc:
            raise UnknownRecord(f"reference image {image_id} is no longer stored") from exc

    def _check_number_free(self, registration_number: str) -> None:
        if self.registry.has_active_registration(registration_number):
            raise Conflict(f"registration number {registration_number!r} is already registered")


def _check_count(adding: int, existing: int) -> None:
    if adding < 1:
        raise InvalidInput("give at least one image in the field `images`")
    if existing + adding > MAX_VIEWS:
        raise InvalidInput(
            f"a design has at most {MAX_VIEWS} views: it has {existing}, and {adding} more were given"
        )


def _check_live(record: DesignRecord) -> None:
    if record.withdrawn_at is not None:
        raise Conflict(f"design {record.design_id} was withdrawn on {record.withdrawn_at} and is kept as is")
