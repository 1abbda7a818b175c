"""The attacks of issue 14 on the service, replayed over real sockets against uvicorn on 127.0.0.1.

Each test reproduces what the attack run saw and checks the answer docs/reliability.md promises
("Attacks and what answers them"). Every socket has a timeout: nothing here can hang.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from index.service.audit import ANONYMOUS, MAX_DETAIL, AuditLog
from model.embedder import Embedder
from tests.conftest import draw_design
from tests.service_kit import Served, photo_of, serving, view_bytes

LIMITS = {
    "max_in_flight": 4,
    "queue_timeout_s": 0.5,
    "max_uploads_per_key": 3,
    "body_grace_s": 1.5,
    "body_min_bytes_per_s": 16_384,
    "auth_failures_per_minute": 40,
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("attacks") / "home", embedder, **LIMITS) as served:
        yield served


def _client(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=20)


def _register(served: Served, seed: int, views: int = 1) -> dict:
    files = [("images", (f"v{seed}-{v}.jpg", view_bytes(seed, v), "image/jpeg")) for v in range(views)]
    data = {"registration_number": f"ATT-{seed}", "title": f"Lantern {seed}"}
    with _client(served) as client:
        answer = client.post("/api/v1/designs", data=data, files=files, headers=served.auth("firm_a"))
    assert answer.status_code == 201, answer.text
    return answer.json()


def _slow_upload(served: Served, path: str, key: str | None, length: int = 100_000) -> socket.socket:
    """Open a connection that sends a multipart request's headers and its first bytes, then waits."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: {length}\r\n"
        "Content-Type: multipart/form-data; boundary=XX\r\n\r\n--XX\r\n"
    )
    sock.sendall(head.encode())
    return sock


def _status(sock: socket.socket, within_s: float) -> int | None:
    """Return the status of the answer on `sock` within `within_s` seconds (None: no answer)."""
    sock.settimeout(within_s)
    try:
        line = sock.recv(64).split(b"\r\n", 1)[0]
    except (TimeoutError, ConnectionError):
        return None
    finally:
        sock.close()
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1") else None


# ---- 2. unauthenticated slow uploads ------------------------------------------------------------


def test_2_unauthenticated_slow_uploads_are_refused_from_their_headers_and_take_no_slot(
    served: Served,
) -> None:
    _register(served, 1)
    socks = [_slow_upload(served, "/api/v1/inspections", None) for _ in range(30)]
    try:
        with _client(served) as client:
            started = time.monotonic()
            answer = client.post(
                "/api/v1/inspections",
                files={"image": ("p.jpg", photo_of(1), "image/jpeg")},
                headers=served.auth("inspector"),
            )
            assert answer.status_code == 201, answer.text
            assert time.monotonic() - started < 15
    finally:
        statuses = [_status(s, 5) for s in socks]
    assert statuses == [401] * 30


def test_2_slow_bodies_with_a_key_are_capped_per_key_and_dropped_by_the_deadline(served: Served) -> None:
    key = served.keys["firm_b"]
    socks = [_slow_upload(served, "/api/v1/designs", key) for _ in range(3)]
    time.sleep(0.3)
    fourth = _slow_upload(served, "/api/v1/designs", key)
    assert _status(fourth, 5) == 429
    with _client(served) as client:
        answer = client.post(
            "/api/v1/inspections",
            files={"image": ("p.jpg", photo_of(1), "image/jpeg")},
            headers=served.auth("inspector"),
        )
        assert answer.status_code == 201, answer.text
    started = time.monotonic()
    assert [_status(s, 10) for s in socks] == [408, 408, 408]
    assert time.monotonic() - started < 8


# ---- 3. unauthenticated writes to the audit log ---------------------------------------------------


def test_3_audit_details_are_bounded_in_size(served: Served) -> None:
    log: AuditLog = served.services.audit
    detail = {"label": "x" * 60_000, "list": list(range(999))}
    entry = log.record(ANONYMOUS, "probe" * 100, "t" * 1000, 400, detail)
    stored = next(e for e in log.entries(entry.id - 1) if e.id == entry.id)
    assert len(json.dumps(stored.detail)) <= MAX_DETAIL and len(stored.action) <= 200
    assert len(stored.target or "") <= 200
    assert log.verify() == []


# ---- 4. races around a design ---------------------------------------------------------------------


def test_4_concurrent_add_views_end_with_at_most_seven(served: Served) -> None:
    design = _register(served, 40)

    url = f"/api/v1/designs/{design['id']}/images"

    def add(batch: int) -> int:
        files = [("images", (f"a{batch}{v}.jpg", view_bytes(100 + batch, v), "image/jpeg")) for v in range(6)]
        with _client(served) as client:
            return client.post(url, files=files, headers=served.auth("firm_a")).status_code

    with ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(add, range(3)))
    with _client(served) as client:
        stored = client.get(f"/api/v1/designs/{design['id']}", headers=served.auth("firm_a")).json()
    assert stored["image_count"] <= 7 and statuses.count(201) == 1
    assert sorted(statuses) == [201, 400, 400]


