"""Story keywords are whole words of the story's own articles, in every script the demo carries.

A keyword cut from a longer word (a Hindi word without its vowel sign, "अपन" for "अपने") or
glued from two is a bug whatever its script; this runs the real demo refresh and checks every
keyword of every story against the text of the story's articles.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections import defaultdict

import pytest
import regex
from conftest import REPO, DemoRun

from aggregator.demo import DemoCorpus

pytestmark = pytest.mark.slow

WORD_CHAR = r"[\p{L}\p{N}\p{M}]"
# The scripts written without spaces between words: there a keyword is a run of characters.
UNSPACED = ("Han", "Hiragana", "Katakana", "Thai")


def script(word: str) -> str:
    """The script of a word's first letter, as Unicode names it ("LATIN", "DEVANAGARI", "CJK")."""
    letter = next(c for c in word if unicodedata.category(c).startswith("L"))
    name = unicodedata.name(letter).split()[0]
    return {"CJK": "Han", "HIRAGANA": "Hiragana", "KATAKANA": "Katakana"}.get(name, name.title())


def whole_word_in(keyword: str, text: str) -> bool:
    if script(keyword) in UNSPACED:
        return keyword in text
    pattern = rf"(?<!{WORD_CHAR}){regex.escape(keyword)}(?![\p{{M}}\p{{L}}\p{{N}}])"
    return regex.search(pattern, text, flags=regex.IGNORECASE) is not None


def stories_and_texts(demo_run: DemoRun) -> list[tuple[int, list[str], str]]:
    with sqlite3.connect(f"file:{demo_run.db}?mode=ro", uri=True) as conn:
        texts: dict[int, list[str]] = defaultdict(list)
        for story_id, title, text in conn.execute(
            "SELECT story_id, title, text FROM articles WHERE story_id IS NOT NULL"
        ):
            texts[story_id].append(f"{title}\n{text}")
        rows = conn.execute("SELECT id, keywords FROM stories ORDER BY id").fetchall()
    return [(sid, json.loads(kw), "\n".join(texts[sid])) for sid, kw in rows]


def test_the_helpers_tell_whole_words_from_fragments() -> None:
    assert whole_word_in("अपने", "यह अपने आप में")
    assert not whole_word_in("अपन", "यह अपने आप में")
    assert whole_word_in("Toyota's", "Toyota's profit")
    assert not whole_word_in("Toyo", "Toyota's profit")
    assert whole_word_in("北京车展", "在北京车展上")
    assert [script(w) for w in ("Renault", "रेनॉल्ट", "小米", "トヨタ")] == [
        "Latin",
        "Devanagari",
        "Han",
        "Katakana",
    ]


def test_keywords_are_whole_words_of_their_articles_in_every_script(demo_run: DemoRun) -> None:
    corpus = DemoCorpus.load(REPO / "data" / "demo")
    carried = {script(a.title) for a in corpus.articles}
    seen: dict[str, int] = defaultdict(int)
    broken = []
    for story_id, keywords, text in stories_and_texts(demo_run):
        for keyword in keywords:
            seen[script(keyword)] += 1
            if not whole_word_in(keyword, text):
                broken.append((story_id, keyword))
    assert broken == [], f"keywords that are not whole words of their story: {broken[:20]}"
    # every script of the corpus yields keywords (a Hindi-only story has Hindi keywords, ...)
    assert carried <= set(seen), f"scripts without keywords: {carried - set(seen)}"
    assert {"Latin", "Devanagari", "Han"} <= carried
