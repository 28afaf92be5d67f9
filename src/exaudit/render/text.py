"""Safe text for Markdown and plain-text outputs: attacker text can neither format nor inject HTML.

Markdown viewers render raw HTML and links, so every value inserted in a Markdown template is
escaped (``md_escape``) unless it is a :class:`Raw` string built here (a code fence, our own sentences).
"""

from __future__ import annotations

import re
from typing import Any

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that format or link.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&!~])")  # GFM strikes through between single tildes too
_LINE_START = re.compile(r"^([#+\-=>])")


class Raw(str):
    """A string already safe for Markdown (no further escaping)."""

    __slots__ = ()


def md_escape(value: Any) -> str:
    """One line of inert Markdown text: newlines folded, formatting characters escaped."""
    if isinstance(value, Raw):
        return value
    text = " ".join(str(value).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # in case a value starts a line: no heading, list or quote ("1." lists are left alone: templates never
    # put a value at the start of a line, and "15\.1.2176" would spoil every build number in plain text)
    return _LINE_START.sub(r"\\\1", text)


def clip(value: Any, limit: int = 4000) -> str:
    """Evidence shortened for reading (a web shell can be megabytes); the JSON output keeps it whole."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [+{len(text) - limit} characters in the JSON output]"


def fence(value: Any, info: str = "text") -> Raw:
    """A fenced code block longer than any backtick run inside: the content stays literal."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return Raw(f"{marks}{info}\n{text}\n{marks}")


def code(value: Any) -> Raw:
    """An inline code span (a path, a hash) that cannot be closed from inside."""
    text = " ".join(str(value).split())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    marks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return Raw(f"{marks}{pad}{text}{pad}{marks}")


def defang(value: str) -> str:
    """``http://evil.example`` → ``hxxp://evil[.]example``: indicators in letters must not be clickable."""
    text = re.sub(r"(?i)\bhttp", "hxxp", value)
    return re.sub(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z0-9-]+(?:[:/]|$))", "[.]", text)
