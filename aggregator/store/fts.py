"""The full-text search index and query language.

Every article is indexed in ``articles_search`` (FTS5, unicode61 tokenizer, contentless), in
four columns: title and body in their exact forms, and the same words reduced to Snowball stems
under the article's language (PyStemmer). A query word matches its exact form, or any word of
the same stem in the stem columns, which weigh less (:data:`SEARCH_WEIGHTS`): "Zölle" finds
"Zöllen" and "Zoll", but an article with "Zölle" itself ranks first. Query words that name a
known entity (a company, a person, in up to six words) match any of its names in the knowledge
base, in every script, as phrases: "Xiaomi" finds 小米 and श्याओमी.

Chinese and Japanese are written without spaces, and unicode61 would make a run of those
characters (with any Latin letters touching it) one long token: a search for 小米 or SU7 would
miss 小米SU7交付量突破1万台. Each such run is therefore indexed as its overlapping character
bigrams, set apart by spaces (小米SU7交付 is stored as ``小米 SU7 交付``), and a query run of n
characters becomes the phrase of its n - 1 bigrams, which matches exactly where the characters
are adjacent. A lone character is searched as a prefix, so 亦 finds every bigram that starts
with it. Hindi and the other Indic scripts keep their vowel signs and viramas inside words
(:data:`INDIC_MARKS`); the nukta is dropped on both sides, since writers use it freely.

The index text is made by SQL functions written in Python (:func:`register_functions`, added to
every connection the store opens) and written by triggers, so every write through the
aggregator keeps the index in step, and the migration fills it from the stored articles with
the same functions. An older index, ``articles_fts_cjk`` (migration 3), did the bigrams in pure
SQL (:func:`segmented_sql`); it is kept here because that migration still runs on old files.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

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


# --- the search index: exact forms, word stems, aliases ---------------------------------------
#
# ``articles_search`` (a later migration) indexes every article once more, in four columns: the
# title and body in their exact forms (Chinese and Japanese as bigrams, as above), and the same
# words reduced to their Snowball stems under the article's language. A query word matches its
# exact form in the first two columns or any word with the same stem in the other two, which
# weigh less, so "Zölle" finds "Zoll" and "Zöllen" but an article with "Zölle" itself ranks
# first. The index text is made in Python, by SQL functions that :func:`register_functions`
# adds to every connection the store opens; triggers call them, so every write through the
# aggregator keeps the index in step. The table is contentless: it stores the index only.

SEARCH_TABLE = "articles_search"
EXACT = "{title text}"
STEMS = "{title_stem text_stem}"
SEARCH_WEIGHTS = (3.0, 1.0, 1.5, 0.5)
"""BM25 weights of title, text, title stems and text stems: the title counts 3:1 over the body,
and a word matched only through its stem counts half as much as the word itself."""

# Snowball stemmers (PyStemmer) by ISO 639-1 code; a language without one is indexed unstemmed.
STEMMERS = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "eu": "basque",
    "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi",
    "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "nb": "norwegian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip

# FTS5's unicode61 splits words at combining marks, so Hindi श्याओमी would be indexed as the
# fragments श, य and ओम. The vowel signs and viramas of the Indic scripts are declared word
# characters instead. Changing this set changes what the migration indexed.
INDIC_MARKS = "".join(
    chr(code)
    for code in range(0x0900, 0x0E00)
    if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me") and code != 0x093C
)
SEARCH_TOKENIZER = f"unicode61 remove_diacritics 2 tokenchars '{INDIC_MARKS}'"

# Removed before indexing and from queries: the nukta, which Hindi writers use and omit freely
# (ज़ियामी / जियामी), and zero-width (non-)joiners.
_DROPPED = dict.fromkeys(map(ord, "\u093c\u200c\u200d"))
_WORD = re.compile(f"(?:[^\\W_]|[{INDIC_MARKS}])+")
_CJK_RUN = re.compile(f"[{_CLASS}]")


def exact_text(text: str | None) -> str:
    """The text of the exact-form columns: NFKC (full-width letters and digits become plain),
    without nukta and joiners, Chinese and Japanese runs as bigrams (see :func:`segmented`)."""
    if not text:
        return ""
    return segmented(unicodedata.normalize("NFKC", text).translate(_DROPPED))


def words(text: str) -> list[str]:
    """The words of ``text`` as the index tokenizer sees them (letters, digits, Indic marks)."""
    return _WORD.findall(text)


@cache
def _stemmer(language: str) -> Any:
    import Stemmer  # PyStemmer; imported on first use, since most readers never stem

    return Stemmer.Stemmer(STEMMERS[language])


def stemmer_language(language: str | None) -> str | None:
    """The key of :data:`STEMMERS` for a stored language code ("de", "pt-BR"), or None."""
    if not language:
        return None
    code = language.lower().replace("_", "-").split("-")[0]
    return code if code in STEMMERS else None


def stems(tokens: Sequence[str], language: str | None) -> list[str]:
    """``tokens`` lower-cased and stemmed under ``language`` (only lower-cased without one)."""
    lowered = [t.lower() for t in tokens]
    code = stemmer_language(language)
    return list(_stemmer(code).stemWords(lowered)) if code else lowered


def stemmed_text(text: str | None, language: str | None) -> str:
    """The text of the stem columns: every word outside Chinese and Japanese runs, stemmed
    under the article's language (those runs are left to the bigram columns)."""
    if not text:
        return ""
    kept = [w for w in words(exact_text(text)) if not _CJK_RUN.search(w)]
    return " ".join(stems(kept, language))


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the search index's triggers and migration call."""
    conn.create_function("aggregator_exact", 1, exact_text, deterministic=True)
    conn.create_function("aggregator_stems", 2, stemmed_text, deterministic=True)


