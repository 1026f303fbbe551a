"""HTTP only: conditional GET, timeouts, size caps, redirects checked hop by hop.

Feed and article URLs come from third parties, so every hop is resolved and refused when it points
at a loopback, private, link-local, multicast or reserved address (unless the feed allows it),
redirects are followed by hand and capped, and bodies are read as a stream and cut off at a size cap
that counts decoded bytes, so a small gzip body cannot inflate past it.
Returns bytes and headers; never parses them.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from aggregator import USER_AGENT
from aggregator.errors import FetchError, PermanentFetchError, TransientFetchError
from aggregator.models import FetchResult, Validators

log = logging.getLogger(__name__)

REDIRECTS = {301, 302, 303, 307, 308}
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524}
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one request; the pipeline builds it from Settings and the feed."""

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    allow_private: bool = False


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def blocked_reason(address: str) -> str | None:
    """Why ``address`` must not be fetched from third-party links, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"unparseable address {address!r}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute in (
        "is_loopback",
        "is_private",
        "is_link_local",
        "is_multicast",
        "is_reserved",
        "is_unspecified",
    ):
        if getattr(ip, attribute):
            return f"{attribute.removeprefix('is_').replace('_', '-')} address {ip}"
    return None


def check_destination(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not http(s) or that resolve to a non-public address."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise PermanentFetchError(f"invalid URL: {exc}", url=url) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentFetchError(f"not an http(s) URL: {url!r}", url=url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientFetchError(f"cannot resolve {parts.hostname}: {exc}", url=url) from exc
    for info in infos:
        reason = blocked_reason(str(info[4][0]))
        if reason:
            raise PermanentFetchError(f"refused: {parts.hostname} resolves to a {reason}", url=url)


class HostGate(Protocol):
    """A limit on requests in flight per host that several processes share (refresh workers on
    several machines writing one database); see ``Store.host_gate``."""

    def hold(self, host: str) -> AbstractContextManager[None]:
        """Wait for one of the host's slots and hold it for the block."""
        ...


class HostLimiter:
    """At most ``per_host`` requests in flight to one host, each started after a little jitter;
    with a ``shared`` gate, at most that many across every process that shares it, too."""

    def __init__(self, per_host: int, jitter: float = 0.05, shared: HostGate | None = None) -> None:
        self._per_host = per_host
        self._jitter = jitter
        self._shared = shared
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = defaultdict(
            lambda: threading.Semaphore(self._per_host)
        )

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            semaphore = self._slots[host]
        with semaphore, self._shared.hold(host) if self._shared else nullcontext():
            if self._jitter:
                time.sleep(random.uniform(0, self._jitter))
            yield


class _Inflater:
    """Undoes a Content-Encoding in bounded steps: never more than ``limit`` bytes at a time."""

    def __init__(self, wbits: int | None, url: str) -> None:
        self._url = url
        self._inflate = zlib.decompressobj(wbits) if wbits is not None else None

    @classmethod
    def for_encoding(cls, header: str | None, url: str) -> _Inflater:
        encoding = (header or "identity").strip().lower()
        if encoding in ("", "identity"):
            return cls(None, url)
        if encoding in ("gzip", "x-gzip", "deflate"):
            # 32 + MAX_WBITS accepts both gzip and zlib headers; servers mix them up for deflate.
            return cls(32 + zlib.MAX_WBITS, url)
        raise PermanentFetchError(f"unsupported content-encoding {encoding!r}", url=url)

    def feed(self, raw: bytes, limit: int) -> Iterator[bytes]:
        """Decoded pieces of ``raw``, each at most ``limit`` bytes long (at least one byte)."""
        if self._inflate is None:
            if raw:
                yield raw
            return
        pending = raw
        while pending and not self._inflate.eof:
            try:
                piece = self._inflate.decompress(pending, max(1, limit))
            except zlib.error as exc:
                raise PermanentFetchError(f"corrupt compressed body: {exc}", url=self._url) from exc
            pending = self._inflate.unconsumed_tail
            if piece:
                yield piece


