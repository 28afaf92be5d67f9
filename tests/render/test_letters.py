"""Notification drafts: facts from the findings, placeholders for the rest, GDPR Art. 33(3) for the regulator."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import SECRETS, hunt_document
from exaudit.model import SCHEMA
from exaudit.render.letters import AUDIENCES, render_letter

PLACEHOLDER = {"en": "[[TO COMPLETE: ", "fr": "[[À COMPLÉTER : "}


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_letter_states_facts_and_marks_gaps(documents: list[dict[str, Any]], audience: str, lang: str) -> None:
    letter = render_letter(documents, audience, lang)
    other = "fr" if lang == "en" else "en"
    assert letter.count(PLACEHOLDER[lang]) >= 3 and PLACEHOLDER[other] not in letter
    assert "2021-03-02T23:50:11Z UTC" in letter  # when: the first successful step, labelled UTC
    assert "ex01.corp.example" in letter  # which system
    for secret in SECRETS:
        assert secret not in letter
    outside_code = re.sub(r"(`+).*?\1", "", letter, flags=re.S)
    assert not re.search(r"(?<!\\)<(?!!--)", outside_code), "attacker text could open an HTML tag"


def test_regulator_letter_follows_article_33(documents: list[dict[str, Any]]) -> None:
    en = render_letter(documents, "regulator", "en")
    for point in ("(a) Nature of the breach", "(b) Contact point", "(c) Likely consequences", "(d) Measures taken or proposed"):
        assert point in en
    assert en.index("(a)") < en.index("(b)") < en.index("(c)") < en.index("(d)")
    assert "72 hours" in en and "Article 34" in en and "DORA" in en and "2022/2554" in en
    assert "authentication credentials" in en  # LSASS dump: credentials are among the data concerned
    fr = render_letter(documents, "regulator", "fr")
    for point in ("a) Nature de la violation", "b) Point de contact", "c) Conséquences probables", "d) Mesures prises ou envisagées"):
        assert point in fr
    assert "72 heures" in fr and "CNIL" in fr and "DORA" in fr


def test_informational_findings_are_not_stated_as_facts(documents: list[dict[str, Any]]) -> None:
    letter = render_letter(documents, "partners", "en")
    assert "2021-02-20T10:00:00Z" not in letter  # the routine export is not "the first successful step"
    assert "exported the contents of mailboxes" not in letter and "Mailbox export request" not in letter


def test_partner_letter_gives_blockable_indicators_defanged(documents: list[dict[str, Any]]) -> None:
    letter = render_letter(documents, "partners", "en")
    block = letter[letter.index("```text") : letter.rindex("```")]
    assert "203.0.113.7" in block and "2001:db8::66" in block
    assert "hxxp://evil[.]example/x.js" in block and "http://evil" not in block
    assert "not-an-ip" not in block and "/ecp/DDI" not in block  # no hostile junk, no bare paths


def test_client_letter_has_no_indicator_list(documents: list[dict[str, Any]]) -> None:
    letter = render_letter(documents, "clients", "fr")
    assert "203.0.113.7" not in letter
    assert "mot de passe" in letter and "CNIL" in letter


def test_attempts_only_are_not_called_a_breach() -> None:
    hunt = hunt_document()
    hunt["hosts"] = [h for h in hunt["hosts"] if h["host"] == "EX03"]
    hunt["findings"] = [f for f in hunt["findings"] if f["host"] == "EX03"]
    hunt["timeline"] = []
    letter = render_letter([hunt], "partners", "en")
    assert "Attempts to break into" in letter and "no evidence that they succeeded" in letter
    assert "An attacker exploited" not in letter


def test_no_finding_says_so_with_coverage() -> None:
    hunt = {"schema": SCHEMA, "kind": "hunt", "hosts": [{"host": "EX09", "verdict": "no_evidence",
            "coverage": [{"artifact": "iis", "records": 5, "first": "2024-01-01T00:00:00Z", "days": 90.0}]}], "findings": []}  # fmt: skip
    letter = render_letter([hunt], "regulator", "fr")
    assert "aucune trace d'intrusion" in letter and "2024-01-01T00:00:00Z" in letter


def test_unknown_audience_is_refused(documents: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="unknown audience"):
        render_letter(documents, "press", "en")
