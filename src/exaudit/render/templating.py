"""Jinja2 environments: HTML with autoescape on, Markdown with every value escaped by ``finalize``.

References:
    Jinja2 API, autoescaping and ``finalize`` (https://jinja.palletsprojects.com/en/stable/api/).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from exaudit.render import i18n
from exaudit.render.text import Raw, clip, code, fence, md_escape

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def html_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["clip"] = clip
    return env


@cache
def md_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # noqa: S701 - Markdown, not HTML: every value is escaped by md_escape (finalize)
        undefined=jinja2.StrictUndefined,
        finalize=md_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # |raw marks the output of our own macros (already escaped inside) as final
    env.filters.update(fence=fence, code=code, raw=Raw, clip=clip)
    return env


def html_translator(lang: str) -> Any:
    """``t(key, **params)`` for HTML: plain strings, escaped by autoescape like any value."""

    def t(key: str, **params: Any) -> str:
        return i18n.text(key, lang, **params)

    return t


def md_translator(lang: str) -> Any:
    """``t(key, **params)`` for Markdown: our sentence is trusted, the values put in it are escaped."""

    def t(key: str, **params: Any) -> Raw:
        return Raw(i18n.text(key, lang, **{k: md_escape(v) for k, v in params.items()}))

    return t


def common_globals(lang: str) -> dict[str, Any]:
    return {
        "lang": lang,
        "colon": Markup("\u00a0:") if lang == "fr" else ":",
        "semi": Markup("\u00a0;") if lang == "fr" else ";",
        "has": i18n.has,
    }
