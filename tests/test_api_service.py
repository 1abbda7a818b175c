"""The service around the routes: health, keys and firms, OpenAPI docs, pages, demo, settings, CLI."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import cli
from api.app import create_app
from api.demo import DEMO_DESIGNS, DEMO_FIRM
from api.services import Services
from api.settings import ServiceSettings, load_service_settings
from index.errors import InvalidInput
from index.service.keys import Role, hash_key
from model.embedder import Embedder
from tests.service_kit import Service, running


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder) as service:
        yield service


def test_readiness_waits_for_the_model_and_index(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    load = Services._load

    def slow_load(self: Services) -> None:
        release.wait(30)
        load(self)

    monkeypatch.setattr(Services, "_load", slow_load)
    app = create_app(ServiceSettings(home=tmp_path / "home"), embedder)
    with TestClient(app) as client:
        services: Services = app.state.services
        assert client.get("/health/live").json() == {"status": "ok", "detail": None, "views_searchable": None}
        starting = client.get("/health/ready")
        assert starting.status_code == 503 and starting.json()["status"] == "starting"
        key = services.issue_key(Role.INSPECTOR).secret
        designs = client.get("/api/v1/designs", headers={"Authorization": f"Bearer {key}"})
        assert designs.status_code == 503
        assert "still loading" in designs.json()["detail"]
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        release.set()
        assert services.wait_ready(30)
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["views_searchable"] == 0
        assert client.get("/health/live").status_code == 200


def test_readiness_reports_a_model_that_failed_to_load(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(home=tmp_path / "home", backbone="no-such-backbone"))
    with TestClient(app) as client:
        services: Services = app.state.services
        services._loader.join(30)
        failed = client.get("/health/ready")
        assert failed.status_code == 503
        assert failed.json()["status"] == "failed" and "no-such-backbone" in failed.json()["detail"]
        assert client.get("/health/live").status_code == 200


def test_an_admin_issues_lists_and_revokes_keys(service: Service) -> None:
    admin = service.auth("admin")
    issued = service.client.post(
        "/api/v1/keys", json={"role": "firm", "firm": "Hangzhou Silk", "label": "hz"}, headers=admin
    )
    assert issued.status_code == 201
    body = issued.json()
    assert body["key"].startswith("lg_") and body["prefix"] == body["key"][:10]
    assert body["role"] == "firm" and body["firm"] == "Hangzhou Silk"
    new = {"Authorization": f"Bearer {body['key']}"}
    assert service.client.get("/api/v1/me", headers=new).json() == {
        "role": "firm",
        "firm": "Hangzhou Silk",
        "label": "hz",
        "prefix": body["prefix"],
    }
    listed = service.client.get("/api/v1/keys", headers=admin).json()
    assert listed["count"] == 5 and all("key" not in k for k in listed["data"])
    revoked = service.client.delete(f"/api/v1/keys/{body['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = service.client.get("/api/v1/me", headers=new)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert service.client.get("/api/v1/keys", headers=admin).json()["count"] == 4
    assert service.client.get("/api/v1/keys?include_revoked=true", headers=admin).json()["count"] == 5
    assert service.client.delete("/api/v1/keys/999", headers=admin).status_code == 404


def test_keys_are_stored_only_as_hashes(service: Service) -> None:
    database = service.services.settings.home / "registry.sqlite3"
    secret = service.keys["inspector"]
    raw = b"".join(p.read_bytes() for p in database.parent.glob("registry.sqlite3*"))
    assert secret.encode() not in raw
    assert hash_key(secret).encode() in raw


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"role": "firm"}, 400, "a firm key needs a firm"),
        ({"role": "inspector", "firm": "Acme"}, 400, "only a firm key may have one"),
        ({"role": "root"}, 422, "role"),
    ],
)
def test_bad_key_requests(service: Service, body: dict, status: int, message: str) -> None:
    response = service.client.post("/api/v1/keys", json=body, headers=service.auth("admin"))
    assert response.status_code == status
    assert message in response.text
    firms = service.client.get("/api/v1/firms", headers=service.auth("admin")).json()
    assert "Acme" not in [f["name"] for f in firms["data"]]


def test_only_admins_manage_keys_and_firms(service: Service) -> None:
    for who in ("inspector", "firm_a"):
        headers = service.auth(who)
        assert service.client.post("/api/v1/keys", json={"role": "admin"}, headers=headers).status_code == 403
        assert service.client.get("/api/v1/keys", headers=headers).status_code == 403
        assert service.client.delete("/api/v1/keys/1", headers=headers).status_code == 403
        assert service.client.get("/api/v1/firms", headers=headers).status_code == 403
        assert service.client.post("/api/v1/firms", json={"name": "X"}, headers=headers).status_code == 403
    assert service.client.get("/api/v1/firms").status_code == 401


def test_an_admin_adds_and_lists_firms(service: Service) -> None:
    admin = service.auth("admin")
    created = service.client.post("/api/v1/firms", json={"name": "Foshan Crafts"}, headers=admin)
    assert created.status_code == 201 and created.json()["design_count"] == 0
    service.register("firm_a", 1)
    firms = {f["name"]: f for f in service.client.get("/api/v1/firms", headers=admin).json()["data"]}
    assert set(firms) == {"Foshan Crafts", "Nanjing Lanterns", "Zigong Lights"}
    assert firms["Zigong Lights"]["design_count"] == 1
    assert service.client.post("/api/v1/firms", json={"name": ""}, headers=admin).status_code == 422


def test_openapi_describes_every_endpoint_error_and_schema(service: Service) -> None:
    spec = service.client.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        "/api/v1/designs": {"get", "post"},
        "/api/v1/designs/{design_id}": {"get", "patch", "delete"},
        "/api/v1/designs/{design_id}/images": {"post"},
        "/api/v1/images/{image_id}": {"get"},
        "/api/v1/inspections": {"get", "post"},
        "/api/v1/inspections/{inspection_id}": {"get"},
        "/api/v1/inspections/{inspection_id}/matches/{rank}": {"patch"},
        "/api/v1/inspections/{inspection_id}/photo": {"get"},
        "/api/v1/inspections/{inspection_id}/matches/{rank}/evidence": {"get"},
        "/api/v1/scans": {"get", "post"},
        "/api/v1/scans/{scan_id}": {"get"},
        "/api/v1/keys": {"get", "post"},
        "/api/v1/keys/{key_id}": {"delete"},
        "/api/v1/firms": {"get", "post"},
        "/api/v1/me": {"get"},
        "/health/live": {"get"},
        "/health/ready": {"get"},
        "/api/v1/demo/photo": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            operation = paths[path][method]
            assert operation["summary"] and operation["description"], (path, method)
            if path.startswith("/api/v1/") and path != "/api/v1/demo/photo":
                assert {"401"} <= set(operation["responses"]), (path, method)
                assert operation["responses"]["401"]["content"]["application/json"]["schema"][
                    "$ref"
                ].endswith("/ErrorPublic")
    assert "403" in paths["/api/v1/designs/{design_id}"]["get"]["responses"]
    assert "413" in paths["/api/v1/inspections"]["post"]["responses"]
    assert "415" in paths["/api/v1/scans"]["post"]["responses"]
    assert "503" in paths["/health/ready"]["get"]["responses"]
    schemas = spec["components"]["schemas"]
    for name in (
        "DesignPublic",
        "DesignsPublic",
        "InspectionPublic",
        "MatchPublic",
        "ScanPublic",
        "KeyIssued",
    ):
        assert name in schemas
    assert "API key" in spec["components"]["securitySchemes"]
    docs = service.client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert service.client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert service.client.get("/redoc").status_code == 200


def test_pages_are_served_without_a_key(service: Service) -> None:
    for path, marker in (
        ("/", 'id="inspect-form"'),
        ("/firm", 'id="register-form"'),
        ("/scans", 'id="scan-form"'),
    ):
        page = service.client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert marker in page.text and 'id="key-form"' in page.text
        assert "demo-banner" not in page.text
    assert service.client.get("/static/common.js").status_code == 200
    assert service.client.get("/static/style.css").status_code == 200


def test_demo_photos_exist_only_in_demo_mode(service: Service) -> None:
    response = service.client.get("/api/v1/demo/photo")
    assert response.status_code == 404
    assert "--demo" in response.json()["detail"]


def test_the_demo_seeds_a_marked_firm_whose_photo_matches(tmp_path: Path, embedder: Embedder) -> None:
    with running(tmp_path / "demo", embedder, demo=True) as service:
        designs = service.client.get("/api/v1/designs", headers=service.auth("inspector")).json()
        assert designs["count"] == len(DEMO_DESIGNS)
        assert {d["owner"] for d in designs["data"]} == {DEMO_FIRM} and "DEMO" in DEMO_FIRM
        photo = service.client.get("/api/v1/demo/photo?design=0")
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        found = service.inspect(photo.content).json()
        assert found["verdict"] == "match"
        assert found["matches"][0]["registration_number"] == DEMO_DESIGNS[0].registration_number
        assert "demo-banner" in service.client.get("/").text
    with running(tmp_path / "demo", embedder, keys=False, demo=True) as again:
        assert again.services.registry.count_designs() == len(DEMO_DESIGNS)


def test_settings_come_from_the_environment_and_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv("LANTERNGUARD_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("LANTERNGUARD_SCAN_ROOTS", f"{tmp_path / 'a'},{tmp_path / 'b'}")
    monkeypatch.setenv("LANTERNGUARD_RAW_MATCH", "0.9")
    monkeypatch.setenv("LANTERNGUARD_RAW_REVIEW", "0.7")
    monkeypatch.setenv("LANTERNGUARD_PRECISION", "float32")
    settings = load_service_settings()
    assert settings.home == tmp_path / "h"
    assert settings.engine_settings().embedder.precision == "float32"
    assert settings.scan_roots == [tmp_path / "a", tmp_path / "b"]
    assert settings.engine_settings().calibration.raw.match == 0.9
    assert load_service_settings(home=str(tmp_path / "x")).home == tmp_path / "x"
    for name, value, message in (
        ("LANTERNGUARD_RAW_MATCH", "0.5", "review <= match"),
        ("LANTERNGUARD_SCAN_ROOTS", "/no/such/folder", "LANTERNGUARD_SCAN_ROOTS"),
        ("LANTERNGUARD_MAX_PIXELS", "many", "LANTERNGUARD_MAX_PIXELS"),
        ("LANTERNGUARD_MAX_PIXELS", "99999999999", "less than or equal"),
        ("LANTERNGUARD_PRECISION", "float8", "LANTERNGUARD_PRECISION"),
    ):
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(InvalidInput, match=message):
                load_service_settings()


def test_the_cli_serves_and_prints_demo_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = {}
    monkeypatch.setattr(
        "uvicorn.run", lambda app, host, port, log_level, **_: served.update(app=app, port=port)
    )
    home = str(tmp_path / "home")
    assert cli.main(["serve", "--home", home, "--demo", "--port", "8123"]) == 0
    out = capsys.readouterr().out
    assert served["port"] == 8123 and served["app"].title == "LanternGuard"
    keys = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("  ")}
    assert set(keys) == {"inspector", "firm", "admin"}
    assert DEMO_FIRM in out
    services = Services(ServiceSettings(home=Path(home)))
    try:
        assert services.keys.authenticate(keys["firm"]).firm == DEMO_FIRM
        assert cli.main(["serve", "--home", home, "--demo"]) == 0
        with pytest.raises(Exception, match="revoked"):
            services.keys.authenticate(keys["firm"])
    finally:
        services.close()


def test_the_cli_creates_lists_and_revokes_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    assert (
        cli.main(["keys", "create", "--home", home, "--role", "firm", "--firm", "Acme", "--label", "a"]) == 0
    )
    captured = capsys.readouterr()
    secret = captured.out.strip()
    assert secret.startswith("lg_") and "not shown again" in captured.err
    assert cli.main(["keys", "list", "--home", home]) == 0
    listing = capsys.readouterr().out
    assert "Acme" in listing and secret[:10] in listing and secret not in listing
    assert cli.main(["keys", "revoke", "--home", home, "1"]) == 0
    assert cli.main(["keys", "create", "--home", home, "--role", "firm"]) == 3
    assert "needs a firm" in capsys.readouterr().err
    assert cli.main(["keys", "revoke", "--home", home, "9"]) == 5
