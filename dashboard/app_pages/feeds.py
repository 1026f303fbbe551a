"""Feeds: the health of every feed and what the last refresh did."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import view

TALL_ROW = 76  # pixels: above 64 the grid wraps text, and three lines fit

st.title("Feeds")
db = view.database()
view.reader(db)
running, last = view.header(db)

st.subheader("Last refresh")
if last is None:
    st.info("No refresh has run yet — run `aggregator refresh`.")
else:
    report = last["report"]
    st.caption(
        f"Run #{last['id']} · started {last['started']} · "
        f"finished {last['finished'] or 'not yet'} · status **{view.md(last['status'])}**"
    )
    cells = st.columns(6)
    for cell, (label, key) in zip(
        cells,
        [
            ("Feeds ok", "feeds_ok"),
            ("Failed", "feeds_failed"),
            ("Unchanged", "feeds_unchanged"),
            ("New articles", "new_articles"),
            ("New stories", "new_stories"),
            ("Updated stories", "updated_stories"),
        ],
        strict=True,
    ):
        cell.metric(label, report.get(key, 0))
    if last["status"] == "partial":
        counts = (
            f"{report['feeds_failing']} failing, {report['feeds_paused']} paused"
            if "feeds_failing" in report
            else f"{report.get('feeds_failed', 0)} failed"
        )
        st.warning(
            f"Partial: not every feed is healthy after this refresh ({counts}). "
            "The feeds with their errors are listed below."
        )
    for name, error in (report.get("failures") or {}).items():
        st.warning(f"{view.md(name)}: {view.md(str(error))}")

rows = view.guarded(db, view.feeds)
st.subheader(f"Feeds ({len(rows)})")
if not rows:
    st.info("No feeds yet — list them in feeds.yaml and run `aggregator refresh`.")
    st.stop()
paused = sum(1 for r in rows if r["paused"])
failing = sum(1 for r in rows if r["consecutive_failures"] and not r["paused"])
healthy, bad, stopped = st.columns(3)
healthy.metric("Healthy", len(rows) - failing - paused)
bad.metric("Failing", failing)
stopped.metric("Paused", paused)

table = pd.DataFrame(
    [
        {
            "feed": r["name"],
            "url": view.http_url(r["url"]) or "",
            "last error": r["last_error"] or "",
            "HTTP": r["last_status"],
            "failures in a row": r["consecutive_failures"],
            "paused": bool(r["paused"]),
            "last fetch": r["last_fetch"],
            "next due": r["next_due"],
            "language": r["language"],
            "articles 7 d": r["articles_7d"],
            "articles 30 d": r["articles_30d"],
        }
        for r in rows
    ]
)
# rows tall enough for three lines let the grid wrap the long cells instead of cutting them
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    row_height=TALL_ROW,
    column_config={
        "url": st.column_config.LinkColumn("url", width="large"),
        "last error": st.column_config.TextColumn("last error", width="large"),
        "paused": st.column_config.CheckboxColumn("paused"),
        "HTTP": st.column_config.NumberColumn("HTTP", format="%d"),
    },
)

troubled = [r for r in rows if r["last_error"] or r["paused"]]
if troubled:
    st.subheader(f"Feeds with errors ({len(troubled)})")
    for r in troubled:
        state = "paused" if r["paused"] else "failing" if r["consecutive_failures"] else "ok"
        st.markdown(
            f"**{view.md(r['name'])}** · {state} · "
            f"{view.plural(r['consecutive_failures'], 'failure')} in a row"
        )
        st.text(f"{r['url']}\n{r['last_error'] or ''}".strip())
