"""OABGenerator logs (``<install>\\Logging\\OABGeneratorLog\\*.LOG``).

What matters for CVE-2021-26858 is the text ``Download failed and temporary file '<path>' needs to
be removed``; a path outside ``<install>\\ClientAccess\\OAB`` is the file-write primitive. The field
header of this log is not documented in our references, so a file with ``#Fields`` is read as the
Exchange CSV family and anything else line by line (field ``Message``, leading ISO timestamp when
present). ``DownloadFailedPath`` is added to records that carry the phrase, so rules need no regex.

References:
    reference/microsoft-css-exchange.md §1.6, §1.15.3; reference/published-attack-examples.md §1c.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from exaudit.parsers.base import ParseStats, Record
from exaudit.parsers.exchange_csv import parse_csv_log

ARTIFACT = "oabgen"
_DOWNLOAD_FAILED = re.compile(r"Download failed and temporary file (.*?) needs to be removed", re.IGNORECASE)


def _hook(record: Record, stats: ParseStats) -> None:
    if "download failed" not in record.raw.lower():
        return
    match = _DOWNLOAD_FAILED.search(" ".join(record.fields.values()))
    if match:
        record.fields["DownloadFailedPath"] = match.group(1).strip().strip("'\"")


def parse(stream: BinaryIO, path: str, stats: ParseStats, artifact: str = ARTIFACT) -> Iterator[Record]:
    return parse_csv_log(stream, path, stats, artifact, None, _hook)
