"""Languages of the pages and messages: gettext catalogues (Babel), chosen per request.

The catalogues are `api/locales/<locale>/LC_MESSAGES/messages.po`; they are compiled in memory when
first used (Babel's own compiler), so no `.mo` file is kept in the repository or needs a build step.
`make messages` extracts the strings of the templates, the scripts and the Python code again.
The language of a request is `?lang=`, else the `lang` cookie the switch on the page sets, else the
browser's `Accept-Language`, else English.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import HTTPConnection

LOCALES = Path(__file__).parent / "locales"
TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
"""The languages offered, by locale, each named in itself (for the switch)."""
DEFAULT = "en"
COOKIE = "lang"

_current: ContextVar[str] = ContextVar("lanternguard_locale", default=DEFAULT)


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    """Return the compiled catalogue of a locale (none for English, the source language)."""
    path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def script_messages(locale: str) -> dict[str, str]:
    """Return the translations of the strings that the page scripts show (those found in .js files)."""
    path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT or not path.exists():
        return {}
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and m.string and any(file.endswith(".js") for file, _ in m.locations)
    }


def normalise(tag: str | None) -> str | None:
    """Return the offered locale for a tag such as `zh-CN`, `zh`, `en-GB` (None when none fits).

    Every Chinese tag gets the simplified Chinese pages, the only Chinese offered.
    """
    language = (tag or "").strip().lower().replace("_", "-").split("-")[0]
    return {"zh": "zh_CN", "en": "en"}.get(language)


def from_accept_language(header: str | None) -> str | None:
    """Return the offered locale the browser prefers most, from an `Accept-Language` header."""
    weighted = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        weighted.append((-weight, position, tag.strip()))
    for _, _, tag in sorted(weighted):
        locale = normalise(tag)
        if locale:
            return locale
    return None


def locale_of(connection: HTTPConnection) -> str:
    """Return the locale of a request: `?lang=`, the `lang` cookie, Accept-Language, English."""
    return (
        normalise(connection.query_params.get("lang"))
        or normalise(connection.cookies.get(COOKIE))
        or from_accept_language(connection.headers.get("accept-language"))
        or DEFAULT
    )


def use(locale: str) -> None:
    """Make `locale` the language of what this request renders (templates, messages)."""
    _current.set(locale)


def current() -> str:
    """Return the locale of the request being handled."""
    return _current.get()


def gettext(message: str, **values: Any) -> str:
    """Return a message in the current language, with `{name}` placeholders filled in."""
    text = translations(current()).gettext(message)
    return text.format(**values) if values else text


def html_lang(locale: str) -> str:
    """Return the value of the `lang` attribute for a locale (`zh-CN`, `en`)."""
    return locale.replace("_", "-")


def language_names() -> Mapping[str, str]:
    """Return the offered languages as `lang` attribute value -> name in itself."""
    return {html_lang(k): v for k, v in LANGUAGES.items()}


def country(code: str) -> str:
    """Return a country's name in the current language."""
    return Locale.parse(current()).territories.get(code, code)


def template_environment() -> Environment:
    """Return the Jinja environment of the pages and case files, with gettext in the current language."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(), extensions=["jinja2.ext.i18n"]
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: translations(current()).gettext(message),
        ngettext=lambda s, p, n: translations(current()).ngettext(s, p, n),
        newstyle=True,
    )
    return environment


class LocaleMiddleware:
    """Sets the language of each HTTP request (pages, error messages) before anything else runs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            use(locale_of(HTTPConnection(scope)))
        await self.app(scope, receive, send)
