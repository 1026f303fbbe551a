"""Story keywords are whole words of the story's own articles, in every script the demo carries.

A keyword cut from a longer word (a Hindi word without its vowel sign, "अपन" for "अपने") or
glued from two is a bug whatever its script; this runs the real demo refresh and checks every
keyword of every story against the text of the story's articles.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime

import dbs
import numpy as np
import pytest
import regex
from conftest import REPO, DemoRun

from aggregator.cluster import ClusterDoc
from aggregator.cluster.terms import STOPWORDS, tokens
from aggregator.demo import DemoCorpus
from aggregator.label import keywords

WORD_CHAR = r"[\p{L}\p{N}\p{M}]"
# The scripts written without spaces between words: there a keyword is a run of characters.
UNSPACED = ("Han", "Hiragana", "Katakana", "Thai")


def script(word: str) -> str:
    """The script of a word's first letter, as Unicode names it ("LATIN", "DEVANAGARI", "CJK")."""
    letter = next(c for c in word if unicodedata.category(c).startswith("L"))
    name = unicodedata.name(letter).split()[0]
    return {"CJK": "Han", "HIRAGANA": "Hiragana", "KATAKANA": "Katakana"}.get(name, name.title())


def dominant_script(text: str) -> str:
    """The script most of the letters of ``text`` are written in."""
    counts: dict[str, int] = defaultdict(int)
    for letter in text:
        if unicodedata.category(letter).startswith("L"):
            counts[script(letter)] += 1
    return max(counts, key=counts.__getitem__)


def whole_word_in(keyword: str, text: str) -> bool:
    if script(keyword) in UNSPACED:
        return keyword in text
    pattern = rf"(?<!{WORD_CHAR}){regex.escape(keyword)}(?![\p{{M}}\p{{L}}\p{{N}}])"
    return regex.search(pattern, text, flags=regex.IGNORECASE) is not None


def stories_and_texts(demo_run: DemoRun) -> list[tuple[int, list[str], str]]:
    texts: dict[int, list[str]] = defaultdict(list)
    for story_id, title, text in dbs.query(
        demo_run.db, "SELECT story_id, title, text FROM articles WHERE story_id IS NOT NULL"
    ):
        texts[story_id].append(f"{title}\n{text}")
    rows = dbs.query(demo_run.db, "SELECT id, keywords FROM stories ORDER BY id")
    return [(sid, json.loads(kw), "\n".join(texts[sid])) for sid, kw in rows]


def test_the_checks_tell_whole_words_from_fragments() -> None:
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


def doc(article_id: int, title: str, text: str, language: str) -> ClusterDoc:
    vector = np.ones(4, dtype=np.float32) / 2
    when = datetime(2024, 4, 25, tzinfo=UTC)
    return ClusterDoc(article_id, "outlet", language, when, title, text, vector, vector)


HINDI = [
    doc(
        1,
        "टाटा कर्व ईवी की बुकिंग शुरू, डीलरों के पास पूछताछ बढ़ी",
        "टाटा मोटर्स ने अपनी नई कर्व ईवी की बुकिंग शुरू कर दी है। इसके डीलरों का कहना है कि उनके "
        "पास पूछताछ तेज़ी से बढ़ी है और कंपनी अपने चार्जिंग नेटवर्क का विस्तार कर रही है।",
        "hi",
    ),
    doc(
        2,
        "कर्व ईवी: टाटा के डीलरों पर भीड़",
        "टाटा की कर्व ईवी के लिए डीलरों के पास लंबी कतारें हैं। उसकी चार्जिंग 15 मिनट में पूरी होती है।",
        "hi",
    ),
]


def test_hindi_keywords_keep_their_vowel_signs() -> None:
    found = keywords(HINDI, "hi")
    assert {"टाटा", "कर्व", "ईवी", "डीलरों"} <= set(found), found
    text = "\n".join(f"{d.title}\n{d.text}" for d in HINDI)
    assert all(whole_word_in(word, text) for word in found), found
    # the shards of stop words the old tokenizer left ("अपन", "इसक", "उनक") are gone
    assert not {"अपन", "इसक", "उनक", "उसक", "अपने", "इसके", "उनके"} & set(found)


def test_chinese_keywords_do_not_end_in_a_particle() -> None:
    pool = [
        doc(
            1,
            "特斯拉与百度达成地图合作",
            "特斯拉与百度达成合作，百度将为特斯拉提供地图服务。",
            "zh",
        ),
        doc(2, "百度为特斯拉提供地图", "特斯拉在中国的地图合作方是百度。", "zh"),
    ]
    found = keywords(pool, "zh")
    assert {"特斯拉", "百度", "地图", "合作"} <= set(found), found
    assert "特斯拉与" not in found and not any(w[-1] in "与的了" for w in found)


def test_japanese_keywords_are_kanji_and_katakana_words() -> None:
    pool = [
        doc(
            1,
            "トヨタ、過去最高益",
            "トヨタはハイブリッド車の販売が伸び、過去最高益を発表した。",
            "ja",
        ),
        doc(2, "トヨタのハイブリッド好調", "トヨタのハイブリッド車が北米で好調だった。", "ja"),
    ]
    found = keywords(pool, "ja")
    assert {"トヨタ", "ハイブリッド"} <= set(found), found
    assert not any(c in word for word in found for c in "はのをがた")  # no particle in a word


def test_tokens_keep_combining_marks_in_every_script() -> None:
    assert tokens("इसके असर बैठकें", "hi") == ["असर", "बैठकें"]
    assert tokens("இந்தியாவில் டாடா", "ta") == ["இந்தியா", "டாடா"]  # cut, but not inside a letter
    assert tokens("ที่นี่ กรุงเทพ", "th") == ["ที่นี่", "กรุงเทพ"]
    assert tokens("كَتَبَ الولد", "ar") == ["كَتَبَ", "الولد"]


def test_every_language_of_the_demo_has_stop_words() -> None:
    for language in ("en", "de", "zh", "it", "fr", "hi", "es", "ja", "pt", "ar", "tr", "pl", "ko"):
        assert len(STOPWORDS[language]) >= 40, language


@pytest.mark.slow
def test_keywords_are_whole_words_of_their_articles_in_every_script(demo_run: DemoRun) -> None:
    corpus = DemoCorpus.load(REPO / "data" / "demo")
    carried = {script(a.title) for a in corpus.articles}
    seen: dict[str, int] = defaultdict(int)
    broken = []
    for story_id, words, text in stories_and_texts(demo_run):
        for keyword in words:
            seen[script(keyword)] += 1
            if not whole_word_in(keyword, text):
                broken.append((story_id, keyword))
    assert broken == [], f"keywords that are not whole words of their story: {broken[:20]}"
    # every script in which some story is mostly written yields keywords (a Hindi story has
    # Hindi keywords, ...); a Korean wire inside a story told mostly in English need not
    leading = {dominant_script(text) for _, _, text in stories_and_texts(demo_run)}
    assert leading <= set(seen), f"scripts without keywords: {leading - set(seen)}"
    assert {"Latin", "Devanagari", "Han"} <= leading <= carried
