"""The story page's correction section: move an article, split articles off, merge the story into
another, undo the last correction. Hidden when ``AGGREGATOR_READONLY=1``.

Every action goes through :class:`aggregator.pipeline.corrections.Corrections`, which checks,
records and applies it in one transaction; this module only draws the widgets and reports.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
import view

from aggregator.config import db_location
from aggregator.embed import model_name
from aggregator.errors import AggregatorError
from aggregator.pipeline.corrections import Corrections
from aggregator.store import Store
from aggregator.store.read import CorrectionRow, StoryDetail, StoryRow

DONE = "correction-done"


@st.cache_data(ttl=view.TTL, show_spinner=False)
def last_correction(path: str, stamp: int, version: str) -> CorrectionRow | None:
    rows = [c for c in view._reader(path, stamp).corrections(limit=50) if c.in_force]
    return rows[0] if rows else None


def section(db: view.Database, detail: StoryDetail, related: list[StoryRow]) -> None:
    """The whole correction section of the story page, for the story in ``detail``."""
    settings = view.settings()
    if settings.readonly:
        return
    story = detail.story
    st.subheader("Correct this story")
    if DONE in st.session_state:
        st.success(st.session_state.pop(DONE))
    by = st.text_input("Your name (recorded with each correction)", key="fix-by").strip() or None
    targets = _targets(db, story, related)
    labels = {a.id: f"{a.title} — {a.source} (#{a.id})" for a in detail.articles}

    def run(
        action: Callable[[Corrections], CorrectionRow], go_to: Callable[[CorrectionRow], int]
    ) -> None:
        try:
            with Store(db_location(db.path)) as store:
                fix = Corrections(
                    store,
                    model=model_name(settings.model),
                    reader_language=settings.reader_language,
                )
                row = action(fix)
        except AggregatorError as exc:
            st.error(f"Nothing was changed: {exc}")
            return
        st.cache_data.clear()
        st.session_state[DONE] = f"Correction {row.id}: {row.describe()}."
        st.query_params["story"] = str(go_to(row))
        st.rerun()

    with st.container(border=True):
        st.markdown("**Split articles off into a new story**")
        chosen = [
            article_id
            for article_id, label in labels.items()
            if st.checkbox(view.md(label), key=f"fix-split-{story.id}-{article_id}")
        ]
        if st.button("Split into a new story", key="fix-split", disabled=not chosen):
            run(lambda fix: fix.split(story.id, chosen, by=by), lambda row: row.story_id)

    with st.container(border=True):
        st.markdown("**Move an article or merge this story into another**")
        query = st.text_input("Find a story by words in its articles", key="fix-find")
        if query.strip():
            targets = {**_found(db, query, story.id), **targets}
        if not targets:
            st.caption("No other story to offer; search for one above.")
        else:
            target = st.selectbox(
                "Target story",
                list(targets),
                format_func=lambda sid: targets[sid],
                key="fix-target",
            )
            article = st.selectbox(
                "Article to move", list(labels), format_func=lambda a: labels[a], key="fix-article"
            )
            move, merge = st.columns(2)
            if move.button("Move the article there", key="fix-move"):
                run(lambda fix: fix.move(article, target, by=by), lambda row: row.story_id)
            if merge.button("Merge this story into it", key="fix-merge"):
                run(lambda fix: fix.merge(story.id, target, by=by), lambda row: row.target_id)

    last = view.guarded(db, last_correction)
    if last is not None:
        with st.container(border=True):
            who = f" by {last.made_by}" if last.made_by else ""
            st.caption(view.md(f"Last correction: {last.describe()}{who}, {last.made:%d %b %H:%M}"))
            if st.button("Undo the last correction", key="fix-undo"):
                run(lambda fix: fix.undo(by=by), lambda row: _home(row, story.id))


def _home(row: CorrectionRow, current: int) -> int:
    """Where to look after an undo: the story the correction took articles from."""
    return row.story_id if row.kind != "move" else current


def _targets(db: view.Database, story: StoryRow, related: list[StoryRow]) -> dict[int, str]:
    return {
        other.id: f"#{other.id} {other.headline} ({view.plural(other.n_articles, 'article')})"
        for other in related
        if other.id != story.id
    }


def _found(db: view.Database, query: str, current: int) -> dict[int, str]:
    """Stories whose articles match ``query`` (keyword search), as target choices."""
    model = view.settings().model
    _, groups = view.guarded(db, view.search, query, "keyword", 30, view.Filters(), model)
    found: dict[int, str] = {}
    for group in groups:
        if group.story is not None and group.story.id != current:
            found[group.story.id] = f"#{group.story.id} {group.story.headline}"
    return found
