"""Every folder query reads an index: EXPLAIN on a dataset just large enough for the planner to care.

The benchmark's generator (bench/generate.py) writes a small team's mailbox into the test
database (a few thousand messages: enough for PostgreSQL and SQLite to weigh an index against
a scan, small enough for CI), the entries are rebuilt and the tables analysed. Then the real
folder pages, counts, rows and searches run, as an admin and as a recruiter who sees a few
offers, while every SELECT they send is recorded; each one is EXPLAINed, and none may scan
messages, threads or folder_entries from end to end. A plan that reads a whole table is the
one that was fast in CI and takes seconds at a million messages.
"""

import random
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, select, text

from bench.generate import BULK_TABLES, TABLES, History, build_team
from webapp.extensions import db
from webapp.mail.read import entries, folders
from webapp.mail.read.search import matching
from webapp.models import SEARCH_EVERYWHERE, User

MESSAGES = 6000
WATCHED = ("messages", "threads", "folder_entries")
# PostgreSQL: "Seq Scan on messages" (or an alias: "messages messages_1"); SQLite: "SCAN messages".
_NAMES = "|".join(WATCHED)
PG_SCAN = re.compile(rf"Seq Scan on ({_NAMES})\b")
SQLITE_SCAN = re.compile(rf"^SCAN ({_NAMES})(_\d+)?\b")


@pytest.fixture
def mailbox(app):
    """A small generated team (20 users, 50 offers) and its mail, entries rebuilt, statistics fresh."""
    with app.app_context():
        rng = random.Random(14)
        now = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
        team = build_team(rng, MESSAGES // 5, now, "not-a-password-hash")
        history = History(random.Random(15), team, now)
        tables = {name: db.metadata.tables[name] for name in TABLES}
        for name in TABLES:
            if name not in BULK_TABLES and team.rows[name]:
                db.session.execute(insert(tables[name]), team.rows[name])
        for batch in history.batches(MESSAGES):
            for name in BULK_TABLES:
                if batch[name]:
                    db.session.execute(insert(tables[name]), batch[name])
        if db.engine.dialect.name == "postgresql":
            for name in TABLES:  # the generator gives ids: the sequences must follow
                if "id" in tables[name].c:
                    sequence = f"pg_get_serial_sequence('{name}', 'id')"
                    db.session.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))"))
        entries.rebuild()
        db.session.commit()
        with db.engine.connect() as conn:
            # PostgreSQL: VACUUM too, which moves the rows just written out of the GIN index's
            # pending list (as autovacuum does): the planner prices a search by that list.
            analyze = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text(analyze))
        yield
        _empty_fast()


def _empty_fast() -> None:
    """Empty the tables without a foreign-key check per row (the conftest's DELETEs would check
    messages.bounced_message_id, which has no index, by reading all messages for each one)."""
    names = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(names) + " CASCADE"))
        return
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction, or SQLite ignores it
        conn.commit()
        try:
            for name in names:
                conn.exec_driver_sql(f"DELETE FROM {name}")
            conn.exec_driver_sql("DELETE FROM sqlite_stat1")  # statistics must not outlive the rows
            conn.commit()
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def _recorded(run) -> list[tuple[str, object]]:
    """The SELECT statements (with their parameters) that `run()` sends."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def _scans(statement: str, parameters) -> list[str]:
    """The lines of the statement's plan that read a watched table from end to end."""
    conn = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
        return [line for line in plan if PG_SCAN.search(line)]
    plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    return [line for line in plan if SQLITE_SCAN.search(line)]


def _everything_a_user_reads(user) -> None:
    """Each folder's first page and the next, a row, the counts, and searches (rare and common words)."""
    for folder in folders.FOLDERS:
        rows, more = folders.list_rows(folder.slug, user, limit=50)
        if more:
            last = rows[-1].thread
            folders.list_rows(folder.slug, user, before=(last.last_message_at, last.id), limit=50)
        if rows:
            folders.get_row(folder.slug, user, rows[0].thread.id)
    folders.unread_counts(user)
    for slug in (SEARCH_EVERYWHERE, "candidates", "inbox"):
        for word in ("interview", "Paris", "zyxwvutsr"):
            folders.list_rows(slug, user, limit=50, match=matching(word))


def test_folder_pages_counts_and_search_read_indexes_not_whole_tables(app, mailbox, monkeypatch):
    with app.app_context():
        assert _scans("SELECT id FROM messages WHERE length(body_text) > 3", ())  # the check sees a scan
        users = [
            db.session.scalar(select(User).where(User.email == email))
            for email in ("ada@bench-company.example", "tess@bench-company.example")
        ]
        assert all(users)
        statements = _recorded(lambda: [_everything_a_user_reads(u) for u in users])
        # And every word asked of the folders' conversations in order (the common words' way).
        monkeypatch.setattr(folders, "_few_messages", lambda wanted: 0)
        statements += _recorded(lambda: [_everything_a_user_reads(u) for u in users])
        assert len(statements) > 80
        scans = {statement: found for statement, params in statements if (found := _scans(statement, params))}
        assert not scans, "\n\n".join(f"{s}\n  -> {found}" for s, found in scans.items())
