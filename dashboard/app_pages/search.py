"""Search: keyword (FTS5), semantic or hybrid; results grouped by story; CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, time

import streamlit as st
import view

from aggregator.search import MODES, to_csv

MODE_HELP = {
    "keyword": 'Exact words. "Quoted phrases" and prefix* work; all words must match.',
    "semantic": "By meaning, with the embedding model; finds paraphrases (and, with the "
    "multilingual model, other languages).",
    "hybrid": "Both rankings fused by reciprocal rank (1 / (60 + rank), summed).",
}

st.title("Search")
db = view.database()
view.reader(db)
view.header(db)
view.require_stories(db)
options = view.guarded(db, view.facets)

query = st.text_input(
    "Search articles", key="search-query", placeholder='e.g. "Xiaomi SU7" deliveries, tarif*'
)
mode_column, limit_column = st.columns([3, 1])
mode = mode_column.radio(
    "Mode",
    MODES,
    horizontal=True,
    key="search-mode",
    captions=[MODE_HELP[m] for m in MODES],
)
limit = int(limit_column.number_input("Results", 5, 200, 50, step=5, key="search-limit"))

with st.expander("Filters"):
    dates, language, tag, source = st.columns(4)
    first = options.first.date() if options.first else None
    last = options.last.date() if options.last else None
    picked = dates.date_input("Published between", value=(), min_value=first, max_value=last)
    languages = language.multiselect("Language", options.languages, key="search-lang")
    tags = tag.multiselect("Tag", options.tags, key="search-tag")
    sources = source.multiselect("Source", options.sources, key="search-source")

since = until = None
if isinstance(picked, tuple) and len(picked) >= 1:
    since = datetime.combine(picked[0], time.min, tzinfo=UTC)
    if len(picked) == 2:
        until = datetime.combine(picked[1], time.max, tzinfo=UTC)
filters = view.Filters(
    since=since, until=until, languages=tuple(languages), sources=tuple(sources), tags=tuple(tags)
)

if not query.strip():
    st.caption("Type a query to search every stored article.")
    st.stop()

hits, groups = view.guarded(
    db, view.search, query.strip(), mode, limit, filters, view.settings().model
)
if not hits:
    st.info("No matches. Try fewer words, a prefix such as `tarif*`, or the semantic mode.")
    st.stop()

stories = {g.story_id: g.story for g in groups if g.story is not None}
summary, download = st.columns([3, 1])
summary.markdown(
    f"**{view.plural(len(hits), 'article')}** in **{view.plural(len(groups), 'story')}**"
)
download.download_button(
    "Download CSV",
    to_csv(hits, stories),
    file_name="search-results.csv",
    mime="text/csv",
    icon=":material/download:",
)

for group in groups:
    with st.container(border=True):
        if group.story is not None:
            st.page_link(
                view.PAGE_STORY,
                label=f"**{view.md(group.story.headline)}** — story #{group.story.id}, "
                f"{view.plural(group.story.n_articles, 'article')}",
                query_params={"story": str(group.story.id)},
            )
        else:
            st.markdown("**Not yet in a story**")
        for hit in group.hits:
            st.markdown(view.link(hit.title, hit.url))
            st.caption(
                f"{view.md(hit.source)} · {hit.published:%d %b %Y %H:%M} UTC · "
                f"{view.md(hit.language or '?')} · score {hit.rank:.3f}"
            )
