"""The web pages in a real headless Chromium: inspect a photo (file, drop, demo), register and withdraw, scan.

Screenshots of each page go to $LANTERNGUARD_SCREENSHOTS when it is set (to look at them).
"""

from __future__ import annotations

import base64
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from api.demo import DEMO_DESIGNS, demo_photo, draw_lantern
from api.services import Services
from api.settings import ServiceSettings
from index.service.keys import Role
from model.embedder import Embedder
from tests.conftest import CHROMIUM
from tests.service_kit import zip_bytes

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)


class LiveServer:
    """The app served by uvicorn on a free local port, on a thread of this process."""

    def __init__(self, settings: ServiceSettings, embedder: Embedder) -> None:
        self.app = create_app(settings, embedder)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        if not self.services.wait_ready(60):
            raise RuntimeError(f"the service did not become ready: {self.services.failure}")
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def services(self) -> Services:
        return self.app.state.services


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("browser") / "home"
    with LiveServer(ServiceSettings(home=home, demo=True), embedder) as server:
        yield server


@pytest.fixture(scope="module")
def keys(live: LiveServer) -> dict[str, str]:
    services = live.services
    return {
        "inspector": services.issue_key(Role.INSPECTOR, label="customs-anna").secret,
        "firm": services.issue_key(Role.FIRM, "Zigong Lights", label="zigong").secret,
    }


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def screenshot(page: object, name: str) -> None:
    folder = os.environ.get("LANTERNGUARD_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def sign_in(page: object, url: str, key: str) -> None:
    page.goto(url)
    page.fill("#key-input", key)
    page.click("#key-form button")
    page.wait_for_selector("#who.ok")


def loaded(page: object, selector: str) -> bool:
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_an_uploaded_photo_shows_its_match(live: LiveServer, keys: dict[str, str], page: object) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    assert "inspector" in page.inner_text("#who") and "customs-anna" in page.inner_text("#who")
    page.set_input_files(
        "#photo", files=[{"name": "crate-7.jpg", "mimeType": "image/jpeg", "buffer": demo_photo(0)}]
    )
    page.fill("input[name=shipment_ref]", "MSKU 123456-7")
    page.click("#inspect-button")
    page.wait_for_selector("#verdict.match")
    assert "Match" in page.inner_text("#verdict")
    first = page.locator("#matches article").first
    assert DEMO_DESIGNS[0].registration_number in first.inner_text()
    assert DEMO_DESIGNS[0].title in page.inner_text("#best-caption")
    page.wait_for_function("() => document.querySelector('#best-image').naturalWidth > 0")
    assert loaded(page, "#query-image") and loaded(page, "#best-image")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#matches img')].every(i => i.naturalWidth > 0)"
    )
    first.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("#matches article .review.confirmed")
    page.wait_for_selector("#history tbody tr >> text=MSKU 123456-7")
    screenshot(page, "inspect")


