"""The full-text query language, and the bigram index for scripts written without spaces.

FTS5's unicode61 tokenizer splits text at spaces and punctuation, so a run of Chinese (or
Japanese) characters, with any Latin letters touching it, becomes one long token: a search for
小米 or SU7 misses 小米SU7交付量突破1万台. Articles containing those scripts are therefore indexed
a second time, in ``articles_fts_cjk``, with every such run replaced by its overlapping
character bigrams and set apart by spaces (小米SU7交付 is stored as ``小米 SU7 交付``), and a query
run of n characters becomes the phrase of its n - 1 bigrams, which matches exactly where the
characters are adjacent. A lone character is stored as itself and searched as a prefix, so 亦
finds every bigram that starts with it. Text in other scripts is kept, so a query mixing
scripts runs on that index alone; a query in other scripts only runs on ``articles_fts``, as
before.

The transformation runs in SQL, in triggers (:func:`segmented_sql`), not in the writer, so every
way of writing an article (refresh, import, benchmarks) keeps the index in step, and the
migration backfills existing rows with the same expression. :func:`segmented` is the same
transformation in Python; tests hold the two equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Han (CJK unified ideographs, extension A, compatibility, extensions B onwards) and kana.
# Changing these changes what migration 3 indexed; a new range needs a new migration.
UNSEGMENTED: tuple[tuple[int, int], ...] = (
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x323AF),
)
# Articles are cut into slices this long before walking them character by character: SQLite
# finds the nth character of UTF-8 text by scanning from the start, so walking a whole article
# would cost the square of its length.
SLICE = 256

_TOKEN = re.compile(r'"[^"]+"|\S+')
_CLASS = "".join(f"{chr(low)}-{chr(high)}" for low, high in UNSEGMENTED)


def glob_pattern() -> str:
    """A GLOB that matches text containing at least one unsegmented character."""
    return f"*[{_CLASS}]*"


def _runs(text: str) -> list[str]:
    return re.findall(f"[{_CLASS}]+", text)


def _grams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def segmented(text: str) -> str:
    """``text`` with each unsegmented run replaced by its bigrams (a lone character by itself),
    set apart by spaces; everything else is kept as it is, to be tokenized as words."""
    return re.sub(f"[{_CLASS}]+", lambda m: " " + " ".join(_grams(m.group())) + " ", text)


def _unsegmented_sql(char: str) -> str:
    code = f"unicode({char})"
    return "(" + " OR ".join(f"{code} BETWEEN {low} AND {high}" for low, high in UNSEGMENTED) + ")"


def segmented_sql(column: str) -> str:
    """A scalar SQL expression equal to ``segmented(column)``.

    The text is cut into overlapping slices of ``SLICE`` + 2 characters (the slice plus its
    neighbours on either side, padded with spaces at the ends), and each slice is walked
    character by character: a character followed by another unsegmented one yields their
    bigram, the last of a run yields a space, a lone one yields itself, and any other character
    is kept.
    """
    here = _unsegmented_sql("substr(piece, i, 1)")
    after = _unsegmented_sql("substr(piece, i + 1, 1)")
    before = _unsegmented_sql("substr(piece, i - 1, 1)")
    return f"""(SELECT coalesce(group_concat(token, ''), '') FROM (
        WITH RECURSIVE
            padded(body) AS (SELECT ' ' || coalesce({column}, '') || ' '),
            slices(start, piece) AS (
                SELECT 1, substr(body, 1, {SLICE + 2}) FROM padded
                UNION ALL
                SELECT start + {SLICE}, substr(body, start + {SLICE}, {SLICE + 2})
                FROM slices, padded WHERE length(piece) = {SLICE + 2}
            ),
            steps(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM steps WHERE i < {SLICE + 1})
        SELECT CASE
            WHEN NOT {here} THEN substr(piece, i, 1)
            WHEN {after} THEN ' ' || substr(piece, i, 2)
            WHEN {before} THEN ' '
            ELSE ' ' || substr(piece, i, 1) || ' '
        END AS token
        FROM slices, steps
        WHERE i < length(piece)
        ORDER BY start, i
    ))"""


def fts_query(text: str) -> str:
    """User search text to an FTS5 query: words ANDed, "quoted phrases" kept, word* as prefix.

    Every token is quoted, so FTS5 operators typed by accident never cause a syntax error.
    """
    terms: list[str] = []
    for token in _TOKEN.findall(text):
        prefix = token.endswith("*") and not token.startswith('"')
        bare = token.strip('"').rstrip("*").replace('"', "")
        if not bare.strip():
            continue
        if token.upper() in ("AND", "OR", "NOT"):
            continue
        terms.append(f'"{bare}"' + ("*" if prefix else ""))
    return " ".join(terms)


@dataclass(frozen=True)
class KeywordQuery:
    """A search as an FTS5 expression, and the index to run it on: ``articles_fts``, or
    ``articles_fts_cjk`` when the search has unsegmented terms (only articles with such text
    can match them, and only that index holds them as bigrams)."""

    expression: str
    table: str = "articles_fts"

    def __bool__(self) -> bool:
        return bool(self.expression)


def keyword_query(text: str) -> KeywordQuery:
    """User search text to an FTS5 expression and its index.

    A token without unsegmented characters is treated exactly as :func:`fts_query` treats it.
    A token with some is split at script changes: its unsegmented runs become phrases of
    bigrams (a lone character a bigram prefix), and the rest become words.
    """
    terms: list[str] = []
    unsegmented = False
    for token in _TOKEN.findall(text):
        bare = token.strip('"').rstrip("*").replace('"', "")
        if not _runs(bare):
            terms.append(fts_query(token))
            continue
        unsegmented = True
        for piece in re.split(f"([{_CLASS}]+)", bare):
            if _runs(piece):
                terms.append(f'"{" ".join(_grams(piece))}"' + ("*" if len(piece) == 1 else ""))
            else:
                terms.extend(f'"{word}"' for word in piece.split() if any(map(str.isalnum, word)))
    expression = " ".join(t for t in terms if t)
    return KeywordQuery(expression, "articles_fts_cjk" if unsegmented else "articles_fts")