def test_4_add_views_during_withdraw_never_answers_201_withdrawn(served: Served) -> None:
    for seed in range(50, 54):
        design = _register(served, seed)
        answers: dict[str, httpx.Response] = {}
        files = [("images", (f"w{seed}.jpg", view_bytes(seed, 3), "image/jpeg"))]
        url = f"/api/v1/designs/{design['id']}/images"

        def add(url: str = url, files: list = files, answers: dict = answers) -> None:
            with _client(served) as client:
                answers["add"] = client.post(url, files=files, headers=served.auth("firm_a"))

        thread = threading.Thread(target=add)
        thread.start()
        with _client(served) as client:
            gone = client.delete(f"/api/v1/designs/{design['id']}", headers=served.auth("firm_a"))
        thread.join(30)
        assert gone.status_code == 200
        added = answers["add"]
        assert added.status_code in (201, 409), added.text
        if added.status_code == 201:
            assert added.json()["status"] == "active"


# ---- 5. PATCH uses the rules of create -----------------------------------------------------------


def test_5_patch_is_validated_against_the_whole_design(served: Served) -> None:
    files = [("images", ("p5.jpg", view_bytes(5), "image/jpeg"))]
    data = {"registration_number": "ATT-5", "valid_from": "2030-01-01", "valid_until": "2035-01-01"}
    with _client(served) as client:
        design = client.post("/api/v1/designs", data=data, files=files, headers=served.auth("firm_a")).json()
        url, auth = f"/api/v1/designs/{design['id']}", served.auth("firm_a")
        early = client.patch(url, json={"valid_until": "2020-01-01"}, headers=auth)
        assert early.status_code == 422 and "must not be before" in early.text
        removed = client.patch(url, json={"registration_number": None}, headers=auth)
        assert removed.status_code == 422 and "registration_number" in removed.text
        control = client.patch(url, json={"title": "Lantern\x1b[2J"}, headers=auth)
        assert control.status_code == 422 and "control character" in control.text
        stored = client.get(url, headers=auth).json()
    kept = (stored["registration_number"], stored["valid_until"], stored["title"])
    assert kept == ("ATT-5", "2035-01-01", None)


# ---- 12. minor: answers before validation, no echoes ----------------------------------------------


def test_12_malformed_json_without_a_key_is_401(served: Served) -> None:
    with _client(served) as client:
        headers = {"Content-Type": "application/json"}
        answer = client.post("/api/v1/keys", content=b"{not json", headers=headers)
    assert answer.status_code == 401


def test_12_a_file_part_without_a_filename_is_not_echoed(served: Served) -> None:
    payload = "Z" * 500_000
    body = (
        '--XX\r\nContent-Disposition: form-data; name="images"\r\n\r\n' + payload + "\r\n"
        '--XX\r\nContent-Disposition: form-data; name="registration_number"\r\n\r\nATT-12\r\n--XX--\r\n'
    )
    headers = {**served.auth("firm_a"), "Content-Type": "multipart/form-data; boundary=XX"}
    with _client(served) as client:
        answer = client.post("/api/v1/designs", content=body.encode(), headers=headers)
    assert answer.status_code == 422
    assert len(answer.content) < 2_000 and "ZZZZ" not in answer.text


# ---- 9. security headers --------------------------------------------------------------------------


def _gif_with_a_script() -> bytes:
    buffer = io.BytesIO()
    draw_design(9).convert("P").save(buffer, "GIF")
    return buffer.getvalue() + b"<script>alert(document.domain)</script>"


def test_9_every_answer_carries_security_headers_and_images_are_not_sniffed(served: Served) -> None:
    files = [("images", ("evil.gif", _gif_with_a_script(), "image/gif"))]
    with _client(served) as client:
        design = client.post(
            "/api/v1/designs",
            data={"registration_number": "ATT-9"},
            files=files,
            headers=served.auth("firm_a"),
        ).json()
        image_url = design["images"][0]["url"]
        answers = {
            "page": client.get("/"),
            "api": client.get("/api/v1/me", headers=served.auth("admin")),
            "refused": client.get("/api/v1/me"),
            "health": client.get("/health/live"),
            "static": client.get("/static/style.css"),
            "image": client.get(image_url, headers=served.auth("firm_a")),
        }
    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["x-frame-options"] == "DENY", name
        assert answer.headers["referrer-policy"] == "no-referrer", name
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"] or name == "image"
    page_policy = answers["page"].headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in page_policy and "unsafe-inline" not in page_policy
    image = answers["image"]
    assert image.headers["content-type"] == "image/gif" and image.content.endswith(b"</script>")
    assert "sandbox" in image.headers["content-security-policy"]
    assert image.headers["content-disposition"].startswith("inline; filename=")


def test_no_attack_left_the_service_unable_to_answer(served: Served, tmp_path: Path) -> None:
    with _client(served) as client:
        assert client.get("/health/ready").status_code == 200
        assert client.get("/api/v1/me", headers=served.auth("admin")).status_code == 200


def test_3_failed_authentication_is_counted_and_rate_limited_not_stored(served: Served) -> None:
    """Last in the module: its client stays rate-limited for the rest of the minute."""
    audit = served.services.audit
    before = audit.count()
    statuses = []
    with _client(served) as client:
        for _ in range(60):
            answer = client.post("/api/v1/keys", json={"role": "admin", "label": "x" * 60_000})
            statuses.append(answer.status_code)
    assert set(statuses) <= {401, 429} and statuses[0] == 401 and statuses[-1] == 429
    assert audit.count() - before <= 1
    after = list(audit.entries())[before:]
    assert all(e.action == "auth.failed" and "x" * 100 not in json.dumps(e.detail) for e in after)
