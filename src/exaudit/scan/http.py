"""One bounded HTTP GET/HEAD: the only way the scanner talks to a target.

Every request has a total time bound, reads at most ``MAX_BODY`` bytes, never follows redirects by itself
(the caller follows same-origin redirects on purpose), sends no cookies it was given by the server, and does
not verify TLS certificates (Exchange front ends usually have self-signed or internal-CA certificates; the
scan reports what the server says, not who it is — docs/scan.md says so). Failures become a ``FetchError``
whose ``kind`` the engine turns into a per-target error or a probe outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import ResolveResult
from yarl import URL

from exaudit import __version__
from exaudit.scan.fingerprint import Observation
from exaudit.scan.targets import IPNetwork

MAX_BODY = 256 * 1024  # the OWA logon page is ~20-60 KB; anything endless is cut here
USER_AGENT = f"exaudit/{__version__} (Exchange exposure scan; +https://github.com/exaudit/exaudit)"
ALLOWED_METHODS = ("GET", "HEAD")


class FetchError(Exception):
    """A request that produced no usable HTTP response.

    ``kind``: refused | unreachable | connect_timeout | timeout | tls | aborted | not_http | error.
    ``aborted`` means the connection was closed or reset after the request was sent with no response —
    what an IIS URL Rewrite ``AbortRequest`` rule does.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Pacer:
    """A global request rate bound (requests per second; 0 = unbounded)."""

    rate: float = 0.0
    _next: float = 0.0

    async def wait(self) -> float:
        """Sleep until this request's slot; return the seconds slept (not counted against any time bound)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            await asyncio.sleep(slot - now)
        return slot - now


def insecure_ssl_context() -> ssl.SSLContext:
    """No certificate or host name verification: see the module docstring."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class ScopedResolver(aiohttp.ThreadedResolver):
    """Resolves host names at connect time and keeps only addresses inside the scope.

    The scope is checked before the scan too; this closes the gap of a DNS answer that changes in between.
    """

    def __init__(self, scope: Sequence[IPNetwork]) -> None:
        super().__init__()
        self.scope = list(scope)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        allowed = [r for r in await super().resolve(host, port, family) if self._inside(r["host"])]
        if not allowed:
            raise OSError(errno.EACCES, f"{host} resolves only to addresses outside the scope")
        return allowed

    def _inside(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%")[0])
        return any(ip in network for network in self.scope)


def new_session(ssl_context: ssl.SSLContext, timeout: float, scope: Sequence[IPNetwork] | None = None) -> aiohttp.ClientSession:
    """One small session per host: its sockets close with it, so a /16 sweep never piles up idle connections."""
    resolver = ScopedResolver(scope) if scope else None
    connector = aiohttp.TCPConnector(ssl=ssl_context, limit=2, resolver=resolver)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        # connect (TCP + TLS) times out first, deterministically, so the engine can tell "nothing there" from a tarpit
        timeout=aiohttp.ClientTimeout(total=timeout * 1.1 + 0.05, connect=timeout, sock_connect=timeout),
        headers={"User-Agent": USER_AGENT},
        auto_decompress=True,
    )


async def fetch(
    session: aiohttp.ClientSession,
    base: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    max_body: int = MAX_BODY,
) -> tuple[Observation, bool]:
    """``(observation, truncated)`` for ``base + path``; raises ``FetchError``."""
    if method not in ALLOWED_METHODS:  # the scanner's promise: it never sends anything else
        raise ValueError(f"method {method} is not allowed")
    url = URL(base + path, encoded=True)
    try:
        async with session.request(method, url, headers=headers, allow_redirects=False) as response:
            body, truncated = await _read_capped(response, max_body)
            lowered = {k.lower(): v for k, v in response.headers.items()}
            observation = Observation(path, response.status, lowered, body, response.headers.get("Location"))
            if truncated:
                response.close()  # do not drain an endless body
            return observation, truncated
    except FetchError:
        raise
    except Exception as exc:  # aiohttp has many exception types; classify them all, never a traceback
        raise classify(exc) from exc


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await response.content.read(65536)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit], True


async def tcp_accepts(host: str, port: int, timeout: float) -> bool:
    """Whether a plain TCP connection opens: tells a TLS-stage tarpit from a filtered port."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(timeout):
            await writer.wait_closed()  # closed before the next attempt opens: at most two connections per host
    return True


def classify(exc: BaseException) -> FetchError:
    """Turn any client-side failure into a ``FetchError`` with a short, clear message."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FetchError("connect_timeout", "connection timed out")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return FetchError("timeout", "no complete response in time (tarpit or slow server)")
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return FetchError("tls", f"TLS handshake failed: {_reason(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connect_error(exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FetchError("aborted", "server closed the connection without a response")
    if isinstance(exc, aiohttp.ClientResponseError):
        message = getattr(exc, "message", "") or _reason(exc)
        return FetchError("not_http", f"not a valid HTTP response ({str(message).splitlines()[0][:80]})")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError("aborted", "connection closed in the middle of the response body")
    if isinstance(exc, (aiohttp.ClientOSError, ConnectionError)):
        if _errno(exc) in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED) or isinstance(exc, ConnectionResetError):
            return FetchError("aborted", "connection reset by the server")
        return FetchError("error", f"network error: {_reason(exc)}")
    if isinstance(exc, aiohttp.ClientError):
        return FetchError("error", f"HTTP client error: {_reason(exc)}")
    return FetchError("error", f"{type(exc).__name__}: {_reason(exc)}")


def _connect_error(exc: aiohttp.ClientConnectorError) -> FetchError:
    code = exc.os_error.errno if exc.os_error else None
    if isinstance(exc.os_error, ssl.SSLError):
        return FetchError("tls", f"TLS handshake failed: {_reason(exc.os_error)}")
    if code == errno.ECONNREFUSED:
        return FetchError("refused", "connection refused")
    if code in (errno.ECONNRESET, errno.EPIPE):
        return FetchError("aborted", "connection reset during connect")
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        return FetchError("unreachable", f"host unreachable: {_reason(exc.os_error)}")
    if isinstance(exc.os_error, (asyncio.TimeoutError, TimeoutError)):
        return FetchError("connect_timeout", "connection timed out")
    return FetchError("error", f"cannot connect: {_reason(exc.os_error or exc)}")


def _errno(exc: BaseException) -> int | None:
    return getattr(exc, "errno", None)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
