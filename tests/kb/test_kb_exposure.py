"""The (build, CVE) decision, table-driven from the reference build and CVE tables.

Each row: build, CVE, expected status (V vulnerable, P possibly_vulnerable, N not_vulnerable,
U unknown) and optionally a text the reason must contain. The expectations were written from
``reference/exchange_cves.csv`` / ``exchange_builds.csv`` by hand, not computed by the code under test.
"""

from __future__ import annotations

import pytest

from exaudit.kb import Build, load_kb, parse_build
from exaudit.model import Status

STATUS = {"V": Status.VULNERABLE, "P": Status.POSSIBLY_VULNERABLE, "N": Status.NOT_VULNERABLE, "U": Status.UNKNOWN}

# build | CVE | status | reason must contain (optional)
TABLE = """
# ---- ProxyLogon CVE-2021-26855, Exchange 2016: SU per CU, CU20 shipped with the fix
15.1.2176.2   | CVE-2021-26855 | V | below 15.1.2176.9
15.1.2176.4   | CVE-2021-26855 | V
15.1.2176.9   | CVE-2021-26855 | N
15.1.2176.12  | CVE-2021-26855 | N
15.1.2176     | CVE-2021-26855 | P | not visible
15.1.2106.13  | CVE-2021-26855 | N
15.1.2106.8   | CVE-2021-26855 | V
15.1.2106.2   | CVE-2021-26855 | V
15.1.2044.13  | CVE-2021-26855 | N
15.1.2044.12  | CVE-2021-26855 | V
15.1.1979.8   | CVE-2021-26855 | N
15.1.1979.6   | CVE-2021-26855 | V
15.1.1913.12  | CVE-2021-26855 | N
15.1.1913.10  | CVE-2021-26855 | V
15.1.1847.12  | CVE-2021-26855 | N
15.1.1847.10  | CVE-2021-26855 | V
15.1.1779.8   | CVE-2021-26855 | N
15.1.1779.7   | CVE-2021-26855 | V
15.1.1713.10  | CVE-2021-26855 | N
15.1.1713.9   | CVE-2021-26855 | V
15.1.1591.18  | CVE-2021-26855 | N
15.1.1591.17  | CVE-2021-26855 | V
15.1.1531.12  | CVE-2021-26855 | N
15.1.1531.10  | CVE-2021-26855 | V
15.1.1466.16  | CVE-2021-26855 | N
15.1.1466.13  | CVE-2021-26855 | P | disputed
15.1.1466.3   | CVE-2021-26855 | V
15.1.1415.10  | CVE-2021-26855 | N
15.1.1415.8   | CVE-2021-26855 | P | Health Checker
15.1.1415.2   | CVE-2021-26855 | V
15.1.1261.35  | CVE-2021-26855 | V | never received a fix
15.1.225.42   | CVE-2021-26855 | V | never received a fix
15.1.2242.4   | CVE-2021-26855 | N | CU20
15.1.2242     | CVE-2021-26855 | N
15.1.2507.6   | CVE-2021-26855 | N
# ---- CVE-2021-26855, Exchange 2019 and SE
15.2.221.12   | CVE-2021-26855 | V
15.2.221.17   | CVE-2021-26855 | V
15.2.221.18   | CVE-2021-26855 | N
15.2.330.10   | CVE-2021-26855 | V
15.2.330.11   | CVE-2021-26855 | N
15.2.397.11   | CVE-2021-26855 | N
15.2.464.14   | CVE-2021-26855 | V
15.2.464.15   | CVE-2021-26855 | N
15.2.529.13   | CVE-2021-26855 | N
15.2.595.8    | CVE-2021-26855 | N
15.2.659.11   | CVE-2021-26855 | V
15.2.659.12   | CVE-2021-26855 | N
15.2.721.8    | CVE-2021-26855 | V
15.2.721.13   | CVE-2021-26855 | N
15.2.792.5    | CVE-2021-26855 | V
15.2.792.10   | CVE-2021-26855 | N
15.2.792      | CVE-2021-26855 | P
15.2.858.5    | CVE-2021-26855 | N
15.2.858      | CVE-2021-26855 | N
15.2.1748.10  | CVE-2021-26855 | N
15.2.2562.17  | CVE-2021-26855 | N
# ---- CVE-2021-26855, Exchange 2013 and 2010 (2010 is not affected)
15.0.1497.10  | CVE-2021-26855 | V
15.0.1497.12  | CVE-2021-26855 | N
15.0.1497     | CVE-2021-26855 | P
15.0.1473.5   | CVE-2021-26855 | V
15.0.1473.6   | CVE-2021-26855 | N
15.0.1395.10  | CVE-2021-26855 | V
15.0.1395.12  | CVE-2021-26855 | N
15.0.1367.3   | CVE-2021-26855 | V | never received a fix
15.0.847.32   | CVE-2021-26855 | V
15.0.847.64   | CVE-2021-26855 | N
15.0.516.32   | CVE-2021-26855 | V
14.3.513.0    | CVE-2021-26855 | N | not affected
14.3.123.4    | CVE-2021-26855 | N | not affected
# ---- the other ProxyLogon CVEs: only CVE-2021-26857 affects Exchange 2010
14.3.513.0    | CVE-2021-26857 | N | RU32
14.3.509.0    | CVE-2021-26857 | V
14.3.496.0    | CVE-2021-26857 | V
14.3.123.4    | CVE-2021-26857 | V
14.2.247.5    | CVE-2021-26857 | V
14.3.513      | CVE-2021-26857 | N
15.1.1847.12  | CVE-2021-26857 | N
15.0.847.64   | CVE-2021-26857 | N
15.2.792.10   | CVE-2021-26857 | N
15.2.792.5    | CVE-2021-26857 | V
14.3.509.0    | CVE-2021-26858 | N | not affected
15.2.792.10   | CVE-2021-26858 | N
15.2.792.5    | CVE-2021-26858 | V
15.1.1415.8   | CVE-2021-26858 | P
14.3.513.0    | CVE-2021-27065 | N | not affected
15.0.847.64   | CVE-2021-27065 | N
15.1.2176.4   | CVE-2021-27065 | V
15.1.2044.13  | CVE-2021-27065 | N
# ---- CVE-2020-0688: the March 2021 SUs of old CUs do not contain Feb20SU
15.1.1847.12  | CVE-2020-0688  | V | does not contain Feb20SU
15.1.1847.13  | CVE-2020-0688  | V | does not contain Feb20SU
15.1.1847.10  | CVE-2020-0688  | N
15.1.1847.8   | CVE-2020-0688  | N | not a known release
15.1.1847.7   | CVE-2020-0688  | N
15.1.1847.5   | CVE-2020-0688  | V
15.1.1847.3   | CVE-2020-0688  | V
15.1.1847     | CVE-2020-0688  | P
15.1.1913.12  | CVE-2020-0688  | V | Feb20SU
15.1.1913.10  | CVE-2020-0688  | N
15.1.1913.7   | CVE-2020-0688  | N
15.1.1979.3   | CVE-2020-0688  | N | CU16
15.1.1979     | CVE-2020-0688  | N
15.1.1979.8   | CVE-2020-0688  | N
15.1.1779.8   | CVE-2020-0688  | V | never received a fix
15.1.1779     | CVE-2020-0688  | V
15.1.2176.9   | CVE-2020-0688  | N
15.2.464.15   | CVE-2020-0688  | V | Feb20SU
15.2.464.11   | CVE-2020-0688  | N
15.2.529.13   | CVE-2020-0688  | V | Feb20SU
15.2.529.11   | CVE-2020-0688  | N
15.2.529.8    | CVE-2020-0688  | N
15.2.595.3    | CVE-2020-0688  | N
15.2.397.11   | CVE-2020-0688  | V | never received a fix
15.0.1497.12  | CVE-2020-0688  | N
15.0.1497.6   | CVE-2020-0688  | N
15.0.1497.4   | CVE-2020-0688  | V
15.0.1473.6   | CVE-2020-0688  | V
15.0.1395.12  | CVE-2020-0688  | V
14.3.496.0    | CVE-2020-0688  | N
14.3.513.0    | CVE-2020-0688  | N
14.3.468.0    | CVE-2020-0688  | V
# ---- March 2021 non-ProxyLogon CVEs: fixed only for the then-supported CUs
15.1.1847.12  | CVE-2021-26412 | V | never received a fix
15.1.2044.13  | CVE-2021-26412 | V
15.1.2106.8   | CVE-2021-26412 | V
15.1.2106.13  | CVE-2021-26412 | N
15.1.2176.9   | CVE-2021-26412 | N
15.1.2242.4   | CVE-2021-26412 | N
15.2.659.12   | CVE-2021-26412 | V
15.2.721.13   | CVE-2021-26412 | N
15.2.858.5    | CVE-2021-26412 | N
15.0.1497.12  | CVE-2021-26412 | N
15.0.1473.6   | CVE-2021-26412 | V
15.0.847.64   | CVE-2021-26412 | V
14.3.513.0    | CVE-2021-26412 | U | did not assess
15.2.221.18   | CVE-2021-27078 | V
15.2.792.10   | CVE-2021-27078 | N
15.1.1979.8   | CVE-2021-26854 | V
15.1.2176.9   | CVE-2021-26854 | N
# ---- April 2021: CVE-2021-28480 and the silently fixed ProxyShell / ProxyToken
15.1.2176.9   | CVE-2021-28480 | V
15.1.2176.12  | CVE-2021-28480 | N
15.2.792.13   | CVE-2021-28480 | N
15.1.2242.8   | CVE-2021-28481 | N
15.1.2176.9   | CVE-2021-34473 | V
15.1.2176.10  | CVE-2021-34473 | V | not a known release
15.1.2176.12  | CVE-2021-34473 | N
15.1.2242.4   | CVE-2021-34473 | V
15.1.2242.8   | CVE-2021-34473 | N
15.1.2242     | CVE-2021-34473 | P
15.1.2308.8   | CVE-2021-34473 | N
15.1.2308     | CVE-2021-34473 | N
15.1.2106.13  | CVE-2021-34473 | V | never received a fix
15.2.792.10   | CVE-2021-34473 | V
15.2.792.13   | CVE-2021-34473 | N
15.2.858.5    | CVE-2021-34473 | V
15.2.858.10   | CVE-2021-34473 | N
15.2.922.7    | CVE-2021-34473 | N
15.0.1497.12  | CVE-2021-34473 | V
15.0.1497.15  | CVE-2021-34473 | N
15.1.2242.4   | CVE-2021-34523 | V
15.1.2242.8   | CVE-2021-34523 | N
15.2.858.10   | CVE-2021-34523 | N
15.2.858.5    | CVE-2021-33766 | V
15.2.792.13   | CVE-2021-33766 | N
15.1.2242.8   | CVE-2021-33766 | N
# ---- May/July 2021: CVE-2021-31207 (ProxyShell), ProxyOracle
15.1.2176.12  | CVE-2021-31207 | V
15.1.2176.14  | CVE-2021-31207 | N
15.1.2242.10  | CVE-2021-31207 | N
15.2.858.10   | CVE-2021-31207 | V
15.2.858.12   | CVE-2021-31207 | N
15.0.1497.15  | CVE-2021-31207 | V
15.0.1497.18  | CVE-2021-31207 | N
15.1.2242.8   | CVE-2021-31195 | V
15.1.2242.10  | CVE-2021-31195 | N
15.1.2242.10  | CVE-2021-31196 | V
15.1.2242.12  | CVE-2021-31196 | N
15.1.2308.8   | CVE-2021-31196 | V
15.1.2308.14  | CVE-2021-31196 | N
15.1.2375.7   | CVE-2021-31196 | N
15.1.2176.14  | CVE-2021-31196 | V | never received a fix
15.2.922.7    | CVE-2021-31196 | V
15.2.922.13   | CVE-2021-31196 | N
15.2.986.5    | CVE-2021-31196 | N
15.0.1497.18  | CVE-2021-31196 | V
15.0.1497.23  | CVE-2021-31196 | N
# ---- CVE-2021-42321 (Exchange 2013 not affected)
15.1.2308.15  | CVE-2021-42321 | V
15.1.2308.20  | CVE-2021-42321 | N
15.1.2375.12  | CVE-2021-42321 | V
15.1.2375.17  | CVE-2021-42321 | N
15.1.2507.6   | CVE-2021-42321 | N
15.1.2242.12  | CVE-2021-42321 | V
15.2.922.14   | CVE-2021-42321 | V
15.2.922.19   | CVE-2021-42321 | N
15.2.986.9    | CVE-2021-42321 | V
15.2.986.14   | CVE-2021-42321 | N
15.2.1118.7   | CVE-2021-42321 | N
15.0.1497.2   | CVE-2021-42321 | N | not affected
15.0.1497.26  | CVE-2021-42321 | N
# ---- ProxyNotShell and OWASSRF: no fix before Nov22SU
15.1.2507.13  | CVE-2022-41040 | V | below 15.1.2507.16
15.1.2507.16  | CVE-2022-41040 | N
15.1.2375.32  | CVE-2022-41040 | V
15.1.2375.37  | CVE-2022-41040 | N
15.1.2308.27  | CVE-2022-41040 | V | never received a fix
15.2.1118.15  | CVE-2022-41040 | V
15.2.1118.20  | CVE-2022-41040 | N
15.2.1118     | CVE-2022-41040 | P
15.2.986.30   | CVE-2022-41040 | V
15.2.986.36   | CVE-2022-41040 | N
15.2.1258.12  | CVE-2022-41040 | N
15.2.1258     | CVE-2022-41040 | N
15.0.1497.42  | CVE-2022-41040 | V
15.0.1497.44  | CVE-2022-41040 | N
15.2.2562.17  | CVE-2022-41040 | N
15.1.2507.13  | CVE-2022-41082 | V
15.1.2507.16  | CVE-2022-41082 | N
15.2.986.36   | CVE-2022-41082 | N
15.1.2507.13  | CVE-2022-41080 | V
15.1.2507.16  | CVE-2022-41080 | N
15.0.1497.44  | CVE-2022-41080 | N
# ---- CVE-2023-21529
15.1.2507.17  | CVE-2023-21529 | V
15.1.2507.21  | CVE-2023-21529 | N
15.2.986.37   | CVE-2023-21529 | V
15.2.986.41   | CVE-2023-21529 | N
15.2.1118.25  | CVE-2023-21529 | N
15.0.1497.45  | CVE-2023-21529 | V
15.0.1497.47  | CVE-2023-21529 | N
15.1.2375.37  | CVE-2023-21529 | V | never received a fix
# ---- configuration-dependent CVEs never read as plain not_vulnerable from the build alone
15.1.2507.27  | CVE-2023-21709 | V
15.1.2507.31  | CVE-2023-21709 | P
15.1.2507.32  | CVE-2023-21709 | P | TokenCacheModule
15.2.1118.36  | CVE-2023-21709 | P
15.2.1258.25  | CVE-2023-21709 | P
15.2.1544.4   | CVE-2023-21709 | P | TokenCacheModule
15.0.1497.48  | CVE-2023-21709 | U | did not assess
15.1.2507.34  | CVE-2023-36439 | V
15.1.2507.35  | CVE-2023-36439 | N | not disabled
15.2.1118.39  | CVE-2023-36439 | V
15.2.1118.40  | CVE-2023-36439 | N | serialized data signing
15.2.1258.28  | CVE-2023-36439 | N
15.2.1544.4   | CVE-2023-36439 | N
15.2.2562.17  | CVE-2023-36439 | N
15.1.2507     | CVE-2023-36439 | P
15.2.1544.4   | CVE-2024-21410 | N | Extended Protection
15.2.1748.10  | CVE-2024-21410 | N
15.2.2562.17  | CVE-2024-21410 | N | not disabled
15.2.1258.32  | CVE-2024-21410 | V | never received a fix
15.2.1258.38  | CVE-2024-21410 | V
15.1.2507.35  | CVE-2024-21410 | V
15.1.2507.37  | CVE-2024-21410 | P | Extended Protection
15.1.2507.61  | CVE-2024-21410 | P | Extended Protection
15.0.1497.48  | CVE-2024-21410 | U
15.1.2507.55  | CVE-2025-53786 | P | hybrid
15.1.2507.44  | CVE-2025-53786 | V
15.2.1544.25  | CVE-2025-53786 | P
15.2.1748.10  | CVE-2025-53786 | V
15.2.1748.24  | CVE-2025-53786 | P
15.2.1258.39  | CVE-2025-53786 | V
15.2.2562.17  | CVE-2025-53786 | P | hybrid
# ---- 2024 CVEs, the re-released Nov24SU (v1 pulled)
15.1.2507.35  | CVE-2024-26198 | V
15.1.2507.37  | CVE-2024-26198 | N
15.2.1258.32  | CVE-2024-26198 | N
15.2.1544.4   | CVE-2024-26198 | V
15.2.1544.9   | CVE-2024-26198 | N
15.2.1748.10  | CVE-2024-26198 | N
15.1.2507.39  | CVE-2024-49040 | V
15.1.2507.43  | CVE-2024-49040 | P | pulled
15.1.2507.44  | CVE-2024-49040 | N
15.2.1544.13  | CVE-2024-49040 | P
15.2.1544.14  | CVE-2024-49040 | N
15.2.1258.39  | CVE-2024-49040 | N
15.2.1748.10  | CVE-2024-49040 | N
# ---- 2026 CVEs: SE gets SUs too; Sep26SUv2 alone fixes CVE-2026-96940
15.1.2507.66  | CVE-2026-42897 | V
15.1.2507.69  | CVE-2026-42897 | N
15.2.1544.41  | CVE-2026-42897 | N
15.2.1748.43  | CVE-2026-42897 | V
15.2.1748.46  | CVE-2026-42897 | N
15.2.2562.41  | CVE-2026-42897 | V
15.2.2562.43  | CVE-2026-42897 | N
15.2.2562     | CVE-2026-42897 | P
15.1.2507.71  | CVE-2026-62911 | V
15.1.2507.72  | CVE-2026-62911 | N
15.2.2562.45  | CVE-2026-62911 | V
15.2.2562.46  | CVE-2026-62911 | N
15.1.2507.73  | CVE-2026-96940 | V | below 15.1.2507.75
15.1.2507.75  | CVE-2026-96940 | N
15.2.1544.46  | CVE-2026-96940 | V
15.2.1544.48  | CVE-2026-96940 | N
15.2.1748.51  | CVE-2026-96940 | V
15.2.1748.53  | CVE-2026-96940 | N
15.2.2562.49  | CVE-2026-96940 | V
15.2.2562.53  | CVE-2026-96940 | N
15.2.2562.56  | CVE-2026-96940 | N
# ---- Exchange 2010 only: CVE-2020-17144
14.3.496.0    | CVE-2020-17144 | V
14.3.509.0    | CVE-2020-17144 | N
14.3.513.0    | CVE-2020-17144 | N
15.1.2176.9   | CVE-2020-17144 | N | does not list
# ---- CUs not in the data: unknown, except newer than the newest CU with the fix in an earlier CU
15.1.2600.1   | CVE-2021-26855 | N | newer than the newest known
15.1.2600.1   | CVE-2022-41040 | U
15.1.1500.0   | CVE-2021-26855 | U | not in the knowledge base
15.2.2000.1   | CVE-2021-26855 | N
15.2.2000.1   | CVE-2024-21410 | N
15.2.2000.1   | CVE-2025-53786 | U
15.2.2600.1   | CVE-2021-26855 | N
15.2.2600.1   | CVE-2026-42897 | U
15.2.2600.1   | CVE-2025-53786 | P
15.1.2176.10  | CVE-2021-26855 | N
"""


