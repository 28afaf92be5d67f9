"""Reading and validating the knowledge-base CSV files (packaged in ``kb/data`` or a newer folder).

The format is documented in ``docs/kb.md``. Every malformed value gives a ``KbError`` that names the
file and the line, never a traceback; extra columns are ignored so newer files stay readable.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from exaudit.kb.builds import PRODUCTS, Build, BuildError, parse_build, product_of
from exaudit.model import Severity

FILES = ("products.csv", "builds.csv", "cves.csv", "fixes.csv")
_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
T = TypeVar("T")


class KbError(ValueError):
    """A knowledge-base folder or file that cannot be used."""


@dataclass(frozen=True)
class ProductRow:
    product: str
    name: str
    released: date | None
    end_of_support: date | None
    support_note: str


@dataclass(frozen=True)
class BuildRow:
    product: str
    cu: str
    su: str | None
    build: Build
    released: date | None
    kind: str
    kb: str
    cumulative: bool  # False for the March 2021 SUs of out-of-support CUs: they carry only their own fixes
    confirmed: bool
    note: str


@dataclass(frozen=True)
class CveInfo:
    """What the knowledge base knows about one CVE."""

    id: str
    name: str  # family, e.g. "ProxyLogon" ("" when it has none)
    title: str
    vuln_type: str
    severity: Severity
    cvss: float | None
    exploited: bool | None  # None: not confirmed either way
    kev_added: date | None
    published: date | None
    affected: str  # Microsoft's affected-product text
    not_affected: tuple[str, ...]  # products Microsoft states are not affected
    config: str  # configuration the fix also needs ("" when the build decides alone)
    confirmed: bool
    note: str
    sources: str


@dataclass(frozen=True)
class FixRow:
    """``kind`` "su": the SU that fixes ``cu``; "cu": the first CU (or 2010 rollup) that shipped with the fix."""

    cve: str
    product: str
    cu: str
    kind: str
    build: Build
    su: str | None
    kb: str
    config_default: bool  # the required configuration is on by default from this build
    alt_build: Build | None  # a lower build that another Microsoft source treats as the fix (disputed)
    confirmed: bool
    note: str


@dataclass(frozen=True)
class Tables:
    products: dict[str, ProductRow]
    builds: list[BuildRow]
    cves: list[CveInfo]
    fixes: list[FixRow]
    meta: dict[str, str]


def read_tables(folder: Path) -> Tables:
    """Read and validate every file of a knowledge-base folder."""
    if not folder.is_dir():
        raise KbError(f"knowledge-base folder not found: {folder}")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise KbError(f"{folder}: missing {', '.join(missing)} (a knowledge-base folder holds {', '.join(FILES)})")
    products = {p.product: p for p in _rows(folder / "products.csv", _product)}
    absent = [p for p in PRODUCTS if p not in products]
    if absent:
        raise KbError(f"{folder / 'products.csv'}: no row for product {', '.join(absent)}")
    builds = list(_rows(folder / "builds.csv", _build))
    cves = list(_rows(folder / "cves.csv", _cve))
    fixes = list(_rows(folder / "fixes.csv", _fix))
    _check_consistency(folder, builds, cves, fixes)
    return Tables(products, builds, cves, fixes, _meta(folder / "meta.csv"))


# --------------------------------------------------------------------------- rows


class _Row:
    """One CSV row with typed accessors that raise ``ValueError`` with the column name."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = {k: v.strip() for k, v in values.items() if isinstance(k, str) and isinstance(v, str)}

    def text(self, column: str, required: bool = False) -> str:
        value = self.values.get(column, "")
        if required and not value:
            raise ValueError(f"column {column!r} is empty")
        return value

    def product(self) -> str:
        value = self.text("product", required=True)
        if value not in PRODUCTS:
            raise ValueError(f"unknown product {value!r} (expected one of {', '.join(PRODUCTS)})")
        return value

    def date(self, column: str) -> date | None:
        value = self.text(column)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"column {column!r}: {value!r} is not a date (YYYY-MM-DD)") from None

    def flag(self, column: str, default: bool) -> bool:
        value = self.text(column).lower()
        if not value:
            return default
        if value not in ("yes", "no"):
            raise ValueError(f"column {column!r}: {value!r} is not yes or no")
        return value == "yes"

    def build(self, column: str, required: bool = True) -> Build | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            build = parse_build(value)
        except BuildError as exc:
            raise ValueError(f"column {column!r}: {exc}") from None
        if build.revision is None:
            raise ValueError(f"column {column!r}: {value!r} needs all four parts")
        return build

    def cve_id(self) -> str:
        value = self.text("cve", required=True)
        if not _CVE_ID.fullmatch(value):
            raise ValueError(f"column 'cve': {value!r} is not a CVE id")
        return value


