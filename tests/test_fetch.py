"""The fetcher against a real server on 127.0.0.1: caps, deadlines, redirects, refused addresses."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from faultserver import MB, drip, endless, gzip_bomb, gzipped, hang, redirect
from httpserver import LocalServer, Route

from aggregator.errors import FetchError, PermanentFetchError, TransientFetchError
from aggregator.fetch import Fetcher, FetchPolicy, HostLimiter, blocked_reason, parse_retry_after

LOCAL = FetchPolicy(
    connect_timeout=1.0,
    read_timeout=0.5,
    deadline=2.0,
    max_bytes=1_000_000,
    max_redirects=3,
    allow_private=True,
)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(per_host=4) as client:
        yield client


def test_plain_body_and_validators_come_back(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/f"] = Route(b"<rss/>", content_type="application/rss+xml; charset=utf-8")
    result = fetcher.get(server.url("/f"), LOCAL)
    assert result.body == b"<rss/>"
    assert result.headers["etag"].startswith('"')
    assert result.charset == "utf-8"


def test_gzip_body_is_decoded(server: LocalServer, fetcher: Fetcher) -> None:
    body = b"<rss>" + b"Citro\xc3\xabn " * 1000 + b"</rss>"
    server.routes["/gz"] = Route(handler=gzipped(body))
    assert fetcher.get(server.url("/gz"), LOCAL).body == body


def test_gzip_bomb_is_cut_at_the_decoded_cap(server: LocalServer, fetcher: Fetcher) -> None:
    handler, compressed = gzip_bomb(64 * MB)
    assert compressed < LOCAL.max_bytes  # only the decoded size can trip the cap
    server.routes["/bomb"] = Route(handler=handler)
    tracemalloc.start()
    try:
        with pytest.raises(PermanentFetchError, match="exceeds the cap"):
            fetcher.get(server.url("/bomb"), LOCAL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * LOCAL.max_bytes  # inflated in bounded steps, never a whole network chunk


def test_corrupt_gzip_is_a_permanent_error(server: LocalServer, fetcher: Fetcher) -> None:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", "20")
        request.end_headers()
        request.wfile.write(b"\x1f\x8b\x08\x00not really gzip!")

    server.routes["/bad-gz"] = Route(handler=handle)
    with pytest.raises(PermanentFetchError, match="corrupt compressed body"):
        fetcher.get(server.url("/bad-gz"), LOCAL)


def test_declared_oversize_is_refused_before_reading(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/big"] = Route(b"x" * 1_500_000)
    with pytest.raises(PermanentFetchError, match="exceeds the cap") as caught:
        fetcher.get(server.url("/big"), LOCAL)
    assert "1,500,000" in str(caught.value)


def test_streamed_50_megabytes_are_cut_at_the_cap(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/endless"] = Route(handler=endless(50 * MB))
    with pytest.raises(PermanentFetchError, match="exceeds the cap"):
        fetcher.get(server.url("/endless"), LOCAL)


def test_drip_is_stopped_by_the_deadline(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/drip"] = Route(handler=drip(b"<rss>" + b" " * 400 + b"</rss>", 0.02))
    policy = FetchPolicy(connect_timeout=1, read_timeout=0.5, deadline=1.0, allow_private=True)
    with pytest.raises(TransientFetchError, match="deadline"):
        fetcher.get(server.url("/drip"), policy)


def test_silent_server_is_a_read_timeout(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/hang"] = Route(handler=hang(3))
    with pytest.raises(TransientFetchError, match="timed out: ReadTimeout"):
        fetcher.get(server.url("/hang"), LOCAL)


def test_redirects_are_followed_and_capped(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/end"] = Route(b"<rss/>")
    server.routes["/r1"] = Route(handler=redirect("/end", 302))
    result = fetcher.get(server.url("/r1"), LOCAL)
    assert result.final_url == server.url("/end") and result.url == server.url("/r1")
    for hop in range(6):
        server.routes[f"/chain{hop}"] = Route(handler=redirect(f"/chain{hop + 1}"))
    with pytest.raises(PermanentFetchError, match="more than 3 redirects"):
        fetcher.get(server.url("/chain0"), LOCAL)
    assert "/chain4" not in server.paths_requested()


def test_redirect_loop_is_detected(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/a"] = Route(handler=redirect("/b"))
    server.routes["/b"] = Route(handler=redirect("/a"))
    with pytest.raises(PermanentFetchError, match="redirect loop") as caught:
        fetcher.get(server.url("/a"), LOCAL)
    assert caught.value.status == 310


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, TransientFetchError),
        (503, TransientFetchError),
        (404, PermanentFetchError),
        (410, PermanentFetchError),
        (401, PermanentFetchError),
    ],
)
def test_status_classes(
    server: LocalServer, fetcher: Fetcher, status: int, kind: type[FetchError]
) -> None:
    server.routes["/s"] = Route(b"no", status=status, content_type="text/plain")
    with pytest.raises(kind) as caught:
        fetcher.get(server.url("/s"), LOCAL)
    assert type(caught.value) is kind and caught.value.status == status


def test_429_carries_retry_after(server: LocalServer, fetcher: Fetcher) -> None:
    server.routes["/busy"] = Route(b"slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(TransientFetchError) as caught:
        fetcher.get(server.url("/busy"), LOCAL)
    assert caught.value.retry_after == 120.0


def test_retry_after_forms() -> None:
    now = 1_714_125_600.0  # Fri, 26 Apr 2024 10:00:00 GMT
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Fri, 26 Apr 2024 10:05:00 GMT", now=now) == 300.0
    assert parse_retry_after("Fri, 26 Apr 2024 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.4",
        "169.254.169.254",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "fc00::1",
    ],
)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert blocked_reason(address) is not None


def test_public_addresses_pass() -> None:
    assert blocked_reason("93.184.215.14") is None
    assert blocked_reason("2606:2800:21f:cb07:6820:80da:af6b:8b2c") is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_without_allow_private(
    server: LocalServer, fetcher: Fetcher, host: str
) -> None:
    server.routes["/f"] = Route(b"<rss/>")
    url = server.url("/f").replace("127.0.0.1", host)
    strict = FetchPolicy(connect_timeout=1, read_timeout=1, deadline=2, allow_private=False)
    with pytest.raises(PermanentFetchError, match=r"refused: .* resolves to a loopback"):
        fetcher.get(url, strict)
    assert server.paths_requested() == []


def test_non_http_schemes_are_refused(fetcher: Fetcher) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/feed", "gopher://x/"):
        with pytest.raises(PermanentFetchError, match="not an http"):
            fetcher.get(url, LOCAL)


def test_redirect_to_a_private_address_is_refused_at_that_hop(
    server: LocalServer, fetcher: Fetcher, loopback_is_public: None
) -> None:
    port = server.httpd.server_address[1]
    server.routes["/secret"] = Route(b"internal")
    server.routes["/hop"] = Route(handler=redirect(f"http://127.0.0.2:{port}/secret", 302))
    strict = FetchPolicy(connect_timeout=1, read_timeout=1, deadline=2, allow_private=False)
    with pytest.raises(PermanentFetchError, match=r"refused: 127\.0\.0\.2 resolves to a loopback"):
        fetcher.get(server.url("/hop"), strict)
    assert server.paths_requested() == ["/hop"]


def test_host_limiter_bounds_requests_in_flight() -> None:
    limiter = HostLimiter(per_host=2, jitter=0.01)
    lock = threading.Lock()
    in_flight = {"a.test": 0, "b.test": 0}
    peak = {"a.test": 0, "b.test": 0}

    def work(host: str) -> None:
        with limiter.slot(f"http://{host}/x"):
            with lock:
                in_flight[host] += 1
                peak[host] = max(peak[host], in_flight[host])
            time.sleep(0.02)
            with lock:
                in_flight[host] -= 1

    threads = [threading.Thread(target=work, args=(h,)) for h in ["a.test", "b.test"] * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == {"a.test": 2, "b.test": 2}
