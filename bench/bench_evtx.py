"""EVTX records per second through parsing and detection: bytes first (``hunt_evtx``) against the full parse.

    python bench/bench_evtx.py [--corpus DIR] [--min-records 200000] [--processes 2]

The corpus holds a few dozen small EVTX files (attack samples; the deliberately damaged ones under ``corrupt/``
are left out). They are read in place, again and again, until ``--min-records`` records have gone through each
contender, all timed in the same run:

* ``evtx`` + ``json.loads``: the package's ``records_json`` and a ``json.loads`` per record, the ceiling of any
  approach that decodes every record;
* reference: exaudit's parser (``parsers.evtx``: layout and CRC checks, flat fields, UTC times) + ``RuleSet.match``
  on every record, as ``hunt(reference=True)`` does;
* bytes first: ``hunt_evtx.scan_evtx`` (same checks; keywords searched in the raw JSON of each batch, only the
  candidates decoded and matched), the path ``hunt`` takes;
* both hunt paths again with the file's SHA-256, which ``hunt`` also takes (bytes first hashes during the layout
  check, the reference in a second read).

Each is timed on all files, and on the files holding at least 100 records (most corpus files hold a handful, so
fixed costs per file dominate there; a server's logs hold thousands of records per file). ``--processes 2``
adds the bytes-first path with the files spread over a process pool. Target (issue 7): >= 100,000 records/s
through parsing and detection.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from exaudit.evidence.base import EvidenceFile
from exaudit.hunt_evtx import hunt_file, scan_evtx
from exaudit.hunt_fast import FileTask, reference_scan

REPO = Path(__file__).resolve().parents[1]
BIG = 100  # records: a file at least this large is "big"


def corpus_files(corpus: Path) -> list[Path]:
    """Readable EVTX files of the corpus (the deliberately damaged ones under ``corrupt/`` are left out)."""
    return sorted(p for p in corpus.glob("evtx/*.evtx") if p.is_file() and p.stat().st_size > 4096)


def evidence(path: Path) -> EvidenceFile:
    return EvidenceFile(str(path), str(path), path.stat().st_size, None, partial(open, str(path), "rb"))


def bare(path: Path) -> int:
    from evtx import PyEvtxParser

    count = 0
    for record in PyEvtxParser(str(path)).records_json():
        if record is not None:
            json.loads(record["data"])
            count += 1
    return count


def _keep(record: object) -> bool:
    from exaudit.hunt_evtx import _packaged_rules

    return bool(_packaged_rules().match(record))


def reference(path: Path, hashed: bool = False) -> int:
    return reference_scan(evidence(path), "evtx", _keep, hash_file=hashed).stats.records


def fast(path: Path, hashed: bool = False) -> int:
    from exaudit.hunt_evtx import _packaged_gate

    gate = _packaged_gate("evtx")
    assert gate is not None
    return scan_evtx(evidence(path), "evtx", _keep, gate, hash_file=hashed).stats.records


def fast_hunt(path: Path) -> int:
    return hunt_file(FileTask(evidence(path), "evtx")).stats.records


def rate(name: str, files: list[Path], one: Callable[[Path], int], minimum: int, processes: int = 1) -> float:
    records = 0
    start = time.perf_counter()
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(one, files))  # start-up and imports are not what is measured
            start = time.perf_counter()
            while records < minimum:
                records += sum(pool.map(one, files, chunksize=4))
    else:
        while records < minimum:
            records += sum(one(path) for path in files)
    seconds = time.perf_counter() - start
    per_second = records / seconds
    print(f"  {name:50s} {records:9d} records {seconds:7.2f} s {per_second:10,.0f} records/s", flush=True)
    return per_second


def measure(title: str, files: list[Path], minimum: int, processes: int) -> float:
    size = sum(p.stat().st_size for p in files)
    print(f"\n{title}: {len(files)} files, {size / 1e6:.1f} MB, read in place, repeated up to {minimum} records")
    ceiling = rate("evtx + json.loads (ceiling of decoding every record)", files, bare, minimum)
    slow = rate("reference: parser + rules", files, reference, minimum)
    quick = rate("bytes first: hunt_evtx + rules", files, fast, minimum)
    slow_hashed = rate("reference + SHA-256 (hunt reference=True)", files, partial(reference, hashed=True), minimum)
    quick_hashed = rate("bytes first + SHA-256 (hunt)", files, fast_hunt, minimum)
    if processes > 1:
        rate(f"bytes first + SHA-256, {processes} processes", files, fast_hunt, minimum, processes)
    print(f"  bytes first / reference {quick / slow:.2f}x (with SHA-256 {quick_hashed / slow_hashed:.2f}x); ", end="")
    print(f"bytes first / ceiling {quick / ceiling:.2f}x")
    return quick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(os.environ.get("EXAUDIT_CORPUS", REPO.parent / "shared" / "corpus"))
    parser.add_argument("--corpus", type=Path, default=default)
    parser.add_argument("--min-records", type=int, default=200_000)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    files = corpus_files(args.corpus)
    if not files:
        raise SystemExit(f"no EVTX files under {args.corpus}/evtx (set --corpus or EXAUDIT_CORPUS)")
    big = [p for p in files if fast(p) >= BIG]
    every = measure("All readable corpus files", files, args.min_records, args.processes)
    large = measure(f"Files of at least {BIG} records", big, args.min_records, args.processes)
    print(f"\nparsing + detection, bytes first: {every:,.0f} records/s on all files, {large:,.0f} on the larger ones")
    print("(target >= 100,000 records/s)")


if __name__ == "__main__":
    main()
