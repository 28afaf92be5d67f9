"""Attacker text printed to a terminal is inert: no Rich markup, no control sequences."""

from __future__ import annotations

from exaudit.render.terminal import safe


def test_controls_are_made_visible_and_markup_escaped() -> None:
    hostile = "u_ex\x1b]0;pwned\x07[bold red]x\x9b2J\ttab\nline"
    shown = safe(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "\\x1b]0;pwned\\x07" in shown
    assert "\\[bold red]" in shown  # Rich would print the brackets literally
    assert "\ttab\nline" in shown  # tab and newline are layout, not attacks