def test_a_dropped_photo_and_the_demo_photo_are_inspected(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    encoded = base64.b64encode(demo_photo(3, seed=2)).decode()
    transfer = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.jpg", { type: "image/jpeg" }));
            return transfer;
        }""",
        encoded,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    assert "dropped.jpg" in page.inner_text("#drop-text")
    page.click("#inspect-button")
    page.wait_for_selector("#verdict.match")
    assert DEMO_DESIGNS[3].registration_number in page.locator("#matches article").first.inner_text()
    dropped = page.inner_text("#result-meta")
    page.click("#demo-photo")
    page.wait_for_selector("#drop-text >> text=demo-photo-")
    page.wait_for_function(
        "(before) => document.querySelector('#result-meta').textContent !== before", arg=dropped
    )
    assert page.get_attribute("#verdict", "class") in ("verdict match", "verdict review")
    assert page.locator("#matches article").count() >= 1


def test_a_firm_registers_and_withdraws_a_design(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/firm", keys["firm"])
    page.fill("input[name=registration_number]", "DM/777 001")
    page.fill("input[name=title]", "Lotus lantern, pink")
    page.fill("input[name=locarno_class]", "26-05")
    page.fill("input[name=valid_from]", "2024-05-01")
    views = []
    for view in (0, 1):
        buffer = io.BytesIO()
        draw_lantern(DEMO_DESIGNS[1], view).rotate(90 * view).save(buffer, "PNG")
        views.append({"name": f"lotus-{view}.png", "mimeType": "image/png", "buffer": buffer.getvalue()})
    page.set_input_files("#design-images", files=views)
    assert page.locator("#image-previews img").count() == 2
    page.click("#register-button")
    page.wait_for_selector("#register-status >> text=Registered")
    card = page.locator("#designs article.design").first
    assert "DM/777 001" in card.inner_text() and "Lotus lantern" in card.inner_text()
    assert "1 design(s) of Zigong Lights" in page.inner_text("#design-count")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#designs img')].every(i => i.naturalWidth > 0)"
    )
    screenshot(page, "firm")
    page.on("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Withdraw").click()
    page.wait_for_selector("#designs article.design.withdrawn")
    design_id = page.locator("#designs article.design").first.get_attribute("data-design")
    assert live.services.registry.design(design_id).withdrawn_at is not None


def test_a_refused_registration_says_why(live: LiveServer, keys: dict[str, str], page: object) -> None:
    sign_in(page, live.url + "/firm", keys["firm"])
    page.fill("input[name=registration_number]", "DM/BAD")
    page.set_input_files(
        "#design-images", files=[{"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"nope"}]
    )
    page.click("#register-button")
    page.wait_for_selector("#register-error:not([hidden])")
    assert "not an image" in page.inner_text("#register-error")


def test_a_scan_runs_to_its_report(live: LiveServer, keys: dict[str, str], page: object) -> None:
    sign_in(page, live.url + "/scans", keys["inspector"])
    archive = zip_bytes(
        {f"shelf/lantern-{i}.jpg": demo_photo(i, seed=5) for i in range(4)} | {"shelf/bad.jpg": b"x"}
    )
    page.set_input_files(
        "#scan-archive", files=[{"name": "shelf.zip", "mimeType": "application/zip", "buffer": archive}]
    )
    page.click("#scan-button")
    page.wait_for_selector("#scan-status.finished")
    assert page.get_attribute(".progress", "aria-valuenow") == "100"
    assert "5 of 5 image(s) done · 1 error(s)" in page.inner_text("#scan-counts")
    rows = page.locator("#scan-results tbody tr")
    assert rows.count() == 5
    assert "match" in rows.nth(0).inner_text()
    with page.expect_download() as download:
        page.click("#download-csv")
    report = Path(download.value.path()).read_text()
    assert report.splitlines()[0] == "image,verdict,design_id,score,matches,error,title,owner,legal_status"
    assert len(report.splitlines()) == 6
    page.wait_for_selector("#scan-list tbody tr >> text=shelf.zip")
    screenshot(page, "scans")


def test_the_key_stays_for_the_tab_and_a_wrong_key_is_refused(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    page.click("nav >> text=Batch scans")
    page.wait_for_selector("#who.ok")
    assert "inspector" in page.inner_text("#who")
    page.click("#key-forget")
    page.wait_for_selector("#key-needed:not([hidden])")
    page.fill("#key-input", "lg_wrong")
    page.click("#key-form button")
    page.wait_for_selector("#who.bad")
    assert "unknown API key" in page.inner_text("#who")


def test_the_api_docs_render_without_a_network(live: LiveServer, page: object) -> None:
    page.goto(live.url + "/docs")
    page.wait_for_selector('.opblock-summary-path[data-path="/api/v1/inspections"]')
    assert page.locator(".opblock").count() >= 20
    assert "LanternGuard" in page.inner_text(".info .title")
    page.click('.opblock-summary-path[data-path="/api/v1/inspections"] >> nth=0')
    page.wait_for_selector(".responses-table >> text=401")
    screenshot(page, "docs")


def test_no_page_needs_what_its_content_security_policy_refuses(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    """The pages run under the policy of api/headers.py: no script, stylesheet, picture or API call
    of theirs is refused (inline scripts and styles need the request's nonce; docs/service.md)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    sign_in(page, live.url + "/", keys["inspector"])
    for path in ("/", "/firm", "/scans"):
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
    blocked = [
        m for m in refused if m.startswith(("Refused to execute", "Refused to load", "Refused to connect"))
    ]
    assert not blocked, blocked
    policy = page.evaluate("async () => (await fetch('/')).headers.get('content-security-policy')")
    assert "'nonce-" in policy and "frame-ancestors 'none'" in policy
