"""Delivery of saved-search alerts: e-mail over SMTP and JSON to a webhook, with retries.

SMTP is configured by environment variables (the same ones on every machine that runs the cron
job, and never in feeds.yaml, which may be shared): ``AGGREGATOR_SMTP_HOST`` (required to send
mail), ``AGGREGATOR_SMTP_PORT`` (default 25; 465 means TLS from the start), ``AGGREGATOR_SMTP_USER``
and ``AGGREGATOR_SMTP_PASSWORD`` (log in when set), ``AGGREGATOR_SMTP_FROM`` (the sender; default
``aggregator@<host>``). STARTTLS is used whenever the server offers it.

Webhook URLs are refused when they resolve to a loopback, private, link-local or reserved address,
as feed URLs are, unless ``AGGREGATOR_WEBHOOK_ALLOW_PRIVATE`` is ``1`` (a receiver on this machine
or the local network). A webhook is chosen by whoever saves the search rather than by a feed, but
a saved URL must still not turn the aggregator into a way to reach services behind the firewall.

A failed attempt is retried a few times with a growing pause; a failure that cannot fix itself
(a 4xx answer from a webhook other than 429, a refused recipient) is not retried.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx

from aggregator.errors import ConfigError, DeliveryError, FetchError, TransientFetchError
from aggregator.fetch import check_destination

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 3
BACKOFF_SECONDS = 1.0
ALLOW_PRIVATE_VARIABLE = "AGGREGATOR_WEBHOOK_ALLOW_PRIVATE"
_YES = ("1", "true", "yes")
_NO = ("", "0", "false", "no")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = ""
    timeout: float = 15.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """The SMTP settings from ``AGGREGATOR_SMTP_*``, or None when no host is set."""
        env = os.environ if environ is None else environ
        host = env.get("AGGREGATOR_SMTP_HOST", "").strip()
        if not host:
            return None
        raw_port = env.get("AGGREGATOR_SMTP_PORT", "").strip() or "25"
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise ConfigError(f"environment variable AGGREGATOR_SMTP_PORT: bad port {raw_port!r}")
        return cls(
            host=host,
            port=int(raw_port),
            user=env.get("AGGREGATOR_SMTP_USER") or None,
            password=env.get("AGGREGATOR_SMTP_PASSWORD") or None,
            sender=env.get("AGGREGATOR_SMTP_FROM") or f"aggregator@{socket.getfqdn()}",
        )


def webhooks_may_reach_private(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``AGGREGATOR_WEBHOOK_ALLOW_PRIVATE`` lets webhooks reach non-public addresses."""
    env = os.environ if environ is None else environ
    raw = env.get(ALLOW_PRIVATE_VARIABLE, "").strip().lower()
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    raise ConfigError(
        f"environment variable {ALLOW_PRIVATE_VARIABLE}: expected 1 or 0, got {raw!r}"
    )


def with_retries(
    action: Callable[[], T],
    what: str,
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> T:
    """Run ``action``; retry a transient DeliveryError with pauses of backoff, 2*backoff, ..."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except DeliveryError as exc:
            if not exc.transient or attempt == attempts:
                raise
            log.info("delivery=%s attempt=%d error=%r retrying", what, attempt, str(exc)[:200])
            time.sleep(backoff * 2 ** (attempt - 1))
    raise DeliveryError(f"{what}: no attempt made")  # only when attempts < 1


def send_email(
    settings: SmtpSettings,
    to: str,
    subject: str,
    body: str,
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> None:
    """Send one plain-text message, retrying connection trouble and 4xx answers."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)

    def once() -> None:
        try:
            if settings.port == 465:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout
                )
            else:
                client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            with client:
                client.ehlo()
                if settings.port != 465 and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if settings.user:
                    client.login(settings.user, settings.password or "")
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused {to}: {exc}", transient=False) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login failed: {exc}", transient=False) from exc
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc}", transient=transient) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {settings.host}:{settings.port}: {exc}") from exc

    with_retries(once, f"email to {to}", attempts=attempts, backoff=backoff)


def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    allow_private: bool = False,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    timeout: float = 15.0,
) -> None:
    """POST ``payload`` as JSON; 2xx is success, 429/5xx and network trouble are retried.

    The address is checked by the fetcher's rules before every attempt (redirects are not
    followed, so the checked host is the one that receives the body).
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def once() -> None:
        try:
            check_destination(url, allow_private=allow_private)
        except FetchError as exc:
            transient = isinstance(exc, TransientFetchError)
            raise DeliveryError(f"webhook {url}: {exc}", transient=transient) from exc
        try:
            response = httpx.post(
                url,
                content=body,
                headers={"content-type": "application/json; charset=utf-8"},
                timeout=timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {url}: {exc}") from exc
        if 200 <= response.status_code < 300:
            return
        transient = response.status_code == 429 or response.status_code >= 500
        raise DeliveryError(f"webhook {url}: HTTP {response.status_code}", transient=transient)

    with_retries(once, f"webhook {url}", attempts=attempts, backoff=backoff)
