"""The atheris harnesses in ``fuzz/`` run for a bounded time and find no crash (skipped without atheris)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from test_fuzz_properties import SAMPLES

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
SECONDS = 10

pytestmark = pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed (pip install atheris)")


@pytest.mark.parametrize("harness", ["fuzz_parsers.py", "fuzz_archive.py"])
def test_harness_runs_clean(harness: str, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for index, data in enumerate(SAMPLES.values()):
        (seeds / f"seed{index}").write_bytes(bytes([index]) + data)
    command = [
        sys.executable,
        str(FUZZ_DIR / harness),
        f"-max_total_time={SECONDS}",
        "-runs=200000",
        "-rss_limit_mb=1024",
        f"-artifact_prefix={tmp_path}/",
        str(seeds),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS * 6, cwd=tmp_path)
    tail = "\n".join(result.stderr.splitlines()[-25:])
    assert result.returncode == 0, tail
    assert "Done" in result.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
