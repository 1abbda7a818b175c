"""Why an image could not be used, as a code: the decoder and the scanner give each refusal its
RejectionCode beside the English reason, and the api words every code in English and Chinese; a
failed scan keeps its failure code, also in a home made before the code was stored."""

from __future__ import annotations

import pickle
import sqlite3
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import i18n
from api.explain import rejection_text
from index.pipeline.photos import Decoder, Rejected
from index.service.archives import read_entry, read_file
from index.service.keys import KeyStore, Role
from index.service.scans import ScanLog, ScanStatus
from index.service.uploads import Upload, check_pixels
from index.store.database import Database
from model.errors import InvalidImage, LanternGuardError, RejectionCode
from model.local import LocalConfig
from tests.conftest import draw_design, jpeg_bytes


def png_header(width: int, height: int) -> bytes:
    """Return a PNG that declares `width` x `height` pixels and holds almost none (read lazily)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def decoder() -> Iterator[Decoder]:
    decoder = Decoder(640, LocalConfig(), with_local=False)
    yield decoder
    decoder.close()


def test_the_decoder_gives_each_refusal_its_code(decoder: Decoder, tmp_path: Path) -> None:
    whole = jpeg_bytes(draw_design(1))
    sources = {
        RejectionCode.EMPTY: b"",
        RejectionCode.NOT_AN_IMAGE: b"junk, not an image",
        RejectionCode.DAMAGED: whole[: len(whole) // 2],
        RejectionCode.TOO_MANY_PIXELS: png_header(8_000, 8_000),
        RejectionCode.MISSING: tmp_path / "gone.jpg",
    }
    bomb = decoder.attempt(png_header(20_000, 20_000))
    results = dict(zip(sources, decoder.decode_all(list(sources.values())), strict=True))
    for code, result in results.items():
        assert isinstance(result, Rejected) and result.code is code, (code, result)
    assert isinstance(bomb, Rejected) and bomb.code is RejectionCode.TOO_MANY_PIXELS
    assert results[RejectionCode.DAMAGED].reason.startswith("uploaded image: the image is damaged")
    assert not isinstance(decoder.attempt(whole), Rejected)


def refusal(action: object) -> LanternGuardError:
    with pytest.raises(LanternGuardError) as caught:
        action()  # type: ignore[operator]
    return caught.value


def test_the_scanner_gives_each_refusal_of_a_file_its_code(tmp_path: Path) -> None:
    folder = tmp_path / "shelf"
    folder.mkdir()
    (folder / "big.jpg").write_bytes(b"x" * 2_000)
    (folder / "folder.jpg").mkdir()
    (tmp_path / "outside.jpg").write_bytes(b"x")
    (folder / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    assert refusal(lambda: read_file(folder, "big.jpg", 1_000)).code is RejectionCode.TOO_LARGE
    assert refusal(lambda: read_file(folder, "folder.jpg", 1_000)).code is RejectionCode.UNREADABLE
    assert refusal(lambda: read_file(folder, "link.jpg", 1_000)).code is RejectionCode.OUTSIDE_LINK
    archive_path = tmp_path / "a.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.jpg", b"a" * 5_000)
    data = bytearray(archive_path.read_bytes())
    data[1_000:1_010] = b"b" * 10  # inside the entry's bytes: its CRC no longer fits
    archive_path.write_bytes(bytes(data))
    with zipfile.ZipFile(archive_path) as archive:
        assert refusal(lambda: read_entry(archive, "a.jpg", 10_000)).code is RejectionCode.DAMAGED
    huge = png_header(300, 300)
    assert refusal(lambda: check_pixels(Upload("h.png", huge), 10_000)).code is RejectionCode.TOO_MANY_PIXELS
    assert refusal(lambda: check_pixels(Upload("e.jpg", b""), 10_000)).code is RejectionCode.EMPTY
    draw_design(2).save(tmp_path / "d.ico")
    icon = (tmp_path / "d.ico").read_bytes()
    assert (
        refusal(lambda: check_pixels(Upload("i.jpg", icon), 10**7)).code is RejectionCode.UNSUPPORTED_FORMAT
    )
    check_pixels(Upload("p.jpg", jpeg_bytes(draw_design(2))), 10**7)


def test_an_error_keeps_its_code_through_pickling() -> None:
    error = InvalidImage("x.jpg: the file is empty (0 bytes)", code=RejectionCode.EMPTY)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.code) == (str(error), RejectionCode.EMPTY)
    assert InvalidImage("no code named").code is RejectionCode.OTHER


def test_every_code_is_said_in_plain_english_and_chinese() -> None:
    try:
        english = {code: rejection_text(code.value) for code in RejectionCode}
        i18n.use("zh_CN")
        chinese = {code: rejection_text(code.value) for code in RejectionCode}
        assert rejection_text(None) == chinese[RejectionCode.OTHER], "rows of older scans have no code"
    finally:
        i18n.use(i18n.DEFAULT)
    assert len(set(english.values())) == len(RejectionCode) == len(set(chinese.values()))
    assert english[RejectionCode.NOT_AN_IMAGE].startswith("not a photo")
    assert chinese[RejectionCode.NOT_AN_IMAGE].startswith("不是照片")
    assert all(chinese[code] != english[code] for code in RejectionCode)


def test_an_older_home_gains_the_failure_code_of_its_scans(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE scans (id INTEGER PRIMARY KEY, key_id INTEGER NOT NULL, kind TEXT NOT NULL,"
            " source TEXT NOT NULL, status TEXT NOT NULL, total INTEGER NOT NULL,"
            " ignored INTEGER NOT NULL DEFAULT 0, message TEXT, created_at TEXT NOT NULL, finished_at TEXT)"
        )
    database = Database(path)
    try:
        log = ScanLog(database)
        key = KeyStore(database).create(Role.INSPECTOR, label="anna")
        scan = log.create(key.record.id, "archive", "s.zip", 1, 0)
        assert scan.failure is None
        log.set_status(scan.id, ScanStatus.FAILED, "nothing registered yet", "IndexNotReady")
        assert log.get(scan.id).failure == "IndexNotReady"
    finally:
        database.close()