def _rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in TABLE.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        build, cve, status = parts[:3]
        rows.append((build, cve, status, parts[3] if len(parts) > 3 else ""))
    return rows


ROWS = _rows()


def test_table_is_large_and_has_no_duplicates() -> None:
    assert len(ROWS) >= 150
    pairs = [(b, c) for b, c, _, _ in ROWS]
    assert len(pairs) == len(set(pairs))


@pytest.mark.parametrize(("build", "cve", "expected", "reason_part"), ROWS, ids=[f"{b}-{c}" for b, c, _, _ in ROWS])
def test_decision(build: str, cve: str, expected: str, reason_part: str) -> None:
    status = load_kb().assess_cve(parse_build(build), cve)
    assert status.cve == cve
    assert status.status == STATUS[expected], status.reason
    assert reason_part in status.reason
    assert status.reason and "\n" not in status.reason


def _naive(build: Build, cve: str) -> Status:
    """What a plain "build >= fix build" tool concludes (missing SU level read as revision 0)."""
    kb = load_kb()
    fixes = kb.fixes(cve, build.product)
    if fixes is None:
        return Status.NOT_VULNERABLE
    revision = build.revision or 0
    same_cu = fixes.by_cu.get(build.cu_key)
    if same_cu is not None:
        return Status.VULNERABLE if revision < (same_cu.build.revision or 0) else Status.NOT_VULNERABLE
    thresholds = [f.build for f in fixes.by_cu.values()] + ([fixes.first_cu.build] if fixes.first_cu else [])
    lowest = min(thresholds, key=lambda b: b.sort_key)
    return Status.VULNERABLE if (build.cu_key, revision) < (lowest.cu_key, lowest.revision or 0) else Status.NOT_VULNERABLE


