"""Coverage-guided fuzzing (atheris) of every log parser and of artifact recognition.

    python fuzz/fuzz_parsers.py -max_total_time=60 [seed folder]

The first byte picks the parser, the rest is the file. A parser may count bad lines and record
errors, never raise; its record count must match what it yielded. EVTX input gets the file magic
so the damaged-file path (the isolated child process) is exercised too.
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports(include=["exaudit"]):
    from exaudit.evidence.base import EvidenceFile
    from exaudit.parsers import PARSERS, ParseStats, classify

NAMES = sorted(PARSERS)
PATH = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Logging\\HttpProxy\\Owa\\HttpProxy_2021030302-1.LOG"


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    artifact = NAMES[provider.ConsumeIntInRange(0, len(NAMES) - 1)]
    body = provider.ConsumeBytes(provider.remaining_bytes())
    if artifact == "evtx":
        body = b"ElfFile\x00" + body
    file = EvidenceFile(path=PATH, origin="fuzz", size=len(body), mtime=None, opener=lambda: io.BytesIO(body))
    classify(file, body[:8192])
    stats = ParseStats()
    records = list(PARSERS[artifact](io.BytesIO(body), PATH, stats))
    if stats.records != len(records):
        raise AssertionError(f"{artifact}: {stats.records} counted, {len(records)} yielded")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
