"""The human report: HTML (self-contained, strict CSP, inline SVG timeline) and Markdown."""

from __future__ import annotations

from exaudit import __version__
from exaudit.model import iso, utc_now
from exaudit.render.templating import common_globals, html_env, html_translator, md_env, md_translator
from exaudit.render.text import Raw
from exaudit.render.timeline_svg import build_chart
from exaudit.render.view import ReportView

MAX_TIMELINE_ROWS = 500  # the chart shows every event; the table stays readable in print


def render_report(view: ReportView, fmt: str, lang: str, tlp: str) -> str:
    context = common_globals(lang) | {
        "view": view,
        "tlp": tlp,
        "generated": iso(utc_now().replace(microsecond=0)),
        "version": __version__,
        "max_rows": MAX_TIMELINE_ROWS,
    }
    if fmt == "html":
        severities = {f.id: f.severity for f in view.findings}
        context |= {"t": html_translator(lang), "chart": build_chart(view.timeline, severities)}
        return html_env().get_template("report.html.j2").render(context)
    context |= {"t": md_translator(lang), "colon": Raw("\u00a0:" if lang == "fr" else ":"), "semi": Raw("\u00a0;" if lang == "fr" else ";")}
    return md_env().get_template("report.md.j2").render(context)
