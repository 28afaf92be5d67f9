"""The real corpus, read in place: >=97% of web shells high/critical, no benign page above low."""

from __future__ import annotations

from pathlib import Path

from exaudit.detect.webshell import scan_files, walk_folder
from exaudit.model import Severity


def _scan(root: Path) -> tuple[int, dict[str, Severity]]:
    errors: list = []
    files = [f for f in walk_folder(root, errors) if not f.path.endswith("COPYING")]
    result = scan_files(files, "corpus", all_files=True)
    assert not errors and not result.errors
    assert len(result.inputs) == len(files)
    return len(files), {f.source.path: f.severity for f in result.findings if f.source}


def test_real_webshells_flagged_high_or_critical(corpus: Path) -> None:
    total, severities = _scan(corpus / "webshells")
    flagged = sum(1 for s in severities.values() if s.rank >= Severity.HIGH.rank)
    print(f"\nweb shells flagged high/critical: {flagged}/{total} = {flagged / total:.1%}")
    assert total >= 100
    assert flagged / total >= 0.97


def test_real_benign_pages_stay_at_low_or_below(corpus: Path) -> None:
    total, severities = _scan(corpus / "benign-aspnet")
    above_low = {p: s.value for p, s in severities.items() if s.rank > Severity.LOW.rank}
    print(f"\nbenign pages above low: {len(above_low)}/{total}")
    assert total >= 90
    assert above_low == {}
