"""Recognise automotive companies, people and events in article text, in every script we cover.

No named-entity model can be downloaded where the aggregator runs, so recognition rests on a
curated knowledge base (``data/entities.yaml``) that users can extend with files of their own,
plus a conservative fallback that reports unknown capitalised names in Latin-script text.
Mentions feed the clustering (two articles naming the same entities, even in different
languages, are strong evidence of the same event) and the dashboard.

Matching works on a folded copy of the text that keeps every character at its offset:
Latin accents are dropped (``Källenius`` = ``Kallenius``), any whitespace becomes a space and,
for case-insensitive aliases, letters are lowered. All aliases are compiled into a trie-shaped
regular expression (one for case-insensitive aliases, one for the few case-sensitive ones), so a
text is scanned once per expression however large the knowledge base grows. Script decides the
boundaries:

* Latin (and Greek, Cyrillic): whole words; a German genitive ``s`` (``Renaults``) is accepted.
* Chinese and Japanese: plain substrings, since these scripts put no spaces between words.
* Devanagari: substrings that start a word and are not followed by a vowel sign, virama or
  other combining mark (which would mean the word goes on); a nukta is optional everywhere,
  since Hindi writers use and omit it freely (ज़ियामी / जियामी).

Where matches overlap, the longest wins (``Xiaomi SU7`` is the model, not the company).
"""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from aggregator.errors import ConfigError
from aggregator.models import Mention

log = logging.getLogger(__name__)

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "entities.yaml"

KINDS = frozenset(
    {
        "carmaker",
        "brand",
        "supplier",
        "battery_maker",
        "tech_company",
        "regulator",
        "association",
        "executive",
        "auto_show",
        "union",
        "model",
        "conglomerate",
        "place",
    }
)
UNKNOWN_KIND = "unknown"
_ENTRY_KEYS = frozenset({"id", "name", "kind", "aliases", "exact", "parent", "country"})
_REQUIRED_KEYS = ("id", "name", "kind")
_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

# Characters of scripts that separate words with spaces and whose letters decide whole-word
# boundaries. Chinese and Devanagari letters are deliberately absent, so that "在Tesla" or
# "Xiaomi的" still count as whole-word Latin matches.
_LATIN_WORD = (
    "[0-9A-Za-z_\u00aa\u00b5\u00ba\u00c0-\u024f\u0300-\u036f"
    "\u0370-\u03ff\u0400-\u052f\u1e00-\u1eff]"
)
_DEVANAGARI = (0x0900, 0x097F)
# Vowel signs, virama, anusvara, visarga and the like: after an alias they mean the word goes on.
_DEVANAGARI_CONTINUES = "[\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u200c\u200d]"
_NUKTA = "\u093c"
_LW = re.compile(_LATIN_WORD)


def _script(char: str) -> str:
    """Return 'deva', 'latin' or 'cjk' (anything else that needs no word boundary)."""
    code = ord(char)
    if _DEVANAGARI[0] <= code <= _DEVANAGARI[1]:
        return "deva"
    if _LW.match(char):
        return "latin"
    return "cjk"


def _build_fold_table() -> dict[int, str]:
    """Map accented Latin letters to their base letter, and typographic marks to plain ones."""
    table: dict[int, str] = {}
    for code in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        char = chr(code)
        decomposed = unicodedata.normalize("NFD", char)
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if len(base) == 1 and base != char:
            table[code] = base
    # Typographic apostrophes and hyphens, so that "Rolls‑Royce" and "Renault’s" behave.
    for char in "\u2018\u2019\u02bc":
        table[ord(char)] = "'"
    for char in "\u2010\u2011\u2012\u2013":
        table[ord(char)] = "-"
    table[ord("\u30fb")] = "\u00b7"  # katakana middle dot as used in Chinese names
    return table


_FOLD_TABLE = _build_fold_table()
# str.translate walks every character in Python-level steps for non-ASCII text; a regex finds
# the few characters that need folding far faster.
_FOLD_RE = re.compile("[" + re.escape("".join(map(chr, _FOLD_TABLE))) + "]")
_WHITESPACE = re.compile(r"\s")


def fold(text: str, *, lower: bool) -> str:
    """Fold ``text`` for matching while keeping its length, so offsets stay valid."""
    folded = _FOLD_RE.sub(_fold_match, unicodedata.normalize("NFC", text))
    return _lower(folded) if lower else folded


def _fold_match(match: re.Match[str]) -> str:
    return _FOLD_TABLE[ord(match.group())]


def _lower(folded: str) -> str:
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # A handful of characters (such as "İ") lower to two; keep those as they are.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


