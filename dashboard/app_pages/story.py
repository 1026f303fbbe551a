"""One story in depth, at a shareable address: ?story=<id> (ids of merged stories still work)."""

from __future__ import annotations

import correcting
import streamlit as st
import view

db = view.database()
view.reader(db)
view.header(db)
view.require_stories(db)

raw = st.query_params.get("story")
if raw is None:
    st.title("Story")
    top = view.guarded(db, view.story_page, 50, 0, view.Filters()).stories
    labels = {f"{s.headline} (#{s.id})": s.id for s in top}
    choice = st.selectbox("Pick one of the top stories", list(labels), index=None)
    if choice is None:
        st.info("Choose a story above, or open one from Top stories or Search.")
        st.stop()
    st.query_params["story"] = str(labels[choice])
    raw = str(labels[choice])

if not raw.strip().isdigit():
    view.fail(f"“{view.md(raw)}” is not a story id; story addresses look like `?story=42`.")
detail = view.guarded(db, view.story, int(raw))
if detail is None:
    view.fail(f"There is no story #{int(raw)}. It may have been removed; try Top stories.")

story = detail.story
if detail.merged:
    st.info(f"Story #{detail.requested_id} was merged into this one (#{story.id}).")
    st.query_params["story"] = str(story.id)

st.title(view.md(story.headline))
st.caption(f"Story #{story.id} · {view.md(view.span(story.first_published, story.last_published))}")
articles, sources, languages = st.columns(3)
articles.metric("Articles", story.n_articles)
sources.metric("Sources", story.n_sources)
languages.metric("Languages", story.n_languages, help=", ".join(story.languages))
if story.keywords:
    st.markdown("**Keywords:** " + view.md(", ".join(story.keywords)))

lead = detail.lead
if lead is not None:
    with st.container(border=True):
        st.markdown(f"**Lead article:** {view.link(lead.title, lead.url)}")
        st.caption(
            f"{view.md(lead.source)} · {lead.published:%d %b %Y %H:%M} UTC · "
            f"{view.md(lead.language or 'unknown language')}"
        )
        st.text(lead.excerpt)

chart, involved = st.columns([3, 2])
with chart:
    st.subheader("Coverage over time")
    frame = view.time_frame(detail.coverage(), "time (UTC)")
    st.bar_chart(frame, x="time (UTC)", y="articles", height=220)
with involved:
    st.subheader("Involved")
    if detail.mentions:
        for entity_id, name, kind, count in detail.mentions[:12]:
            st.page_link(
                view.PAGE_ENTITIES,
                label=f"{view.md(name)} · {kind.replace('_', ' ')} · "
                f"{view.plural(count, 'mention')}",
                query_params={"entity": entity_id},
            )
    else:
        st.caption("No known companies or people are named in this story.")

st.subheader(f"Coverage by source ({view.plural(len(detail.by_source()), 'source')})")
for source, rows in detail.by_source():
    title = f"{view.md(source)} · {view.plural(len(rows), 'article')}"
    with st.expander(title, expanded=len(rows) < 4):
        for article in rows:
            st.markdown(f"**{view.link(article.title, article.url)}**")
            st.caption(
                f"{article.published:%d %b %Y %H:%M} UTC · "
                f"{view.md(article.language or 'unknown language')}"
                + (" · summary only" if article.summary_only else "")
            )
            st.text(article.excerpt)

st.subheader("Related stories")
related = view.guarded(db, view.related, story.id)
if not related:
    st.caption("No related stories yet.")
for other in related:
    st.page_link(
        view.PAGE_STORY,
        label=(
            f"{view.md(other.headline)} — {view.plural(other.n_articles, 'article')}, "
            f"{other.last_published:%d %b} (similarity {other.score:.2f})"
        ),
        query_params={"story": str(other.id)},
    )

correcting.section(db, detail, related)
