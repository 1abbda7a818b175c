"""Webhooks: a firm registers endpoints for its alerts; deliveries are signed, retried and recorded."""

from __future__ import annotations

from fastapi import APIRouter

from api.alert_presenters import delivery_public, webhook_public
from api.alert_schemas import DeliveriesPublic, WebhookCreate, WebhookIssued, WebhookPublic, WebhooksPublic
from api.auth import FirmKey, firm_of, owner_scope
from api.errors import error_responses
from api.routes.alerts import OwnerKey
from api.schemas import API, RecordId
from api.services import ServicesDep
from index.errors import Forbidden, InvalidInput, NotAuthenticated, UnknownRecord

router = APIRouter(prefix=f"{API}/webhooks", tags=["webhooks"])

_ACCESS = (NotAuthenticated, Forbidden, UnknownRecord)


@router.post(
    "",
    status_code=201,
    response_model=WebhookIssued,
    summary="Register an endpoint for the firm's alerts (firm keys); the secret is shown once",
    responses=error_responses(NotAuthenticated, Forbidden, InvalidInput),
)
def create_webhook(body: WebhookCreate, key: FirmKey, services: ServicesDep) -> WebhookIssued:
    """Register an http(s) endpoint; events are POSTed as JSON, signed with the returned secret.

    Headers: `X-LanternGuard-Timestamp` (Unix seconds) and `X-LanternGuard-Signature:
    sha256=HMAC(secret, TIMESTAMP + "." + BODY)`; refuse timestamps over 300 s from your clock.
    Link-local, loopback, private and metadata addresses are refused.
    """
    firm = services.registry.firm(firm_of(key))
    issued = services.webhooks.create(firm.id, body.url, list(body.events))
    return WebhookIssued(**webhook_public(issued.webhook).model_dump(), secret=issued.secret)


@router.get(
    "",
    response_model=WebhooksPublic,
    summary="List endpoints (a firm's own; the admin all)",
    responses=error_responses(NotAuthenticated, Forbidden),
)
def list_webhooks(key: OwnerKey, services: ServicesDep) -> WebhooksPublic:
    """Return the live endpoints, oldest first (never their secrets)."""
    hooks = services.webhooks.list(owner_scope(key))
    return WebhooksPublic(data=[webhook_public(h) for h in hooks], count=len(hooks))


@router.delete(
    "/{webhook_id}",
    response_model=WebhookPublic,
    summary="Delete an endpoint (its firm); its pending deliveries are dropped",
    responses=error_responses(*_ACCESS),
)
def delete_webhook(webhook_id: RecordId, key: FirmKey, services: ServicesDep) -> WebhookPublic:
    """Stop delivering to an endpoint."""
    return webhook_public(services.webhooks.delete(webhook_id, firm_of(key)))


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveriesPublic,
    summary="An endpoint's deliveries: delivered, pending or failed, with attempts",
    responses=error_responses(*_ACCESS),
)
def list_deliveries(webhook_id: RecordId, key: OwnerKey, services: ServicesDep) -> DeliveriesPublic:
    """Return the endpoint's latest deliveries, newest first."""
    services.webhooks.get(webhook_id, owner_scope(key))
    deliveries = services.webhooks.deliveries(webhook_id)
    return DeliveriesPublic(data=[delivery_public(d) for d in deliveries], count=len(deliveries))