def _alias_key(alias: str, *, lower: bool) -> str:
    """The form an alias is indexed under: folded, single-spaced and without nukta."""
    key = " ".join(fold(alias, lower=lower).split())
    return key.replace(_NUKTA, "")


def _exact_key(alias: str) -> str:
    """The form an exact alias is indexed under: as written, accents and capitals included.

    "Uber" must not match the German word "Über", which folding would make identical.
    """
    return " ".join(unicodedata.normalize("NFC", alias).split())


@dataclass(frozen=True)
class Entity:
    """One entry of the knowledge base.

    ``aliases`` match case-insensitively; ``exact`` aliases (short or ambiguous ones such as
    "VW", "MG" or "Ola") match only with the very same capitals, as whole words.
    """

    id: str
    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    parent: str | None = None
    country: str | None = None
    source: str = ""

    @property
    def all_names(self) -> tuple[str, ...]:
        """The display name followed by every alias, for the dashboard."""
        return (self.name, *self.aliases, *self.exact)


class _TrieNode:
    __slots__ = ("children", "end")

    def __init__(self) -> None:
        self.children: dict[str, _TrieNode] = {}
        self.end = False


def _trie_pattern(keys: Iterable[str], *, genitive: bool) -> str:
    """Compile alias keys into one regex source whose alternatives share their prefixes.

    Boundary checks are woven in: a look-behind right after the first character (so the
    engine can still skip quickly to possible first characters) and a look-ahead at each
    place where an alias may end. The end of an alias is always the last alternative of its
    node, so the engine tries the longer aliases that continue it first.
    """
    root = _TrieNode()
    for key in keys:
        node = root
        for char in key:
            node = node.children.setdefault(char, _TrieNode())
        node.end = True

    def emit(node: _TrieNode, first: str | None, last: str | None) -> str:
        branches = []
        for char in sorted(node.children):
            child = node.children[char]
            piece = r"\s" if char == " " else re.escape(char)
            if first is None:
                script = _script(char)
                if script == "latin":
                    piece += f"(?<!{_LATIN_WORD}.)"
                elif script == "deva":
                    piece += "(?<![\\w\u0900-\u0963\u0971-\u097f].)"
            if _script(char) == "deva" and unicodedata.category(char) == "Lo":
                piece += _NUKTA + "?"
            branches.append(piece + emit(child, first or char, char))
        if node.end and last is not None:
            script = _script(last)
            if script == "latin":
                tail = f"(?!{_LATIN_WORD})"
                if genitive and last.isalpha() and last not in "sS":
                    tail = f"s?{tail}"
                branches.append(tail)
            elif script == "deva":
                branches.append(f"(?!{_DEVANAGARI_CONTINUES})")
            else:
                branches.append("")
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return emit(root, None, None)


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SafeLineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A YAML loader (the C one where available) that records each mapping's line."""


def _construct_mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_SafeLineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_with_line
)


def _read_entries(path: Path) -> list[dict[str, Any]]:
    """Read one knowledge-base file into raw entry mappings, wrapping YAML and I/O errors."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLineLoader)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the entity file: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML: {exc}") from exc
    if isinstance(raw, dict):
        extra = set(raw) - {"entities", "__line__"}
        if extra:
            raise ConfigError(f"{path}: unknown top-level key {sorted(extra)[0]!r}")
        raw = raw.get("entities")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: key 'entities': expected a list of entities")
    return raw


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}, key {key!r}: expected a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _parse_entry(raw: Any, path: Path, index: int) -> Entity:
    """Validate one raw mapping; every message names the file, the entry and the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: entry #{index}: expected a mapping, got {type(raw).__name__}")
    line = raw.get("__line__", "?")
    label = raw.get("id") if isinstance(raw.get("id"), str) else f"#{index}"
    where = f"{path}:{line}: entry {label!r}"
    for key in raw:
        if key != "__line__" and key not in _ENTRY_KEYS:
            raise ConfigError(f"{where}, key {key!r}: unknown key")
    for key in _REQUIRED_KEYS:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}, key {key!r}: missing or empty")
    if not _ID_RE.match(raw["id"]):
        raise ConfigError(f"{where}, key 'id': use lower-case letters, digits, '-' and '_'")
    if raw["kind"] not in KINDS:
        raise ConfigError(
            f"{where}, key 'kind': {raw['kind']!r} is not one of {', '.join(sorted(KINDS))}"
        )
    for key in ("parent", "country"):
        if key in raw and not (isinstance(raw[key], str) and raw[key].strip()):
            raise ConfigError(f"{where}, key {key!r}: expected a non-empty string")
    return Entity(
        id=raw["id"],
        name=raw["name"].strip(),
        kind=raw["kind"],
        aliases=_str_list(raw.get("aliases"), where, "aliases"),
        exact=_str_list(raw.get("exact"), where, "exact"),
        parent=raw.get("parent"),
        country=raw.get("country"),
        source=f"{path}:{line}",
    )


