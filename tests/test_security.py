"""Security: every route needs a key, keys are strong and revocable, uploads and archives are bounded."""

from __future__ import annotations

import io
import re
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from PIL import Image
from starlette.routing import BaseRoute, Mount

import index.service.keys as keys_module
from api.auth import current_key
from index.service.archives import declared_entries
from index.service.keys import KEY_PREFIX
from model.embedder import Embedder
from tests.service_kit import Service, photo_of, running, view_bytes, zip_bytes

PUBLIC = {
    "/health/live": "liveness",
    "/health/ready": "readiness",
    "/openapi.json": "the API description",
    "/docs": "Swagger UI shell",
    "/redoc": "ReDoc shell",
    "/": "inspector page shell (data needs a key)",
    "/firm": "firm page shell (data needs a key)",
    "/scans": "scan page shell (data needs a key)",
    "/history": "history page shell (data needs a key)",
    "/hits": "hits page shell (data needs a key)",
    "/inspections/{inspection_id}": "case file page shell (data needs a key)",
    "/api/v1/demo/photo": "a generated demo photo; 404 unless the service runs with --demo",
}
PUBLIC_MOUNTS = {"/static", "/docs-assets"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder):
    roots = tmp_path_factory.mktemp("roots")
    home = tmp_path_factory.mktemp("home")
    # every route is asked without a key (and with a wrong one): more routes than one minute's
    # default budget of failed authentications, so the budget is raised for this module
    with running(
        home, embedder, scan_roots=[roots], max_scan_images=20, auth_failures_per_minute=1000
    ) as service:
        service.register("firm_a", 1)
        yield service


