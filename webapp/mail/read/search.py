"""Full-text search of mail: SQLite FTS5 (the embedded default) or PostgreSQL's text search.

The index lives outside the models (an FTS5 table kept by triggers; on PostgreSQL a stored
document column, `search_document`, and its GIN index), made by the migrations "full-text
search of messages", "search document column" and "search document in one pass".
"""

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, func, literal_column, select, text

from webapp.extensions import db
from webapp.models import Message

FTS_OBJECTS = ("message_fts", "ix_messages_fulltext", "search_document")
# PostgreSQL: the stored document (a generated column; migration "search document column").
PG_DOCUMENT = "messages.search_document"
_WORD = re.compile(r"[\w@.+'-]+", re.UNICODE)


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Keep the search index out of Alembic's model comparison (it is not a model)."""
    return not (name and name.startswith(FTS_OBJECTS))


def words(query: str) -> list[str]:
    """The searchable words of what the user typed (no operators: they are not ours to parse)."""
    return [w.strip(".'-") for w in _WORD.findall(query or "") if w.strip(".'-")][:12]


@dataclass(frozen=True)
class Match:
    """A full-text query as SQL conditions on a message, asked two ways.

    `indexed` finds the matching messages from the index (for a word in few messages);
    `each` asks it of one message at a time (for the few messages of a conversation), which on
    PostgreSQL reads the row's stored document: the planner must not turn it into a scan of
    the whole index for every conversation (a common word's list is a third of all mail).
    """

    indexed: ColumnElement[bool]
    each: ColumnElement[bool]
    fts: str | None = None  # SQLite: the FTS5 query

    def more_than(self, n: int) -> bool:
        """Whether more than about `n` messages match, asked without reading them.

        SQLite counts in the FTS5 index alone; PostgreSQL answers with the planner's estimate
        (its statistics of the documents' words), as reading the rows to count them would cost
        what the answer is meant to spare.
        """
        if self.fts is not None:
            found = db.session.execute(
                text(
                    "SELECT count(*) FROM (SELECT rowid FROM message_fts WHERE message_fts MATCH :f LIMIT :n)"
                ),
                {"f": self.fts, "n": n + 1},
            ).scalar_one()
            return found > n
        compiled = select(Message.id).where(self.indexed).compile(db.session.get_bind())
        plan = db.session.connection().exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params
        )
        return plan.scalar_one()[0]["Plan"]["Plan Rows"] > n


def matching(query: str) -> Match | None:
    """The messages matching every word (prefix match on the last); None when nothing to search."""
    terms = words(query)
    if not terms:
        return None
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        tsquery = func.to_tsquery(
            "simple",
            " & ".join(_pg_term(t) for t in terms[:-1])
            + (" & " if len(terms) > 1 else "")
            + _pg_term(terms[-1])
            + ":*",
        )
        # The same document behind an expression no index has: read from the row.
        row_document: ColumnClause[Any] = literal_column(f"({PG_DOCUMENT} || ''::tsvector)")
        return Match(
            indexed=literal_column(PG_DOCUMENT).op("@@")(tsquery), each=row_document.op("@@")(tsquery)
        )
    # FTS5: every word quoted (so nothing the user types is an operator), the last one a prefix.
    # SQLite reads the subquery's rows once per statement, into a list it then looks ids up in.
    fts = " ".join(f'"{t}"' for t in terms[:-1]) + (" " if len(terms) > 1 else "") + f'"{terms[-1]}"*'
    in_index = Message.id.in_(
        select(literal_column("rowid"))
        .select_from(text("message_fts"))
        .where(text("message_fts MATCH :fts").bindparams(fts=fts))
    )
    return Match(indexed=in_index, each=in_index, fts=fts)


# The document holds the text with "@" and "." made spaces (migration inbound0d1ocd0c): so does
# the query, and the parts of "rita@demo.test" are found one after the other (a phrase).
_AS_IN_DOCUMENT = str.maketrans("@.", "  ")


def _pg_term(term: str) -> str:
    # to_tsquery syntax: quote the lexeme so & | ! ( ) : in it mean nothing.
    return "'" + term.translate(_AS_IN_DOCUMENT).replace("'", "''").replace("\\", "") + "'"
