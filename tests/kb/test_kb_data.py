"""The packaged data, identify(), support status, loading newer data folders and their validation."""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from exaudit.kb import KbError, clear_cache, load_kb, parse_build
from exaudit.kb.knowledge import PACKAGED_DIR
from exaudit.model import Severity, Status


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(PACKAGED_DIR, folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --------------------------------------------------------------------------- identify


@pytest.mark.parametrize(
    ("build", "product", "cu", "su", "released", "known"),
    [
        ("15.1.2176.9", "2016", "CU19", "Mar21SU", date(2021, 3, 2), True),
        ("15.1.1847.12", "2016", "CU14", "Mar21SU", date(2021, 3, 2), True),
        ("15.1.2176", "2016", "CU19", None, None, True),
        ("15.1.2176.10", "2016", "CU19", None, None, False),
        ("15.2.2562.17", "SE", "RTM", None, date(2025, 7, 1), True),
        ("15.2.1544.14", "2019", "CU14", "Nov24SUv2", date(2024, 11, 27), True),
        ("15.2.1118.37", "2019", "CU12", "Aug23SUv2", date(2023, 8, 15), True),
        ("15.0.847.64", "2013", "SP1", "Mar21SU", date(2021, 3, 2), True),
        ("14.3.513.0", "2010", "SP3 RU32", None, date(2021, 3, 2), True),
        ("14.3.224.2", "2010", "SP3 RU8", "v2", date(2014, 12, 12), True),
        ("15.1.2600.1", "2016", None, None, None, False),
        ("15.2.2600", "SE", None, None, None, False),
    ],
)
def test_identify(build: str, product: str, cu: str | None, su: str | None, released: date | None, known: bool) -> None:
    info = load_kb().identify(parse_build(build))
    assert (info.product, info.cu, info.su, info.released, info.known) == (product, cu, su, released, known)
    assert str(info.build) == build


@pytest.mark.parametrize(
    ("product", "today", "expected"),
    [
        ("2010", date(2026, 1, 1), "out of support since 2020-10-13"),
        ("2010", date(2020, 1, 1), "supported until 2020-10-13"),
        ("2013", date(2026, 1, 1), "out of support since 2023-04-11"),
        ("2016", date(2026, 1, 1), "out of support since 2025-10-14"),
        ("2019", date(2025, 10, 14), "supported until 2025-10-14"),
        ("SE", date(2026, 1, 1), "supported"),
    ],
)
def test_support(product: str, today: date, expected: str) -> None:
    assert load_kb().support(product, today).startswith(expected)


def test_latest_cu_and_release_per_product() -> None:
    kb = load_kb()
    newest = {p: kb.newest_cu(p).name for p in ("2010", "2013", "2016", "2019", "SE")}  # type: ignore[union-attr]
    assert newest == {"2010": "SP3 RU32", "2013": "CU23", "2016": "CU23", "2019": "CU15", "SE": "RTM"}
    assert str(kb.latest_release("2013").build) == "15.0.1497.48"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- packaged data


def test_packaged_data_is_consistent() -> None:
    kb = load_kb()
    rows = kb.releases()
    assert len(rows) > 300
    # every March 2021 SU of an out-of-support CU is flagged non-cumulative, the supported CUs' ones are not
    march = {str(r.build): r.cumulative for r in rows if r.su == "Mar21SU"}
    assert march["15.1.1847.12"] is False and march["15.0.847.64"] is False and march["15.2.221.18"] is False
    assert march["15.1.2176.9"] is True and march["15.0.1497.12"] is True and march["15.2.792.10"] is True
    # unconfirmed facts are marked, not silently trusted
    assert any(not r.confirmed for r in rows)
    assert "Health Checker" in (kb.fixes("CVE-2021-26855", "2016").by_cu[(15, 1, 1415)].note)  # type: ignore[union-attr]


def test_cve_metadata() -> None:
    kb = load_kb()
    logon = kb.cve("cve-2021-26855")
    assert logon is not None
    assert (logon.name, logon.severity, logon.exploited, logon.published) == ("ProxyLogon", Severity.CRITICAL, True, date(2021, 3, 2))
    assert kb.cve("CVE-2024-21410").config  # type: ignore[union-attr]
    assert kb.cve("CVE-2021-26855").config == ""  # type: ignore[union-attr]
    assert "2010" in kb.cve("CVE-2021-26858").not_affected  # type: ignore[union-attr]


def test_load_is_cached_and_fast() -> None:
    assert load_kb() is load_kb()
    clear_cache()
    started = time.perf_counter()
    load_kb()
    assert time.perf_counter() - started < 5  # generous bound; the benchmark is not a unit test


# --------------------------------------------------------------------------- newer data folders


def test_kb_dir_argument_and_environment(data_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _edit(data_copy / "meta.csv", "date,2026-11-28", "date,2030-01-31")
    with (data_copy / "builds.csv").open("a", encoding="utf-8") as fh:
        fh.write("2016,CU24,,15.1.2600.1,2030-01-10,CU,KB9999999,yes,yes,test CU,test\n")
    explicit = load_kb(data_copy)
    assert explicit.data_date == "2030-01-31" and explicit.origin == "argument"
    assert explicit.identify(parse_build("15.1.2600.1")).cu == "CU24"
    assert load_kb().identify(parse_build("15.1.2600.1")).cu is None  # the packaged data is untouched
    monkeypatch.setenv("EXAUDIT_KB_DIR", str(data_copy))
    assert load_kb() is explicit  # same folder, loaded once


def test_newer_fix_row_changes_the_decision(data_copy: Path) -> None:
    with (data_copy / "builds.csv").open("a", encoding="utf-8") as fh:
        fh.write("2016,CU14,Mar30SU,15.1.1847.20,2030-03-12,SU,KB9999998,yes,no,hypothetical,test\n")
    with (data_copy / "fixes.csv").open("a", encoding="utf-8") as fh:
        fh.write("CVE-2021-26412,2016,CU14,su,15.1.1847.20,Mar30SU,KB9999998,,,no,hypothetical,test\n")
    kb = load_kb(data_copy)
    assert kb.assess_cve("15.1.1847.20", "CVE-2021-26412").status is Status.NOT_VULNERABLE
    assert kb.assess_cve("15.1.1847.12", "CVE-2021-26412").status is Status.VULNERABLE
    assert load_kb().assess_cve("15.1.1847.20", "CVE-2021-26412").status is Status.VULNERABLE


def test_meta_is_optional(data_copy: Path) -> None:
    (data_copy / "meta.csv").unlink()
    assert load_kb(data_copy).data_date == "2026-11-10"  # the newest release date


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("builds.csv", "15.1.2176.9,", "15.1.2176.x,", "builds.csv line"),
        ("builds.csv", "15.1.2176.9,", "15.1.2176,", "all four parts"),
        ("builds.csv", "2016,CU19,Mar21SU,15.1.2176.9,2021-03-02", "2016,CU19,Mar21SU,15.1.2176.9,2021-13-02", "not a date"),
        ("builds.csv", "2016,CU19,Mar21SU,15.1.2176.9", "2019,CU19,Mar21SU,15.1.2176.9", "belongs to Exchange 2016"),
        ("builds.csv", "2016,CU19,Mar21SU,15.1.2176.9", "2016,CU18,Mar21SU,15.1.2176.9", "its CU is CU19"),
        ("builds.csv", "2016,CU19,Mar21SU,15.1.2176.9", "2016,CU19,Mar21SU,15.1.2176.4", "listed twice"),
        (
            "builds.csv",
            "2016,CU19,Mar21SU,15.1.2176.9,2021-03-02,SU,KB5000871,yes",
            "2016,CU19,Mar21SU,15.1.2176.9,2021-03-02,SU,KB5000871,maybe",
            "not yes or no",
        ),
        ("builds.csv", "product,cu,su,build", "product,cu,su,version", "missing column(s) build"),
        ("cves.csv", "CVE-2021-26855,ProxyLogon", "CVE-2021-2685X,ProxyLogon", "not a CVE id"),
        ("cves.csv", ",critical,9.1,yes,2021-11-03,2021-03-02", ",severe,9.1,yes,2021-11-03,2021-03-02", "severity"),
        ("fixes.csv", "CVE-2020-0688,2016,CU14,su,15.1.1847.7", "CVE-2020-0688,2016,CU14,xx,15.1.1847.7", "not su or cu"),
        ("fixes.csv", "CVE-2020-0688,2016,CU14,su,15.1.1847.7", "CVE-2020-0688,2016,CU15,su,15.1.1847.7", "is not a build of 2016 CU15"),
        ("fixes.csv", "CVE-2020-0688,2016,CU14,su,15.1.1847.7", "CVE-2099-0688,2016,CU14,su,15.1.1847.7", "CVE not in cves.csv"),
        ("fixes.csv", "CVE-2020-0688,2016,CU14,su,15.1.1847.7", "CVE-2020-0688,2017,CU14,su,15.1.1847.7", "unknown product"),
        ("products.csv", "SE,Exchange Server Subscription Edition", "XX,Exchange Server Subscription Edition", "unknown product"),
    ],
)
def test_malformed_files_give_clear_errors(data_copy: Path, file: str, old: str, new: str, message: str) -> None:
    _edit(data_copy / file, old, new)
    with pytest.raises(KbError) as info:
        load_kb(data_copy)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_folder_or_file(tmp_path: Path, data_copy: Path) -> None:
    with pytest.raises(KbError, match="not found"):
        load_kb(tmp_path / "nowhere")
    (data_copy / "fixes.csv").unlink()
    with pytest.raises(KbError, match=r"missing fixes\.csv"):
        load_kb(data_copy)


def test_binary_file_is_an_error_not_a_traceback(data_copy: Path) -> None:
    (data_copy / "cves.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    with pytest.raises(KbError):
        load_kb(data_copy)


def test_bom_and_extra_columns_are_accepted(data_copy: Path) -> None:
    path = data_copy / "cves.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",extra"] + [line + ",x" for line in lines[1:]]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    assert len(load_kb(data_copy).cves()) == len(load_kb().cves())
