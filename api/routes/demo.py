"""Demo photos (only with --demo): a generated shop photo of a demo lantern, to try the inspector page."""

from __future__ import annotations

import random
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.demo import DEMO_DESIGNS, demo_photo
from api.errors import error_responses
from api.schemas import API
from api.services import ServicesDep
from index.errors import UnknownRecord

router = APIRouter(prefix=f"{API}/demo", tags=["demo"])


@router.get(
    "/photo",
    response_class=Response,
    summary="A generated photo of a demo design (demo mode only; no key needed)",
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "A JPEG photo"},
        **error_responses(UnknownRecord),
    },
)
def photo(
    services: ServicesDep,
    design: Annotated[int | None, Query(ge=0, lt=len(DEMO_DESIGNS), description="which demo design")] = None,
    seed: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Return a photo of a demo lantern as a shop would show it: tilted, smaller, in other light."""
    if not services.settings.demo:
        raise UnknownRecord("demo photos exist only when the service runs with --demo")
    index = random.randrange(len(DEMO_DESIGNS)) if design is None else design
    name = f"demo-photo-{index + 1}.jpg"
    return Response(
        demo_photo(index, seed),
        media_type="image/jpeg",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
