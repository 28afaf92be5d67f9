"""Parse speed of the IIS and HttpProxy parsers on generated logs (default 100 MB each).

Prints MB/s and the ratio to a baseline timed in the same run: a bare ``readline`` + ``split``
loop over the same file (the floor any line parser in Python pays).

    python bench/bench_parsers.py [--mb 100]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from exaudit.parsers import ParseStats, parser_for
from exaudit.parsers.exchange_csv import HTTPPROXY_FIELDS

IIS_HEADER = (
    "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    "sc-status sc-substatus sc-win32-status time-taken\r\n"
)
STEMS = ["/owa/", "/mapi/emsmdb/", "/EWS/Exchange.asmx", "/Microsoft-Server-ActiveSync/default.eas", "/autodiscover/autodiscover.xml"]


def iis_line(rng: random.Random, second: int) -> str:
    stem = rng.choice(STEMS)
    return (
        f"2021-03-03 {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d} 10.0.0.11 POST {stem} "
        f"&CorrelationID=<empty>;&cafeReqId={rng.getrandbits(64):016x}; 443 CORP\\user{rng.randrange(500)} "
        f"10.1.{rng.randrange(255)}.{rng.randrange(255)} Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.5404;+Pro) - "
        f"200 0 0 {rng.randrange(900)}\r\n"
    )


def httpproxy_line(rng: random.Random, second: int) -> str:
    values = [""] * len(HTTPPROXY_FIELDS)
    values[0] = f"2021-03-03T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}.123Z"
    values[1] = f"{rng.getrandbits(128):032x}"
    values[2:6] = ["15", "1", "2176", "2"]
    values[7:10] = ["Mapi", "mail.corp.example", "/mapi/emsmdb/"]
    values[11:17] = [
        "Negotiate",
        "true",
        f"CORP\\user{rng.randrange(500)}",
        "corp.example",
        f"Sid~S-1-5-21-{rng.randrange(10**9)}",
        "MapiHttpClient",
    ]
    values[17:21] = [f"10.1.{rng.randrange(255)}.{rng.randrange(255)}", "EX01", "200", "200"]
    values[-6] = "BeginRequest=2021-03-03T01:00:00.000Z;CorrelationID=<empty>;ProxyState-Run=None;"
    return ",".join(values) + "\r\n"


def generate(path: Path, header: str, make: object, megabytes: int) -> None:
    rng = random.Random(7)
    target = megabytes << 20
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(header)
        written, second = len(header), 0
        while written < target:
            block = "".join(make(rng, (second + i) // 8) for i in range(2000))  # ~8 requests a second  # type: ignore[operator]
            out.write(block)
            written += len(block)
            second += 2000


def baseline(path: Path, separator: str) -> float:
    start = time.perf_counter()
    with path.open("rb") as stream:
        for line in stream:
            line.decode("utf-8", "replace").split(separator)
    return time.perf_counter() - start


def parse(path: Path, artifact: str) -> tuple[float, int]:
    stats = ParseStats()
    start = time.perf_counter()
    with path.open("rb") as stream:
        for _ in parser_for(artifact)(stream, str(path), stats):
            pass
    return time.perf_counter() - start, stats.records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for artifact, header, make in (
            ("iis", IIS_HEADER, iis_line),
            ("httpproxy", "#Log-type: HttpProxy Logs\r\n#Fields: " + ",".join(HTTPPROXY_FIELDS) + "\r\n", httpproxy_line),
        ):
            path = Path(folder) / f"{artifact}.log"
            generate(path, header, make, args.mb)
            size = path.stat().st_size / (1 << 20)
            floor = baseline(path, " " if artifact == "iis" else ",")
            took, records = parse(path, artifact)
            print(
                f"{artifact:10} {size:6.0f} MB  {records:9d} records  {size / took:6.1f} MB/s  "
                f"baseline {size / floor:6.1f} MB/s  ratio {took / floor:4.2f}x baseline time"
            )


if __name__ == "__main__":
    main()
