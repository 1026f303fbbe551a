"""The database schema as a list of migrations; ``PRAGMA user_version`` says how many have run."""

from __future__ import annotations

from aggregator.store.fts import SEARCH_TABLE, SEARCH_TOKENIZER, glob_pattern, segmented_sql

_HAS_UNSEGMENTED = glob_pattern()


def _search_row(row: str) -> str:
    """The values ``articles_search`` holds for the article ``row`` ("new", "old" or a table)."""
    return (
        f"{row}.id, aggregator_exact({row}.title), aggregator_exact({row}.text), "
        f"aggregator_stems({row}.title, {row}.language), "
        f"aggregator_stems({row}.text, {row}.language)"
    )


_SEARCH_COLUMNS = f"{SEARCH_TABLE}(rowid, title, text, title_stem, text_stem)"
_SEARCH_DELETE = (
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, title, text, title_stem, text_stem) "
    f"SELECT 'delete', {_search_row('old')}"
)

MIGRATIONS: list[str] = [
    # 1: feeds, articles with full-text index, embeddings, stories, merges, mentions, runs
    """
    CREATE TABLE feeds (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        language TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_fetch TEXT,
        last_success TEXT,
        last_status INTEGER,
        last_error TEXT,
        problem TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_due TEXT,
        paused INTEGER NOT NULL DEFAULT 0,
        ttl_minutes INTEGER
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        url_key TEXT NOT NULL UNIQUE,
        guid_key TEXT UNIQUE,
        content_hash TEXT NOT NULL,
        source TEXT NOT NULL,
        external_id TEXT,
        title TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL,
        author TEXT,
        published TEXT NOT NULL,
        fetched TEXT NOT NULL,
        language TEXT,
        image TEXT,
        summary_only INTEGER NOT NULL DEFAULT 0,
        extract_method TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        story_id INTEGER,
        clustered TEXT
    );
    CREATE INDEX articles_story ON articles(story_id);
    CREATE INDEX articles_published ON articles(published);
    CREATE INDEX articles_source ON articles(source, published);
    CREATE INDEX articles_hash ON articles(content_hash);
    CREATE INDEX articles_external ON articles(external_id);
    CREATE TABLE embeddings (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        field TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (article_id, model, field)
    );
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        first_published TEXT NOT NULL,
        last_published TEXT NOT NULL,
        n_articles INTEGER NOT NULL,
        n_sources INTEGER NOT NULL,
        n_languages INTEGER NOT NULL,
        languages TEXT NOT NULL DEFAULT '[]',
        sources TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        headline TEXT NOT NULL,
        lead_article_id INTEGER,
        keywords TEXT NOT NULL DEFAULT '[]',
        entities TEXT NOT NULL DEFAULT '[]',
        timeline TEXT NOT NULL DEFAULT '[]',
        model TEXT,
        vector BLOB
    );
    CREATE INDEX stories_last ON stories(last_published);
    CREATE TABLE story_merges (
        absorbed INTEGER PRIMARY KEY,
        into_id INTEGER NOT NULL,
        merged TEXT NOT NULL
    );
    CREATE TABLE mentions (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        entity_id TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (article_id, entity_id)
    );
    CREATE INDEX mentions_entity ON mentions(entity_id);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        status TEXT NOT NULL,
        report TEXT NOT NULL DEFAULT '{}'
    );
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, content='articles', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END;
    CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    """,
    # 2: saved searches and the articles they matched (each article once per search)
    """
    CREATE TABLE watches (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        query TEXT NOT NULL,
        mode TEXT NOT NULL DEFAULT 'keyword',
        languages TEXT NOT NULL DEFAULT '[]',
        sources TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        email TEXT,
        webhook TEXT,
        created TEXT NOT NULL,
        last_article_id INTEGER NOT NULL DEFAULT 0,
        last_run TEXT
    );
    CREATE TABLE watch_hits (
        id INTEGER PRIMARY KEY,
        watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        story_id INTEGER,
        new_story INTEGER NOT NULL DEFAULT 0,
        score REAL NOT NULL DEFAULT 0,
        found TEXT NOT NULL,
        read INTEGER NOT NULL DEFAULT 0,
        delivered TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        UNIQUE (watch_id, article_id)
    );
    CREATE INDEX watch_hits_unread ON watch_hits(watch_id, read);
    CREATE INDEX watch_hits_story ON watch_hits(story_id);
    """,
    # 3: articles with Chinese or Japanese text indexed again, those scripts as character bigrams
    # (see aggregator.store.fts),
    # backfilled from the stored articles and kept in step by triggers
    f"""
    CREATE VIRTUAL TABLE articles_fts_cjk USING fts5(
        title, text, tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO articles_fts_cjk(rowid, title, text)
    SELECT id, {segmented_sql("title")}, {segmented_sql("text")}
    FROM articles WHERE title GLOB '{_HAS_UNSEGMENTED}' OR text GLOB '{_HAS_UNSEGMENTED}';
    CREATE TRIGGER articles_fts_cjk_insert AFTER INSERT ON articles
    WHEN new.title GLOB '{_HAS_UNSEGMENTED}' OR new.text GLOB '{_HAS_UNSEGMENTED}' BEGIN
        INSERT INTO articles_fts_cjk(rowid, title, text) VALUES (
            new.id, {segmented_sql("new.title")}, {segmented_sql("new.text")}
        );
    END;
    CREATE TRIGGER articles_fts_cjk_delete AFTER DELETE ON articles BEGIN
        DELETE FROM articles_fts_cjk WHERE rowid = old.id;
    END;
    CREATE TRIGGER articles_fts_cjk_update AFTER UPDATE OF title, text ON articles BEGIN
        DELETE FROM articles_fts_cjk WHERE rowid = old.id;
        INSERT INTO articles_fts_cjk(rowid, title, text)
        SELECT
            new.id, {segmented_sql("new.title")}, {segmented_sql("new.text")}
        WHERE new.title GLOB '{_HAS_UNSEGMENTED}' OR new.text GLOB '{_HAS_UNSEGMENTED}';
    END;
    """,
    # 4: language filters (dashboard, search, stories) read an index, not the whole table
    """
    CREATE INDEX articles_language ON articles(language, published);
    """,
    # 5: whether 'published' came from the feed or page (1) or is the time it was first fetched (0);
    # clustering must not read a fetch time as the time of the event
    """
    ALTER TABLE articles ADD COLUMN dated INTEGER NOT NULL DEFAULT 1;
    """,
    # 6: corrections made by readers (move, split, merge), each a fact with its author and time.
    # 'moved' left the articles of 'stayed' and joined those of 'joined' (JSON lists of article
    # ids); 'previous' holds what undo restores; the urls let an export carry them to another
    # database. The clusterer reads them as must-link and cannot-link constraints.
    """
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('move', 'split', 'merge')),
        made TEXT NOT NULL,
        made_by TEXT,
        story_id INTEGER NOT NULL,
        target_id INTEGER NOT NULL,
        moved TEXT NOT NULL,
        stayed TEXT NOT NULL DEFAULT '[]',
        joined TEXT NOT NULL DEFAULT '[]',
        urls TEXT NOT NULL DEFAULT '{}',
        previous TEXT NOT NULL DEFAULT '{}',
        undone TEXT,
        undone_by TEXT
    );
    CREATE INDEX corrections_in_force ON corrections(undone, id);
    """,
    # 7: the health of each feed ('ok', 'failing', 'paused') as last announced by a refresh, so a
    # quiet refresh (cron) speaks once when a feed starts failing, is paused or recovers
    """
    ALTER TABLE feeds ADD COLUMN announced TEXT NOT NULL DEFAULT 'ok';
    """,
    # 8: one search index for every article, exact forms beside Snowball stems, Chinese and
    # Japanese as bigrams, Indic words whole (see aggregator.store.fts); filled from the stored
    # articles by functions the store registers on its connections, then kept in step by
    # triggers. It replaces the bigram index of migration 3, which every insert paid for in SQL.
    f"""
    CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(
        title, text, title_stem, text_stem, content='', tokenize="{SEARCH_TOKENIZER}"
    );
    INSERT INTO {_SEARCH_COLUMNS} SELECT {_search_row("articles")} FROM articles;
    CREATE TRIGGER {SEARCH_TABLE}_insert AFTER INSERT ON articles BEGIN
        INSERT INTO {_SEARCH_COLUMNS} SELECT {_search_row("new")};
    END;
    CREATE TRIGGER {SEARCH_TABLE}_delete AFTER DELETE ON articles BEGIN
        {_SEARCH_DELETE};
    END;
    CREATE TRIGGER {SEARCH_TABLE}_update AFTER UPDATE OF title, text, language ON articles BEGIN
        {_SEARCH_DELETE};
        INSERT INTO {_SEARCH_COLUMNS} SELECT {_search_row("new")};
    END;
    DROP TRIGGER articles_fts_cjk_insert;
    DROP TRIGGER articles_fts_cjk_delete;
    DROP TRIGGER articles_fts_cjk_update;
    DROP TABLE articles_fts_cjk;
    """,
    # 9: feed leases, so that refresh workers on several machines share one database's feeds:
    # a run claims due feeds by writing its id, its worker's name and an expiry; a lease that
    # has expired, or whose worker is gone, is free to claim again
    """
    ALTER TABLE feeds ADD COLUMN lease_run BIGINT;
    ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until TEXT;
    CREATE INDEX feeds_due ON feeds(next_due);
    CREATE INDEX feeds_leased ON feeds(lease_run) WHERE lease_run IS NOT NULL;
    """,
    # 10: PostgreSQL's text folding made faster; nothing changes on SQLite
    "SELECT 1;",
    # 11: PostgreSQL gives stems weights of their own in its full-text vector, so that a stem
    # ranks below the word as written there too; the index of migration 8 already does here
    """
    SELECT 1;
    """,
    # 12: PostgreSQL computes the same full-text vectors faster; nothing changes on SQLite
    "SELECT 1;",
    # 13: the largest story size (the bound of older stories' scores in the ranking) read from
    # an index, not from every story (aggregator.store.stories.STORY_SIZE spells it the same)
    """
    CREATE INDEX stories_size ON stories
        ((ln(1 + n_articles) + ln(1 + n_sources) + 0.5 * (n_languages - 1)));
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
