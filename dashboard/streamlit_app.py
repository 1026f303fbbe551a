"""The dashboard: readers follow the top stories, analysts search and watch companies and feeds.

Run it with ``aggregator dashboard`` (which sets AGGREGATOR_DB and AGGREGATOR_MODEL) or
``streamlit run dashboard/streamlit_app.py``. This file only routes; each page lives in
``app_pages/`` and reads through :mod:`view`, which wraps the aggregator's read API.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import streamlit as st  # noqa: E402
import view  # noqa: E402

st.set_page_config(
    page_title="Automotive news", page_icon=":material/directions_car:", layout="wide"
)

pages = [
    st.Page(
        view.PAGE_TOP,
        title="Top stories",
        icon=":material/newspaper:",
        url_path="top",
        default=True,
    ),
    st.Page(view.PAGE_STORY, title="Story", icon=":material/article:", url_path="story"),
    st.Page(view.PAGE_SEARCH, title="Search", icon=":material/search:", url_path="search"),
    st.Page(
        view.PAGE_ENTITIES,
        title="Companies and people",
        icon=":material/domain:",
        url_path="entities",
    ),
    st.Page(view.PAGE_FEEDS, title="Feeds", icon=":material/rss_feed:", url_path="feeds"),
]
st.navigation(pages).run()
