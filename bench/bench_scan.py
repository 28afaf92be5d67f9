"""Benchmark: ``exaudit scan`` against a lab farm of loopback hosts, versus a straightforward baseline.

The lab farm (``exaudit.lab.farm_specs``: ~88 % Exchange of every product, ~8 % plain sites, ~4 % hostile hosts)
runs in a separate process. The scanner (asyncio + aiohttp) scans every host; then a baseline — a pool of 32
threads, each doing the same requests sequentially per host with ``http.client`` (one kept-alive connection per
host, the same timeouts and body cap) — scans the same farm. Both are checked against the farm's truth (product,
build, precision; an error for each hostile host; probe outcomes with ``--probes``). Prints wall times, their ratio
and the scanner's peak RSS.

    python bench/bench_scan.py                 # 2,000 hosts
    python bench/bench_scan.py --delay 0.2     # every lab response 200 ms late (a WAN)
    python bench/bench_scan.py --hosts 300 --probes
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import http.client
import multiprocessing
import resource
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from exaudit.lab import Lab, ServerSpec, farm_specs
from exaudit.model import Precision, ScanResult
from exaudit.scan import scan_iter
from exaudit.scan.engine import MAX_VERSIONED_FOLDERS, VERSIONED_BUDGET
from exaudit.scan.exposure import known_builds_of_cu
from exaudit.scan.fingerprint import (
    AUTODISCOVER_PATH,
    EWS_PATH,
    EXPORTTOOL_PATH,
    OWA_PATH,
    Observation,
    clues_from,
    merge,
    versioned_exporttool_path,
)
from exaudit.scan.http import MAX_BODY, USER_AGENT
from exaudit.scan.probes import EEMS_CONTROL_PATH, EEMS_TEST_PATH, NMAP_26855_COOKIE, NMAP_26855_PATH

FIRST_ADDRESS = "127.1.0.1"
PORT = 18443


# --------------------------------------------------------------------------- the lab process


def serve_farm(specs: list[ServerSpec], ready: Any, stop: Any) -> None:
    with Lab(specs, first_address=FIRST_ADDRESS, port=PORT, record=False):
        ready.set()
        stop.wait()


# --------------------------------------------------------------------------- truth


def expected(spec: ServerSpec) -> dict[str, Any]:
    if spec.kind == "plain":
        return {"exchange": False, "error": False}
    if spec.kind != "exchange":
        return {"exchange": False, "error": True}
    legacy = spec.version[0] == 14
    exact = legacy or bool(spec.owa_version_header) or spec.exporttool
    truth: dict[str, Any] = {
        "exchange": True,
        "error": False,
        "build": spec.build if exact else spec.owa_path_version,
        "precision": Precision.EXACT if exact else Precision.CU,
        "product": spec.product.removeprefix("Exchange "),
    }
    truth["proxylogon"] = "aborted" if spec.eomt else spec.proxylogon.replace("patched", "not_vulnerable")  # type: ignore[union-attr]
    truth["eems"] = "mitigated" if spec.eems else "not_mitigated"
    return truth


def mismatches(results: list[ScanResult], truth: dict[str, dict[str, Any]], probes: bool) -> list[str]:
    wrong = []
    got = {r.target: r for r in results}
    for target, want in truth.items():
        result = got.get(target)
        if result is None:
            wrong.append(f"{target}: no result")
            continue
        seen: dict[str, Any] = {"exchange": result.exchange, "error": result.error is not None}
        if want["exchange"]:
            seen.update(build=result.build, precision=result.build_precision, product=result.product)
            if probes:
                outcomes = {p["name"]: p["outcome"] for p in result.probes}
                seen.update(proxylogon=outcomes.get("proxylogon"), eems=outcomes.get("eems"))
        wanted = {k: v for k, v in want.items() if k in seen}
        if seen != wanted:
            wrong.append(f"{target}: expected {wanted}, got {seen} ({result.error})")
    return wrong


# --------------------------------------------------------------------------- baseline


class BaselineHost:
    """The same requests as the scanner, sequentially, with http.client and one kept-alive connection."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.scheme = "https"
        self.killed = False
        self.conn: http.client.HTTPConnection | None = None
        self.context = ssl._create_unverified_context()  # the baseline does not verify either

    def connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            if self.scheme == "https":
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def get(self, path: str, cookie: str | None = None) -> Observation:
        conn = self.connect()
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        if cookie:
            headers["Cookie"] = cookie
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read(MAX_BODY)
            if not response.isclosed():
                if response.read(1):
                    self.close()  # endless body: stop reading
            headers = {k.lower(): v for k, v in response.getheaders()}
            result = Observation(path, response.status, headers, body, response.getheader("Location"))
            if response.will_close:
                self.close()
            return result
        except BaseException:
            self.close()
            raise


