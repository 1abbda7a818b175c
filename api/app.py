"""The FastAPI app factory: services built in the lifespan, routes per resource, pages and static files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import Scope

from api import i18n
from api.audit_trail import AuditTrail
from api.errors import install_error_handler
from api.guards import AuthFailures, BodyDeadline, KeyGate, UploadCap
from api.headers import SecurityHeaders
from api.limits import BodyLimit
from api.routes import (
    alerts,
    audit,
    demo,
    designs,
    firms,
    health,
    hits,
    images,
    inspections,
    keys,
    pages,
    retro,
    scans,
    webhooks,
)
from api.schemas import API
from api.services import Services
from api.settings import ServiceSettings
from api.shedding import LoadShedder
from index.service.audit import AuditLog
from index.service.keys import KeyStore
from model.embedder import Embedder

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI 5 and ReDoc, shipped in a package so that /docs works without reaching a CDN."""

DESCRIPTION = """
Counterfeit detection for registered product designs. Firms register their designs with photos;
inspectors check photos of goods against every registered design and get a verdict (`match`,
`review`, `no_match`) with the closest designs and evidence pictures; batch scans check whole
archives or server folders.

Every request under `/api/v1` carries `Authorization: Bearer KEY` (keys come from
`lanternguard keys create`). A missing or wrong key is 401; a key of the wrong role, or a firm key
asking for another firm's design, is 403. Errors answer `{"detail": "what is wrong"}`.
"""

TAGS = [
    {"name": "designs", "description": "Registered designs and their reference views."},
    {"name": "inspections", "description": "Photos checked by inspectors, with verdicts and evidence."},
    {"name": "hits", "description": "Where a firm's designs were named by inspections and scans."},
    {"name": "scans", "description": "Batch scans of zip archives or server folders."},
    {"name": "alerts", "description": "A firm's alerts (live and retro), look-backs and reviewer feedback."},
    {"name": "webhooks", "description": "Signed deliveries of a firm's alerts to its endpoints."},
    {"name": "keys", "description": "API keys, firms and the caller's identity."},
    {"name": "health", "description": "Liveness and readiness."},
    {"name": "demo", "description": "Generated demo photos (demo mode only)."},
]


def create_app(settings: ServiceSettings, embedder: Embedder | None = None) -> FastAPI:
    """Return the app for these settings; the model loads when it starts (lifespan), not here.

    `embedder` lets tests share one loaded model between apps.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services(settings, embedder)
        app.state.services = services
        services.start()
        logger.info("LanternGuard serving %s", settings.home)
        try:
            yield
        finally:
            await run_in_threadpool(services.close)

    app = FastAPI(
        title="LanternGuard",
        version="0.1.0",
        summary="Counterfeit detection for registered product designs",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handler(app)

    def body_limit(path: str) -> int:
        return (
            settings.max_scan_upload_bytes if path.startswith(f"{API}/scans") else settings.max_upload_bytes
        )

    app.add_middleware(BodyLimit, limit_for=body_limit)
    app.add_middleware(
        BodyDeadline, grace_s=settings.body_grace_s, min_bytes_per_s=settings.body_min_bytes_per_s
    )
    app.add_middleware(AuditTrail, audit_log=_audit_log)
    app.add_middleware(
        LoadShedder,
        limit=settings.max_in_flight,
        queue_timeout_s=settings.queue_timeout_s,
        retry_after_s=settings.retry_after_s,
    )
    app.add_middleware(UploadCap, limit=settings.max_uploads_per_key, retry_after_s=settings.retry_after_s)
    app.state.auth_failures = AuthFailures(settings.auth_failures_per_minute, 60.0)
    app.add_middleware(KeyGate, stores=_key_stores, failures=app.state.auth_failures)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(i18n.LocaleMiddleware)
    routers = (
        health,
        designs,
        retro,
        images,
        inspections,
        hits,
        scans,
        alerts,
        webhooks,
        keys,
        firms,
        audit,
        demo,
        pages,
    )
    for module in routers:
        app.include_router(module.router)
    app.state.templates = Jinja2Templates(env=i18n.template_environment())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _serve_docs(app)
    return app


def _audit_log(scope: Scope) -> AuditLog | None:
    services = getattr(scope["app"].state, "services", None)
    return services.audit if services is not None else None


def _key_stores(scope: Scope) -> tuple[KeyStore, AuditLog] | None:
    services = getattr(scope["app"].state, "services", None)
    return (services.keys, services.audit) if services is not None else None


def _serve_docs(app: FastAPI) -> None:
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="LanternGuard API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="LanternGuard API",
            redoc_js_url="/docs-assets/redoc.standalone.js",
            redoc_favicon_url="/docs-assets/favicon.png",
            with_google_fonts=False,
        )
