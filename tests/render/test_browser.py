"""In a real headless Chromium: the HTML report runs no attacker script, fetches nothing, shows the text.

Uses Debian's chromium (``apt-get install chromium``) driven by Playwright's Python package; no browser is
ever downloaded. Skips with the reason when either is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FORMULAS, IMG, SCRIPT, SVG
from exaudit.render import render

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright; no browser download)")
if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip(f"Debian chromium not found at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Any:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


def _open(browser: Any, path: Path) -> tuple[Any, dict[str, list[str]]]:
    """Open the report; record dialogs, requests other than the file itself, and page errors."""
    seen: dict[str, list[str]] = {"dialogs": [], "requests": [], "errors": []}
    page = browser.new_page()
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: seen["requests"].append(r.url) if r.url != path.as_uri() else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)  # let any onload/onerror handler that slipped through fire
    return page, seen


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_hostile_evidence_stays_inert_in_chromium(browser: Any, documents: list[dict[str, Any]], tmp_path: Path, lang: str) -> None:
    path = tmp_path / f"report.{lang}.html"
    path.write_text(render(documents, "html", lang), encoding="utf-8")
    page, seen = _open(browser, path)
    try:
        assert page.evaluate("typeof window.__pwned") == "undefined", "an attacker payload ran"
        assert seen["dialogs"] == []
        assert seen["requests"] == [], "the report fetched something"
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0 and page.locator("[onload], [onerror]").count() == 0
        text = page.inner_text("body")
        for payload in (SCRIPT, IMG, SVG, FORMULAS[0]):
            assert payload in text, f"{payload!r} is not shown as text"
        assert page.locator("#verdicts li").count() == 3
        first_line = page.locator("#verdicts li").first.inner_text()
        assert first_line.startswith("ex01.corp.example")
    finally:
        page.close()


def test_csp_blocks_a_script_even_if_one_slipped_in(browser: Any, documents: list[dict[str, Any]], tmp_path: Path) -> None:
    # Defence in depth: were escaping ever broken, the report's own policy forbids inline script.
    html = render(documents, "html", "en").replace("</body>", "<script>window.__pwned = 9</script></body>")
    path = tmp_path / "tampered.html"
    path.write_text(html, encoding="utf-8")
    page, _ = _open(browser, path)
    try:
        assert page.locator("script").count() == 1
        assert page.evaluate("typeof window.__pwned") == "undefined"
    finally:
        page.close()


def test_print_layout_renders(browser: Any, documents: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(render(documents, "html", "fr"), encoding="utf-8")
    page, _ = _open(browser, path)
    try:
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    finally:
        page.close()
