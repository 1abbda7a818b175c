"""Every page in a real headless Chromium, as an inspector or a firm uses it: results that cannot be
misread, legal status, photos shrunk in the browser, history and case files, hits, scans, phones
(390 px without sideways scroll) and Chinese.

Each page is saved as a screenshot at 1280 and 390 px wide under test-output/screens/ (or
$LANTERNGUARD_SCREENSHOTS), to look at.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from api.demo import DEMO_DESIGNS, demo_photo
from api.settings import ServiceSettings
from index.service.catalogue import NewDesign
from index.service.keys import Role
from index.service.uploads import Upload
from model.embedder import Embedder
from tests.conftest import CHROMIUM, draw_design, jpeg_bytes
from tests.service_kit import photo_of, view_bytes, zip_bytes
from tests.test_browser import LiveServer

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
)

SCREENS = Path(
    os.environ.get("LANTERNGUARD_SCREENSHOTS") or Path(__file__).parents[1] / "test-output" / "screens"
)
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
EXPIRED_SEED = 21
FIRM = "Zigong Lights"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("pages") / "home"
    with LiveServer(ServiceSettings(home=home, demo=True), embedder) as server:
        catalogue = server.services.catalogue
        catalogue.register(
            FIRM,
            NewDesign("DM/2001 EXP", "Bridge lantern (expired)", "26-05", "1990-01-01", "2001-01-01", "CN"),
            [Upload("bridge.jpg", view_bytes(EXPIRED_SEED))],
        )
        yield server


@pytest.fixture(scope="module")
def keys(live: LiveServer) -> dict[str, str]:
    services = live.services
    return {
        "inspector": services.issue_key(Role.INSPECTOR, label="customs-li").secret,
        "firm": services.issue_key(Role.FIRM, FIRM, label="zigong").secret,
        "other": services.issue_key(Role.FIRM, "Nanjing Lanterns", label="nanjing").secret,
    }


def open_page(
    browser: object, viewport: dict[str, int], locale: str = "en-GB"
) -> tuple[object, object, list]:
    context = browser.new_context(
        viewport=viewport, accept_downloads=True, locale=locale, timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context, page, errors = open_page(browser, DESK)
    yield page
    context.close()
    assert not errors, errors


def sign_in(page: object, url: str, key: str) -> None:
    """Open a page with a key in the tab's storage, as the key form leaves it."""
    page.goto(url)
    page.evaluate("(key) => sessionStorage.setItem('lanternguard-key', key)", key)
    page.reload()
    page.wait_for_selector("#who.ok")


def screenshot(page: object, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SCREENS / f"{name}-{width}.png"), full_page=True)


def upload(page: object, name: str, data: bytes, kind: str = "image/jpeg") -> None:
    page.set_input_files("#photo", files=[{"name": name, "mimeType": kind, "buffer": data}])
    page.wait_for_selector("#drop-text >> text=" + name.rsplit(".", 1)[0])


def inspect(page: object, name: str, data: bytes, **fields: str) -> None:
    upload(page, name, data)
    for field, value in fields.items():
        page.fill(f"input[name={field}]", value)
    before = page.inner_text("#result-meta") if page.is_visible("#result") else ""
    page.click("#inspect-button")
    page.wait_for_function(
        "(before) => !document.querySelector('#result').hidden"
        " && document.querySelector('#result-meta').textContent !== before",
        arg=before,
    )


