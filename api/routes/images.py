"""Reference images: a design's stored views, for whoever may see the design (pages show them)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.auth import ReaderKey, owner_scope
from api.errors import error_responses
from api.schemas import API, RecordId
from api.services import ServicesDep
from api.uploads import stored_image
from index.errors import Forbidden, IndexNotReady, NotAuthenticated, UnknownRecord

router = APIRouter(prefix=f"{API}/images", tags=["designs"])


@router.get(
    "/{image_id}",
    response_class=Response,
    summary="One stored view of a design (its firm, inspectors, admins)",
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The image as registered"},
        **error_responses(NotAuthenticated, Forbidden, UnknownRecord, IndexNotReady),
    },
)
def reference_image(image_id: RecordId, key: ReaderKey, services: ServicesDep) -> Response:
    """Return a reference view's bytes as registered; another firm's view is 403."""
    _, data = services.catalogue.image(image_id, owner_scope(key))
    return stored_image(data, f"view-{image_id}")