def test_table_defeats_plain_build_comparison() -> None:
    """The table holds pairs where "build >= fix build" is wrong: old-CU March 2021 SUs, 3-part builds, disputed builds."""
    wrong = [(b, c) for b, c, s, _ in ROWS if _naive(parse_build(b), c) != STATUS[s]]
    assert ("15.1.1847.12", "CVE-2020-0688") in wrong
    assert ("15.2.464.15", "CVE-2020-0688") in wrong
    assert ("15.1.2176", "CVE-2021-26855") in wrong
    assert ("15.1.2507.37", "CVE-2024-21410") in wrong
    assert ("15.0.1367.3", "CVE-2021-26855") in wrong
    assert len(wrong) >= 25


def test_reference_example_pair() -> None:
    kb = load_kb()
    logon = kb.assess_cve("15.1.1847.12", "CVE-2021-26855")
    viewstate = kb.assess_cve("15.1.1847.12", "CVE-2020-0688")
    assert logon.status is Status.NOT_VULNERABLE and logon.fix is None
    assert viewstate.status is Status.VULNERABLE
    assert "Feb20SU" in viewstate.reason and "not cumulative" in viewstate.reason
    assert viewstate.fix is not None and "KB4536987" in viewstate.fix


@pytest.mark.parametrize(
    ("build", "cve", "fix_part"),
    [
        ("15.1.2176.2", "CVE-2021-26855", "15.1.2176.9 (Mar21SU, KB5000871)"),
        ("15.1.2507.13", "CVE-2022-41040", "15.1.2507.16 (Nov22SU, KB5019758)"),
        ("15.1.1847.12", "CVE-2021-26412", "upgrade to Exchange 2016 CU23"),
        ("15.0.1473.6", "CVE-2020-0688", "upgrade to Exchange 2013 CU23 and install Feb20SU (15.0.1497.6, KB4536988)"),
        ("14.3.496.0", "CVE-2021-26857", "SP3 RU32 (14.3.513.0)"),
        ("15.2.1258.38", "CVE-2024-21410", "upgrade to Exchange 2019 CU15"),
        ("15.2.2562.41", "CVE-2026-42897", "15.2.2562.43 (Jun26SU, KB5094139)"),
        ("15.1.2507.37", "CVE-2024-21410", "Extended Protection"),
    ],
)
def test_fix_advice(build: str, cve: str, fix_part: str) -> None:
    status = load_kb().assess_cve(build, cve)
    assert status.fix is not None and fix_part in status.fix


