"""Server paths from collection layouts: pure functions, so every variant is cheap to pin."""

from __future__ import annotations

import pytest

from exaudit.evidence.paths import anchored_path, drive_letter, is_anchor_name, velociraptor_path

EXCHANGE = "C:\\Program Files\\Microsoft\\Exchange Server\\V15"


@pytest.mark.parametrize(
    ("name", "letter"),
    [("C", "C"), ("d", "D"), ("C:", "C"), ("C%3A", "C"), ("c%3a", "C"), ("%5C%5C.%5CC%3A", "C"), ("\\\\.\\E:", "E"), ("\\\\?\\C:", "C")],
)
def test_drive_letters(name: str, letter: str) -> None:
    assert drive_letter(name) == letter


@pytest.mark.parametrize("name", ["CC", "C_", "Users", "", "1", "C%3A%5C"])
def test_not_drive_letters(name: str) -> None:
    assert drive_letter(name) is None


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("uploads", "auto", "C%3A", "Windows", "a.evtx"), "C:\\Windows\\a.evtx"),
        (("uploads", "ntfs", "%5C%5C.%5CD%3A", "x", "%2Ehidden"), "D:\\x\\.hidden"),
        (("uploads", "mft", "C%3A", "$Extend", "$UsnJrnl%3A$J"), "C:\\$Extend\\$UsnJrnl:$J"),
        (("uploads", "C%3A", "inetpub", "a%25b.log"), "C:\\inetpub\\a%b.log"),
        (
            ("uploads", "ntfs_vss", "%5C%5C%3F%5CGLOBALROOT%5CDevice%5CHarddiskVolumeShadowCopy1", "Windows", "x"),
            "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1\\Windows\\x",
        ),
        (("results", "Generic.Client.Info.json"), None),
    ],
)
def test_velociraptor_paths(parts: tuple[str, ...], expected: str | None) -> None:
    assert velociraptor_path(parts) == expected


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        (["EX01", "V15", "Logging", "ECP", "Server", "a.LOG"], f"{EXCHANGE}\\Logging\\ECP\\Server\\a.LOG"),
        (
            ["Logging", "CmdletInfra", "LocalPowerShell", "Cmdlet", "a.LOG"],
            f"{EXCHANGE}\\Logging\\CmdletInfra\\LocalPowerShell\\Cmdlet\\a.LOG",
        ),
        (["x", "FrontEnd", "HttpProxy", "owa", "auth", "s.aspx"], f"{EXCHANGE}\\FrontEnd\\HttpProxy\\owa\\auth\\s.aspx"),
        (["x", "HttpProxy", "Mapi", "a.LOG"], f"{EXCHANGE}\\Logging\\HttpProxy\\Mapi\\a.LOG"),
        (["ECP", "Activity", "a.LOG"], f"{EXCHANGE}\\Logging\\ECP\\Activity\\a.LOG"),
        (["case", "W3SVC2", "u_ex1.log"], "C:\\inetpub\\logs\\LogFiles\\W3SVC2\\u_ex1.log"),
        (["case", "inetpub", "wwwroot", "aspnet_client", "a.aspx"], "C:\\inetpub\\wwwroot\\aspnet_client\\a.aspx"),
        (["case", "winevt", "Logs", "Security.evtx"], "C:\\Windows\\System32\\winevt\\Logs\\Security.evtx"),
        (["case", "ecp", "web.config"], None),  # the ECP web folder is not the ECP log folder
        (["case", "notes.log"], None),
    ],
)
def test_anchored_paths(chain: list[str], expected: str | None) -> None:
    assert anchored_path(chain) == expected


def test_anchor_names_are_not_hostnames() -> None:
    assert all(is_anchor_name(n) for n in ("V15", "Logging", "HttpProxy", "W3SVC1", "Exchange Server", "inetpub"))
    assert not any(is_anchor_name(n) for n in ("EX01", "mail-fe-2", "case42"))
