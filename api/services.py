"""The services behind the routes, built from the settings; the engine arrives once the model has loaded."""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.alert_presenters import alert_json
from api.demo import seed_demo
from api.settings import ServiceSettings
from index.engine import Engine
from index.errors import IndexNotReady, InvalidInput, ServiceStarting
from index.home.maintenance import home_lock
from index.service.alert_desk import AlertDesk
from index.service.alerts import AlertLog
from index.service.audit import AuditLog
from index.service.catalogue import Catalogue
from index.service.delivery import DeliveryPolicy, Dispatcher
from index.service.design_records import ServiceRegistry
from index.service.desk import Desk
from index.service.feedback import Feedback
from index.service.followup import FollowUp
from index.service.hits import HitLog
from index.service.inspections import InspectionLog
from index.service.keys import IssuedKey, KeyStore, Role
from index.service.retention import expire_photos
from index.service.retro import Retro, RetroLog
from index.service.scanner import ScanLimits, Scanner
from index.service.scans import ScanLog
from index.service.webhooks import Webhooks
from index.store.database import Database
from index.store.schema import REGISTRY_FILE
from model.embedder import Embedder

logger = logging.getLogger(__name__)

RETENTION_EVERY_S = 24 * 3600.0


@dataclass(frozen=True)
class _Loaded:
    engine: Engine
    catalogue: Catalogue
    desk: Desk
    scanner: Scanner
    feedback: Feedback
    retro: Retro
    alert_desk: AlertDesk


