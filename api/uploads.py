"""Reading uploaded files from multipart requests: declared type, size cap, then plain bytes."""

from __future__ import annotations

from fastapi import Response, UploadFile

from index.errors import PayloadTooLarge, UnsupportedMediaType
from index.service.uploads import Upload

ANY_BYTES = "application/octet-stream"
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip", ANY_BYTES})


def _declared(file: UploadFile) -> str:
    return (file.content_type or ANY_BYTES).split(";")[0].strip().lower()


def _read(file: UploadFile, limit: int) -> bytes:
    file.file.seek(0)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{file.filename or 'upload'}: over the limit of {limit} bytes")
    return data


def read_image(file: UploadFile, limit: int) -> Upload:
    """Return an uploaded image's name and bytes (decoding comes later).

    Raises UnsupportedMediaType unless the declared type is image/* or application/octet-stream,
    PayloadTooLarge when it is over `limit` bytes.
    """
    name = file.filename or "uploaded image"
    declared = _declared(file)
    if not (declared.startswith("image/") or declared == ANY_BYTES):
        raise UnsupportedMediaType(
            f"{name}: content type {declared} is not an image (send a JPEG, PNG or WebP)"
        )
    return Upload(name, _read(file, limit))


def check_zip(file: UploadFile) -> None:
    """Refuse an upload that does not declare a zip archive. Raises UnsupportedMediaType."""
    declared = _declared(file)
    if declared not in ZIP_TYPES:
        raise UnsupportedMediaType(
            f"{file.filename or 'upload'}: content type {declared} is not a zip archive"
        )


_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def media_type_of(data: bytes) -> str:
    """Return the media type of stored image bytes, from their signature."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), ANY_BYTES)


STORED_IMAGE_POLICY = "default-src 'none'; img-src 'self'; sandbox"
"""The CSP of a stored image opened on its own: nothing in it can run (a GIF with a script appended)."""


def stored_image(data: bytes, name: str) -> Response:
    """Return stored image bytes as an answer: the type of their signature, nosniff (every answer,
    api.headers), a sandboxing CSP, and `inline` with a file name (`attachment` when the bytes are
    of no known image type, so a browser never renders them)."""
    media_type = media_type_of(data)
    extension = media_type.split("/")[1] if media_type != ANY_BYTES else "bin"
    disposition = "inline" if media_type != ANY_BYTES else "attachment"
    headers = {
        "Cache-Control": "private, max-age=86400",
        "Content-Disposition": f'{disposition}; filename="{name}.{extension}"',
        "Content-Security-Policy": STORED_IMAGE_POLICY,
    }
    return Response(data, media_type=media_type, headers=headers)
