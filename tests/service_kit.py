"""Helpers for the service tests: an app on a fresh home with the session's embedder, keys per role."""

from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import Services
from api.settings import ServiceSettings
from index.service.keys import Role
from model.embedder import Embedder
from tests.conftest import draw_design, jpeg_bytes

FIRM_A = "Zigong Lights"
FIRM_B = "Nanjing Lanterns"


@dataclass
class Service:
    """A running app, its services and a key for each kind of caller."""

    client: TestClient
    services: Services
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """Return the Authorization header of a caller: admin, inspector, firm_a or firm_b."""
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def register(self, who: str, seed: int, number: str | None = None, views: int = 1, **fields: str) -> dict:
        """Register design `seed` (with `views` views) as `who`; return the design JSON."""
        files = [
            ("images", (f"view-{seed}-{v}.jpg", view_bytes(seed, v), "image/jpeg")) for v in range(views)
        ]
        data = {"registration_number": number or f"REG-{seed}", "title": f"Lantern {seed}", **fields}
        response = self.client.post("/api/v1/designs", data=data, files=files, headers=self.auth(who))
        assert response.status_code == 201, response.text
        return response.json()

    def inspect(self, photo: bytes, who: str = "inspector", **fields: str) -> Any:
        """Send a photo for inspection; return the response."""
        files = {"image": ("photo.jpg", photo, "image/jpeg")}
        return self.client.post("/api/v1/inspections", files=files, data=fields, headers=self.auth(who))


def view_bytes(seed: int, view: int = 0) -> bytes:
    """Return view `view` of design `seed` as JPEG (view 0: the design as drawn)."""
    image = draw_design(seed)
    return jpeg_bytes(image if view == 0 else image.rotate(4 * view, fillcolor=(128, 128, 128)))


def photo_of(seed: int) -> bytes:
    """Return a 'photo' of design `seed`: rescaled and recompressed harder than the registered view."""
    return jpeg_bytes(draw_design(seed).resize((300, 225)), quality=75)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """Return a zip archive holding these entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@contextmanager
def running(home: Path, embedder: Embedder, keys: bool = True, **overrides: Any) -> Iterator[Service]:
    """Run an app on `home` until the block ends; with `keys`, issue a key for each kind of caller."""
    settings = ServiceSettings(home=home, **overrides)
    app = create_app(settings, embedder)
    with TestClient(app) as client:
        services: Services = app.state.services
        if not services.wait_ready(60):
            raise RuntimeError(f"the service did not become ready: {services.failure}")
        service = Service(client, services)
        if keys:
            service.keys = {
                "admin": services.issue_key(Role.ADMIN, label="root").secret,
                "inspector": services.issue_key(Role.INSPECTOR, label="anna").secret,
                "firm_a": services.issue_key(Role.FIRM, FIRM_A, label="zigong").secret,
                "firm_b": services.issue_key(Role.FIRM, FIRM_B, label="nanjing").secret,
            }
        yield service


@dataclass
class Served:
    """An app served by uvicorn on a loopback port on a thread (real sockets), with a key per caller."""

    url: str
    port: int
    services: Services
    keys: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        """Return the Authorization header of a caller: admin, inspector, firm_a or firm_b."""
        return {"Authorization": f"Bearer {self.keys[who]}"}


@contextmanager
def serving(home: Path, embedder: Embedder, **overrides: Any) -> Iterator[Served]:
    """Serve an app on `home` with uvicorn on 127.0.0.1 until the block ends."""
    app = create_app(ServiceSettings(home=home, **overrides), embedder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        services: Services = app.state.services
        if not services.wait_ready(60):
            raise RuntimeError(f"the service did not become ready: {services.failure}")
        keys = {
            "admin": services.issue_key(Role.ADMIN, label="root").secret,
            "inspector": services.issue_key(Role.INSPECTOR, label="anna").secret,
            "firm_a": services.issue_key(Role.FIRM, FIRM_A, label="zigong").secret,
            "firm_b": services.issue_key(Role.FIRM, FIRM_B, label="nanjing").secret,
        }
        yield Served(f"http://127.0.0.1:{port}", port, services, keys)
    finally:
        server.should_exit = True
        thread.join(30)
