"""full-text search of messages

Revision ID: fbd56a0f8998
Revises: b5c81842eddc
Create Date: 2026-11-28 01:13:50.595978

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'fbd56a0f8998'
down_revision = 'b5c81842eddc'
branch_labels = None
depends_on = None


# What search looks in: subject, body, sender and recipients (JSON lists, as text).
# Addresses are also split at "@" and "." so "meetup" finds events@meetup.example.
_TEXT = (
    "coalesce(subject, '') || ' ' || coalesce(body_text, '') || ' ' || coalesce(from_name, '') || ' ' || "
    "coalesce(from_address, '') || ' ' || coalesce(to_addresses::text, '') || ' ' || coalesce(cc_addresses::text, '')"
)
PG_DOCUMENT = f"to_tsvector('simple', {_TEXT} || ' ' || translate({_TEXT}, '@.', '  '))"
SQLITE_PEOPLE = (
    "coalesce(new.from_name, '') || ' ' || coalesce(new.from_address, '') || ' ' || "
    "coalesce(new.to_addresses, '') || ' ' || coalesce(new.cc_addresses, '')"
)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_messages_fulltext ON messages USING gin ({PG_DOCUMENT})")
        return
    if dialect != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE message_fts USING fts5(subject, body, people, tokenize='unicode61 remove_diacritics 2')"
    )
    insert = f"INSERT INTO message_fts(rowid, subject, body, people) VALUES (new.id, new.subject, new.body_text, {SQLITE_PEOPLE});"
    op.execute(f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN {insert} END")
    op.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, body_text, from_name, from_address, "
        f"to_addresses, cc_addresses ON messages BEGIN DELETE FROM message_fts WHERE rowid = old.id; {insert} END"
    )
    op.execute("CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
               "DELETE FROM message_fts WHERE rowid = old.id; END")
    op.execute(
        "INSERT INTO message_fts(rowid, subject, body, people) SELECT id, subject, body_text, "
        + SQLITE_PEOPLE.replace("new.", "")
        + " FROM messages"
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_fulltext")
    elif dialect == "sqlite":
        for trigger in ("messages_fts_insert", "messages_fts_update", "messages_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS message_fts")