def _rows(path: Path, make: Callable[[_Row], T]) -> Iterator[T]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            _check_header(path, reader.fieldnames, make)
            for row in reader:
                if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    continue  # blank line
                try:
                    yield make(_Row(row))
                except ValueError as exc:
                    raise KbError(f"{path.name} line {reader.line_num}: {exc}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise KbError(f"{path}: cannot read ({exc})") from None


_REQUIRED = {
    "_product": ("product", "name", "end_of_support"),
    "_build": ("product", "cu", "su", "build", "released", "kind", "kb", "cumulative"),
    "_cve": ("cve", "title", "severity", "exploited", "published"),
    "_fix": ("cve", "product", "cu", "kind", "build", "su", "kb"),
}


def _check_header(path: Path, fields: object, make: Callable[..., object]) -> None:
    present = set(fields) if isinstance(fields, list) else set()
    missing = [c for c in _REQUIRED[make.__name__] if c not in present]
    if missing:
        raise KbError(f"{path.name}: missing column(s) {', '.join(missing)}")


def _product(row: _Row) -> ProductRow:
    return ProductRow(
        product=row.product(),
        name=row.text("name", required=True),
        released=row.date("released"),
        end_of_support=row.date("end_of_support"),
        support_note=row.text("support_note"),
    )


def _build(row: _Row) -> BuildRow:
    product = row.product()
    build = row.build("build")
    assert build is not None
    if product_of(build) != product:
        raise ValueError(f"build {build} belongs to Exchange {product_of(build)}, not {product}")
    return BuildRow(
        product=product,
        cu=row.text("cu", required=True),
        su=row.text("su") or None,
        build=build,
        released=row.date("released"),
        kind=row.text("kind", required=True),
        kb=row.text("kb"),
        cumulative=row.flag("cumulative", default=True),
        confirmed=row.flag("confirmed", default=True),
        note=row.text("note"),
    )


def _cve(row: _Row) -> CveInfo:
    severity_text = row.text("severity", required=True).lower()
    try:
        severity = Severity(severity_text)
    except ValueError:
        raise ValueError(f"column 'severity': {severity_text!r} is not one of {', '.join(s.value for s in Severity)}") from None
    cvss_text = row.text("cvss")
    try:
        cvss = float(cvss_text) if cvss_text else None
    except ValueError:
        raise ValueError(f"column 'cvss': {cvss_text!r} is not a number") from None
    exploited = row.text("exploited").lower()
    if exploited not in ("yes", "no", "unknown", ""):
        raise ValueError(f"column 'exploited': {exploited!r} is not yes, no or unknown")
    not_affected = tuple(p.strip() for p in row.text("not_affected").replace(",", ";").split(";") if p.strip())
    for product in not_affected:
        if product not in PRODUCTS:
            raise ValueError(f"column 'not_affected': unknown product {product!r}")
    return CveInfo(
        id=row.cve_id(),
        name=row.text("family"),
        title=row.text("title", required=True),
        vuln_type=row.text("vuln_type"),
        severity=severity,
        cvss=cvss,
        exploited={"yes": True, "no": False}.get(exploited),
        kev_added=row.date("kev_added"),
        published=row.date("published"),
        affected=row.text("affected"),
        not_affected=not_affected,
        config=row.text("config"),
        confirmed=row.flag("confirmed", default=True),
        note=row.text("note"),
        sources=row.text("sources"),
    )


def _fix(row: _Row) -> FixRow:
    kind = row.text("kind", required=True).lower()
    if kind not in ("su", "cu"):
        raise ValueError(f"column 'kind': {kind!r} is not su or cu")
    build = row.build("build")
    alt = row.build("alt_build", required=False)
    assert build is not None
    if alt is not None and (alt.cu_key != build.cu_key or alt >= build):
        raise ValueError(f"alt_build {alt} must be a lower revision of the same CU as {build}")
    if kind == "su" and not row.text("su"):
        raise ValueError("an su row needs the SU name in column 'su'")
    return FixRow(
        cve=row.cve_id(),
        product=row.product(),
        cu=row.text("cu", required=True),
        kind=kind,
        build=build,
        su=row.text("su") or None,
        kb=row.text("kb"),
        config_default=row.flag("config_default", default=False),
        alt_build=alt,
        confirmed=row.flag("confirmed", default=True),
        note=row.text("note"),
    )


def _meta(path: Path) -> dict[str, str]:
    """Optional ``meta.csv`` (key,value): the data set's name and date."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {r[0].strip(): r[1].strip() for r in csv.reader(handle) if len(r) >= 2 and r[0].strip() != "key"}


# --------------------------------------------------------------------------- cross-file checks


def _check_consistency(folder: Path, builds: list[BuildRow], cves: list[CveInfo], fixes: list[FixRow]) -> None:
    seen: dict[Build, BuildRow] = {}
    cu_names: dict[tuple[int, int, int], tuple[str, str]] = {}
    builds_file = folder / "builds.csv"
    for row in builds:
        if row.build in seen:
            raise KbError(f"{builds_file}: build {row.build} listed twice")
        seen[row.build] = row
        known = cu_names.setdefault(row.build.cu_key, (row.product, row.cu))
        if known != (row.product, row.cu):
            raise KbError(f"{builds_file}: build {row.build} is named {row.cu} but its CU is {known[1]}")
    cve_ids = {c.id for c in cves}
    if len(cve_ids) != len(cves):
        raise KbError(f"{folder / 'cves.csv'}: a CVE is listed twice")
    su_rows: set[tuple[str, tuple[int, int, int]]] = set()
    fixes_file = folder / "fixes.csv"
    for fix in fixes:
        problem = ""
        if fix.cve not in cve_ids:
            problem = "CVE not in cves.csv"
        elif cu_names.get(fix.build.cu_key) != (fix.product, fix.cu):
            problem = f"build {fix.build} is not a build of {fix.product} {fix.cu} in builds.csv"
        elif fix.kind == "su" and (fix.cve, fix.build.cu_key) in su_rows:
            problem = "two su rows for the same CU"
        if problem:
            raise KbError(f"{fixes_file}: {fix.cve} {fix.product} {fix.cu}: {problem}")
        if fix.kind == "su":
            su_rows.add((fix.cve, fix.build.cu_key))