# --- queries on the search index ----------------------------------------------------------------

AliasLookup = Callable[[str], Sequence[str]]
"""Every name of the entity that a piece of query text names (empty when it names none)."""

_LONGEST_NAME = 6  # words tried together when looking a query up in the knowledge base


def _phrase(text: str) -> str:
    """An FTS5 phrase of ``text``'s words in their indexed form ("" when it has none)."""
    tokens = words(exact_text(text))
    return f'"{" ".join(tokens)}"' if tokens else ""


def _stem_alternatives(text: str, languages: Sequence[str]) -> list[str]:
    tokens = [w for w in words(exact_text(text)) if not _CJK_RUN.search(w)]
    if not tokens:
        return []
    found = {" ".join(stems(tokens, language)) for language in languages}
    found.add(" ".join(t.lower() for t in tokens))
    return [f'"{s}"' for s in sorted(found)]


def _any_of(columns: str, phrases: Sequence[str]) -> str:
    """``phrases`` as alternatives in ``columns``; a phrase that contains another one is left
    out, since whatever it matches the shorter one matches too ("Xiaomi Corporation" beside
    "Xiaomi"), and each alternative costs a pass over its postings."""
    unique = list({p.casefold(): p for p in reversed(phrases) if p}.values())[::-1]
    unique = [p for p in unique if not any(q != p and _contains(p, q) for q in unique)]
    if not unique:
        return ""
    return f"{columns}: ({' OR '.join(unique)})" if len(unique) > 1 else f"{columns}: {unique[0]}"


def _contains(phrase: str, other: str) -> bool:
    """Whether the words of the quoted ``other`` occur in ``phrase`` in a row."""
    inner, part = phrase.casefold().strip('"').split(), other.casefold().strip('"').split()
    return any(inner[i : i + len(part)] == part for i in range(len(inner) - len(part) + 1))


def _word_group(text: str, languages: Sequence[str], names: Sequence[str] = ()) -> str:
    """One query word (or entity name): its exact form or any alias in the exact columns, or
    a word of the same stem under any of ``languages`` in the stem columns."""
    exact = _any_of(EXACT, [_phrase(text), *(_phrase(n) for n in names)])
    if not exact:
        return ""
    stemmed = _any_of(STEMS, _stem_alternatives(text, languages)) if languages else ""
    return f"({exact} OR {stemmed})" if stemmed else exact


def _strip(token: str) -> str:
    """``token`` without the punctuation around it (quotes, commas, Chinese full stops)."""
    found = _WORD.search(token)
    if not found:
        return ""
    last = [m for m in _WORD.finditer(token)][-1]
    return token[found.start() : last.end()]