def baseline_one(host: str, port: int, timeout: float, probes: bool) -> ScanResult:
    result = ScanResult(target=f"{host}:{port}")
    client = BaselineHost(host, port, timeout)
    watchdog = threading.Timer(4 * timeout, lambda: _kill(client))  # the same per-host bound as the scanner
    watchdog.start()
    try:
        _baseline_converse(client, result, probes)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        watchdog.cancel()
        client.close()
    if client.killed:
        result.error = "per-host time bound exceeded"
    return result


def _kill(client: BaselineHost) -> None:
    client.killed = True
    conn = client.conn
    if conn is not None and conn.sock is not None:
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _baseline_converse(client: BaselineHost, result: ScanResult, probes: bool) -> None:
    try:
        first = client.get(OWA_PATH)
    except ssl.SSLError:
        client.scheme = "http"
        first = client.get(OWA_PATH)
    except TimeoutError:
        if not _tcp_accepts(client.host, client.port):
            raise
        client.scheme = "http"
        first = client.get(OWA_PATH)
    result.reachable = True
    clues = clues_from(first)
    location = first.location or ""
    if merge(clues).precision is not Precision.EXACT and first.status in (301, 302) and "/owa/auth/logon.aspx" in location.lower():
        clues += _quiet(client, EXPORTTOOL_PATH)
    if merge(clues).precision is not Precision.EXACT and not _baseline_follow(client, first, clues):
        result.error = "redirect loop"
        return
    if len(first.body) >= MAX_BODY:
        result.error = "body too large"
    if not merge(clues).exchange:
        clues += _quiet(client, EWS_PATH)
    for path in (EXPORTTOOL_PATH, EWS_PATH, AUTODISCOVER_PATH):
        fp = merge(clues)
        if not fp.exchange or fp.precision is Precision.EXACT:
            break
        if path == EXPORTTOOL_PATH and fp.product != "2010":
            deadline = time.monotonic() + VERSIONED_BUDGET * client.timeout  # the scanner's budget for this search
            for build in known_builds_of_cu(fp.build)[:MAX_VERSIONED_FOLDERS] if fp.precision is Precision.CU and fp.build else ():
                clues += _quiet(client, versioned_exporttool_path(build))
                if merge(clues).precision is Precision.EXACT or time.monotonic() > deadline:
                    break
        elif path != EXPORTTOOL_PATH:
            clues += _quiet(client, path)
    fp = merge(clues)
    if fp.exchange:
        result.exchange, result.build, result.build_precision, result.product = True, fp.build, fp.precision, fp.product
        if probes:
            result.probes = _baseline_probes(client)


def _baseline_follow(client: BaselineHost, first: Observation, clues: list[Any]) -> bool:
    """Follow redirects that stay under /owa/; False for a loop that never shows Exchange."""
    observation = first
    for _ in range(6):
        location = observation.location or ""
        if observation.status not in (301, 302) or "/owa/" not in location:
            return True
        try:
            observation = client.get(location[location.index("/owa/") :])
        except (OSError, http.client.HTTPException):
            return True
        clues += clues_from(observation)
    return merge(clues).exchange


def _quiet(client: BaselineHost, path: str) -> list[Any]:
    try:
        return clues_from(client.get(path))
    except (OSError, http.client.HTTPException):
        return []


