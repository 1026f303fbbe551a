"""A small news database for the dashboard and search tests, built through the import path.

Three events (Xiaomi SU7 deliveries, EU duties on Chinese EVs, Toyota's record profit) in several
languages, two feeds with their health, a finished run, and one hostile article whose title and
link try to inject markdown, HTML and a javascript: URL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dbs

from aggregator.config import Settings
from aggregator.embed import LazyEmbedder
from aggregator.entities import KnowledgeBase
from aggregator.models import Feed
from aggregator.pipeline import Pipeline
from aggregator.store import Store, iso
from aggregator.store.engine import Location

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
HOSTILE_TITLE = "Tesla recall [click](javascript:alert(1)) <b>now</b> **urgent**"
HOSTILE_URL = "javascript:alert(1)"

XIAOMI = [
    (
        "en",
        "AutoWire",
        "https://autowire.example/xiaomi-su7-10000",
        "Xiaomi SU7 deliveries pass 10,000 in under three weeks",
        "Xiaomi said deliveries of its SU7 electric sedan passed "
        "10,000 units less than three weeks "
        "after launch, and raised its annual delivery goal for the "
        "car. The smartphone maker turned "
        "carmaker said orders remain strong and the Beijing factory is adding a second shift to "
        "speed up SU7 deliveries to customers.",
        "2024-04-15T08:00:00Z",
    ),
    (
        "en",
        "Voltwire",
        "https://voltwire.example/su7-deliveries",
        "Xiaomi's SU7 hits 10,000 deliveries, raises 2024 target",
        "Phone giant Xiaomi has delivered more than 10,000 SU7 "
        "electric cars, the company said, and "
        "it now expects to deliver over 100,000 this year. The SU7 "
        "sedan went on sale in late March; "
        "Xiaomi's Beijing plant is adding shifts to cut waiting times for SU7 deliveries.",
        "2024-04-15T11:30:00Z",
    ),
    (
        "zh",
        "汽车日报",
        "https://qiche.example/xiaomi-su7",
        "小米SU7交付量突破1万台",
        "小米汽车宣布，小米SU7交付量已突破1万台，距离上市不到三周。小米表示订单依然强劲，北京工厂将增加第二班次，"
        "加快小米SU7交付，并上调全年交付目标。",
        "2024-04-15T13:00:00Z",
    ),
    (
        "hi",
        "ऑटो हिंदी",
        "https://autohindi.example/xiaomi-su7",
        "श्याओमी SU7 की डिलीवरी 10,000 के पार",
        "श्याओमी ने कहा है कि उसकी इलेक्ट्रिक सेडान SU7 की डिलीवरी "
        "लॉन्च के तीन हफ्तों में 10,000 यूनिट के पार "
        "पहुंच गई है। कंपनी ने इस साल का डिलीवरी लक्ष्य भी बढ़ा दिया है।",
        "2024-04-16T06:00:00Z",
    ),
]
TARIFFS = [
    (
        "en",
        "AutoWire",
        "https://autowire.example/eu-duties",
        "EU imposes provisional duties of up to 38% on Chinese electric cars",
        "The European Commission will impose provisional "
        "anti-subsidy duties of up to 38 percent on "
        "electric cars imported from China, after an investigation found unfair state subsidies. "
        "BYD, Geely and SAIC face different tariff rates; the duties take effect in July.",
        "2024-04-30T09:00:00Z",
    ),
    (
        "en",
        "Voltwire",
        "https://voltwire.example/eu-china-tariffs",
        "Brussels hits Chinese EV makers with tariffs up to 38 percent",
        "Brussels confirmed provisional tariffs on Chinese-built "
        "electric vehicles, with SAIC facing "
        "the highest rate of 38 percent and BYD the lowest. The European Commission says Chinese "
        "subsidies distort the EV market; Beijing promised to respond.",
        "2024-04-30T12:00:00Z",
    ),
    (
        "de",
        "Auto Zeitung",
        "https://autozeitung.example/eu-zoelle",
        "EU verhängt Strafzölle von bis zu 38 Prozent auf E-Autos aus China",
        "Die EU-Kommission verhängt vorläufige Strafzölle von bis zu "
        "38 Prozent auf Elektroautos aus "
        "China. Betroffen sind BYD, Geely und SAIC. Deutsche Hersteller warnen vor einem "
        "Handelskrieg mit Peking.",
        "2024-04-30T14:00:00Z",
    ),
    (
        "fr",
        "Auto Presse",
        "https://autopresse.example/droits-douane",
        "Bruxelles impose des droits de douane jusqu'à 38 % sur les voitures électriques chinoises",
        "La Commission européenne impose des droits de douane "
        "provisoires allant jusqu'à 38 % sur les "
        "voitures électriques importées de Chine. BYD, Geely et SAIC sont concernés.",
        "2024-04-30T16:00:00Z",
    ),
]
TOYOTA = [
    (
        "en",
        "AutoWire",
        "https://autowire.example/toyota-profit",
        "Toyota posts record 5 trillion yen operating profit on hybrid sales",
        "Toyota Motor reported a record annual operating profit of 5.35 trillion yen, the first "
        "Japanese company to pass five trillion, as hybrid sales rose by a third and a weak yen "
        "lifted overseas earnings.",
        "2024-05-02T05:00:00Z",
    ),
    (
        "en",
        "Voltwire",
        "https://voltwire.example/toyota-record",
        "Hybrids carry Toyota to record annual profit",
        "Toyota's operating profit hit a record 5.35 trillion yen for the year, driven by strong "
        "hybrid demand in North America and a weak yen. The carmaker expects profit to fall this "
        "year as it raises wages and spends on software.",
        "2024-05-02T07:00:00Z",
    ),
]
HOSTILE = (
    "en",
    "Voltwire",
    HOSTILE_URL,
    HOSTILE_TITLE,
    "Tesla is recalling Cybertruck pickups over an accelerator pedal that can get stuck. "
    "Owners will be contacted; the fix replaces the pedal pad.",
    "2024-04-20T10:00:00Z",
)
TAGS = {
    "AutoWire": ["industry"],
    "Voltwire": ["ev"],
    "汽车日报": ["china"],
    "ऑटो हिंदी": ["india"],
    "Auto Zeitung": ["europe"],
    "Auto Presse": ["europe"],
}


def records() -> list[dict[str, Any]]:
    rows = []
    for number, (lang, source, url, title, text, published) in enumerate(
        [*XIAOMI, *TARIFFS, *TOYOTA, HOSTILE], start=1
    ):
        rows.append(
            {
                "id": f"t{number}",
                "language": lang,
                "source": source,
                "url": url,
                "title": title,
                "text": text,
                "published": published,
                "tags": TAGS.get(source, []),
            }
        )
    return rows


def build(path: Location) -> Location:
    """Create the database at ``path`` with the real MiniLM model and knowledge base."""
    settings = Settings(db=path, entities=REPO / "data" / "entities.yaml")
    store = Store(path)
    try:
        pipeline = Pipeline(
            settings,
            store,
            LazyEmbedder("minilm"),
            KnowledgeBase.load(settings.entities),
            now=lambda: NOW,
        )
        pipeline.import_records(records())
        store.sync_feeds(
            [
                Feed("AutoWire", "https://autowire.example/feed.xml", "en", ("industry",)),
                Feed("Carblog", "https://carblog.example/rss", "en", ("ev",)),
            ]
        )
        store.update_feed(
            "AutoWire",
            last_fetch=iso(NOW),
            last_status=200,
            consecutive_failures=0,
            next_due=iso(NOW),
        )
        store.update_feed(
            "Carblog",
            last_fetch=iso(NOW),
            last_status=404,
            last_error="HTTP 404 Not Found",
            consecutive_failures=3,
            paused=1,
        )
        run = store.start_run(NOW)
        store.finish_run(
            run,
            NOW,
            "partial",
            {
                "feeds_ok": 1,
                "feeds_failed": 1,
                "new_articles": 11,
                "new_stories": 4,
                "failures": {"Carblog": "HTTP 404 Not Found"},
            },
        )
    finally:
        store.close()
    return path


def empty(path: Location) -> Location:
    Store(path).close()
    return path


def story_of(path: Location, title: str) -> int:
    ((story,),) = dbs.query(path, "SELECT story_id FROM articles WHERE title = ?", (title,))
    return int(story)


def query(path: Location, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return dbs.query(path, sql, params)


def json_list(text: str) -> list[Any]:
    return list(json.loads(text))