def test_not_vulnerable_has_no_fix_and_acting_statuses_have_one() -> None:
    kb = load_kb()
    for build, _, _, _ in ROWS[::7]:
        for status in kb.assess(build):
            if status.status in (Status.VULNERABLE, Status.POSSIBLY_VULNERABLE):
                assert status.fix, (build, status)
            if status.status is Status.NOT_VULNERABLE:
                assert status.fix is None, (build, status)


def test_assess_covers_every_cve_in_stable_order() -> None:
    kb = load_kb()
    ids = [c.id for c in kb.cves()]
    assert len(ids) == len(set(ids)) >= 25
    assert [s.cve for s in kb.assess("15.1.2176.9")] == ids
    assert [s.cve for s in kb.assess("14.3.513.0")] == ids
    for required in ("CVE-2020-0688", "CVE-2021-26855", "CVE-2021-33766", "CVE-2022-41080", "CVE-2023-21529", "CVE-2024-21410"):
        assert required in ids


def test_unknown_cve_id_is_unknown_not_an_exception() -> None:
    status = load_kb().assess_cve("15.1.2176.9", "CVE-2099-0001")
    assert status.status is Status.UNKNOWN
    assert "not in the knowledge base" in status.reason


def test_assess_accepts_text_and_build_alike() -> None:
    kb = load_kb()
    assert kb.assess("15.01.2176.009") == kb.assess(parse_build("Version 15.1 (Build 2176.9)"))
