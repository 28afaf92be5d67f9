"""The lab server: thousands of emulated endpoints on loopback addresses, served by one asyncio loop in a thread.

Each endpoint is one listening socket on its own 127.x.y.z address. HTTP/1.1 is parsed by hand (request line and
headers; keep-alive; pipelining; bodies skipped) so that per-request work stays a dictionary lookup plus a few
header lines (see serve_exchange.py). Every request is recorded; any method other than GET or HEAD is answered 405
and flagged, so a test can prove a scanner only sent the documented probes to in-scope addresses.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import random
import resource
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from exaudit.lab.serve_exchange import ABORT, REASONS, Answer, Site, location_for, moved_page, site_for
from exaudit.lab.serve_spec import ServerSpec
from exaudit.lab.tls import server_context

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
MAX_HEAD = 32 * 1024  # larger request heads get 431, as IIS refuses oversized headers
MAX_BODY = 1024 * 1024  # probes send no body; larger bodies are dropped and the connection closed
IDLE_TIMEOUT = 120.0  # IIS connectionTimeout default (seconds)
_ALLOWED = ("GET", "HEAD")
_LINGER_RST = struct.pack("ii", 1, 0)


class LabError(RuntimeError):
    """The lab cannot start: an address outside 127.0.0.0/8, an address/port already in use, no permission …"""


@dataclass(frozen=True)
class Endpoint:
    """Where one emulated server listens."""

    host: str
    port: int
    url: str
    spec: ServerSpec


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the lab received it. ``outcome``: answered, aborted (URL Rewrite rule), refused (405),
    silent (tarpit / hostile kinds), bad (unparsable request)."""

    address: str
    port: int
    client: str
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    status: int | None
    outcome: str
    flagged: bool = False
    time: float = field(default=0.0, compare=False)

    @property
    def path(self) -> str:
        """The request target without its query string."""
        return self.target.partition("?")[0]

    def header(self, name: str) -> str | None:
        """First value of a request header, case-insensitive."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


def loopback_addresses(first: str, count: int) -> list[str]:
    """``count`` consecutive IPv4 addresses from ``first``, skipping .0 and .255; all must be in 127.0.0.0/8."""
    try:
        start = ipaddress.IPv4Address(first)
    except ValueError as exc:
        raise LabError(f"not an IPv4 address: {first!r}") from exc
    result: list[str] = []
    current = start
    while len(result) < count:
        if current not in LOOPBACK:
            where = "is" if not result else f"would be needed for server {len(result) + 1} and is"
            raise LabError(f"address {current} {where} outside 127.0.0.0/8: the lab serves loopback addresses only")
        if int(current) & 0xFF not in (0, 255):
            result.append(str(current))
        current += 1
    return result


def raise_file_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``needed`` (bounded by the hard limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class _Clock:
    """The Date header, formatted once per second (per-request work stays tiny)."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode()
        return self._value


class _Runtime:
    """State shared by every connection of one lab: recording, live connections, the clock."""

    def __init__(self, record: bool, max_records: int) -> None:
        self.record_enabled = record
        self.max_records = max_records
        self.records: list[RecordedRequest] = []
        self.dropped_records = 0
        self.lock = threading.Lock()
        self.live: set[_Connection] = set()  # open transports (closed at stop)
        self.in_use: set[_Connection] = set()  # open and neither side closing: what the peaks count
        self.clock = _Clock()
        self.connections = 0
        self.per_address: dict[str, int] = {}  # open connections per endpoint address
        self.accepted: dict[str, int] = {}  # connections ever accepted per endpoint address
        self.peak_connections = 0  # most connections open at once (a scanner's --concurrency, seen from here)
        self.peak_addresses = 0  # most distinct addresses with an open connection at once (hosts in flight)

    def opened(self, connection: _Connection) -> None:
        self.live.add(connection)
        self.in_use.add(connection)
        self.connections += 1
        address = connection.endpoint.host
        self.per_address[address] = self.per_address.get(address, 0) + 1
        self.accepted[address] = self.accepted.get(address, 0) + 1
        self.peak_connections = max(self.peak_connections, len(self.in_use))
        self.peak_addresses = max(self.peak_addresses, len(self.per_address))

    def released(self, connection: _Connection) -> None:
        """Either side began to close: no longer in use (a TLS close can linger on its shutdown exchange)."""
        if connection not in self.in_use:
            return
        self.in_use.discard(connection)
        address = connection.endpoint.host
        left = self.per_address.get(address, 1) - 1
        if left > 0:
            self.per_address[address] = left
        else:
            self.per_address.pop(address, None)

    def record(self, item: RecordedRequest) -> None:
        if not self.record_enabled:
            return
        with self.lock:
            if len(self.records) < self.max_records:
                self.records.append(item)
            else:
                self.dropped_records += 1


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    keep_alive: bool
    index: dict[str, str] = field(default_factory=dict)  # lower-case name -> first value

    def header(self, name: str) -> str:
        return self.index.get(name, "")


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _parse_head(head: bytes) -> _Request:
    lines = head.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1]:
        raise _BadRequest(400)
    headers = []
    index: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(400)
        pair = (name.decode("latin-1"), value.strip().decode("latin-1"))
        headers.append(pair)
        index.setdefault(pair[0].lower(), pair[1])
    request = _Request(parts[0], parts[1], parts[2], tuple(headers), keep_alive=True, index=index)
    connection = request.header("connection").lower()
    request.keep_alive = "close" not in connection and (parts[2] == "HTTP/1.1" or "keep-alive" in connection)
    return request


