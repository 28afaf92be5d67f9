"""The knowledge base: builds, CUs, CVEs and fixes in memory, ``identify`` and ``assess``.

References: Health Checker's build dictionary and CU range mapping (``reference/microsoft-css-exchange.md``
§4.2); product support dates (Microsoft lifecycle, HealthChecker ``ExtendedSupportDate``).
The exposure decision itself lives in ``exaudit.kb.exposure``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from exaudit.kb.builds import Build, parse_build, product_of
from exaudit.kb.tables import BuildRow, CveInfo, FixRow, KbError, ProductRow, Tables, read_tables
from exaudit.model import CveStatus, Status

PACKAGED_DIR = Path(__file__).resolve().parent / "data"
ENV_DIR = "EXAUDIT_KB_DIR"


@dataclass(frozen=True)
class BuildInfo:
    """What a build number tells: product, CU, SU, release date, support status.

    ``known`` is True when the build is in the data at the precision given: the exact release for a
    4-part build, the CU for a 3-part one.
    """

    build: Build
    product: str
    cu: str | None
    su: str | None
    released: date | None
    support: str
    known: bool
    kb: str | None = None
    note: str = ""


@dataclass
class Cu:
    """One CU (or Exchange 2010 service pack / update rollup) and its releases, oldest first."""

    product: str
    name: str
    key: tuple[int, int, int]
    rows: list[BuildRow] = field(default_factory=list)

    @property
    def base(self) -> BuildRow:
        return self.rows[0]


@dataclass
class ProductFixes:
    """Fixes of one CVE for one product: per-CU SUs and the first CU that shipped with the fix."""

    by_cu: dict[tuple[int, int, int], FixRow] = field(default_factory=dict)
    first_cu: FixRow | None = None


class KnowledgeBase:
    """Loaded from one folder of CSV files; see ``docs/kb.md``."""

    def __init__(self, tables: Tables, source: Path, origin: str) -> None:
        self.source = source
        self.origin = origin  # "packaged", "$EXAUDIT_KB_DIR" or "argument"
        self.meta = tables.meta
        self.products: dict[str, ProductRow] = tables.products
        self._builds = {row.build: row for row in tables.builds}
        self._cus: dict[tuple[int, int, int], Cu] = {}
        for row in sorted(tables.builds, key=lambda r: r.build):
            self._cus.setdefault(row.build.cu_key, Cu(row.product, row.cu, row.build.cu_key)).rows.append(row)
        self._cves = {c.id: c for c in tables.cves}
        self._cve_order = [c.id for c in tables.cves]
        self._fixes: dict[str, dict[str, ProductFixes]] = {}
        for fix in tables.fixes:
            per_product = self._fixes.setdefault(fix.cve, {}).setdefault(fix.product, ProductFixes())
            if fix.kind == "su":
                per_product.by_cu[fix.build.cu_key] = fix
            elif per_product.first_cu is None or fix.build < per_product.first_cu.build:
                per_product.first_cu = fix

    # ------------------------------------------------------------------ lookups

    def cves(self) -> list[CveInfo]:
        """Every CVE in the knowledge base, oldest published first (the order of ``assess``)."""
        return [self._cves[i] for i in self._cve_order]

    def cve(self, cve_id: str) -> CveInfo | None:
        return self._cves.get(cve_id.strip().upper())

    def releases(self) -> list[BuildRow]:
        """Every known release (build), oldest first."""
        return sorted(self._builds.values(), key=lambda r: r.build)

    def release(self, build: Build) -> BuildRow | None:
        """The release row of an exact 4-part build."""
        return self._builds.get(build)

    def cu_of(self, build: Build) -> Cu | None:
        return self._cus.get(build.cu_key)

    def cus(self, product: str) -> list[Cu]:
        """The product's CUs, oldest first."""
        return sorted((c for c in self._cus.values() if c.product == product), key=lambda c: c.key)

    def newest_cu(self, product: str) -> Cu | None:
        cus = self.cus(product)
        return cus[-1] if cus else None

    def latest_release(self, product: str) -> BuildRow | None:
        rows = [r for r in self._builds.values() if r.product == product]
        return max(rows, key=lambda r: r.build) if rows else None

    def fixes(self, cve_id: str, product: str) -> ProductFixes | None:
        return self._fixes.get(cve_id, {}).get(product)

    @property
    def data_date(self) -> str:
        """The date the data set states, else its newest release date."""
        if self.meta.get("date"):
            return self.meta["date"]
        newest = max((r.released for r in self._builds.values() if r.released), default=None)
        return newest.isoformat() if newest else "unknown"

    # ------------------------------------------------------------------ decisions

    def identify(self, build: Build | str) -> BuildInfo:
        """Product, CU, SU, release date and support status of a build."""
        build = parse_build(build)
        product = product_of(build)
        cu = self.cu_of(build)
        row = self.release(build) if build.precise else None
        return BuildInfo(
            build=build,
            product=product,
            cu=cu.name if cu else None,
            su=row.su if row else None,
            released=row.released if row else None,
            support=self.support(product),
            known=row is not None if build.precise else cu is not None,
            kb=(row.kb or None) if row else None,
            note=row.note if row else "",
        )

    def support(self, product: str, today: date | None = None) -> str:
        """Support status of a product on ``today`` (default: the current date)."""
        info = self.products[product]
        today = today or date.today()
        if info.end_of_support is None or info.end_of_support >= today:
            text = "supported"
            if info.end_of_support:
                text += f" until {info.end_of_support.isoformat()}"
        else:
            text = f"out of support since {info.end_of_support.isoformat()}"
        return f"{text}; {info.support_note}" if info.support_note else text

    def assess_cve(self, build: Build | str, cve_id: str) -> CveStatus:
        """The decision for one (build, CVE); an id not in the data gives ``unknown``."""
        from exaudit.kb.exposure import decide

        build = parse_build(build)
        cve = self.cve(cve_id)
        if cve is None:
            return CveStatus(cve_id, Status.UNKNOWN, f"{cve_id} is not in the knowledge base (data of {self.data_date})")
        return decide(self, build, cve)

    def assess(self, build: Build | str) -> list[CveStatus]:
        """The decision for every CVE in the knowledge base, in ``cves()`` order."""
        build = parse_build(build)
        return [self.assess_cve(build, cve_id) for cve_id in self._cve_order]


# --------------------------------------------------------------------------- loading

_cache: dict[Path, KnowledgeBase] = {}
_lock = threading.Lock()


def load_kb(data_dir: str | Path | None = None) -> KnowledgeBase:
    """The knowledge base from ``data_dir``, else ``$EXAUDIT_KB_DIR``, else the packaged data; loaded once per folder."""
    if data_dir is not None:
        folder, origin = Path(data_dir), "argument"
    elif os.environ.get(ENV_DIR):
        folder, origin = Path(os.environ[ENV_DIR]), f"${ENV_DIR}"
    else:
        folder, origin = PACKAGED_DIR, "packaged"
    folder = folder.expanduser().resolve()
    with _lock:
        kb = _cache.get(folder)
        if kb is None:
            kb = KnowledgeBase(read_tables(folder), folder, "packaged" if folder == PACKAGED_DIR else origin)
            _cache[folder] = kb
        return kb


def clear_cache() -> None:
    """Forget loaded knowledge bases (after editing a data folder in the same process)."""
    with _lock:
        _cache.clear()


__all__ = ["BuildInfo", "KbError", "KnowledgeBase", "clear_cache", "load_kb"]