def test_results_come_in_two_groups_with_scores_against_the_thresholds(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    inspect(page, "crate.jpg", demo_photo(0), shipment_ref="MSKU 7001-1", note="red crate, hold 3")
    assert "Match" in page.inner_text("#verdict")
    assert "above the match level" in page.inner_text("#verdict-why")
    cards = page.locator("#matches article")
    assert cards.count() >= 1
    assert all(
        "level-match" in c.get_attribute("class") or "level-review" in c.get_attribute("class")
        for c in cards.all()
    )
    assert "above the match level" in cards.first.inner_text()
    assert cards.first.get_by_role("button", name="Confirm").is_visible()
    others = page.locator("#other-matches article")
    assert others.count() >= 1 and page.get_attribute("#others", "open") is None
    assert others.first.get_by_role("button").count() == 0
    assert "below the review level" in others.first.text_content()
    width = page.eval_on_selector("#matches article .scorebar .fill", "e => e.getBoundingClientRect().width")
    bar = page.eval_on_selector("#matches article .scorebar", "e => e.getBoundingClientRect().width")
    assert 0 < width < bar, "the bar scales to the score range: a score above 1 does not fill it"
    assert page.locator("#matches article .scorebar .mark").count() == 2
    assert "MSKU 7001-1" in page.inner_text("#history")
    screenshot(page, "inspect-match")


def test_a_new_photo_or_an_error_clears_the_old_result(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    inspect(page, "crate.jpg", demo_photo(1))
    assert page.is_visible("#verdict.match") or page.is_visible("#verdict.review")
    upload(page, "manifest.pdf", b"%PDF-1.4 not a photo", "application/pdf")
    assert page.is_hidden("#result"), "a new photo takes the old result off the screen"
    page.click("#inspect-button")
    page.wait_for_selector("#inspect-error:not([hidden])")
    assert page.is_hidden("#result")
    assert "is not an image" in page.inner_text("#inspect-error")
    screenshot(page, "inspect-error")


def test_no_match_shows_no_best_match_picture(live: LiveServer, keys: dict[str, str], page: object) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    plain = Image.new("RGB", (400, 300), (90, 140, 200))
    inspect(page, "sky.jpg", jpeg_bytes(plain))
    page.wait_for_selector("#verdict.no_match")
    assert page.is_hidden("#best-figure") and page.is_hidden("#candidates")
    screenshot(page, "inspect-no-match")


def test_a_look_alike_of_an_expired_design_is_at_most_review(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    inspect(page, "bridge.jpg", photo_of(EXPIRED_SEED), destination="CN")
    page.wait_for_selector("#verdict.review")
    why = page.inner_text("#verdict-why")
    assert "expired on 2001-01-01" in why and "cannot be a match" in why
    card = page.locator("#matches article", has_text="DM/2001 EXP")
    assert "Expired on 2001-01-01" in card.inner_text()
    screenshot(page, "inspect-expired")


def test_a_large_photo_is_shrunk_upright_in_the_browser(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    big = draw_design(5, size=(4000, 3000))
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held upright: turn 90° clockwise to show
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    inspect(page, "phone-48mp.jpg", buffer.getvalue())
    times = "\u00d7"
    assert f"reduced from 3000{times}4000 to 1536{times}2048" in page.inner_text("#photo-note")
    number = int(page.inner_text("#result-meta").split("#")[1].split(" ")[0])
    sent = Image.open(io.BytesIO(live.services.desk.photo(number)))
    assert sent.size == (1536, 2048)


def test_history_filters_and_rows_open_their_case_file(
    live: LiveServer, keys: dict[str, str], page: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    inspect(page, "crate.jpg", demo_photo(2), shipment_ref="CMAU 4242-0", note="blue crate, hold 7")
    page.goto(live.url + "/history")
    page.wait_for_selector("#history-table tbody tr")
    page.fill("input[name=shipment_ref]", "cmau 4242")
    page.click("#history-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#history-table tbody tr').length === 1")
    row = page.locator("#history-table tbody tr").first
    assert "blue crate, hold 7" in row.inner_text() and "(UTC " in row.inner_text()
    screenshot(page, "history")
    row.click()
    page.wait_for_selector("#case-body[data-loaded=true]")
    text = page.inner_text("#case-body")
    number = DEMO_DESIGNS[2].registration_number
    assert number in text and "CMAU 4242-0" in text and "blue crate, hold 7" in text
    assert "CST" in text and "UTC" in text and "customs-li" in text
    assert len(page.inner_text("#case-body .hash")) == 64
    page.wait_for_function(
        "() => [...document.querySelectorAll('#case-body img')].every(i => i.naturalWidth > 0)"
    )
    screenshot(page, "case")
    with page.expect_download() as download:
        page.click("#case-pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")


def test_a_firm_sees_hits_edits_a_design_and_adds_views(
    live: LiveServer, keys: dict[str, str], page: object, browser: object
) -> None:
    sign_in(page, live.url + "/", keys["inspector"])
    inspect(page, "bridge.jpg", photo_of(EXPIRED_SEED))
    sign_in(page, live.url + "/hits", keys["firm"])
    page.wait_for_selector("#hits article")
    hit = page.locator("#hits article").first
    assert "Bridge lantern (expired)" in hit.inner_text() and "Expired on 2001-01-01" in hit.inner_text()
    assert "above the" in hit.inner_text()
    screenshot(page, "hits")
    page.wait_for_selector("#alerts article[data-state=new]")
    alert = page.locator("#alerts article[data-state=new]").first
    assert "Review" in alert.inner_text() or "review" in alert.inner_text()
    alert.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("#alerts article[data-state=confirmed]")
    context, other, _ = open_page(browser, DESK)
    sign_in(other, live.url + "/hits", keys["other"])
    other.wait_for_selector("#hits-count")
    other.wait_for_selector("#alerts-count")
    assert other.locator("#hits article").count() == 0 and "Bridge" not in other.inner_text("main")
    assert other.locator("#alerts article").count() == 0
    context.close()

    page.goto(live.url + "/firm")
    page.wait_for_selector("#designs article.design")
    card = page.locator("#designs article.design", has_text="DM/2001 EXP")
    assert "Valid until 2001-01-01" in card.inner_text()
    card.locator("details.edit summary").click()
    card.locator("input[name=title]").fill("Bridge lantern, blue")
    card.locator("input[name=images]").set_input_files(
        files=[{"name": "side.jpg", "mimeType": "image/jpeg", "buffer": view_bytes(EXPIRED_SEED, 2)}]
    )
    card.get_by_role("button", name="Save").click()
    page.wait_for_selector("#designs article.design >> text=Bridge lantern, blue")
    updated = page.locator("#designs article.design", has_text="Bridge lantern, blue")
    assert updated.locator(".views img").count() == 2
    screenshot(page, "firm")


def test_a_scan_reads_like_a_report(live: LiveServer, keys: dict[str, str], page: object) -> None:
    sign_in(page, live.url + "/scans", keys["inspector"])
    archive = zip_bytes(
        {f"shelf/lantern-{i}.jpg": demo_photo(i, seed=9) for i in range(3)}
        | {"shelf/bad.jpg": b"x", "shelf/readme.txt": b"notes"}
    )
    page.set_input_files(
        "#scan-archive", files=[{"name": "shelf.zip", "mimeType": "application/zip", "buffer": archive}]
    )
    page.click("#scan-button")
    page.wait_for_selector("#scan-status.finished")
    assert page.inner_text("[data-total=error]").endswith("1")
    page.locator("#scan-skipped summary").click()
    assert "shelf/readme.txt — not a photo (.txt file)" in page.inner_text("#scan-skipped-list")
    first = page.locator("#scan-results tbody tr").first
    assert DEMO_DESIGNS[0].title in first.inner_text() and "DEMO Lantern Works" in first.inner_text()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#scan-results img')].every(i => i.naturalWidth > 0)"
    )
    with page.expect_download() as evidence:
        first.locator("button.evidence").click()
    assert Path(evidence.value.path()).read_bytes().startswith(b"\x89PNG")
    page.select_option("#scan-filter", "error")
    assert page.locator("#scan-results tbody tr").count() == 1
    assert "not a photo" in page.inner_text("#scan-results tr.row-error")
    page.select_option("#scan-filter", "")
    screenshot(page, "scans")


def test_a_chinese_scan_report_says_why_a_file_was_refused(
    live: LiveServer, keys: dict[str, str], browser: object
) -> None:
    context, page, errors = open_page(browser, DESK, locale="zh-CN")
    sign_in(page, live.url + "/scans", keys["inspector"])
    archive = zip_bytes({"crate.jpg": demo_photo(1, seed=4), "broken.jpg": b"junk"})
    page.set_input_files(
        "#scan-archive", files=[{"name": "zh.zip", "mimeType": "application/zip", "buffer": archive}]
    )
    page.click("#scan-button")
    page.wait_for_selector("#scan-status.finished")
    refused = page.locator("#scan-results tbody tr.row-error")
    assert refused.count() == 1 and "不是照片" in refused.inner_text()
    why = refused.locator("td").last.get_attribute("title")
    assert why == "broken.jpg: not an image in a supported format", "the English detail stays, on hover"
    screenshot(page, "zh-scans")
    context.close()
    assert not errors, errors


@pytest.mark.parametrize("path", ["/", "/history", "/firm", "/hits", "/scans", "/inspections/1"])
def test_every_page_fits_a_phone(live: LiveServer, keys: dict[str, str], browser: object, path: str) -> None:
    context, page, errors = open_page(browser, PHONE)
    who = "firm" if path in ("/firm", "/hits") else "inspector"
    case = path.startswith("/inspections/")
    sign_in(page, live.url + ("/" if case else path), keys[who])
    if path == "/" or case:
        inspect(page, "crate.jpg", demo_photo(0))
        page.locator("#others summary").click()
    if case:
        page.goto(live.url + page.get_attribute("#case-link", "href"))
        page.wait_for_selector("#case-body[data-loaded=true]")
    page.wait_for_timeout(300)
    fits = page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "phone" + (path.replace("/", "-").rstrip("-1") or "-inspect"))
    context.close()
    assert fits, f"{path} is {width} px wide at 390"
    assert not errors, errors


def test_pages_speak_chinese_when_the_browser_asks(
    live: LiveServer, keys: dict[str, str], browser: object
) -> None:
    context, page, errors = open_page(browser, PHONE, locale="zh-CN")
    sign_in(page, live.url + "/", keys["inspector"])
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert "检查照片" in page.inner_text("nav")
    inspect(page, "crate.jpg", demo_photo(0))
    assert "匹配" in page.inner_text("#verdict") and "高于匹配线" in page.inner_text("#verdict-why")
    upload(page, "manifest.pdf", b"%PDF-1.4", "application/pdf")
    page.click("#inspect-button")
    page.wait_for_selector("#inspect-error:not([hidden])")
    assert "请发送照片" in page.inner_text("#inspect-error")
    screenshot(page, "zh-inspect")
    page.click(".langs a[lang=en]")
    page.wait_for_selector("html[lang=en]")
    assert "Inspect a photo" in page.inner_text("nav")
    page.goto(live.url + "/history")
    assert page.get_attribute("html", "lang") == "en", "the choice is kept in a cookie"
    context.close()
    assert not errors, errors


def test_the_pages_work_under_their_content_security_policy(
    live: LiveServer, keys: dict[str, str], browser: object
) -> None:
    context, page, errors = open_page(browser, DESK)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, live.url + "/", keys["inspector"])
    upload(page, "crate.jpg", demo_photo(3))
    page.click("#inspect-button")
    page.wait_for_selector("#result:not([hidden]) #matches article .scorebar .fill")
    page.wait_for_selector("#query-image[src^='blob:']")
    page.goto(live.url + "/inspections/1")
    page.wait_for_selector("#case-body[data-loaded=true]")
    for path in ("/history", "/firm", "/hits", "/scans"):
        response = page.goto(live.url + path)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("#who.ok")
    context.close()
    assert not violations, violations
    assert not errors, errors