def _baseline_probes(client: BaselineHost) -> list[dict[str, Any]]:
    def outcome(path: str, cookie: str | None) -> Observation | None:
        try:
            return client.get(path, cookie)
        except (OSError, http.client.HTTPException):
            return None

    test = outcome(NMAP_26855_PATH, NMAP_26855_COOKIE)
    if test is None:
        proxylogon = "aborted"
    else:
        proxylogon = "vulnerable" if "localhost" in test.headers.get("x-calculatedbetarget", "") else "not_vulnerable"
    control = outcome(EEMS_CONTROL_PATH, None)
    eems = "mitigated" if outcome(EEMS_TEST_PATH, None) is None and control is not None else "not_mitigated"
    return [{"name": "proxylogon", "outcome": proxylogon}, {"name": "eems", "outcome": eems}]


def _tcp_accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def run_baseline(targets: list[str], timeout: float, probes: bool) -> list[ScanResult]:
    with ThreadPoolExecutor(max_workers=32) as pool:
        jobs = [pool.submit(baseline_one, t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1]), timeout, probes) for t in targets]
        return [job.result() for job in jobs]


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added by the lab to every response")
    parser.add_argument("--timeout", type=float, default=2.0, help="per request, scanner and baseline alike")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--probes", action="store_true", help="also run every probe (and check its outcome)")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    specs = [dataclasses.replace(s, delay=args.delay) if args.delay else s for s in farm_specs(args.hosts, seed=args.seed)]
    context = multiprocessing.get_context("fork")
    ready, stop = context.Event(), context.Event()
    lab = context.Process(target=serve_farm, args=(specs, ready, stop), daemon=True)
    started = time.perf_counter()
    lab.start()
    if not ready.wait(120):
        print("lab did not start", file=sys.stderr)
        return 3
    print(f"lab: {len(specs)} hosts on {FIRST_ADDRESS}…:{PORT} started in {time.perf_counter() - started:.1f} s (delay {args.delay:g} s)")
    try:
        return _compare(specs, args)
    finally:
        stop.set()
        lab.join(10)


async def timed_scan(targets: list[str], probes: tuple[str, ...], args: argparse.Namespace) -> tuple[list[ScanResult], list[float]]:
    results, finished = [], []
    async for result in scan_iter(targets, probes=probes, concurrency=args.concurrency, timeout=args.timeout):
        results.append(result)
        finished.append(time.perf_counter())
    return results, finished


def _compare(specs: list[ServerSpec], args: argparse.Namespace) -> int:
    from exaudit.lab import loopback_addresses

    addresses = loopback_addresses(FIRST_ADDRESS, len(specs))
    targets = [f"{a}:{PORT}" for a in addresses]
    truth = {t: expected(s) for t, s in zip(targets, specs, strict=True)}
    probes = ("all",) if args.probes else ()

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    results, finished = asyncio.run(timed_scan(targets, probes, args))
    scanner_time = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    finished.sort()
    print(f"exaudit scan : 95 % of hosts done after {finished[int(len(finished) * 0.95) - 1] - started:.2f} s; "
          f"scanner CPU {cpu:.1f} s ({cpu / scanner_time:.0%} of one core)")  # fmt: skip
    wrong = mismatches(results, truth, args.probes)
    exchange = sum(1 for r in results if r.exchange)
    print(f"exaudit scan : {len(results)} hosts ({exchange} Exchange) in {scanner_time:.2f} s, "
          f"{len(results) / scanner_time:.0f} hosts/s, peak RSS {peak_mb:.0f} MB, {len(wrong)} wrong")  # fmt: skip
    for line in wrong[:10]:
        print("  WRONG", line)
    if args.no_baseline:
        return 0 if not wrong else 1

    started = time.perf_counter()
    base = run_baseline(targets, args.timeout, args.probes)
    baseline_time = time.perf_counter() - started
    base_wrong = mismatches(base, truth, args.probes)
    print(f"baseline     : 32 threads x http.client in {baseline_time:.2f} s, {len(base_wrong)} wrong")
    for line in base_wrong[:5]:
        print("  baseline WRONG", line)
    print(f"speed-up     : {baseline_time / scanner_time:.1f}x (baseline time / exaudit time, same run)")
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
