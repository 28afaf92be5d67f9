"""Renderers: one canonical result model, many views of it.

``render(documents, fmt, lang)`` turns stored run documents (scan, hunt, webshells; any number, merged)
into one text: ``html`` (self-contained report), ``md``, ``json`` (canonical, raw evidence), ``csv``
(findings, safe in spreadsheets), ``stix`` (STIX 2.1 bundle), ``misp`` (MISP event JSON), ``timesketch``
(JSONL) and ``timesketch-csv``. Everything but ``json`` masks session tokens and passwords
(:func:`exaudit.render.mask.mask_secrets`).
"""

from __future__ import annotations

from typing import Any

from exaudit.render.i18n import check_lang

FORMATS = ("html", "md", "json", "csv", "stix", "misp", "timesketch", "timesketch-csv")
TLP_LEVELS = ("clear", "green", "amber", "amber+strict", "red")


class RenderError(ValueError):
    """A format, language or option the renderers do not know."""


def render(documents: list[dict[str, Any]], fmt: str, lang: str = "en", *, tlp: str = "amber") -> str:
    """Render stored run documents in format ``fmt`` and language ``lang`` (``en`` or ``fr``)."""
    try:
        check_lang(lang)
    except ValueError as exc:
        raise RenderError(str(exc)) from exc
    if tlp not in TLP_LEVELS:
        raise RenderError(f"unknown TLP level {tlp!r}: choose one of {', '.join(TLP_LEVELS)}")
    if fmt == "json":
        from exaudit.render.json_out import render_json

        return render_json(documents)
    from exaudit.render.view import build_view

    view = build_view(documents, masked=True)
    if fmt in ("html", "md"):
        from exaudit.render.report import render_report

        return render_report(view, fmt, lang, tlp)
    if fmt == "csv":
        from exaudit.render.csv_out import render_findings_csv

        return render_findings_csv(view, lang)
    if fmt in ("timesketch", "timesketch-csv"):
        from exaudit.render.timesketch import render_timesketch

        return render_timesketch(view, as_csv=fmt == "timesketch-csv")
    if fmt == "stix":
        from exaudit.render.stix import render_stix

        return render_stix(view, lang, tlp)
    if fmt == "misp":
        from exaudit.render.misp import render_misp

        return render_misp(view, lang, tlp)
    raise RenderError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "TLP_LEVELS", "RenderError", "render"]