class KnowledgeBase:
    """The curated entities and the compiled matchers built from them.

    Build it with :meth:`load`; it is immutable afterwards and safe to share between threads.
    """

    def __init__(self, entities: Iterable[Entity]) -> None:
        self._entities: dict[str, Entity] = {e.id: e for e in entities}
        self._ci: dict[str, str] = {}
        self._cs: dict[str, str] = {}
        self._lookup: dict[str, Entity] = {}
        # In load order, so that a clash is reported at the later of the two entries.
        for entity in self._entities.values():
            self._index(entity)

    # Compiled on first use: compiling takes over a second, and looking names up (search
    # expanding a query to every alias) never needs the expressions.
    @cached_property
    def _ci_res(self) -> tuple[re.Pattern[str], ...]:
        return self._compile(self._ci, genitive=True)

    @cached_property
    def _cs_res(self) -> tuple[re.Pattern[str], ...]:
        return self._compile(self._cs, genitive=False)

    def _index(self, entity: Entity) -> None:
        exact = {_alias_key(a, lower=True) for a in entity.exact}
        insensitive = [
            a for a in (entity.name, *entity.aliases) if _alias_key(a, lower=True) not in exact
        ]
        for alias, table, lower in (
            *((a, self._ci, True) for a in insensitive),
            *((a, self._cs, False) for a in entity.exact),
        ):
            key = _alias_key(alias, lower=True) if lower else _exact_key(alias)
            if not key:
                continue
            owner = table.get(key)
            if owner is not None and owner != entity.id:
                other = self._entities[owner]
                key_name = "exact" if alias in entity.exact else "aliases"
                raise ConfigError(
                    f"{entity.source}: entry {entity.id!r}, key {key_name!r}: alias {alias!r} "
                    f"is already used by entry {owner!r} ({other.source})"
                )
            table[key] = entity.id
        for name in (entity.id, entity.name, *entity.aliases, *entity.exact):
            self._lookup.setdefault(_alias_key(name, lower=True), entity)

    @staticmethod
    def _compile(table: Mapping[str, str], *, genitive: bool) -> tuple[re.Pattern[str], ...]:
        """One expression per script of the first character.

        The engine tries a character against every top-level branch in turn; split by script,
        each expression has few branches and skips text of other scripts at C speed.
        """
        by_script: dict[str, list[str]] = {}
        for key in table:
            by_script.setdefault(_script(key[0]), []).append(key)
        return tuple(
            re.compile(_trie_pattern(keys, genitive=genitive))
            for _, keys in sorted(by_script.items())
        )

    @classmethod
    def load(cls, *paths: str | Path) -> KnowledgeBase:
        """Load the shipped file (or the given ones); later files extend and override earlier.

        An entry whose id already came from an earlier file replaces that entry whole; within
        one file ids must be unique. Every alias may belong to one entity only. Raises
        :class:`ConfigError` naming the file, the entry and the key of the first problem.
        """
        chosen = [Path(p) for p in paths] or [DEFAULT_PATH]
        merged: dict[str, Entity] = {}
        for path in chosen:
            seen: dict[str, str] = {}
            for index, raw in enumerate(_read_entries(path), start=1):
                entity = _parse_entry(raw, path, index)
                if entity.id in seen:
                    raise ConfigError(
                        f"{entity.source}: entry {entity.id!r}, key 'id': duplicate id "
                        f"(first at {seen[entity.id]})"
                    )
                seen[entity.id] = entity.source
                merged.pop(entity.id, None)  # an override moves to the end of the load order
                merged[entity.id] = entity
        for entity in merged.values():
            if entity.parent is not None and entity.parent not in merged:
                raise ConfigError(
                    f"{entity.source}: entry {entity.id!r}, key 'parent': "
                    f"no entry with id {entity.parent!r}"
                )
        kb = cls(merged.values())
        log.debug("loaded %d entities from %s", len(merged), ", ".join(map(str, chosen)))
        return kb

    @property
    def entities(self) -> tuple[Entity, ...]:
        """Every entity, sorted by kind then id, for listings."""
        return tuple(sorted(self._entities.values(), key=lambda e: (e.kind, e.id)))

    def __len__(self) -> int:
        return len(self._entities)

    def get(self, entity_id: str) -> Entity | None:
        """The entity with exactly this id."""
        return self._entities.get(entity_id)

    def lookup(self, query: str) -> Entity | None:
        """Find an entity by id, name or any alias, ignoring case and accents."""
        return self._lookup.get(_alias_key(query, lower=True))

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, entity_id)`` of known entities, longest first wins.

        Offsets refer to the NFC form of ``text``.
        """
        folded = fold(text, lower=False)
        lowered = _lower(folded)
        found: list[tuple[int, int, str]] = []
        for pattern in self._ci_res:
            found.extend(self._matches(pattern, lowered, self._ci))
        written = unicodedata.normalize("NFC", text)
        for pattern in self._cs_res:
            found.extend(self._matches(pattern, written, self._cs))
        found.sort(key=lambda s: (s[0], s[0] - s[1]))
        kept: list[tuple[int, int, str]] = []
        for span in found:
            if kept and span[0] < kept[-1][1]:
                if span[1] - span[0] > kept[-1][1] - kept[-1][0]:
                    kept[-1] = span
                continue
            kept.append(span)
        return kept

    @staticmethod
    def _matches(
        pattern: re.Pattern[str], folded: str, table: Mapping[str, str]
    ) -> Iterator[tuple[int, int, str]]:
        for match in pattern.finditer(folded):
            key = _WHITESPACE.sub(" ", match.group().replace(_NUKTA, ""))
            entity_id = table.get(key)
            if entity_id is None and key.endswith("s"):
                entity_id = table.get(key[:-1])
            if entity_id is not None:
                yield match.start(), match.end(), entity_id

    def find(self, text: str, *, unknown: bool = True) -> list[Mention]:
        """Every entity mentioned in ``text`` with its count, most mentioned first.

        With ``unknown`` (the default), capitalised names the knowledge base lacks are added
        with kind ``"unknown"`` and id ``"name:<normalised name>"``.
        """
        text = unicodedata.normalize("NFC", text)
        spans = self.spans(text)
        counts = Counter(entity_id for _, _, entity_id in spans)
        mentions = [
            Mention(entity_id, self._entities[entity_id].name, self._entities[entity_id].kind, n)
            for entity_id, n in counts.items()
        ]
        if unknown:
            mentions.extend(self._unknown_names(text, spans))
        mentions.sort(key=lambda m: (-m.count, m.entity_id))
        return mentions

    def _unknown_names(self, text: str, spans: list[tuple[int, int, str]]) -> list[Mention]:
        names: Counter[str] = Counter()
        display: dict[str, str] = {}
        for name in unknown_names(text, spans):
            if self.lookup(name) is not None:
                continue
            key = "name:" + "-".join(_alias_key(name, lower=True).split())
            names[key] += 1
            display.setdefault(key, name)
        return [Mention(key, display[key], UNKNOWN_KIND, n) for key, n in names.items()]


# --- fallback for names the knowledge base lacks --------------------------------------------

# Capitalised words that start sentences or headlines but are not names, in the languages the
# aggregator reads. Kept short on purpose: the other guards do most of the work.
_STOPWORDS = frozenset(
    """
    a an the this that these those it its he she we they you i his her their our my your
    in on at of for from to by with without about after before during since until under over
    and or but if when while as so not no yes also then there here what which who why how
    mr mrs ms dr prof sir ceo cfo cto coo chairman chief president founder minister
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    today yesterday tomorrow new read more photo photos video image source update breaking
    der die das dem den des ein eine einer eines einem und oder aber mit von vom zum zur im am
    auf aus bei nach seit für über unter wie wenn als auch nicht noch schon nur sein seine ihr
    montag dienstag mittwoch donnerstag freitag samstag sonntag januar februar märz mai juni
    juli oktober dezember chef konzern euro dollar millionen milliarden
    le la les un une des du de au aux et ou mais avec pour par sur dans chez selon lundi mardi
    mercredi jeudi vendredi samedi dimanche janvier février mars avril juin juillet août
    septembre octobre novembre décembre
    il lo gli uno una di da dei delle della del nel nella con per tra fra su che lunedì
    martedì mercoledì giovedì venerdì sabato domenica gennaio febbraio aprile maggio giugno
    luglio agosto settembre ottobre dicembre
    el los las unos unas y o pero con para por en sobre según desde lunes martes miércoles
    jueves viernes sábado domingo enero febrero marzo abril mayo junio julio agosto
    septiembre octubre noviembre diciembre
    """.split()  # noqa: SIM905 - a word list reads better as prose than as quoted strings
)
# Lower-case particles that may sit inside a name: "Luca de Meo", "Ursula von der Leyen".
_PARTICLES = frozenset(
    {"de", "di", "da", "del", "della", "van", "von", "der", "den", "du", "le", "la", "bin", "al"}
)


def _latin_class(test: str) -> str:
    """A regex class of the Latin letters for which ``str.<test>()`` holds."""
    codes = [*range(0x41, 0x250), *range(0x1E00, 0x1F00)]
    chars = "".join(chr(c) for c in codes if getattr(chr(c), test)())
    return "[" + re.escape(chars) + "]"


_UPPER = _latin_class("isupper")
_LETTER = _latin_class("isalpha")
# A capitalised word: an upper-case letter, then at least one lower-case one ("McLaren" is fine,
# "SUV" and "iPhone" are not); hyphenated parts allowed ("Jean-Philippe").
_NAME_WORD = f"{_UPPER}(?=[^\\W\\d_]*[a-z\\u00df-\\u00ff\\u0100-\\u024f]){_LETTER}+(?:-{_LETTER}+)*"
_PARTICLE = "(?:" + "|".join(sorted(_PARTICLES)) + ")"
_CANDIDATE = re.compile(
    f"(?<![\\w'-]){_NAME_WORD}(?:[ \\u00a0]+(?:{_PARTICLE}[ \\u00a0]+)*{_NAME_WORD})+(?![\\w])"
)
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_NEWLINE = re.compile(r"\n")
_SENTENCE_END = re.compile(r"[.!?:;\"“”«»()\[\]|]\s*$")


def unknown_names(text: str, known: Iterable[tuple[int, int, str]] = ()) -> Iterator[str]:
    """Yield runs of 2-4 capitalised Latin words that look like names of people or companies.

    Conservative by design: runs are broken by punctuation, line ends, known entities and
    common words; month and weekday names and the like never count; title-case lines
    (headlines, menus) are skipped; a sentence-initial word is dropped when the text also
    uses it in lower case ("Analysts", "Cheaper").
    """
    blocked = sorted((start, end) for start, end, _ in known)
    starts = [b[0] for b in blocked]
    line_starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
    headline_lines: dict[int, bool] = {}
    for match in _CANDIDATE.finditer(text):
        line_no = bisect.bisect_right(line_starts, match.start()) - 1
        line_start = line_starts[line_no]
        if line_no not in headline_lines:
            line_end = line_starts[line_no + 1] if line_no + 1 < len(line_starts) else len(text)
            headline_lines[line_no] = _is_title_case(text[line_start:line_end])
        if headline_lines[line_no]:
            continue
        run: list[tuple[int, int, str]] = []
        for word in _WORD.finditer(match.group()):
            start, end = match.start() + word.start(), match.start() + word.end()
            token = word.group()
            if (token.lower() in _STOPWORDS and token not in _PARTICLES) or _overlaps(
                start, end, blocked, starts
            ):
                yield from _close_run(text, line_start, run)
                run = []
            else:
                run.append((start, end, token))
        yield from _close_run(text, line_start, run)


def _overlaps(start: int, end: int, blocked: list[tuple[int, int]], starts: list[int]) -> bool:
    index = bisect.bisect_right(starts, start)
    return any(s < end and start < e for s, e in blocked[max(0, index - 1) : index + 1])


def _is_title_case(line: str) -> bool:
    """True for lines where every content word is capitalised, such as headlines."""
    capitalised = 0
    for match in _WORD.finditer(line):
        word = match.group()
        if word[0].islower():
            if word not in _STOPWORDS:
                return False
        elif word[0].isupper() and word.lower() not in _STOPWORDS:
            capitalised += 1
    return capitalised >= 4


def _close_run(text: str, line_start: int, run: list[tuple[int, int, str]]) -> Iterator[str]:
    while run and run[0][2] in _PARTICLES:
        run = run[1:]
    while run and run[-1][2] in _PARTICLES:
        run = run[:-1]
    if run:
        before = text[line_start : run[0][0]]
        starts_sentence = not before.strip() or _SENTENCE_END.search(before) is not None
        if starts_sentence and _used_in_lower_case(text, run[0][2]):
            run = run[1:]
            while run and run[0][2] in _PARTICLES:
                run = run[1:]
    if 2 <= sum(1 for w in run if w[2] not in _PARTICLES) <= 4:
        yield text[run[0][0] : run[-1][1]]


def _used_in_lower_case(text: str, word: str) -> bool:
    lower = word.lower()
    return re.search(f"(?<!\\w){re.escape(lower)}(?!\\w)", text) is not None
