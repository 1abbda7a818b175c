"""Liveness (the process answers) and readiness (the model and index are loaded)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.schemas import HealthPublic, ReadyPublic
from api.services import ServicesDep

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=HealthPublic, summary="The process is up (always 200)")
def live() -> HealthPublic:
    """Answer 200 as long as the process serves requests."""
    return HealthPublic(status="ok")


@router.get(
    "/ready",
    response_model=ReadyPublic,
    summary="The model and index are loaded (503 until then)",
    responses={503: {"model": HealthPublic, "description": "Still loading, or loading failed"}},
)
def ready(services: ServicesDep) -> ReadyPublic | JSONResponse:
    """Answer 200 once inspections can run, 503 while the model and index load (or if that failed).

    `detail` of a 200 says when the verdict thresholds were measured with another model;
    `thresholds`, `thresholds_from` and `self_calibration` what the verdicts mean on this registry.
    """
    if services.failure is not None:
        body = HealthPublic(status="failed", detail=services.failure)
        return JSONResponse(body.model_dump(), status_code=503)
    if not services.ready:
        body = HealthPublic(status="starting", detail="loading the model and index")
        return JSONResponse(body.model_dump(), status_code=503)
    engine = services.engine
    info = engine.calibration_info()
    return ReadyPublic(
        status="ok",
        views_searchable=engine.index_size,
        detail=engine.calibration_warning,
        thresholds=info["thresholds"],
        thresholds_from=info["thresholds_from"],
        self_calibration=info["self_calibration"],
    )