def app_routes(app: FastAPI) -> list[tuple[str, BaseRoute]]:
    """Return (full path, route) of every route, whether or not this FastAPI includes routers lazily."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return [(getattr(r, "path", ""), r) for r in app.routes]
    return [(c.path or "", c.original_route) for c in iter_route_contexts(app.routes)]


def _routes(service: Service) -> list[tuple[str, str]]:
    found = []
    for path, route in app_routes(service.client.app):
        if isinstance(route, Mount):
            assert path in PUBLIC_MOUNTS, f"unexpected mount {path}"
        else:
            methods = sorted(getattr(route, "methods", None) or ())
            found += [(method, path) for method in methods if method != "HEAD"]
    return found


def test_every_route_but_health_docs_and_page_shells_needs_a_key(service: Service) -> None:
    routes = _routes(service)
    assert len(routes) > 20
    revoked = service.services.issue_key(keys_module.Role.ADMIN, label="gone")
    service.services.keys.revoke(revoked.record.id)
    for method, template in routes:
        path = re.sub(r"\{[^}]+\}", "1", template)
        if template in PUBLIC:
            continue
        for secret in (None, "lg_guess", revoked.secret):
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            response = service.client.request(method, path, headers=headers)
            assert response.status_code == 401, f"{method} {template} answered {response.status_code}"
    for path in PUBLIC:
        shell = re.sub(r"\{[^}]+\}", "1", path)
        assert service.client.get(shell).status_code == (404 if "demo" in path else 200), path


def test_every_api_route_names_the_roles_it_allows(service: Service) -> None:
    def needs_key(dependant: Dependant) -> bool:
        return any(d.call is current_key or needs_key(d) for d in dependant.dependencies)

    routes = [(p, r) for p, r in app_routes(service.client.app) if isinstance(r, APIRoute)]
    api = [(p, r) for p, r in routes if p.startswith("/api/") and p not in PUBLIC]
    assert len(api) > 20
    assert [p for p, r in api if not needs_key(r.dependant)] == []


def test_keys_are_random_hashed_compared_in_constant_time_and_revocable(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = service.services.keys
    secrets_ = {store.create(keys_module.Role.INSPECTOR).secret for _ in range(20)}
    assert len(secrets_) == 20
    for secret in secrets_:
        assert secret.startswith(KEY_PREFIX) and len(secret) - len(KEY_PREFIX) >= 43  # 256 random bits
    compared: list[tuple[str, str]] = []
    real = keys_module.hmac.compare_digest
    spy = lambda a, b: compared.append((a, b)) or real(a, b)  # noqa: E731
    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    secret = secrets_.pop()
    record = store.authenticate(secret)
    assert compared == [(keys_module.hash_key(secret), keys_module.hash_key(secret))]
    headers = {"Authorization": f"Bearer {secret}"}
    assert service.client.get("/api/v1/me", headers=headers).status_code == 200
    store.revoke(record.id)
    assert service.client.get("/api/v1/me", headers=headers).status_code == 401


def _image(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 40)).save(buffer, kind)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["PCX", "ICO", "TGA", "PPM"])
def test_image_formats_outside_the_allow_list_are_415(service: Service, kind: str) -> None:
    data = _image(kind)
    inspected = service.inspect(data)
    assert inspected.status_code == 415 and f"{kind} images are not accepted" in inspected.json()["detail"]
    registered = service.client.post(
        "/api/v1/designs",
        data={"registration_number": f"R-{kind}"},
        files=[("images", ("view.img", data, "image/x-other"))],
        headers=service.auth("firm_a"),
    )
    assert registered.status_code == 415


def test_allowed_formats_are_accepted(service: Service) -> None:
    for kind in ("PNG", "WEBP", "BMP", "GIF", "TIFF"):
        assert service.inspect(_image(kind)).status_code == 201, kind


def test_an_archive_with_too_many_entries_is_refused_before_its_directory_is_read(service: Service) -> None:
    entries = {"photo.jpg": photo_of(1), **{f"notes/{i}.txt": b"" for i in range(1100)}}
    files = {"archive": ("many.zip", zip_bytes(entries), "application/zip")}
    response = service.client.post("/api/v1/scans", files=files, headers=service.auth("inspector"))
    assert response.status_code == 413
    assert "1101 entries, over the limit of 1040" in response.json()["detail"]


def test_the_entry_count_is_read_from_the_zip64_end_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
    data = bytearray(zip_bytes({f"{i}.jpg": b"x" for i in range(5)}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\xff\xff\xff\xff"  # what a writer puts there past 65535 entries
    assert declared_entries(io.BytesIO(bytes(data))) == 5
    assert declared_entries(io.BytesIO(zip_bytes({"a.jpg": b"1"}))) == 1
    assert declared_entries(io.BytesIO(b"not a zip")) is None


def test_scan_folders_resolve_links_before_checking_the_roots(service: Service, tmp_path: Path) -> None:
    root = service.services.settings.scan_roots[0]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(view_bytes(1))
    (root / "door").symlink_to(outside, target_is_directory=True)
    (root / "day").mkdir()
    (root / "day" / "photo.jpg").write_bytes(photo_of(1))
    (root / "day" / "tunnel").symlink_to(outside, target_is_directory=True)
    headers = service.auth("inspector")
    refused = service.client.post("/api/v1/scans", data={"folder": str(root / "door")}, headers=headers)
    assert refused.status_code == 400 and "outside the allowed scan roots" in refused.json()["detail"]
    accepted = service.client.post("/api/v1/scans", data={"folder": str(root / "day")}, headers=headers)
    assert accepted.status_code == 202
    assert accepted.json()["total"] == 1  # the linked folder is not walked into


def test_a_saturated_service_sheds_load_with_503_and_retry_after(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = {"max_in_flight": 1, "queue_timeout_s": 0.2, "retry_after_s": 7}
    with running(tmp_path / "home", embedder, **limits) as service:
        service.register("firm_a", 1)
        desk = service.services.desk
        entered, release = threading.Event(), threading.Event()
        inspect = desk.inspect

        def slow(*args: object, **kwargs: object) -> object:
            entered.set()
            release.wait(10)
            return inspect(*args, **kwargs)

        monkeypatch.setattr(desk, "inspect", slow)
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(service.inspect, photo_of(1))
            assert entered.wait(10)
            shed = service.inspect(photo_of(1))
            assert shed.status_code == 503 and shed.headers["retry-after"] == "7"
            assert "busy" in shed.json()["detail"]
            assert service.client.get("/health/live").status_code == 200
            assert service.client.get("/health/ready").status_code == 200
            release.set()
            assert first.result(10).status_code == 201
        assert service.inspect(photo_of(1)).status_code == 201
