"""Misbehaving routes for the local test server, and a deterministic embedder for plumbing tests.

Each factory returns a handler for ``Route(handler=...)`` in :mod:`httpserver`. Handlers write to
the socket themselves, so a route can stall, drip, stream more than it holds in memory, or lie
about its encoding. A client that gives up closes the socket; handlers then stop quietly.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import zlib
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler

import numpy as np
from httpserver import Handler

from aggregator.embed import Kind, Vectors

MB = 1024 * 1024


def _headers(
    request: BaseHTTPRequestHandler, status: int, ctype: str, extra: dict[str, str]
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", ctype)
    for key, value in extra.items():
        request.send_header(key, value)
    request.end_headers()


def drip(body: bytes, every: float, ctype: str = "application/rss+xml") -> Handler:
    """Sends ``body`` one byte at a time, ``every`` seconds apart: never idle long enough to time
    out a read, so only a total deadline stops it."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        _headers(request, 200, ctype, {"Content-Length": str(len(body))})
        try:
            for byte in body:
                request.wfile.write(bytes([byte]))
                request.wfile.flush()
                time.sleep(every)
        except OSError:
            return

    return handle


def hang(seconds: float) -> Handler:
    """Accepts the request and says nothing for ``seconds``, then closes."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        request.close_connection = True

    return handle


def gated(body: bytes, gate: threading.Event, ctype: str = "application/rss+xml") -> Handler:
    """Answers once ``gate`` is set (or after a minute): the test decides when a run may end."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        gate.wait(60)
        _headers(request, 200, ctype, {"Content-Length": str(len(body))})
        request.wfile.write(body)

    return handle


def redirect(location: str, status: int = 301) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        _headers(request, status, "text/plain", {"Location": location, "Content-Length": "0"})

    return handle


def endless(total: int, piece: bytes = b"<item><title>x</title></item>\n") -> Handler:
    """Streams ``total`` bytes with chunked encoding and no Content-Length, generated as it goes
    so neither side of the test holds the body in memory."""
    block = piece * max(1, 65_536 // len(piece))

    def handle(request: BaseHTTPRequestHandler) -> None:
        _headers(request, 200, "application/rss+xml", {"Transfer-Encoding": "chunked"})
        sent = 0
        try:
            head = b'<?xml version="1.0"?><rss version="2.0"><channel>\n'
            request.wfile.write(b"%x\r\n%s\r\n" % (len(head), head))
            while sent < total:
                request.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                sent += len(block)
            request.wfile.write(b"0\r\n\r\n")
        except OSError:
            return
        finally:
            request.close_connection = True

    return handle


def gzip_bomb(decoded: int) -> tuple[Handler, int]:
    """A gzip body of ``decoded`` zero bytes; returns the handler and the compressed size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    parts = [packer.compress(zeros) for _ in range(decoded // MB)]
    parts.append(packer.flush())
    payload = b"".join(parts)

    def handle(request: BaseHTTPRequestHandler) -> None:
        _headers(
            request,
            200,
            "application/rss+xml",
            {"Content-Encoding": "gzip", "Content-Length": str(len(payload))},
        )
        try:
            request.wfile.write(payload)
        except OSError:
            return

    return handle, len(payload)


def gzipped(body: bytes, ctype: str = "application/rss+xml") -> Handler:
    payload = zlib.compress(body, 6, wbits=16 + zlib.MAX_WBITS)

    def handle(request: BaseHTTPRequestHandler) -> None:
        _headers(
            request,
            200,
            ctype,
            {"Content-Encoding": "gzip", "Content-Length": str(len(payload))},
        )
        request.wfile.write(payload)

    return handle


def rss(name: str, base: str, items: Sequence[tuple[str, str, str]], *, extra: str = "") -> bytes:
    """A small RSS 2.0 document; ``items`` are (guid, path, title) and titles are used as given."""
    body = "".join(
        f"<item><guid>{guid}</guid><link>{base}{path}</link><title>{title}</title>"
        f"<description>{title}: a report on the automotive industry.</description>"
        "<pubDate>Fri, 26 Apr 2024 09:00:00 GMT</pubDate></item>"
        for guid, path, title in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>{base}/</link>{extra}{body}</channel></rss>"
    ).encode()


def page(title: str, paragraphs: int = 6) -> bytes:
    """An article page with enough text for extraction to take it as the article."""
    sentences = " ".join(
        f"{title} was discussed by analysts in sentence {n}, with figures on sales and output."
        for n in range(4)
    )
    body = "".join(f"<p>{sentences} Paragraph {n}.</p>" for n in range(paragraphs))
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body><article>"
        f"<h1>{title}</h1>{body}</article></body></html>"
    ).encode()


_WORDS = re.compile(r"\w+")


class HashEmbedder:
    """Hashed bag of words: deterministic, instant, and texts sharing words land close together.

    Plumbing tests need vectors, not meaning; the real model costs seconds to load per process.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hash-bow-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def multilingual(self) -> bool:
        return False

    def encode(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        matrix = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORDS.findall(text.lower()):
                slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                matrix[row, slot % self._dim] += 1.0
            matrix[row, 0] += 1e-3  # an empty text still has a direction
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / norms
