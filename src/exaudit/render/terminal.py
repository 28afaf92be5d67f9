"""Text bound for a terminal: attacker-controlled, so neither Rich markup nor control characters get through.

``rich.markup.escape`` stops markup (``[bold]``) but not ESC or other C0/C1 controls, with which a file or
user-agent name could move the cursor, rewrite earlier lines or set the window title on the responder's
terminal. Controls are shown as ``\\xNN`` instead.
"""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    """``text`` as inert terminal output: controls made visible, Rich markup escaped."""
    return escape(_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text)))
