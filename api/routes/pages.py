"""The web pages, rendered on the server in the request's language: inspect a photo, the history and
case files, a firm's designs and the hits on them, scans."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import i18n
from api.i18n import N_
from api.schemas import RecordId
from api.services import ServicesDep

router = APIRouter(include_in_schema=False)

PAGES = {
    "inspect": (N_("Inspect a photo"), "/"),
    "history": (N_("History"), "/history"),
    "firm": (N_("Firm designs"), "/firm"),
    "hits": (N_("Hits on my designs"), "/hits"),
    "scans": (N_("Batch scans"), "/scans"),
}
"""The pages in the menu: name -> (label, path)."""


def render(
    request: Request, services: ServicesDep, template: str, title: str, **context: object
) -> HTMLResponse:
    """Render a page in the request's language; `?lang=` also sets the cookie that keeps the choice."""
    locale = i18n.current()
    values = {
        "page": template,
        "pages": PAGES,
        "title": i18n.gettext(title),
        "demo": services.settings.demo,
        "lang": i18n.html_lang(locale),
        "languages": i18n.language_names(),
        "script_messages": i18n.script_messages(locale),
        **context,
    }
    response = request.app.state.templates.TemplateResponse(request, f"{template}.html", values)
    if i18n.normalise(request.query_params.get("lang")):
        response.set_cookie(i18n.COOKIE, i18n.html_lang(locale), max_age=365 * 86400, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def inspect_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The inspector's page: upload or drop a photo, see the verdict and the designs it resembles."""
    return render(request, services, "inspect", PAGES["inspect"][0])


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The inspections, searchable by verdict, dates, shipment and design; each opens its case."""
    return render(request, services, "history", PAGES["history"][0])


@router.get("/inspections/{inspection_id}", response_class=HTMLResponse)
def case_page(inspection_id: RecordId, request: Request, services: ServicesDep) -> HTMLResponse:
    """The printable case file of one inspection (the same content as its PDF)."""
    return render(request, services, "case", N_("Case file"), inspection_id=inspection_id)


@router.get("/firm", response_class=HTMLResponse)
def firm_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The firm's page: register a design, list, edit, add views to and withdraw its designs."""
    return render(request, services, "firm", PAGES["firm"][0])


@router.get("/hits", response_class=HTMLResponse)
def hits_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The firm's hits: inspections and scans whose match or review names one of its designs."""
    return render(request, services, "hits", PAGES["hits"][0])


@router.get("/scans", response_class=HTMLResponse)
def scans_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The scan page: start a scan, watch its progress, read and download the report."""
    return render(request, services, "scans", PAGES["scans"][0])
