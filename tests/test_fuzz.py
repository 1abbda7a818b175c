"""Fuzz every operation of the app's own OpenAPI schema with schemathesis, over HTTP: never a 5xx."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.settings import ServiceSettings
from index.service.catalogue import NewDesign
from index.service.keys import Role
from index.service.uploads import Upload
from model.embedder import Embedder
from tests.service_kit import FIRM_A, photo_of, view_bytes

EXAMPLES = int(os.environ.get("LANTERNGUARD_FUZZ_EXAMPLES", "12"))
"""Examples per operation: enough to reach odd values of every parameter, few enough for 2 cores."""


class Served:
    """The app served by uvicorn on a free loopback port on a thread, with a key per role."""

    def __init__(self, home: Path, embedder: Embedder) -> None:
        (home / "roots").mkdir(parents=True)
        (home / "roots" / "photo.jpg").write_bytes(photo_of(1))
        settings_ = ServiceSettings(home=home / "state", scan_roots=[home / "roots"], max_scan_images=50)
        self.app = create_app(settings_, embedder)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        port = int(self.url.rsplit(":", 1)[1])
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.keys: dict[Role, str] = {}

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        services = self.app.state.services
        if not services.wait_ready(60):
            raise RuntimeError(f"the service did not start: {services.failure}")
        self.keys = {
            Role.ADMIN: services.issue_key(Role.ADMIN, label="fuzz-admin").secret,
            Role.FIRM: services.issue_key(Role.FIRM, FIRM_A, label="fuzz-firm").secret,
            Role.INSPECTOR: services.issue_key(Role.INSPECTOR, label="fuzz-inspector").secret,
        }
        for seed in range(3):
            services.catalogue.register(FIRM_A, NewDesign(f"F-{seed}"), [Upload("v.jpg", view_bytes(seed))])
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def role_for(method: str, path: str) -> Role:
    """Return the role whose key reaches this operation's code (others would stop at 403)."""
    if path.startswith(("/api/v1/keys", "/api/v1/firms", "/api/v1/audit")):
        return Role.ADMIN
    if path.startswith("/api/v1/designs") and method != "GET":
        return Role.FIRM
    return Role.INSPECTOR


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Served]:
    with Served(tmp_path_factory.mktemp("fuzz"), embedder) as served:
        yield served


schema = schemathesis.openapi.from_dict(create_app(ServiceSettings(home=Path("unused"))).openapi())
"""The app's own description; built without starting it (the model loads in the lifespan, not here)."""


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx(case: schemathesis.Case, served: Served) -> None:
    key = served.keys[role_for(case.method.upper(), case.path)]
    response = case.call(base_url=served.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    )