class Services:
    """Owns every store and, once loaded, the engine and what runs on it; the app holds one of these.

    The stores (keys, inspection and scan logs, the registry's tables) open at once, so keys work
    while the model loads on a background thread; engine-backed services raise ServiceStarting
    until then, which is also what /health/ready reports.
    """

    def __init__(self, settings: ServiceSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        path = settings.home / REGISTRY_FILE
        self.registry = ServiceRegistry(path)
        self.database = Database(path)
        self.keys = KeyStore(self.database)
        self.inspection_log = InspectionLog(self.database)
        self.scan_log = ScanLog(self.database)
        self.audit = AuditLog(self.database)
        self.alerts = AlertLog(self.database)
        self.webhooks = Webhooks(self.database, settings.webhook_allow_private)
        policy = DeliveryPolicy(
            settings.webhook_attempts, settings.webhook_backoff_s, settings.webhook_timeout_s
        )
        self.dispatcher = Dispatcher(self.webhooks, policy)
        self._daily = threading.Event()
        self._retention: threading.Thread | None = None
        self.hits = HitLog(self.database)
        self._home_lock = ExitStack()
        self._ready = threading.Event()
        self._failure: str | None = None
        self._loader: threading.Thread | None = None
        self._services: _Loaded | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start loading the model and index in the background. Raises HomeInUse during maintenance."""
        self._home_lock.enter_context(home_lock(self.settings.home, exclusive=False))
        stale = self.scan_log.fail_unfinished("the service stopped before this scan finished; start it again")
        if stale:
            logger.warning("%d scan(s) left unfinished by an earlier run were marked failed", stale)
        RetroLog(self.database).fail_unfinished("the service stopped before this look-back finished")
        self.dispatcher.start()
        self._loader = threading.Thread(target=self._load, name="load-engine", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        try:
            s = self.settings
            engine = Engine(s.engine_settings(), self._embedder)
            limits = ScanLimits(
                s.max_scan_unpacked_bytes, s.max_scan_images, s.max_upload_bytes, s.max_pixels
            )
            catalogue = Catalogue(engine, self.registry, s.max_pixels)
            feedback = Feedback(self.database, engine.photo_store)
            follow_up = FollowUp(
                engine,
                self.alerts,
                feedback,
                self.webhooks,
                self.dispatcher,
                self.scan_log,
                alert_json,
            )
            loaded = _Loaded(
                engine=engine,
                catalogue=catalogue,
                desk=Desk(engine, self.inspection_log, self.registry, s.max_pixels, follow_up),
                scanner=Scanner(engine, self.scan_log, s.home / "scans", limits, follow_up),
                feedback=feedback,
                retro=Retro(engine, RetroLog(self.database), follow_up, s.retain_days, s.retro_shortlist),
                alert_desk=AlertDesk(engine, self.alerts, catalogue, follow_up),
            )
            if s.demo:
                logger.info("demo: %d demo design(s) registered", seed_demo(loaded.catalogue))
        except Exception as exc:
            logger.exception("the engine could not be loaded")
            self._failure = f"{type(exc).__name__}: {exc}"
            return
        self._services = loaded
        self._retention = threading.Thread(target=self._expire_daily, name="retention", daemon=True)
        self._retention.start()
        self._ready.set()
        logger.info("ready: %d reference image(s) searchable", engine.index_size)

    def _expire_daily(self) -> None:
        """Remove photos past the retention period now, then once a day, until the service stops."""
        while not self._daily.is_set():
            try:
                expired = expire_photos(self.database, self.settings.home, self.settings.retain_days)
                self.engine.photos.remove(expired.photo_ids)
            except Exception:
                logger.exception("the daily retention run failed; it runs again tomorrow")
            self._daily.wait(RETENTION_EVERY_S)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the engine is loaded. Returns whether it is."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        """Return whether the model and index are loaded."""
        return self._ready.is_set()

    @property
    def failure(self) -> str | None:
        """Return why loading failed, if it did."""
        return self._failure

    def close(self) -> None:
        """Stop the scan worker and close the engine and every store."""
        if self._loader is not None:
            self._loader.join()
        self._daily.set()
        if self._retention is not None:
            self._retention.join()
        if self._services is not None:
            self._services.scanner.close()
            self._services.retro.close()
            self._services.engine.close()
        self.dispatcher.close()
        self.registry.close()
        self.database.close()
        self._home_lock.close()

    # ---- engine-backed services ------------------------------------------------------------

    def _loaded(self) -> _Loaded:
        if self._failure is not None:
            raise IndexNotReady(f"the model or index failed to load: {self._failure}")
        if self._services is None:
            raise ServiceStarting("the service is still loading the model and index; try again in a moment")
        return self._services

    @property
    def engine(self) -> Engine:
        """Return the engine. Raises ServiceStarting (or IndexNotReady when loading failed)."""
        return self._loaded().engine

    @property
    def catalogue(self) -> Catalogue:
        """Return the design catalogue. Raises ServiceStarting."""
        return self._loaded().catalogue

    @property
    def desk(self) -> Desk:
        """Return the inspection desk. Raises ServiceStarting."""
        return self._loaded().desk

    @property
    def scanner(self) -> Scanner:
        """Return the scan runner. Raises ServiceStarting."""
        return self._loaded().scanner

    @property
    def feedback(self) -> Feedback:
        """Return the reviewer feedback. Raises ServiceStarting."""
        return self._loaded().feedback

    @property
    def retro(self) -> Retro:
        """Return the look-back runner. Raises ServiceStarting."""
        return self._loaded().retro

    @property
    def alert_desk(self) -> AlertDesk:
        """Return the firm's alert operations. Raises ServiceStarting."""
        return self._loaded().alert_desk

    # ---- keys ------------------------------------------------------------------------------

    def issue_key(self, role: Role, firm: str | None = None, label: str | None = None) -> IssuedKey:
        """Issue a key; a firm key's firm is created when new. Raises InvalidInput."""
        if (role is Role.FIRM) != (firm is not None):
            raise InvalidInput(
                "a firm key needs a firm (--firm NAME or the field `firm`), and only a firm key may have one"
            )
        firm_id = self.registry.ensure_firm(firm).id if firm is not None else None
        return self.keys.create(role, firm_id, label)


def get_services(request: Request) -> Services:
    """Return the services of the app that serves the request."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
