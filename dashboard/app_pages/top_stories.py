"""Top stories: the ranking of the read API, one card per story, twenty to a page."""

from __future__ import annotations

import math

import streamlit as st
import view

PAGE_SIZE = 20

st.title("Top stories")
db = view.database()
view.reader(db)
running, last = view.header(db)
numbers = view.require_stories(db)

st.caption(
    f"{view.plural(numbers['stories'], 'story')} from {view.plural(numbers['articles'], 'article')}"
    f" · {view.plural(numbers['sources'], 'source')} · "
    f"{view.plural(numbers['languages'], 'language')}"
    + (f" · last refresh {last['finished'] or last['started']}" if last else "")
)

subscribe, howto = st.columns([1, 3])
subscribe.download_button(
    "Top stories as Atom",
    data=view.guarded(db, view.top_atom),
    file_name="top.atom",
    mime="application/atom+xml",
    icon=":material/rss_feed:",
    help="The top stories as an Atom 1.0 feed; each story keeps its id, so a feed reader shows "
    "a story that grows as updated, not new.",
)
howto.caption(
    "For a feed reader that polls, run `aggregator publish --out DIR` after each refresh (cron) "
    "and serve DIR: it writes top.atom and one feed per saved search."
)

filters = view.filter_widgets(db, key="top")
total = view.guarded(db, view.story_page, 1, 0, filters).total
if total == 0:
    st.info("No story matches these filters.")
    st.stop()
pages = max(1, math.ceil(total / PAGE_SIZE))
number = 1
if pages > 1:
    number = int(
        st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="top-page")
    )
page = view.guarded(db, view.story_page, PAGE_SIZE, (number - 1) * PAGE_SIZE, filters)
st.caption(
    f"Showing {page.offset + 1}–{page.offset + len(page.stories)} of "
    f"{view.plural(page.total, 'story')}, ranked by size, spread across sources and languages, "
    "recency and growth."
)

for rank, story in enumerate(page.stories, start=page.offset + 1):
    with st.container(border=True):
        text, side = st.columns([4, 1])
        text.markdown(f"**{rank}. {view.md(story.headline)}**")
        if story.keywords:
            text.caption("Keywords: " + view.md(", ".join(story.keywords[:8])))
        text.markdown(
            f"{view.plural(story.n_articles, 'article')} · "
            f"{view.plural(story.n_sources, 'source')} · "
            f"languages: {view.md(', '.join(story.languages))} · "
            f"{view.md(view.span(story.first_published, story.last_published))}"
        )
        side.caption("Articles per day, last 14 days")
        side.markdown(f"`{view.sparkline(story.timeline)}`")
        side.page_link(
            view.PAGE_STORY,
            label="Open story",
            icon=":material/arrow_forward:",
            query_params={"story": str(story.id)},
        )
