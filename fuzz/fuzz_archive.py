"""Coverage-guided fuzzing (atheris) of the archive reader: ``open_evidence`` on hostile zips.

    python fuzz/fuzz_archive.py -max_total_time=60 [seed folder]

Half the inputs are raw bytes written as a .zip; the other half are zips built from fuzzed member
names and contents (traversal, absolute and drive names, nesting). Every listed file is read,
recognised and parsed. Only ``EvidenceError`` (the whole archive unusable) may escape; nothing
may be written outside the private temporary folder.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings
import zipfile

import atheris

with atheris.instrument_imports(include=["exaudit"]):
    from exaudit.evidence import EvidenceError, open_evidence
    from exaudit.parsers import HEAD_BYTES, ParseStats, classify, parser_for

WORK = tempfile.mkdtemp(prefix="exaudit-fuzz-")
ARCHIVE = os.path.join(WORK, "EX01.zip")


def _structured(provider: atheris.FuzzedDataProvider) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for _ in range(provider.ConsumeIntInRange(1, 6)):
            name = provider.ConsumeUnicodeNoSurrogates(40).split("\x00")[0] or "x"  # zipfile cuts names at NUL
            out.writestr(name, provider.ConsumeBytes(provider.ConsumeIntInRange(0, 2048)))
    return buffer.getvalue()


def _read_everything(views: list) -> None:
    for view in views:
        for file in view.files():
            try:
                with file.open() as stream:
                    head = stream.read(HEAD_BYTES)
                artifact = classify(file, head)
                if artifact:
                    with file.open() as stream:
                        list(parser_for(artifact)(stream, file.path, ParseStats()))
            except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError):
                pass  # a damaged member: hunt records it as an error entry


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    raw = provider.ConsumeBool()
    payload = provider.ConsumeBytes(provider.remaining_bytes()) if raw else _structured(provider)
    with open(ARCHIVE, "wb") as handle:
        handle.write(payload)
    try:
        views = open_evidence(ARCHIVE)
    except EvidenceError:
        return
    _read_everything(views)
    extra = set(os.listdir(WORK)) - {"EX01.zip"}
    if extra:
        raise AssertionError(f"written beside the archive: {extra}")


def main() -> None:
    warnings.simplefilter("ignore")  # zipfile warns about duplicate member names: expected here
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
