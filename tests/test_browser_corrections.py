"""Corrections made by clicking in a real headless Chromium, and a refresh that keeps them.

The small news database (real MiniLM vectors) is served by ``streamlit run``. On the EU tariffs
story we tick the German and French reports and split them off; on the Toyota story we find the
Xiaomi story by search and merge into it. Then more reports of both events arrive through the
import path. The same arrival on a copy without the recorded corrections (the control) merges the
split halves again, which shows the refresh would have undone the split; with them the halves stay
apart, the merge holds, and the page shows the split story with its new German report.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import newsdb
import pytest
from test_browser import CHROMIUM, SHOTS, Browser, chromium, streamlit_app

from aggregator.config import Settings
from aggregator.embed import LazyEmbedder
from aggregator.entities import KnowledgeBase
from aggregator.pipeline import Pipeline, RunReport
from aggregator.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
# later reports of two of the events: one English and one German on the tariffs, one each on
# Toyota's profit and Xiaomi's deliveries
ARRIVALS = [
    (
        "en",
        "https://carnews.example/eu-tariffs-byd",
        "EU slaps tariffs of up to 38% on Chinese EVs including BYD, Geely and SAIC",
        "The European Commission announced provisional duties of up to 38 percent on electric "
        "cars imported from China, saying subsidies give Chinese makers such as BYD, Geely and "
        "SAIC an unfair edge. The tariffs take effect in July.",
        "2024-04-30T18:00:00Z",
    ),
    (
        "de",
        "https://autoblatt.example/zoelle-china",
        "Brüssel beschließt Strafzölle auf chinesische Elektroautos",
        "Die Europäische Kommission hat vorläufige Zölle von bis zu 38 Prozent auf Elektroautos "
        "aus China beschlossen. BYD, Geely und SAIC sind betroffen, die Zölle gelten ab Juli.",
        "2024-04-30T19:00:00Z",
    ),
    (
        "en",
        "https://carnews.example/toyota-profit",
        "Toyota profit hits record 5.35 trillion yen as hybrids sell",
        "Toyota Motor said annual operating profit reached a record 5.35 trillion yen, helped by "
        "hybrid demand and a weak yen, and forecast lower profit this year.",
        "2024-05-02T10:00:00Z",
    ),
    (
        "en",
        "https://carnews.example/xiaomi-su7",
        "Xiaomi lifts SU7 delivery goal after passing 10,000 cars",
        "Xiaomi has handed over more than 10,000 SU7 electric sedans and raised its delivery "
        "target for 2024, as its Beijing plant adds a second shift.",
        "2024-04-16T09:00:00Z",
    ),
]
# The element a click goes to: a checkbox, button or select found by the text it shows.
FIND = """((kind, text) => {
  const pick = {
    checkbox: () => Array.from(document.querySelectorAll('[data-testid="stCheckbox"] label'))
      .find(e => e.innerText.includes(text)),
    button: () => Array.from(document.querySelectorAll('button'))
      .find(e => e.innerText.trim() === text && !e.disabled),
    select: () => Array.from(document.querySelectorAll('[data-testid="stSelectbox"]'))
      .find(e => e.innerText.includes(text))?.querySelector('button[aria-label="Open"]'),
    option: () => Array.from(document.querySelectorAll('[role="option"]'))
      .find(e => e.innerText.includes(text)),
    input: () => document.querySelector(`input[aria-label="${text}"]`),
  };
  const element = pick[kind]();
  if (!element) return null;
  element.scrollIntoView({block: 'center'});
  const box = element.getBoundingClientRect();
  return JSON.stringify({x: box.x + box.width / 2, y: box.y + box.height / 2});
})"""


class Page:
    """One dashboard page in the browser: find elements by their text, click them with the
    mouse, type into inputs, and wait for what the page shows after Streamlit reruns."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base

    def open(self, path: str, expect: str) -> dict[str, Any]:
        state = self.browser.open(f"{self.base}/{path}", expect=expect)
        assert not state["exceptions"], state["exceptions"]
        assert expect in state["text"], state["text"][:800]
        return state

    def where(self, kind: str, text: str, timeout: float = 10) -> tuple[float, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.browser.call(
                "Runtime.evaluate",
                expression=f"{FIND}({json.dumps(kind)}, {json.dumps(text)})",
                returnByValue=True,
            )["result"].get("value")
            if found:
                time.sleep(0.2)  # let the scroll settle before reading the place again
                again = self.browser.call(
                    "Runtime.evaluate",
                    expression=f"{FIND}({json.dumps(kind)}, {json.dumps(text)})",
                    returnByValue=True,
                )["result"].get("value")
                if again:  # else the page reran in between: look again
                    box = json.loads(again)
                    return float(box["x"]), float(box["y"])
            time.sleep(0.3)
        raise AssertionError(f"no {kind} showing {text!r} on the page")

    def click(self, kind: str, text: str) -> None:
        x, y = self.where(kind, text)
        self.browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for event in ("mousePressed", "mouseReleased"):
            self.browser.call(
                "Input.dispatchMouseEvent", type=event, x=x, y=y, button="left", clickCount=1
            )

    def choose(self, label: str, option: str, timeout: float = 60) -> None:
        """Pick the option starting with ``option`` in the select box ``label``. The options
        change when the page reruns (after a search), which may close the list or reset the
        choice, so try until the choice holds once the page has settled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.wait(lambda s: True, "the page run finished")
            if self.value(label).startswith(option):
                time.sleep(1.0)
                self.wait(lambda s: True, "the page run finished")
                if self.value(label).startswith(option):
                    return
            try:
                self.click("select", label)
                self.click("option", option)
            except AssertionError:
                for kind in ("keyDown", "keyUp"):
                    self.browser.call(
                        "Input.dispatchKeyEvent", type=kind, key="Escape", code="Escape",
                        windowsVirtualKeyCode=27,
                    )  # fmt: skip
            time.sleep(0.5)
        raise AssertionError(f"{label!r} never held {option!r}: it holds {self.value(label)!r}")

    def type(self, label: str, text: str) -> None:
        self.click("input", label)
        self.browser.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.browser.call(
                "Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                windowsVirtualKeyCode=13,
            )  # fmt: skip

    def wait(self, check: Any, what: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until the page has finished running and ``check(state)`` holds."""
        deadline = time.monotonic() + timeout
        state = self.browser.probe()
        while time.monotonic() < deadline:
            assert not state["exceptions"], state["exceptions"]
            if state["ready"] and check(state):
                return state
            time.sleep(0.4)
            state = self.browser.probe()
        raise AssertionError(f"the page never showed {what}: {state['text'][:800]}")

    def value(self, label: str) -> str:
        """What the input (or select box) ``label`` holds."""
        expression = f"document.querySelector('input[aria-label={json.dumps(label)}]')?.value"
        result = self.browser.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return str(result["result"].get("value") or "")

    def checked(self, text: str) -> bool:
        expression = (
            "Array.from(document.querySelectorAll('[data-testid=\"stCheckbox\"]'))"
            f".find(e => e.innerText.includes({json.dumps(text)}))"
            "?.querySelector('input')?.checked === true"
        )
        result = self.browser.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return bool(result["result"]["value"])


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    # SQLite only: Chromium checks the pages; test_dashboard_corrections holds both engines
    return newsdb.build(tmp_path_factory.mktemp("corrections") / "news.db")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, news: Path) -> Iterator[Page]:
    with (
        streamlit_app(news) as base,
        chromium(tmp_path_factory.mktemp("chromium-profile")) as browser,
    ):
        yield Page(browser, base)


