"""URL keys for deduplication: one article, one key, whatever tracking decorations it carries."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ocid",
        "cmpid",
        "ncid",
        "sr_share",
        "smid",
        "soc_src",
        "soc_trk",
        "ito",
        "__twitter_impression",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "rss",
        "feed",
        "from",
        "ref",
        "ref_src",
        "via",
        "share",
        "amp",
        "output",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_", "xtor", "wt_", "hmb_")


def is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def url_key(url: str) -> str:
    """A canonical form of ``url`` used only as a dedup key (never fetched).

    Scheme and host are lower-cased, ``www.`` and default ports dropped, the fragment and tracking
    parameters removed, the remaining parameters sorted, percent-encoding normalised, and a trailing
    slash or ``/amp`` suffix ignored.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.").removeprefix("m.").removeprefix("amp.")
    scheme = parts.scheme.lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~%")
    for suffix in ("/amp", "/amp/"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    path = path.rstrip("/") or "/"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)
    )
    return urlunsplit(
        ("web" if scheme in ("http", "https") else scheme, host, path, urlencode(query), "")
    )
