"""Exchange build numbers: parsing every notation users meet, numeric comparison, product detection.

References: ``reference/remote-fingerprinting.md`` §0 (build anatomy: Major.Minor.Build.Revision, the
zero-padded long form of Microsoft's build page and the CNA records, 15.2 with Build >= 2562 is SE) and
``reference/microsoft-css-exchange.md`` §4.1 (ExSetup ``FileVersion`` and ``AdminDisplayVersion``
``Version 15.2 (Build 986.5)``, parsed the way Health Checker parses it).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

SE_FIRST_BUILD = 2562  # 15.2 with Build >= 2562 is Exchange Server SE, below it Exchange 2019
MAX_PART = 65535  # Windows file versions are four 16-bit numbers
PRODUCTS = ("2010", "2013", "2016", "2019", "SE")

# 15.1.2176.9, 15.01.2176.009 and the 3-part 15.1.2176 (OWA paths and X-OWA-Version give 3 or 4 parts)
_DOTTED = re.compile(r"([0-9]{1,5})\.([0-9]{1,5})\.([0-9]{1,5})(?:\.([0-9]{1,5}))?", re.ASCII)
# Get-ExchangeServer AdminDisplayVersion: "Version 15.1 (Build 2176.9)"
_ADMIN = re.compile(r"version\s+([0-9]{1,5})\.([0-9]{1,5})\s*\(\s*build\s+([0-9]{1,5})(?:\.([0-9]{1,5}))?\s*\)", re.ASCII | re.IGNORECASE)

_EXAMPLES = "expected e.g. 15.1.2176.9, 15.01.2176.009, 15.1.2176 or 'Version 15.1 (Build 2176.9)'"


class BuildError(ValueError):
    """A text that is not an Exchange 2010–SE build number."""


@functools.total_ordering
@dataclass(frozen=True)
class Build:
    """``Major.Minor.Build.Revision``; ``revision`` is None when only the CU is known (3-part notation)."""

    major: int
    minor: int
    build: int
    revision: int | None = None

    def __str__(self) -> str:
        head = f"{self.major}.{self.minor}.{self.build}"
        return head if self.revision is None else f"{head}.{self.revision}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Build):
            return NotImplemented
        return self.sort_key < other.sort_key

    @property
    def sort_key(self) -> tuple[int, int, int, int]:
        """Numeric order per component; a 3-part build sorts before every revision of its CU."""
        return (self.major, self.minor, self.build, -1 if self.revision is None else self.revision)

    @property
    def cu_key(self) -> tuple[int, int, int]:
        """What identifies the CU (or the 2010 update rollup): SUs only raise the revision."""
        return (self.major, self.minor, self.build)

    @property
    def precise(self) -> bool:
        """True when the SU level is visible (4 parts)."""
        return self.revision is not None

    @property
    def product(self) -> str:
        return product_of(self)

    def long(self) -> str:
        """Microsoft's zero-padded form, ``15.01.2176.009`` (``15.01.2176`` without revision)."""
        head = f"{self.major}.{self.minor:02d}.{self.build:04d}"
        return head if self.revision is None else f"{head}.{self.revision:03d}"

    def admin_display(self) -> str:
        """The ``AdminDisplayVersion`` form, ``Version 15.1 (Build 2176.9)``."""
        tail = str(self.build) if self.revision is None else f"{self.build}.{self.revision}"
        return f"Version {self.major}.{self.minor} (Build {tail})"


def product_of(build: Build) -> str:
    """14.x = 2010, 15.0 = 2013, 15.1 = 2016, 15.2 = 2019 below build 2562 and SE from it."""
    if build.major == 14:
        return "2010"
    if build.minor == 2:
        return "SE" if build.build >= SE_FIRST_BUILD else "2019"
    return "2013" if build.minor == 0 else "2016"


def parse_build(text: object) -> Build:
    """Parse any usual notation of an Exchange 2010–SE build; raise ``BuildError`` for anything else."""
    if isinstance(text, Build):
        return text
    if not isinstance(text, str):
        raise BuildError(f"not a build number: {type(text).__name__} ({_EXAMPLES})")
    stripped = text.strip()
    match = _DOTTED.fullmatch(stripped) or _ADMIN.fullmatch(stripped)
    if match is None:
        raise BuildError(f"not an Exchange build number: {_shorten(text)!r} ({_EXAMPLES})")
    parts = [int(p) if p is not None else None for p in match.groups()]
    if any(p is not None and p > MAX_PART for p in parts):
        raise BuildError(f"build number part above {MAX_PART}: {_shorten(text)!r}")
    major, minor, build, revision = parts
    assert major is not None and minor is not None and build is not None  # the patterns require them
    if not ((major == 14 and minor <= 3) or (major == 15 and minor <= 2)):
        raise BuildError(f"{_shorten(text)!r} is not Exchange 2010–SE (14.0–14.3 or 15.0–15.2)")
    return Build(major, minor, build, revision)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
