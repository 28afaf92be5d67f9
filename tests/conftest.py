"""Shared fixtures. The shared corpus is read in place (never copied) and tests skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def corpus_path() -> Path:
    """``$EXAUDIT_CORPUS`` or ``../shared/corpus`` beside the repository."""
    return Path(os.environ.get("EXAUDIT_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_path()
    if not path.is_dir():
        pytest.skip(f"shared corpus not found at {path} (set EXAUDIT_CORPUS)")
    return path


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to the user's real run store."""
    monkeypatch.setenv("EXAUDIT_DB", str(tmp_path_factory.mktemp("store") / "exaudit.db"))
