"""The web pages, rendered on the server: inspect a photo, manage a firm's designs, run scans."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.services import ServicesDep

router = APIRouter(include_in_schema=False)

PAGES = {
    "inspect": ("Inspect a photo", "/"),
    "firm": ("Firm designs", "/firm"),
    "scans": ("Batch scans", "/scans"),
}


def _render(request: Request, services: ServicesDep, page: str) -> HTMLResponse:
    context = {"page": page, "pages": PAGES, "title": PAGES[page][0], "demo": services.settings.demo}
    return request.app.state.templates.TemplateResponse(request, f"{page}.html", context)


@router.get("/", response_class=HTMLResponse)
def inspect_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The inspector's page: upload or drop a photo, see the verdict and matches side by side."""
    return _render(request, services, "inspect")


@router.get("/firm", response_class=HTMLResponse)
def firm_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The firm's page: register a design with its photos, list and withdraw its designs."""
    return _render(request, services, "firm")


@router.get("/scans", response_class=HTMLResponse)
def scans_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The scan page: start a scan, watch its progress, download the report."""
    return _render(request, services, "scans")
