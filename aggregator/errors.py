"""The whole exception tree of the aggregator.

::

    AggregatorError
    ├── ConfigError               bad feeds.yaml or settings; names file, feed and key; exit 2
    ├── FetchError(url, status)
    │   ├── TransientFetchError   timeout, 429, 5xx, connection reset: retried later with backoff
    │   └── PermanentFetchError   401/403/404/410, too large, blocked address, redirect loop
    ├── ParseError(url)           the bytes are not a feed that can be read
    ├── ExtractError(url)         the page yields no article text
    ├── EmbedError                the model cannot be loaded or fails to encode
    ├── StorageError              the database cannot be opened, migrated or written; exit 1
    ├── LockedError               another refresh holds the lock; exit 3
    ├── CorrectionError           a reader's correction names an unknown id or changes nothing;
    │                             exit 1, nothing written
    └── DeliveryError(transient)  an alert e-mail or webhook could not be delivered

Each stage wraps third-party exceptions at its boundary (``raise FetchError(...) from exc``).
The orchestrator catches per feed and per article; only the command line (:mod:`aggregator.cli`)
turns errors into exit codes.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Base class of every error the aggregator raises on purpose."""


class ConfigError(AggregatorError):
    """The feed list or a setting is invalid. The message names the file, the feed and the key."""


class FetchError(AggregatorError):
    """A URL could not be fetched."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class TransientFetchError(FetchError):
    """A failure worth retrying later: timeout, 429, 5xx, connection trouble."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


class PermanentFetchError(FetchError):
    """A failure that will not fix itself: 4xx, too large, blocked address, redirect loop."""


class ParseError(AggregatorError):
    """Bytes that cannot be read as a feed."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class ExtractError(AggregatorError):
    """A page that yields no article text."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class EmbedError(AggregatorError):
    """The embedding model cannot be loaded or fails to encode."""


class StorageError(AggregatorError):
    """The database cannot be opened, migrated or written."""


class LockedError(AggregatorError):
    """Another refresh holds the lock on this database."""


class CorrectionError(AggregatorError):
    """A move, split, merge or undo that cannot be made as asked: an unknown article or story,
    a move to the story the article is in, a merge into itself, a split that empties a story."""


class DeliveryError(AggregatorError):
    """An alert could not be delivered; ``transient`` says whether a later run may succeed.

    Kept on the hits it concerns rather than raised to the caller: a mail server that is down
    must not fail the refresh that found the articles.
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient
