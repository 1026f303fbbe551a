"""Companies and people: mentions over time, the stories they appear in, names in every script."""

from __future__ import annotations

import streamlit as st
import view

st.title("Companies and people")
db = view.database()
view.reader(db)
view.header(db)
view.require_stories(db)

known = view.guarded(db, view.entities)
if not known:
    st.info("No companies or people have been recognised in the stored articles yet.")
    st.stop()

by_id = {e.id: e for e in known}
kinds = sorted({e.kind for e in known})
kind_column, pick_column = st.columns([1, 3])
chosen_kinds = kind_column.multiselect(
    "Kind", kinds, format_func=lambda k: k.replace("_", " "), key="entity-kinds"
)
shown = [e for e in known if not chosen_kinds or e.kind in chosen_kinds]
ids = [e.id for e in shown]
wanted = st.query_params.get("entity")
index = ids.index(wanted) if wanted in ids else 0
if wanted and wanted not in by_id:
    st.warning(f"No mentions of “{view.md(wanted)}” are stored; showing the most mentioned.")
entity_id = pick_column.selectbox(
    "Company or person",
    ids,
    index=index if ids else None,
    format_func=lambda i: (
        f"{by_id[i].name} ({by_id[i].kind.replace('_', ' ')}) · "
        f"{view.plural(by_id[i].n_articles, 'article')}"
    ),
    key="entity-pick",
)
if entity_id is None:
    st.info("No entity of these kinds.")
    st.stop()
st.query_params["entity"] = entity_id
entity = by_id[entity_id]

st.header(view.md(entity.name))
base = view.knowledge_base(str(view.settings().entities))
record = base.get(entity.id) if base is not None else None
facts = [entity.kind.replace("_", " ")]
if record is not None and record.country:
    facts.append(record.country)
if record is not None and record.parent:
    parent = base.get(record.parent)
    facts.append(f"part of {parent.name if parent else record.parent}")
st.caption(" · ".join(view.md(f) for f in facts))

names = record.all_names if record is not None else (entity.name,)
st.markdown("**Also written as:** " + " / ".join(view.md(n) for n in names))

articles, stories, seen = st.columns(3)
articles.metric("Articles", entity.n_articles)
stories.metric("Stories", entity.n_stories)
seen.metric("Last seen", f"{entity.last_seen:%d %b %Y}" if entity.last_seen else "—")

timeline, appearances = view.guarded(db, view.entity_detail, entity.id)
st.subheader("Mentions over time")
st.bar_chart(view.time_frame(view.every_day(timeline), "day"), x="day", y="articles", height=220)

st.subheader(f"Stories ({view.plural(len(appearances), 'story')}, newest first)")
for story, mentioning in appearances:
    st.page_link(
        view.PAGE_STORY,
        label=(
            f"{view.md(story.headline)} — {story.last_published:%d %b %Y} · "
            f"named in {mentioning} of {view.plural(story.n_articles, 'article')}"
        ),
        query_params={"story": str(story.id)},
    )