class _Connection(asyncio.Protocol):
    """One client connection to one endpoint; behaviour by the endpoint's kind."""

    def __init__(self, runtime: _Runtime, endpoint: Endpoint, site: Site, fe_name: str) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.spec = endpoint.spec
        self.site = site
        self.fe_name = fe_name
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False  # a delayed answer or a stream is pending: later requests wait (pipelining order)
        self.closing = False
        self.paused = False
        self.last_activity = 0.0
        self.client = ""
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    # -- asyncio callbacks ----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.client = f"{peer[0]}:{peer[1]}"
        self.last_activity = self.loop.time()
        self.runtime.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
        self.runtime.released(self)
        self.runtime.live.discard(self)

    def eof_received(self) -> None:
        self.runtime.released(self)  # the client closed its side; the transport closes after this returns

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.loop.time()
        if self.spec.kind == "reset":
            self.reset()
            return
        if self.closing:
            return
        self.buffer += data
        self.pump()

    # -- request loop ---------------------------------------------------------------------------------------------

    def pump(self) -> None:
        while not self.busy and not self.closing:
            if self.spec.kind in _HTTP_KINDS and _cannot_be_http(self.buffer):
                self.reply_error(400, "tls" if self.buffer.lstrip(b"\r\n")[:1] == _TLS_HANDSHAKE else "bad")
                return
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.reply_error(431)
                return
            if end > MAX_HEAD:
                self.reply_error(431)
                return
            try:
                request = _parse_head(bytes(self.buffer[:end]))
            except _BadRequest as exc:
                self.reply_error(exc.status)
                return
            if not self.consume_body(request, end + 4):
                return  # wait for the rest of the body
            self.handle(request)

    def consume_body(self, request: _Request, head_end: int) -> bool:
        """Drop the request and its body from the buffer; False while the body is incomplete."""
        if "chunked" in request.header("transfer-encoding").lower():
            request.keep_alive = False  # we do not parse chunked bodies: answer, then close
            del self.buffer[:]
            return True
        try:
            length = int(request.header("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:  # not worth buffering: answer, then close
            request.keep_alive = False
            del self.buffer[:]
            return True
        if len(self.buffer) < head_end + length:
            return False
        del self.buffer[: head_end + length]
        return True

    def handle(self, request: _Request) -> None:
        kind = self.spec.kind
        if kind in _HTTP_KINDS:
            self.handle_http(request)
            return
        self.note(request, None, "silent")
        if kind == "garbage":
            self.send_garbage()
        elif kind == "endless":
            self.start_endless()
        elif kind == "slow_headers":
            self.start_drip()
        # tarpit: recorded, never answered

    def handle_http(self, request: _Request) -> None:
        if self.spec.kind == "exchange" and self.site.mitigation_aborts(request.target, request.header("cookie")):
            self.note(request, None, "aborted")
            self.later(self.reset)
            return
        if request.method not in _ALLOWED:
            self.note(request, 405, "refused", flagged=True)
            headers = (self.site.server_header, ("Allow", "GET, HEAD"), ("Content-Type", "text/html"))
            refusal = Answer(405, headers, b"Method Not Allowed", exchange=False)
            self.later(lambda: self.send(refusal, request))
            return
        if self.spec.kind == "redirect_loop":
            answer: Answer | str = self.loop_answer(request.target)
        else:
            answer = self.site.answer(request.target, request.header("cookie"))
        if answer == ABORT:
            self.note(request, None, "aborted")
            self.later(self.reset)
            return
        assert isinstance(answer, Answer)
        self.note(request, answer.status, "answered")
        self.later(lambda: self.send(answer, request))

    def loop_answer(self, target: str) -> Answer:
        """/owa/ → the logon page → /owa/ → …: a redirect cycle that looks like Exchange."""
        to_logon = target.lower().startswith("/owa/auth/logon.aspx")
        location = (
            "{scheme}://{host}/owa/" if to_logon else "{scheme}://{host}/owa/auth/logon.aspx?url={scheme}%3a%2f%2f{qhost}%2fowa%2f&reason=0"
        )
        headers = (("Cache-Control", "no-cache"), ("Content-Type", "text/html; charset=utf-8"), self.site.server_header)
        return Answer(302, headers, b"", location, moved_body=True)

    def later(self, action: object) -> None:
        """Run ``action`` now, or after the spec's delay (later pipelined requests wait their turn)."""
        assert callable(action)
        if self.spec.delay <= 0:
            action()
            return
        self.busy = True

        def run() -> None:
            self.busy = False
            if not self.closing:
                action()
                self.pump()

        self.timer = self.loop.call_later(self.spec.delay, run)

    def note(self, request: _Request, status: int | None, outcome: str, flagged: bool = False) -> None:
        self.runtime.record(
            RecordedRequest(
                address=self.endpoint.host, port=self.endpoint.port, client=self.client, method=request.method,
                target=request.target, version=request.version, headers=request.headers, status=status,
                outcome=outcome, flagged=flagged or request.method not in _ALLOWED, time=time.time(),
            )
        )  # fmt: skip

    # -- writing --------------------------------------------------------------------------------------------------

    def send(self, answer: Answer, request: _Request) -> None:
        if self.transport is None or self.closing:
            return
        host = request.header("host") or self.endpoint.host
        lines = [f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Unknown')}".encode()]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in answer.headers]
        body = answer.body
        if answer.location is not None:
            location = location_for(answer.location, host, self.endpoint.url.partition(":")[0])
            lines.append(b"Location: " + location.encode("latin-1"))
            if answer.moved_body:
                body = moved_page(html.escape(location))
        if answer.basic_realm:
            lines.append(f'WWW-Authenticate: Basic realm="{html.escape(host)}"'.encode("latin-1", "replace"))
        if answer.exchange and self.spec.kind == "exchange":
            lines.append(b"request-id: " + str(uuid.uuid4()).encode())
            if self.spec.version[0] == 15:
                lines.append(b"X-FEServer: " + self.fe_name.encode())
            if self.spec.owa_version_header:
                lines.append(b"X-OWA-Version: " + self.spec.build.encode())
        lines.append(b"Date: " + self.runtime.clock.date())
        lines.append(b"Content-Length: " + str(len(body)).encode())
        if not request.keep_alive:
            lines.append(b"Connection: close")
        payload = b"\r\n".join(lines) + b"\r\n\r\n"
        self.transport.write(payload if request.method == "HEAD" else payload + body)
        if not request.keep_alive:
            self.close()

    def reply_error(self, status: int, outcome: str = "bad") -> None:
        """A malformed or oversized request: answer the status and close, as IIS and nginx do.

        ``outcome`` ``tls`` is a TLS ClientHello on a plain-HTTP port (a scanner trying https first): recorded, not
        flagged. Real servers answer it at once because its first byte (0x16) cannot start a method name.
        """
        request = _Request("GET", "/", "HTTP/1.1", (), keep_alive=False)
        start = bytes(self.buffer[:200]).decode("latin-1")
        flagged = outcome != "tls"
        item = RecordedRequest(
            self.endpoint.host, self.endpoint.port, self.client, "", start, "", (), status, outcome, flagged, time.time()
        )
        self.runtime.record(item)
        del self.buffer[:]
        if self.spec.kind in _HTTP_KINDS:
            self.send(_error_answer(status, self.spec.kind == "plain" and self.spec.plain_server == "nginx"), request)
        else:
            self.close()

    def close(self) -> None:
        self.closing = True
        self.runtime.released(self)
        if self.transport is not None:
            self.transport.close()

    def reset(self) -> None:
        """Drop the connection with a TCP RST (IIS AbortRequest; the ``reset`` kind)."""
        self.closing = True
        self.runtime.released(self)
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            except OSError:
                pass  # already gone
        self.transport.abort()

    # -- hostile behaviours ---------------------------------------------------------------------------------------

    def send_garbage(self) -> None:
        """Bytes that are not HTTP (seeded by the address, so every run sends the same), then close."""
        if self.transport is None:
            return
        noise = random.Random(self.endpoint.host).randbytes(1024)
        self.transport.write(b"\x00\xff" + noise)
        self.close()

    def start_endless(self) -> None:
        if self.transport is None:
            return
        self.busy = True
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nServer: Microsoft-IIS/10.0\r\n"
        head += b"Date: " + self.runtime.clock.date() + b"\r\n\r\n"  # no length, not chunked: the body ends at close
        self.transport.write(head + b"<html><body>\n")
        self.endless_tick()

    def endless_tick(self) -> None:
        if self.closing or self.transport is None:
            return
        if not self.paused:
            self.transport.write(_ENDLESS_CHUNK)
        self.timer = self.loop.call_later(0.005, self.endless_tick)  # ~3 MB/s: endless, but not a CPU hog

    def start_drip(self) -> None:
        if self.transport is None:
            return
        self.busy = True
        self.transport.write(b"HTTP/1.1 200 OK\r\n")
        self.drip(0)

    def drip(self, index: int) -> None:
        if self.closing or self.transport is None:
            return
        self.transport.write(_DRIP[index % len(_DRIP) : index % len(_DRIP) + 1])
        self.timer = self.loop.call_later(self.spec.drip, self.drip, index + 1)


_HTTP_KINDS = ("exchange", "plain", "redirect_loop")
_TLS_HANDSHAKE = b"\x16"  # TLS record type "handshake": the first byte of every ClientHello
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _cannot_be_http(buffer: bytearray) -> bool:
    """The bytes so far cannot start a request line: the method must be a token (RFC 9110 §9.1, §5.6.2).

    Leading empty lines are allowed (RFC 9112 §2.2). HTTP.sys and nginx reject such input as soon as they see it.
    """
    data = buffer.lstrip(b"\r\n")
    method = data.split(b" ", 1)[0] if b" " in data else data
    return bool(data) and any(byte not in _TOKEN for byte in method[:32])


def _error_answer(status: int, nginx: bool) -> Answer:
    """The error page of HTTP.sys (in front of IIS) or nginx.

    The header sets are the usual ones of these servers; the exact bodies (HTTP.sys says "Bad Request - Invalid
    Verb" for a non-token method) are from memory, not from a captured response in our references.
    """
    reason = REASONS.get(status, "Error")
    if nginx:
        body = f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n"
        body += "<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
        return Answer(status, (("Server", "nginx/1.24.0"), ("Content-Type", "text/html")), body.encode(), exchange=False)
    headers = (("Content-Type", "text/html; charset=us-ascii"), ("Server", "Microsoft-HTTPAPI/2.0"))
    title = f"{reason} - Invalid Verb" if status == 400 else reason
    body = f'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n<HTML><HEAD><TITLE>{reason}</TITLE>\r\n'
    body += f'<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n<BODY><h2>{title}</h2>\r\n'
    body += f"<hr><p>HTTP Error {status}. The request verb is invalid.</p>\r\n</BODY></HTML>\r\n" if status == 400 else "</BODY></HTML>\r\n"
    return Answer(status, headers, body.encode(), exchange=False)


_ENDLESS_CHUNK = b"<p>" + b"exaudit lab endless body " * 640 + b"</p>\n"
_DRIP = b"".join(b"X-Slow-%04d: %s\r\n" % (n, b"a" * 40) for n in range(100))  # never the blank line


class Lab:
    """Emulated servers on consecutive loopback addresses, served from a background thread.

    >>> with Lab([ServerSpec(build="15.1.2176.2")], first_address="127.0.20.1", port=8443) as lab:  # doctest: +SKIP
    ...     lab.endpoints[0].url
    'https://127.0.20.1:8443'

    ``port=0`` gives every endpoint its own free port (handy for tests that run in parallel).
    """

    def __init__(
        self,
        specs: Iterable[ServerSpec],
        first_address: str = "127.0.10.1",
        port: int = 443,
        *,
        record: bool = True,
        max_records: int = 2_000_000,
        idle_timeout: float = IDLE_TIMEOUT,
        tls_dir: Path | None = None,
    ) -> None:
        self.specs = list(specs)
        if not self.specs:
            raise LabError("a lab needs at least one server")
        if not 0 <= port <= 65535:
            raise LabError(f"port out of range: {port}")
        self.addresses = loopback_addresses(first_address, len(self.specs))
        self.port = port
        self.idle_timeout = idle_timeout
        self.tls_dir = tls_dir
        self.endpoints: list[Endpoint] = []
        self._runtime = _Runtime(record, max_records)
        self._servers: list[asyncio.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # -- public API -----------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far (thread-safe)."""
        with self._runtime.lock:
            return list(self._runtime.records)

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted (also those that never sent a full request)."""
        return self._runtime.connections

    @property
    def peak_connections(self) -> int:
        """The most TCP connections in use at the same time (a scanner's concurrency, seen by the servers).

        A connection counts from its acceptance (after the TLS handshake on TLS endpoints) until either side starts
        to close it."""
        return self._runtime.peak_connections

    @property
    def peak_addresses(self) -> int:
        """The most distinct endpoint addresses that had an open connection at the same time (hosts in flight)."""
        return self._runtime.peak_addresses

    def open_connections(self) -> dict[str, int]:
        """Connections in use right now (open, neither side closing), per endpoint address (a snapshot)."""
        return dict(self._runtime.per_address)

    def accepted(self) -> dict[str, int]:
        """Connections accepted so far, per endpoint address (on TLS endpoints: those that completed the handshake)."""
        return dict(self._runtime.accepted)

    def clear_requests(self) -> None:
        with self._runtime.lock:
            self._runtime.records.clear()

    def endpoint(self, host: str) -> Endpoint:
        """The endpoint listening on ``host``."""
        for endpoint in self.endpoints:
            if endpoint.host == host:
                return endpoint
        raise KeyError(host)

    def start(self) -> Lab:
        """Bind every endpoint and serve from a background thread; raises LabError if any bind fails."""
        if self._thread is not None:
            return self
        raise_file_limit(2 * len(self.specs) + 4096)
        self._thread = threading.Thread(target=self._run, name="exaudit-lab", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            error = self._start_error
            raise error if isinstance(error, LabError) else LabError(str(error))
        return self

    def stop(self) -> None:
        """Close every listener and connection and end the thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None

    def serve_forever(self, duration: float | None = None) -> None:
        """Serve until ``duration`` seconds pass or Ctrl-C (KeyboardInterrupt), then stop."""
        self.start()
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the loop thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._start_error = exc
            loop.run_until_complete(self._close())
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        sweeper = loop.create_task(self._sweep_idle())
        try:
            loop.run_forever()
        finally:
            sweeper.cancel()
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        context = server_context(self.tls_dir) if any(spec.tls and spec.kind != "reset" for spec in self.specs) else None
        for index, (spec, address) in enumerate(zip(self.specs, self.addresses, strict=True)):
            sock = _listening_socket(address, self.port)
            port = sock.getsockname()[1]
            use_tls = spec.tls and spec.kind != "reset"  # reset: RST at the first byte, before any TLS
            endpoint = Endpoint(address, port, f"{'https' if use_tls else 'http'}://{address}:{port}", spec)
            site = site_for(spec.replace(server_name=None, delay=0.0)) if spec.server_name or spec.delay else site_for(spec)
            fe_name = spec.server_name or f"EX{index + 1:02d}"
            server = await loop.create_server(
                lambda e=endpoint, s=site, n=fe_name: _Connection(self._runtime, e, s, n),
                sock=sock,
                ssl=context if use_tls else None,
                ssl_handshake_timeout=30.0 if use_tls else None,
            )
            self._servers.append(server)
            self.endpoints.append(endpoint)

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._runtime.live):
            if connection.transport is not None:
                connection.transport.abort()
        await asyncio.sleep(0)
        self._servers.clear()

    async def _sweep_idle(self) -> None:
        """Close connections idle longer than the timeout (hostile kinds excepted: holding on is their point)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(10.0, self.idle_timeout))
            cutoff = loop.time() - self.idle_timeout
            for connection in list(self._runtime.live):
                idle = not connection.busy and connection.last_activity < cutoff
                if idle and connection.spec.kind in _HTTP_KINDS:
                    connection.close()


def _listening_socket(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise LabError(f"cannot listen on {address}:{port}: {exc.strerror or exc}") from exc
    return sock


__all__ = ["Endpoint", "Lab", "LabError", "RecordedRequest", "loopback_addresses"]
