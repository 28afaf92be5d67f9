"""Benchmark ``exaudit webshells`` against the ``yara`` command line on the same tree, in the same run.

Generates a temporary tree of a few thousand files of mixed sizes (server pages, scripts, a few large
binaries, some web shells written here), then times:

* exaudit: ``scan_files`` over the tree with ``all_files=True`` (YARA + hashing + Exchange checks + IOCs);
* yara CLI: ``yara -r -p <cores>`` with the project's own rule files (Debian package ``yara``).

Prints files/s and MB/s for both and the ratio. The comparison is skipped with a clear message when the
``yara`` command is absent. Usage: ``python bench/bench_webshells.py [--files 3000]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from exaudit.detect.webshell import scan_files, walk_folder
from exaudit.detect.webshell_rules import RULES_DIR, rule_files

SHELL_LINES = [
    b'<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>',
    b'<% If Request("x") <> "" Then Execute Request("x") %>',
    b'<%if (Request.Files.Count!=0) { Request.Files[0].SaveAs(Server.MapPath(Request["f"])); }%>',
]
PAGE = (
    b'<%@ Page Language="C#" AutoEventWireup="true" %>\n<script runat="server">\n'
    b'protected void Page_Load(object sender, EventArgs e) { title.Text = "Report " + DateTime.UtcNow.ToString("u"); }\n'
    b'</script>\n<html><body><h1 id="title" runat="server"></h1>\n'
)


def make_tree(root: Path, count: int, seed: int = 7) -> tuple[int, int]:
    """Write ``count`` files; return (files, bytes)."""
    rng = random.Random(seed)
    total = 0
    for i in range(count):
        folder = root / f"site{i % 17}" / f"dir{i % 53}"
        folder.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        if roll < 0.01:
            name, data = f"s{i}.aspx", rng.choice(SHELL_LINES)
        elif roll < 0.70:
            body = b"<p>" + bytes(rng.choice(b"abcdefghij klmnop") for _ in range(rng.randint(200, 20_000))) + b"</p>\n"
            name, data = f"p{i}.aspx", PAGE + body + b"</body></html>\n"
        elif roll < 0.97:
            name, data = f"a{i}.js", b"var x = 1;\n" * rng.randint(10, 4_000)
        else:
            name, data = f"b{i}.bin", rng.randbytes(rng.randint(1, 6) * 1024 * 1024)
        (folder / name).write_bytes(data)
        total += len(data)
    return count, total


def time_exaudit(root: Path) -> float:
    errors: list = []
    start = time.perf_counter()
    result = scan_files(list(walk_folder(root, errors)), "bench", all_files=True)
    elapsed = time.perf_counter() - start
    print(f"  exaudit: {len(result.findings)} findings, {len(result.errors) + len(errors)} errors")
    return elapsed


def time_yara_cli(root: Path, yara: str) -> float:
    rules = [f"{ns}:{path}" for ns, path in rule_files(RULES_DIR).items()]
    cmd = [yara, "-r", "-p", str(os.cpu_count() or 1), "-w", *rules, str(root)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        print(f"  yara CLI exited {done.returncode}: {done.stderr.decode(errors='replace')[:300]}")
    hits = len({line.split(b" ", 1)[1] for line in done.stdout.splitlines() if b" " in line})
    print(f"  yara CLI: {hits} files with a rule hit")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="exaudit-bench-") as tmp:
        root = Path(tmp)
        files, size = make_tree(root, args.files)
        mb = size / 1e6
        print(f"tree: {files} files, {mb:.1f} MB")
        ours = time_exaudit(root)
        print(f"exaudit webshells: {ours:.2f} s  {files / ours:,.0f} files/s  {mb / ours:,.1f} MB/s")
        yara = shutil.which("yara")
        if yara is None:
            print("yara command line not found (Debian: apt-get install yara): comparison skipped")
            return
        theirs = time_yara_cli(root, yara)
        print(f"yara CLI (same rules): {theirs:.2f} s  {files / theirs:,.0f} files/s  {mb / theirs:,.1f} MB/s")
        print(f"ratio exaudit/yara time: {ours / theirs:.2f}x (above 1 = exaudit slower; it also hashes every file)")


if __name__ == "__main__":
    main()
