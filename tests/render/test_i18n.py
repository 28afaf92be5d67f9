"""Both languages say the same thing: every text exists in English and French with the same placeholders."""

from __future__ import annotations

import string

import pytest

from exaudit.render import i18n


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(i18n._TEXTS))
def test_every_text_in_both_languages_with_the_same_placeholders(key: str) -> None:
    entry = i18n._TEXTS[key]
    assert entry.get("en") and entry.get("fr"), key
    assert _fields(entry["en"]) == _fields(entry["fr"]), key


def test_french_punctuation_has_its_space() -> None:
    # French typography: a space before ":" ";" "?" "!" (here the plain or non-breaking one)
    for key, entry in i18n._TEXTS.items():
        text = entry["fr"].replace("http://", "").replace("TLP:", "")
        for i, char in enumerate(text):
            if char in ":;?!" and i > 0 and not text[i - 1].isspace() and not text[i - 1] == "{":
                pytest.fail(f"{key}: no space before {char!r} in {entry['fr']!r}")


def test_text_fills_values_and_refuses_unknown_language() -> None:
    assert i18n.text("plan_fix_line", "fr", cve="CVE-2021-26855", fix="15.1.2176.9") == "CVE-2021-26855 : corrigée par 15.1.2176.9"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.check_lang("de")
