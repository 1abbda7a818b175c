"""The import rule of docs/architecture.md, read from the source with ast: data flows one way."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from index.store.schema import SCHEMA, TABLES

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["store", "search", "matching", "pipeline", "engine", "batch", "evaluation", "service", "home"]
"""The layers of index/, bottom first (`engine` is index/engine.py); each imports only earlier ones."""
SHARED = {"errors"}
"""Flat modules of index/ that every layer may import."""


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _sources(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def _where(path: Path, line: int, name: str) -> str:
    return f"{path.relative_to(ROOT)}:{line} imports {name}"


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "index" or len(parts) < 2:
        return None
    return parts[1] if parts[1] not in SHARED else "errors"


def _layer_of(path: Path) -> str | None:
    relative = path.relative_to(ROOT / "index").parts
    if len(relative) == 1:
        return {"engine.py": "engine", "errors.py": "errors"}.get(relative[0])
    return relative[0]


def test_model_imports_nothing_of_ours() -> None:
    bad = [
        _where(path, line, name)
        for path in _sources("model")
        for line, name in _imports(path)
        if name.split(".")[0] in {"index", "api", "scripts", "tests"}
    ]
    assert not bad, "\n".join(bad)


def test_model_and_index_never_import_api() -> None:
    bad = [
        _where(path, line, name)
        for path in _sources("model", "index")
        for line, name in _imports(path)
        if name.split(".")[0] == "api"
    ]
    assert not bad, "\n".join(bad)


def test_faiss_only_under_search_and_sqlite_only_under_store_and_home() -> None:
    allowed = {"faiss": ("index/search/",), "sqlite3": ("index/store/", "index/home/")}
    bad = [
        _where(path, line, name)
        for path in _sources("model", "index", "api")
        for line, name in _imports(path)
        if name.split(".")[0] in allowed
        and not str(path.relative_to(ROOT)).startswith(allowed[name.split(".")[0]])
    ]
    assert not bad, "\n".join(bad)


def test_each_layer_imports_only_layers_below_it() -> None:
    bad = []
    for path in _sources("index"):
        mine = _layer_of(path)
        if mine is None or mine == "errors":
            continue
        for line, name in _imports(path):
            theirs = _layer(name)
            if theirs is None or theirs == "errors" or theirs == mine:
                continue
            if theirs not in ORDER or ORDER.index(theirs) >= ORDER.index(mine):
                bad.append(
                    _where(path, line, name) + f" ({mine} may import only {ORDER[: ORDER.index(mine)]})"
                )
    assert not bad, "\n".join(bad)


def test_every_index_module_sits_in_a_layer() -> None:
    flat = sorted(p.name for p in (ROOT / "index").glob("*.py") if p.name != "__init__.py")
    assert flat == ["engine.py", "errors.py"]
    packages = sorted(p.name for p in (ROOT / "index").iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(set(ORDER) - {"engine"})


def test_every_table_is_declared_once_in_the_schema() -> None:
    created = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA)
    assert sorted(created) == sorted(t.name for t in TABLES)
    assert len(set(created)) == len(created)


def test_no_module_is_over_400_lines() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _sources("model", "index", "api")
        if (n := len(p.read_text().splitlines())) > 400
    ]
    assert not long, "\n".join(long)
