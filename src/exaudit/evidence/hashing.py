"""SHA-256 for chain of custody: while a file is parsed (one read) or in its own streamed pass.

``HashingReader`` wraps the stream a parser reads; ``hexdigest()`` reads whatever the parser left
unread so the hash always covers the whole file. Parsers that seek (EVTX) need the separate pass,
``sha256_file``.
"""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from exaudit.evidence.base import EvidenceFile

BLOCK = 1 << 20


def sha256_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := stream.read(BLOCK):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(file: EvidenceFile) -> str:
    with file.open() as stream:
        return sha256_stream(stream)


class HashingReader(io.RawIOBase):
    """A read-only stream that hashes every byte passing through it (no seeking)."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._digest = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def _seen(self, data: bytes) -> bytes:
        self._digest.update(data)
        self.bytes_read += len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._seen(self._inner.read(-1 if size is None else size))

    def read1(self, size: int = -1) -> bytes:
        read1 = getattr(self._inner, "read1", self._inner.read)
        return self._seen(read1(size))

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        return self._seen(self._inner.readline(-1 if size is None else size))

    def peek(self, size: int = 0) -> bytes:
        peek = getattr(self._inner, "peek", None)
        return peek(size) if peek is not None else b""

    def hexdigest(self) -> str:
        """The SHA-256 of the whole stream: unread bytes are read (and hashed) first."""
        while block := self._inner.read(BLOCK):
            self._seen(block)
        return self._digest.hexdigest()

    def close(self) -> None:
        self._inner.close()
        super().close()
