"""EVTX records per second through exaudit's parser and the rule engine, on the corpus' EVTX files read in place.

    python bench/bench_evtx.py [--corpus DIR] [--min-records 200000]

The corpus holds a few dozen small EVTX files (attack samples, some damaged on purpose). They are parsed again
and again (never copied) until ``--min-records`` records have gone through, in three stages timed in the same
run: the bare ``evtx`` package (``PyEvtxParser.records_json`` + ``json.loads``, the floor), exaudit's parser
(``parsers.evtx``: flat fields, UTC times, damage checks), and parser + detection (``RuleSet.match``).
Target (issue 7): >= 100,000 records/s through parsing and detection.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from exaudit.detect.engine import RuleSet
from exaudit.evidence.base import EvidenceFile
from exaudit.parsers import ParseStats, parser_for

REPO = Path(__file__).resolve().parents[1]


def corpus_files(corpus: Path) -> list[Path]:
    """Readable EVTX files of the corpus (the deliberately damaged ones under ``corrupt/`` are left out)."""
    return sorted(p for p in corpus.glob("evtx/*.evtx") if p.is_file() and p.stat().st_size > 4096)


def bare(path: Path) -> int:
    from evtx import PyEvtxParser

    count = 0
    for record in PyEvtxParser(str(path)).records_json():
        json.loads(record["data"])
        count += 1
    return count


def parsed(path: Path, rules: RuleSet | None = None) -> int:
    file = EvidenceFile(str(path), str(path), path.stat().st_size, None, partial(open, str(path), "rb"))
    count = 0
    with file.open() as stream:
        for record in parser_for("evtx")(stream, file.path, ParseStats()):
            count += 1
            if rules is not None:
                rules.match(record)
    return count


def rate(name: str, files: list[Path], one: Callable[[Path], int], minimum: int) -> float:
    records = 0
    start = time.perf_counter()
    while records < minimum:
        for path in files:
            records += one(path)
    seconds = time.perf_counter() - start
    per_second = records / seconds
    print(f"  {name:44s} {records:9d} records {seconds:7.2f} s {per_second:10.0f} records/s", flush=True)
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(os.environ.get("EXAUDIT_CORPUS", REPO.parent / "shared" / "corpus"))
    parser.add_argument("--corpus", type=Path, default=default)
    parser.add_argument("--min-records", type=int, default=200_000)
    args = parser.parse_args()
    files = corpus_files(args.corpus)
    if not files:
        raise SystemExit(f"no EVTX files under {args.corpus}/evtx (set --corpus or EXAUDIT_CORPUS)")
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} EVTX files, {size / 1e6:.1f} MB, read in place, repeated up to {args.min_records} records")
    rules = RuleSet()
    floor = rate("evtx package + json.loads (floor)", files, bare, args.min_records)
    parse = rate("exaudit parser", files, parsed, args.min_records)
    detect = rate("exaudit parser + rules", files, partial(parsed, rules=rules), args.min_records)
    print(f"\nparser / floor time ratio {floor / parse:.2f}; detection adds {100 * (parse / detect - 1):.0f}%")
    print(f"parsing + detection: {detect:,.0f} records/s (target >= 100,000)")


if __name__ == "__main__":
    main()