def article(db: Path, url: str) -> int:
    return int(newsdb.query(db, "SELECT id FROM articles WHERE url = ?", (url,))[0][0])


def story_of(db: Path, url: str) -> int:
    return int(newsdb.query(db, "SELECT story_id FROM articles WHERE url = ?", (url,))[0][0])


def refresh(db: Path) -> RunReport:
    """The later reports arrive through the import path, with the dashboard's model."""
    settings = Settings(db=db, entities=REPO / "data" / "entities.yaml")
    with Pipeline(
        settings, Store(db), LazyEmbedder("minilm"), KnowledgeBase.load(settings.entities)
    ) as pipeline:
        records = [
            dict(zip(("language", "url", "title", "text", "published"), row, strict=True))
            for row in ARRIVALS
        ]
        _, report = pipeline.import_records([{**r, "source": "Carnews"} for r in records])
    return report


def test_split_and_merge_by_clicking_survive_a_refresh(
    page: Page, news: Path, tmp_path: Path
) -> None:
    english = [story_of(news, url) for _, _, url, *_ in newsdb.TARIFFS[:2]]
    tariffs = english[0]
    german, french = (article(news, url) for _, _, url, *_ in newsdb.TARIFFS[2:])
    assert {story_of(news, url) for _, _, url, *_ in newsdb.TARIFFS} == {tariffs}
    toyota = story_of(news, newsdb.TOYOTA[0][2])
    xiaomi = story_of(news, newsdb.XIAOMI[0][2])

    # split: tick the German and French reports, then press the button
    page.open(f"story?story={tariffs}", expect="Correct this story")
    page.type("Your name (recorded with each correction)", "ana")
    page.wait(lambda s: True, "the name taken")
    for number in (german, french):
        page.click("checkbox", f"(#{number})")
        page.wait(lambda s, n=number: page.checked(f"(#{n})"), f"article {number} ticked")
    page.click("button", "Split into a new story")
    state = page.wait(
        lambda s: f"split 2 articles off story {tariffs} into new story {german}" in s["text"],
        "the split reported",
    )
    page.browser.screenshot(_shot("corrections-split.png"))
    assert {story_of(news, url) for _, _, url, *_ in newsdb.TARIFFS[2:]} == {german}
    assert {story_of(news, url) for _, _, url, *_ in newsdb.TARIFFS[:2]} == {tariffs}
    # the page shows the story left behind: its two English reports, 09:00 to 12:00 (not 16:00)
    assert f"Story #{tariffs} · 30 Apr 2024, 09:00–12:00 UTC" in state["text"]

    # merge: find the Xiaomi story by search, pick it, press merge
    page.open(f"story?story={toyota}", expect="Correct this story")
    page.type("Your name (recorded with each correction)", "bo")  # a new page, a new session
    page.wait(lambda s: True, "the name taken")
    page.type("Find a story by words in its articles", "Xiaomi")
    page.choose("Target story", f"#{xiaomi} ")
    page.click("button", "Merge this story into it")
    page.wait(lambda s: f"merged story {toyota} into {xiaomi}" in s["text"], "the merge reported")
    page.browser.screenshot(_shot("corrections-merge.png"))
    assert story_of(news, newsdb.TOYOTA[0][2]) == xiaomi
    assert newsdb.query(news, "SELECT kind, made_by FROM corrections ORDER BY id") == [
        ("split", "ana"),
        ("merge", "bo"),
    ]

    # the control: the same stories without the recorded corrections
    control = tmp_path / "control.db"
    with sqlite3.connect(news) as source, sqlite3.connect(control) as copy:
        source.backup(copy)
    with sqlite3.connect(control) as conn:
        conn.execute("DELETE FROM corrections")
    loose = refresh(control)
    assert loose.merged_stories >= 1
    assert story_of(control, newsdb.TARIFFS[2][2]) == story_of(control, newsdb.TARIFFS[0][2])

    kept = refresh(news)
    assert kept.merged_stories == 0
    assert {story_of(news, url) for _, _, url, *_ in newsdb.TARIFFS[2:]} == {german}
    assert {story_of(news, url) for _, _, url, *_ in newsdb.TARIFFS[:2]} == {tariffs}
    assert story_of(news, ARRIVALS[1][1]) == german  # the new German report joined its half
    assert story_of(news, ARRIVALS[0][1]) == tariffs
    merged = {story_of(news, url) for _, _, url, *_ in [*newsdb.TOYOTA, *newsdb.XIAOMI]}
    assert merged == {xiaomi}
    assert story_of(news, ARRIVALS[2][1]) == story_of(news, ARRIVALS[3][1]) == xiaomi

    # what the reader sees after the refresh: the split story, its new report, no English one
    state = page.open(f"story?story={german}", expect=ARRIVALS[1][2])
    page.browser.screenshot(_shot("corrections-after-refresh.png"))
    own = state["text"].split("Related stories")[0]  # the English half is listed as related
    assert newsdb.TARIFFS[2][3] in own and newsdb.TARIFFS[3][3] in own
    assert not any(title in own for _, _, _, title, *_ in [*newsdb.TARIFFS[:2], ARRIVALS[0]])
    assert f"Story #{german} · 30 Apr 2024, 14:00–19:00 UTC" in own  # 19:00: the new report
    state = page.open(f"story?story={toyota}", expect=f"Story #{xiaomi}")
    assert f"Story #{toyota} was merged into this one (#{xiaomi})" in state["text"]


def _shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name
