"""The one place that decides whether a build is exposed to a CVE.

Rules (``docs/kb.md`` explains each; references in brackets):

1. The product has no fix data for the CVE: not affected when Microsoft says so, ``unknown`` when the
   product left support before the CVE was published (Microsoft never assessed it), else not affected
   (Microsoft lists only the products it affects) [MSRC affected products, CNA records].
2. The build's CU is the first CU that shipped with the fix, or later: the code fix is in [CU columns
   of the reference, EOMT's CU20/CU9 rule].
3. The CU got the fix as an SU: compare the revision with that SU's build. A 3-part build cannot show
   the SU level: ``possibly_vulnerable`` [remote-fingerprinting.md §5.1]. Builds at or above a
   non-cumulative SU (the March 2021 SUs for out-of-support CUs) do not contain earlier SUs
   [HC ``Invoke-AnalyzerSecurityCve-MarchSuSpecial.ps1``].
4. The CU never got a fix (older than the CUs Microsoft lists, or skipped): ``vulnerable`` whatever
   the SU level [HC ``Test-ExchangeBuildGreaterOrEqualThanSecurityPatch``: "a CU without that SU counts
   as vulnerable"].
5. A CU not in the data is ``unknown``, except when it is newer than the product's newest known CU and
   the fix shipped in an earlier CU: then the fix is in (CUs are cumulative).
6. A fix that also needs configuration is never plain ``not_vulnerable``: ``possibly_vulnerable``
   naming what to verify, unless the configuration is on by default from that build
   [HC Extended Protection and serialized-data-signing analyzers].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exaudit.kb.builds import Build, product_of
from exaudit.kb.tables import CveInfo, FixRow
from exaudit.model import CveStatus, Status

if TYPE_CHECKING:
    from exaudit.kb.knowledge import Cu, KnowledgeBase, ProductFixes


def decide(kb: KnowledgeBase, build: Build, cve: CveInfo) -> CveStatus:
    product = product_of(build)
    fixes = kb.fixes(cve.id, product)
    if fixes is None:
        return _not_listed(kb, product, cve)
    cu = kb.cu_of(build)
    if cu is None:
        return _unknown_cu(kb, build, product, cve, fixes)
    first = fixes.first_cu
    if first is not None and cu.key >= first.build.cu_key:
        reason = f"{_cu_label(product, cu.name)} contains the fix (first shipped in {_cu_label(product, first.cu)}, {first.build})"
        return _code_fixed(cve, first, reason)
    fix = fixes.by_cu.get(cu.key)
    if fix is None:
        return _never_fixed(kb, product, cu, cve, fixes)
    return _by_su(kb, build, cu, cve, fix, fixes)


# --------------------------------------------------------------------------- branches


def _not_listed(kb: KnowledgeBase, product: str, cve: CveInfo) -> CveStatus:
    label = f"Exchange {product}"
    if product in cve.not_affected:
        return CveStatus(cve.id, Status.NOT_VULNERABLE, f"{label} is not affected by {cve.id} (Microsoft)")
    end = kb.products[product].end_of_support
    if end is not None and cve.published is not None and end < cve.published:
        return CveStatus(
            cve.id,
            Status.UNKNOWN,
            f"{label} left support on {end.isoformat()}, before {cve.id} was published ({cve.published.isoformat()}): "
            "Microsoft did not assess it and ships no fix",
            "move to a supported Exchange version",
        )
    return CveStatus(cve.id, Status.NOT_VULNERABLE, f"Microsoft does not list {label} as affected by {cve.id}")


def _unknown_cu(kb: KnowledgeBase, build: Build, product: str, cve: CveInfo, fixes: ProductFixes) -> CveStatus:
    newest = kb.newest_cu(product)
    first = fixes.first_cu
    cu_text = f"{build.major}.{build.minor}.{build.build}"
    if newest is not None and build.cu_key > newest.key and first is not None:
        reason = (
            f"CU {cu_text} is not in the knowledge base (data of {kb.data_date}) but is newer than the newest known "
            f"{_cu_label(product, newest.name)}; CUs are cumulative and the fix shipped in {_cu_label(product, first.cu)}"
        )
        return _code_fixed(cve, first, reason)
    return CveStatus(
        cve.id,
        Status.UNKNOWN,
        f"CU {cu_text} of Exchange {product} is not in the knowledge base (data of {kb.data_date}); load newer data (--kb-dir) to judge it",
        _upgrade_advice(kb, product, cve, fixes),
    )


def _never_fixed(kb: KnowledgeBase, product: str, cu: Cu, cve: CveInfo, fixes: ProductFixes) -> CveStatus:
    fixed_cus = [f.cu for f in sorted(fixes.by_cu.values(), key=lambda f: f.build)]
    if fixes.first_cu is not None:
        fixed_cus.append(f"{fixes.first_cu.cu} and later")
    where = ", ".join(fixed_cus) or "no CU"
    reason = f"{_cu_label(product, cu.name)} never received a fix for {cve.id} (fixed only for {where}); vulnerable whatever its SU level"
    return CveStatus(cve.id, Status.VULNERABLE, reason, _upgrade_advice(kb, product, cve, fixes))


def _by_su(kb: KnowledgeBase, build: Build, cu: Cu, cve: CveInfo, fix: FixRow, fixes: ProductFixes) -> CveStatus:
    label = _cu_label(fix.product, cu.name)
    install = _describe(fix)
    if build.revision is None:
        reason = f"{label} is affected and fixed from {install}; the SU level is not visible in a 3-part build"
        if cve.config:
            reason += f"; the fix also needs the configuration: {cve.config}"
        return CveStatus(cve.id, Status.POSSIBLY_VULNERABLE, reason, install)
    prefix = "" if kb.release(build) else f"revision {build} is not a known release of {label}, judged by its thresholds: "
    if build >= fix.build:  # same CU: the revision decides
        gap = _non_cumulative_between(cu, fix, build)
        if gap is not None:
            reason = (
                f"{prefix}{gap.su} ({gap.build}) for out-of-support {label} is not cumulative: it does not contain "
                f"{fix.su} ({fix.build}{', ' + fix.kb if fix.kb else ''}), the fix for {cve.id}; "
                f"vulnerable unless {fix.kb or fix.su} was installed before it"
            )
            advice = f"install {install} as well, or {_upgrade_advice(kb, fix.product, cve, fixes)}"
            return CveStatus(cve.id, Status.VULNERABLE, reason, advice)
        return _code_fixed(cve, fix, f"{prefix}{label} at {build} includes {install}")
    if fix.alt_build is not None and build >= fix.alt_build:
        reason = f"{prefix}{label} at {build} is below {install} but at or above the disputed {fix.alt_build}: {fix.note}"
        return CveStatus(cve.id, Status.POSSIBLY_VULNERABLE, reason, install)
    return CveStatus(cve.id, Status.VULNERABLE, f"{prefix}{label} at {build} is below {install}", install)


def _code_fixed(cve: CveInfo, fix: FixRow, reason: str) -> CveStatus:
    """The build carries the code fix; configuration-dependent CVEs still need a check."""
    if not cve.config:
        return CveStatus(cve.id, Status.NOT_VULNERABLE, reason)
    if fix.config_default:
        reason += f"; the configuration it needs ({cve.config}) is on by default from this build: verify it was not disabled"
        return CveStatus(cve.id, Status.NOT_VULNERABLE, reason)
    reason += f"; the build alone does not fix it, verify the configuration: {cve.config}"
    return CveStatus(cve.id, Status.POSSIBLY_VULNERABLE, reason, f"configure: {cve.config}")


# --------------------------------------------------------------------------- helpers


def _non_cumulative_between(cu: Cu, fix: FixRow, build: Build) -> FixRow | None:
    """A non-cumulative SU released after ``fix`` that the build is at or above (so ``fix`` may be missing)."""
    assert build.revision is not None and fix.build.revision is not None
    for row in cu.rows:
        rev = row.build.revision
        if not row.cumulative and rev is not None and fix.build.revision < rev <= build.revision and row.su != fix.su:
            return FixRow(fix.cve, row.product, row.cu, "su", row.build, row.su, row.kb, False, None, row.confirmed, row.note)
    return None


def _describe(fix: FixRow) -> str:
    """``15.1.2176.9 (Mar21SU, KB5000871)`` or ``CU20 (15.1.2242.4)``."""
    if fix.kind == "cu":
        return f"{_cu_label(fix.product, fix.cu)} ({fix.build})"
    details = ", ".join(p for p in (fix.su, fix.kb) if p)
    return f"{fix.build} ({details})"


def _upgrade_advice(kb: KnowledgeBase, product: str, cve: CveInfo, fixes: ProductFixes) -> str:
    """Where to go when this CU has no fix: the newest CU that has one, with its SU if needed."""
    first = fixes.first_cu
    for cu in reversed(kb.cus(product)):
        if first is not None and cu.key >= first.build.cu_key:
            return f"upgrade to {_cu_label(product, cu.name)} ({cu.base.build}) or later"
        fix = fixes.by_cu.get(cu.key)
        if fix is not None:
            return f"upgrade to {_cu_label(product, cu.name)} and install {fix.su} ({fix.build}{', ' + fix.kb if fix.kb else ''}) or later"
    return f"no fix for Exchange {product}: move to a supported Exchange version"


def _cu_label(product: str, cu: str) -> str:
    return f"Exchange {product} {cu}"
