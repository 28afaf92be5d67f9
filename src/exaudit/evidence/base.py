"""The read-only view of one host that every evidence source produces.

Contract between evidence sources (directory, zip, KAPE, Velociraptor …) and the hunt:

* ``open_evidence(path)`` (in ``exaudit.evidence``) turns one user-given path into one or more
  ``HostView``s; several paths in one run give several hosts.
* ``EvidenceFile.path`` is the path as the server saw it (``C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log``)
  when it can be inferred, else the path relative to the evidence root; ``origin`` is where we read it.
* ``EvidenceFile.open()`` returns a read-only binary stream; nothing is ever written to evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from exaudit.model import ErrorEntry


@dataclass
class EvidenceFile:
    path: str  # as the server saw it
    origin: str  # where we read it: local path, or "archive.zip!member"
    size: int
    mtime: float | None
    opener: Callable[[], BinaryIO] = field(repr=False)

    def open(self) -> BinaryIO:
        return self.opener()


@dataclass
class HostView:
    hostname: str
    root: str  # the evidence path the user gave
    timezone: str | None = None
    errors: list[ErrorEntry] = field(default_factory=list)
    _lister: Callable[[], Iterator[EvidenceFile]] | None = field(default=None, repr=False)
    kind: str = ""  # how the evidence was laid out: velociraptor | kape | mounted | loose

    def files(self) -> Iterator[EvidenceFile]:
        if self._lister is not None:
            yield from self._lister()
