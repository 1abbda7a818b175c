"""The case file: a PDF (WeasyPrint) whose text carries the registration number, the photo's sha256
and the rest of the case, in English and in Chinese; the same from the command line."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import ImageFile
from pypdf import PdfReader

from api.cli import main
from model.embedder import Embedder
from tests.service_kit import Service, photo_of, running, view_bytes

OUTPUT = Path(__file__).parents[1] / "test-output" / "case-files"


def keep(name: str, data: bytes) -> None:
    """Save a case file under test-output/case-files/ (git-ignored), to look at."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / name).write_bytes(data)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def service(tmp_path: Path, embedder: Embedder):
    with running(tmp_path / "home", embedder) as service:
        yield service


def test_the_case_pdf_holds_the_registration_and_the_photo_hash(service: Service) -> None:
    service.register(
        "firm_a", 3, number="DM/203 777", locarno_class="26-05", territories="CN HK", valid_until="2031-12-31"
    )
    photo = photo_of(3)
    inspection = service.inspect(photo, shipment_ref="MSKU 555", destination="CN", note="red crate").json()
    response = service.client.get(
        f"/api/v1/inspections/{inspection['id']}/case.pdf?tz=Asia/Shanghai", headers=service.auth("inspector")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    keep("case-en.pdf", response.content)
    text = pdf_text(response.content)
    flat = "".join(text.split())
    assert "DM/203777" in flat
    assert hashlib.sha256(photo).hexdigest() in flat
    for expected in ("MSKU555", "redcrate", "26-05", "2031-12-31", "anna", "CST", "UTC", "efficientnet"):
        assert expected in flat, expected
    assert "Validuntil" in flat and "Inforce" in flat
    assert len(PdfReader(io.BytesIO(response.content)).pages[0].images) >= 1
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False, "WeasyPrint must not make Pillow take damaged photos"


def test_the_case_pdf_in_chinese(service: Service) -> None:
    service.register("firm_a", 5, number="ZL-2024-5")
    inspection = service.inspect(photo_of(5)).json()
    response = service.client.get(
        f"/api/v1/inspections/{inspection['id']}/case.pdf",
        headers={**service.auth("inspector"), "Accept-Language": "zh-CN,zh;q=0.9"},
    )
    keep("case-zh.pdf", response.content)
    text = "".join(pdf_text(response.content).split())
    assert "ZL-2024-5" in text and "检查" in text


def test_a_case_file_needs_an_inspector_or_admin_and_a_known_zone(service: Service) -> None:
    service.register("firm_a", 6)
    inspection = service.inspect(photo_of(6)).json()
    path = f"/api/v1/inspections/{inspection['id']}/case.pdf"
    assert service.client.get(path, headers=service.auth("firm_a")).status_code == 403
    bad_zone = service.client.get(path + "?tz=Mars/Olympus", headers=service.auth("inspector"))
    assert bad_zone.status_code == 400 and "time zone" in bad_zone.json()["detail"]


def test_the_command_line_writes_a_case_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    view = tmp_path / "view.jpg"
    photo = tmp_path / "photo.jpg"
    view.write_bytes(view_bytes(7))
    photo.write_bytes(photo_of(7))
    assert main(["register", "--home", home, "--design-id", "D-7", "--title", "Lotus 77", str(view)]) == 0
    out = tmp_path / "case.pdf"
    assert main(["inspect", "--home", home, str(photo), "--case", str(out), "--lang", "zh-CN"]) == 0
    assert "case file written" in capsys.readouterr().err
    text = "".join(pdf_text(out.read_bytes()).split())
    assert "Lotus77" in text and hashlib.sha256(photo.read_bytes()).hexdigest() in text
    assert "未记录" in text
