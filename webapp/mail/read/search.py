"""Full-text search of mail: SQLite FTS5 (the embedded default) or PostgreSQL's text search.

The index lives outside the models (an FTS5 table kept by triggers, or a GIN expression index),
made by the migration "full-text search of messages".
"""

import re
from typing import Any

from sqlalchemy import ColumnClause, func, literal_column, select, text

from webapp.extensions import db
from webapp.models import Message

FTS_OBJECTS = ("message_fts", "ix_messages_fulltext")
# Must be the very expression of the index (migration "full-text search of messages").
_TEXT = (
    "coalesce(messages.subject, '') || ' ' || coalesce(messages.body_text, '') || ' ' || "
    "coalesce(messages.from_name, '') || ' ' || coalesce(messages.from_address, '') || ' ' || "
    "coalesce(messages.to_addresses::text, '') || ' ' || coalesce(messages.cc_addresses::text, '')"
)
PG_DOCUMENT = f"to_tsvector('simple', {_TEXT} || ' ' || translate({_TEXT}, '@.', '  '))"
_WORD = re.compile(r"[\w@.+'-]+", re.UNICODE)


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Keep the search index out of Alembic's model comparison (it is not a model)."""
    return not (name and name.startswith(FTS_OBJECTS))


def words(query: str) -> list[str]:
    """The searchable words of what the user typed (no operators: they are not ours to parse)."""
    return [w.strip(".'-") for w in _WORD.findall(query or "") if w.strip(".'-")][:12]


def matching_ids(query: str):
    """A SELECT of the ids of messages matching every word (prefix match on the last one)."""
    terms = words(query)
    if not terms:
        return None
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        document: ColumnClause[Any] = literal_column(PG_DOCUMENT)
        tsquery = (
            " & ".join(_pg_term(t) for t in terms[:-1])
            + (" & " if len(terms) > 1 else "")
            + _pg_term(terms[-1])
            + ":*"
        )
        return select(Message.id).where(document.op("@@")(func.to_tsquery("simple", tsquery)))
    # FTS5: every word quoted (so nothing the user types is an operator), the last one a prefix.
    fts = " ".join(f'"{t}"' for t in terms[:-1]) + (" " if len(terms) > 1 else "") + f'"{terms[-1]}"*'
    return (
        select(literal_column("rowid"))
        .select_from(text("message_fts"))
        .where(text("message_fts MATCH :fts").bindparams(fts=fts))
    )


def _pg_term(term: str) -> str:
    # to_tsquery syntax: quote the lexeme so & | ! ( ) : in it mean nothing.
    return "'" + term.replace("'", "''").replace("\\", "") + "'"
