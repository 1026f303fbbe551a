"""Every dashboard page in a real headless Chromium, driven over the DevTools protocol.

``streamlit run`` serves the dashboard on a free port against the test database; Chromium opens
each page, we wait until Streamlit has finished running the script, then fail on an exception
box or a page without content, and save a screenshot to tests/artifacts/screenshots/.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import newsdb
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "dashboard" / "streamlit_app.py"
SHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1400,1800",
    "--hide-scrollbars",
]
# What the page reports once the script has run: exception boxes, the title, how much text.
PROBE = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]') || app;
  const running = document.querySelector('[data-testid="stStatusWidget"]');
  const skeleton = document.querySelector('[data-testid="stSkeleton"]');
  return JSON.stringify({
    ready: !!app && !skeleton && !(running && running.innerText.includes('Running')),
    exceptions: Array.from(document.querySelectorAll('[data-testid="stException"]'))
      .map(e => e.innerText)
      .concat(document.body.innerText.includes('Page not found') ? ['Page not found'] : []),
    title: (document.querySelector('h1') || {}).innerText || '',
    text: main ? main.innerText : '',
  });
})()"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in time")


class Browser:
    """A headless Chromium and one DevTools websocket to its first tab."""

    def __init__(self, profile: Path) -> None:
        from websockets.sync.client import connect

        assert CHROMIUM is not None
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            tabs = json.load(response)
        page = next(t for t in tabs if t["type"] == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def probe(self) -> dict[str, Any]:
        result = self.call("Runtime.evaluate", expression=PROBE, returnByValue=True)
        if "value" not in result.get("result", {}):
            # evaluated while the page was still being replaced: nothing to read yet
            return {"ready": False, "exceptions": [], "text": ""}
        return dict(json.loads(result["result"]["value"]))

    def open(self, url: str, *, expect: str, timeout: float = 60) -> dict[str, Any]:
        """Navigate and wait until the page is ready and shows ``expect`` (or has failed)."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            state = self.probe()
            if state["exceptions"] or (state["ready"] and expect in state["text"]):
                time.sleep(0.8)  # let charts finish drawing before the screenshot
                return self.probe()
        return state

    def screenshot(self, path: Path) -> None:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def streamlit_app(db: Path) -> Iterator[str]:
    """The dashboard served by ``streamlit run`` on a free port over ``db``; yields its base URL."""
    port = free_port()
    env = {**os.environ, "AGGREGATOR_DB": str(db), "AGGREGATOR_MODEL": "minilm"}
    env.pop("AGGREGATOR_READONLY", None)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/_stcore/health", time.monotonic() + 60)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    """Headless Chromium with a fresh ``profile``, page and runtime events on."""
    driver = Browser(profile)
    try:
        driver.call("Page.enable")
        driver.call("Runtime.enable")
        yield driver
    finally:
        driver.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    # SQLite only: rendering; the demo dashboard below and test_dashboard cover both engines
    with streamlit_app(newsdb.build(tmp_path_factory.mktemp("browser") / "news.db")) as base:
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, dashboard: str) -> Iterator[Browser]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


PAGES = [
    ("top", "", "Xiaomi SU7 deliveries pass 10,000"),
    ("story", "story?story=1", "Coverage by source"),
    ("search", "search", "Search articles"),
    ("entities", "entities?entity=xiaomi", "Also written as"),
    ("feeds", "feeds", "Carblog"),
]


@pytest.mark.parametrize(("name", "path", "expect"), PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_in_chromium(
    browser: Browser, dashboard: str, name: str, path: str, expect: str
) -> None:
    state = browser.open(f"{dashboard}/{path}", expect=expect)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(SHOTS / f"{name}.png")
    assert not state["exceptions"], state["exceptions"]
    assert state["ready"], "the page never finished running"
    assert expect in state["text"], state["text"][:500]
    assert len(state["text"].strip()) > 80, "the page is nearly empty"


def test_search_results_render_in_chromium(browser: Browser, dashboard: str) -> None:
    """Type a query into the search box and wait for grouped results and the CSV button."""
    browser.open(f"{dashboard}/search", expect="Search articles")
    browser.call(
        "Runtime.evaluate",
        expression="document.querySelector('input[aria-label=\"Search articles\"]').focus()",
    )
    browser.call("Input.insertText", text="tariffs")
    for kind in ("keyDown", "keyUp"):
        browser.call(
            "Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
            windowsVirtualKeyCode=13,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    state = browser.probe()
    while time.monotonic() < deadline and "Download CSV" not in state["text"]:
        time.sleep(0.5)
        state = browser.probe()
    time.sleep(0.5)
    browser.screenshot(SHOTS / "search-results.png")
    assert not state["exceptions"], state["exceptions"]
    assert "Brussels hits Chinese EV makers" in state["text"]
    assert "Download CSV" in state["text"]


# --- the demo's article links ----------------------------------------------------------------

LEAD_LINK = """(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const links = Array.from(main.querySelectorAll('a[href^="http://127.0.0.1:"]'))
    .filter(a => !a.href.startsWith(location.origin));
  if (!links.length) return JSON.stringify(null);
  const a = links[0];
  a.target = '_self';  // the dashboard opens articles in a new tab; follow it in this one
  const found = {href: a.href, text: a.innerText};
  a.click();
  return JSON.stringify(found);
})()"""
ARTICLE = """JSON.stringify({
  href: location.href,
  title: document.title,
  heading: (document.querySelector('h1') || {}).innerText || '',
  text: document.body ? document.body.innerText : '',
})"""


def evaluate(browser: Browser, expression: str) -> Any:
    result = browser.call("Runtime.evaluate", expression=expression, returnByValue=True)
    return json.loads(result["result"]["value"])


@pytest.fixture(scope="module")
def demo_dashboard(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``aggregator dashboard`` as a user starts it after ``aggregator demo``."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    port = free_port()
    log = tmp_path_factory.mktemp("demo-dashboard") / "dashboard.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGGREGATOR_MODEL": "minilm"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--db", str(demo_run.db), "dashboard",
             "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: streamlit goes down with it
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/_stcore/health", time.monotonic() + 90)
        yield base
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        print(log.read_text())


def test_demo_article_link_opens_its_page(browser: Browser, demo_dashboard: str) -> None:
    """After a demo refresh, a click on an article link in the dashboard opens the article."""
    state = browser.open(f"{demo_dashboard}/", expect="Open story")  # a card, not just the title
    assert not state["exceptions"], state["exceptions"]
    story = evaluate(
        browser,
        "JSON.stringify(Array.from(document.querySelectorAll('a'))"
        ".map(a => a.href).find(h => h.includes('story=')) || null)",
    )
    assert story, "the top stories page links no story"
    state = browser.open(story, expect="Coverage by source")
    assert not state["exceptions"], state["exceptions"]
    clicked = evaluate(browser, LEAD_LINK)
    assert clicked is not None, "the story page links no demo article"
    deadline = time.monotonic() + 30
    page = evaluate(browser, ARTICLE)
    while time.monotonic() < deadline and not (page["href"] == clicked["href"] and page["heading"]):
        time.sleep(0.3)
        page = evaluate(browser, ARTICLE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(SHOTS / "demo-article.png")
    assert page["href"] == clicked["href"]
    assert page["heading"].strip() == clicked["text"].strip(), page["text"][:300]
    assert "Not found" not in page["title"]
    assert len(page["text"]) > 500, "the article page has no article"
