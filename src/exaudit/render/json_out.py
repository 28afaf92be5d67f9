"""Canonical JSON: the stored documents as they are (raw evidence, nothing masked)."""

from __future__ import annotations

import json
from typing import Any


def render_json(documents: list[dict[str, Any]]) -> str:
    """One document as is; several as ``{"schema", "kind": "report", "documents": [...]}``."""
    if len(documents) == 1:
        return json.dumps(documents[0], indent=2, ensure_ascii=False)
    schema = next((d.get("schema") for d in documents if d.get("schema")), None)
    return json.dumps({"schema": schema, "kind": "report", "documents": documents}, indent=2, ensure_ascii=False)