class Fetcher:
    """One HTTP client shared by a run; thread-safe."""

    def __init__(
        self, *, user_agent: str = USER_AGENT, per_host: int = 2, gate: HostGate | None = None
    ) -> None:
        self._client = httpx.Client(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,
            http2=False,
        )
        self._limiter = HostLimiter(per_host, shared=gate)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        policy: FetchPolicy,
        *,
        validators: Validators | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GET ``url`` following at most ``policy.max_redirects`` checked redirects.

        Returns a result for 2xx and 304; raises TransientFetchError or PermanentFetchError
        otherwise.
        """
        started = time.monotonic()
        headers = {"Accept": accept}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        current = url
        seen: set[str] = set()
        for _hop in range(policy.max_redirects + 1):
            check_destination(current, allow_private=policy.allow_private)
            seen.add(current)
            with self._limiter.slot(current):
                result = self._exchange(current, url, headers, policy, started)
            if isinstance(result, FetchResult):
                return result
            target = urljoin(current, result)
            if target in seen:
                raise PermanentFetchError(f"redirect loop at {target}", url=url, status=310)
            current = target
        raise PermanentFetchError(
            f"more than {policy.max_redirects} redirects", url=url, status=310
        )

    def _exchange(
        self,
        current: str,
        original: str,
        headers: dict[str, str],
        policy: FetchPolicy,
        started: float,
    ) -> FetchResult | str:
        """One request: a result, or the Location of a redirect."""
        remaining = policy.deadline - (time.monotonic() - started)
        if remaining <= 0:
            raise TransientFetchError(f"deadline of {policy.deadline:g}s passed", url=original)
        timeout = httpx.Timeout(
            connect=min(policy.connect_timeout, remaining),
            read=min(policy.read_timeout, remaining),
            write=min(policy.read_timeout, remaining),
            pool=min(policy.connect_timeout, remaining),
        )
        try:
            with self._client.stream("GET", current, headers=headers, timeout=timeout) as response:
                status = response.status_code
                if status in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise PermanentFetchError(
                            f"redirect {status} without Location", url=original, status=status
                        )
                    return str(location)
                if status == 304:
                    return self._result(original, current, response, b"")
                if status in TRANSIENT_STATUSES:
                    raise TransientFetchError(
                        f"HTTP {status}",
                        url=original,
                        status=status,
                        retry_after=parse_retry_after(response.headers.get("retry-after")),
                    )
                if status >= 400 or status < 200:
                    raise PermanentFetchError(f"HTTP {status}", url=original, status=status)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > policy.max_bytes:
                    raise PermanentFetchError(
                        f"body of {int(declared):,} bytes exceeds the cap of {policy.max_bytes:,}",
                        url=original,
                        status=status,
                    )
                body = self._read_capped(response, policy, started, original)
                return self._result(original, current, response, body)
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise TransientFetchError(f"timed out: {type(exc).__name__}", url=original) from exc
        except httpx.TransportError as exc:
            raise TransientFetchError(f"connection failed: {exc}", url=original) from exc
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise PermanentFetchError(f"request failed: {exc}", url=original) from exc

    @staticmethod
    def _read_capped(
        response: httpx.Response, policy: FetchPolicy, started: float, url: str
    ) -> bytes:
        """Read the body, decoding gzip/deflate ourselves so the cap applies to decoded bytes.

        httpx would inflate each network chunk in full before handing it over, so a few kilobytes
        of compressed zeros could become hundreds of megabytes in memory before any check ran.
        Inflating with ``max_length`` keeps memory within the cap whatever the compression ratio.
        """
        decoder = _Inflater.for_encoding(response.headers.get("content-encoding"), url)
        chunks: list[bytes] = []
        size = 0
        for raw in response.iter_raw():
            for chunk in decoder.feed(raw, policy.max_bytes - size + 1):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise PermanentFetchError(
                        f"body exceeds the cap of {policy.max_bytes:,} bytes",
                        url=url,
                        status=response.status_code,
                    )
                chunks.append(chunk)
            if time.monotonic() - started > policy.deadline:
                raise TransientFetchError(
                    f"deadline of {policy.deadline:g}s passed while reading", url=url
                )
        return b"".join(chunks)

    @staticmethod
    def _result(original: str, final: str, response: httpx.Response, body: bytes) -> FetchResult:
        keep = ("etag", "last-modified", "content-type", "cache-control", "retry-after", "expires")
        headers = {k: response.headers[k] for k in keep if k in response.headers}
        return FetchResult(
            url=original, final_url=final, status=response.status_code, body=body, headers=headers
        )
