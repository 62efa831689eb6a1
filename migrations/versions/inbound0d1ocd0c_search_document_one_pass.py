"""search document in one pass: the text with "@" and "." made spaces, parsed once

Revision ID: inbound0d1ocd0c
Revises: inbound0c1a551f
Create Date: 2026-12-07 22:00:00

The document was the text parsed twice: as it is (an address or a host name is one word) and
with "@" and "." made spaces (their parts). The parts alone find the same mail: search makes
"@" and "." spaces in what the user typed too, and the parts, one after the other, match as a
phrase (webapp.mail.read.search). Parsing once costs PostgreSQL 0.16 ms less a classified
message. PostgreSQL rewrites the table: minutes at a million messages. SQLite keeps its FTS5
table (its tokenizer splits at "@" and "." already).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'inbound0d1ocd0c'
down_revision = 'inbound0c1a551f'
branch_labels = None
depends_on = None

_TEXT = (
    "coalesce(subject, '') || ' ' || coalesce(body_text, '') || ' ' || coalesce(from_name, '') || ' ' || "
    "coalesce(from_address, '') || ' ' || coalesce(to_addresses::text, '') || ' ' || coalesce(cc_addresses::text, '')"
)
ONE_PASS = f"to_tsvector('simple', translate({_TEXT}, '@.', '  '))"
# Migration perf5ea4c4d0c1's document, for the downgrade.
TWO_PASSES = f"to_tsvector('simple', {_TEXT} || ' ' || translate({_TEXT}, '@.', '  '))"


def _document(expression: str) -> None:
    op.execute("SET LOCAL statement_timeout = 0")  # the app's timeout is for requests, not this rewrite
    op.execute("DROP INDEX IF EXISTS ix_messages_fulltext")
    op.execute("ALTER TABLE messages DROP COLUMN search_document")
    op.execute(f"ALTER TABLE messages ADD COLUMN search_document tsvector GENERATED ALWAYS AS ({expression}) STORED")
    op.execute("CREATE INDEX ix_messages_fulltext ON messages USING gin (search_document)")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _document(ONE_PASS)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _document(TWO_PASSES)
