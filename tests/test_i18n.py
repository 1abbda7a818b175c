"""Languages: pages and messages in English and Chinese, chosen by ?lang=, the cookie, Accept-Language;
error messages in plain words beside the programmers' detail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api import i18n
from model.embedder import Embedder
from tests.service_kit import Service, photo_of, running

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder) as service:
        yield service


def test_the_language_comes_from_the_query_the_cookie_or_the_browser() -> None:
    assert i18n.from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert i18n.from_accept_language("fr-FR, en-GB;q=0.7, zh;q=0.6") == "en"
    assert i18n.from_accept_language("de, zh-TW;q=0.5") == "zh_CN"
    assert i18n.from_accept_language("de, fr") is None
    assert i18n.normalise("zh-cn") == "zh_CN" and i18n.normalise("en-US") == "en"


def test_every_script_and_template_message_has_a_chinese_translation() -> None:
    catalog = i18n.translations("zh_CN")
    from babel.messages.pofile import read_po

    with (i18n.LOCALES / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        entries = [m for m in read_po(source) if m.id]
    assert entries and all(m.string for m in entries), [m.id for m in entries if not m.string]
    assert catalog.gettext("Inspect a photo") == "检查照片"
    assert i18n.script_messages("zh_CN")["Match"] == "匹配"


def test_pages_are_served_in_the_language_asked_for(service: Service) -> None:
    english = service.client.get("/")
    assert '<html lang="en">' in english.text and "Inspect a photo" in english.text
    chinese = service.client.get("/", headers=ZH)
    assert '<html lang="zh-CN">' in chinese.text and "检查照片" in chinese.text
    switched = service.client.get("/history?lang=zh-CN")
    assert '<html lang="zh-CN">' in switched.text and switched.cookies.get("lang") == "zh-CN"
    kept = service.client.get("/scans")
    assert '<html lang="zh-CN">' in kept.text, "the cookie keeps the choice"
    for path in ("/", "/history", "/firm", "/hits", "/scans", "/inspections/1"):
        page = service.client.get(path, headers=ZH)
        assert page.status_code == 200 and '<html lang="zh-CN">' in page.text, path


def test_errors_speak_plain_words_in_both_languages(service: Service) -> None:
    missing = service.client.get("/api/v1/designs")
    assert missing.status_code == 401 and "Authorization" in missing.json()["detail"]
    assert (
        "Authorization" not in missing.json()["message"] and "Paste a valid key" in missing.json()["message"]
    )
    wrong_role = service.client.get("/api/v1/inspections", headers=service.auth("firm_a"))
    assert "of role" in wrong_role.json()["detail"] and "role" not in wrong_role.json()["message"]
    zh = service.client.get("/api/v1/designs", headers=ZH)
    assert zh.json()["message"].startswith("访问密钥")
    dates = service.client.post(
        "/api/v1/designs",
        data={"registration_number": "R-1", "valid_from": "2030-01-01", "valid_until": "2020-01-01"},
        files=[("images", ("v.jpg", photo_of(1), "image/jpeg"))],
        headers=service.auth("firm_a"),
    )
    assert dates.status_code == 422
    body = dates.json()
    assert body["message"] == "the end of validity is before its start"
    assert (
        "Value error" not in body["message"]
        and "UploadFile" not in dates.text
        and "input" not in body["detail"][0]
    )
    zh_dates = service.client.post(
        "/api/v1/designs",
        data={"registration_number": "R-1", "valid_from": "2030-01-01", "valid_until": "2020-01-01"},
        files=[("images", ("v.jpg", photo_of(1), "image/jpeg"))],
        headers={**service.auth("firm_a"), **ZH},
    )
    assert zh_dates.json()["message"] == "有效期的结束日期早于开始日期"
    bad_photo = service.inspect(b"not a photo", who="inspector")
    assert bad_photo.status_code in (415, 422)
    service.register("firm_a", 2)
    zh_photo = service.client.post(
        "/api/v1/inspections",
        files={"image": ("x.jpg", b"not a photo", "image/jpeg")},
        headers={**service.auth("inspector"), **ZH},
    )
    assert "照片" in zh_photo.json()["message"]


def test_the_verdict_is_told_in_chinese(service: Service) -> None:
    service.register("firm_a", 3, valid_until="2001-01-01")
    response = service.client.post(
        "/api/v1/inspections",
        files={"image": ("p.jpg", photo_of(3), "image/jpeg")},
        headers={**service.auth("inspector"), **ZH},
    )
    body = response.json()
    assert (
        "已于 2001-01-01 失效" in body["reason"]
        and body["matches"][0]["legal_text"] == "已于 2001-01-01 失效"
    )
    assert "高于匹配线" in body["matches"][0]["score_text"]


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    from babel.messages.pofile import read_po

    with (i18n.LOCALES / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        entries = [m for m in read_po(source) if m.id and isinstance(m.id, str)]
    fields = re.compile(r"\{(\w*)\}")
    wrong = [m.id for m in entries if sorted(fields.findall(m.id)) != sorted(fields.findall(str(m.string)))]
    assert not wrong, wrong


def test_the_evidence_picture_speaks_the_readers_language(service: Service) -> None:
    service.register("firm_a", 4)
    inspection = service.inspect(photo_of(4), who="inspector").json()
    url = inspection["evidence_url"]
    english = service.client.get(url, headers=service.auth("inspector"))
    chinese = service.client.get(url, headers={**service.auth("inspector"), **ZH})
    again = service.client.get(url, headers=service.auth("inspector"))
    assert english.headers["content-type"] == chinese.headers["content-type"] == "image/png"
    assert chinese.content != english.content and again.content == english.content
