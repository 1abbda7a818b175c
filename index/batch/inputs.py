"""Reading what people hand in: registration manifests (CSV) and scan inputs (files, folders, CSVs)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from index.errors import InvalidInput
from index.store.registry import DesignFields

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})


def _rows(path: Path, required: set[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or [])
            if not required <= columns:
                missing = ", ".join(sorted(required - columns))
                raise InvalidInput(
                    f"{path}: missing column(s) {missing} (found: {', '.join(sorted(columns))})"
                )
            return list(reader)
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{path}: not a readable CSV file ({exc})") from exc


def read_manifest(path: Path) -> list[tuple[DesignFields, list[Path]]]:
    """Read a registration manifest: columns design_id,image and optionally title,owner.

    Rows of one design are grouped (first-seen order); image paths are relative to the CSV.
    Returns (fields, image paths) per design. Raises InvalidInput for a malformed file or row.
    """
    designs: dict[str, tuple[DesignFields, list[Path]]] = {}
    for line, row in enumerate(_rows(path, {"design_id", "image"}), start=2):
        design_id = (row.get("design_id") or "").strip()
        image = (row.get("image") or "").strip()
        if not design_id or not image:
            raise InvalidInput(f"{path}:{line}: design_id and image must both be given")
        if design_id not in designs:
            fields = DesignFields(
                design_id=design_id,
                title=(row.get("title") or "").strip() or None,
                owner=(row.get("owner") or "").strip() or None,
            )
            designs[design_id] = (fields, [])
        designs[design_id][1].append(path.parent / image)
    return list(designs.values())


@dataclass(frozen=True)
class ScanInputs:
    """The images a scan will read, and how many other files it passed over in folders."""

    images: list[Path]
    ignored: int


def collect_scan_inputs(paths: list[Path]) -> ScanInputs:
    """Expand scan arguments: an image file, a folder (recursive, image suffixes only) or a CSV
    with a column `image` (paths relative to the CSV). Returns the ScanInputs.
    Raises InvalidInput when an argument does not exist or a CSV lacks the column.
    """
    images: list[Path] = []
    ignored = 0
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith("."):
                    images.append(file)
                else:
                    ignored += 1
        elif path.suffix.lower() == ".csv":
            images += [path.parent / row["image"].strip() for row in _rows(path, {"image"})]
        elif path.exists():
            images.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    return ScanInputs(images=images, ignored=ignored)