def _cjk_groups(run: str, names: AliasLookup | None) -> list[str]:
    """Groups for a run of Chinese or Japanese characters: the longest known names inside it
    expanded to their aliases, the rest as phrases of bigrams (a lone character as a prefix)."""
    groups: list[str] = []
    rest = ""
    start = 0
    while start < len(run):
        end = len(run)
        aliases: Sequence[str] = ()
        while names is not None and end - start >= 2:
            aliases = names(run[start:end])
            if aliases:
                break
            end -= 1
        if aliases:
            if rest:
                groups.append(_cjk_phrase(rest))
                rest = ""
            groups.append(_any_of(EXACT, [_phrase(run[start:end]), *map(_phrase, aliases)]))
            start = end
        else:
            rest += run[start]
            start += 1
    if rest:
        groups.append(_cjk_phrase(rest))
    return groups


def _cjk_phrase(run: str) -> str:
    return f'{EXACT}: "{" ".join(_grams(run))}"' + ("*" if len(run) == 1 else "")


def search_expression(
    text: str,
    *,
    names: AliasLookup | None = None,
    languages: Sequence[str] = (),
    any_word: bool = False,
) -> str:
    """User search text to an FTS5 expression on :data:`SEARCH_TABLE` ("" for nothing to find).

    Every part must match (AND). A word matches its exact form, or a word of the same stem
    under any of ``languages`` (stored languages; see :func:`stems`), weighted lower. Runs of
    up to six words that ``names`` knows (a company, a person) match any of its names, in any
    script, as phrases. "Quoted phrases" and prefix* stay exact. Every token is quoted, so FTS5
    operators typed by accident never cause a syntax error; AND, OR and NOT are dropped.
    With ``any_word``, one part is enough (OR): BM25 then ranks the articles that match more
    and rarer parts first.
    """
    groups: list[str] = []
    plain: list[str] = []

    def flush() -> None:
        start = 0
        while start < len(plain):
            for end in range(min(len(plain), start + _LONGEST_NAME), start, -1):
                piece = " ".join(plain[start:end])
                aliases = names(piece) if names is not None else ()
                if aliases and not _CJK_RUN.search(piece):
                    groups.append(_word_group(piece, languages, aliases))
                    start = end
                    break
            else:
                groups.extend(_token_groups(plain[start], names, languages))
                start += 1
        plain.clear()

    for token in _TOKEN.findall(text):
        if token.startswith('"') or token.endswith("*") or token.upper() in ("AND", "OR", "NOT"):
            flush()
            bare = token.strip('"').rstrip("*").replace('"', "")
            if token.upper() in ("AND", "OR", "NOT") or not words(bare):
                continue
            if token.startswith('"'):
                groups.append(f"{EXACT}: {_phrase(bare)}")
            elif _runs(bare):
                groups.extend(_token_groups(bare, names, languages))
            else:
                groups.append(f"{EXACT}: {_phrase(bare)}*")
            continue
        stripped = _strip(token)
        if stripped:
            plain.append(stripped)
    flush()
    return (" OR " if any_word else " AND ").join(g for g in groups if g)


def _token_groups(token: str, names: AliasLookup | None, languages: Sequence[str]) -> list[str]:
    """Groups for one word; a word mixing scripts (小米SU7) is split where the script changes."""
    if not _runs(token):
        return [_word_group(token, languages)]
    groups: list[str] = []
    for piece in re.split(f"([{_CLASS}]+)", token):
        if _runs(piece):
            groups.extend(_cjk_groups(piece, names))
        elif words(piece):
            groups.extend(_word_group(w, languages) for w in words(piece))
    return groups


@dataclass(frozen=True)
class KeywordQuery:
    """A search as an FTS5 expression, and the index to run it on (:data:`SEARCH_TABLE`)."""

    expression: str
    table: str = SEARCH_TABLE

    def __bool__(self) -> bool:
        return bool(self.expression)

    @property
    def rank(self) -> str:
        """The SQL of the BM25 score, lower is better (see :data:`SEARCH_WEIGHTS`)."""
        return f"bm25({self.table}, {', '.join(map(str, SEARCH_WEIGHTS))})"


def keyword_query(
    text: str,
    *,
    names: AliasLookup | None = None,
    languages: Sequence[str] = (),
    any_word: bool = False,
) -> KeywordQuery:
    """User search text to an FTS5 expression on the search index (see
    :func:`search_expression`)."""
    return KeywordQuery(
        search_expression(text, names=names, languages=languages, any_word=any_word)
    )
