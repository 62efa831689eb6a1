"""psycopg's cursor, describing a statement's result columns once per connection.

SQLAlchemy reads `cursor.description` after every execute, and psycopg builds a Column object
for each column every time it is read (about 2 us each). The classify drain reads a stored
row of 35 columns for every message: describing it cost more than PostgreSQL's answer. The
same text gives the same columns; the cache checks the column types of each result all the
same (a table altered meanwhile, or a parameter of another type, gives new ones).
"""

import weakref
from typing import Any

import psycopg
from psycopg.pq import ExecStatus

# Per connection: statement text -> (its result's column type oids, their Columns).
_DESCRIBED: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()
# Texts remembered per connection, at most (a flood of distinct texts starts over).
MAX_TEXTS = 500


class DescribedOnceCursor(psycopg.Cursor):
    """A psycopg cursor whose `description` is built once for each statement text."""

    @property
    def description(self) -> list[psycopg.Column] | None:
        result, query = self.pgresult, self._last_query
        if result is None or not isinstance(query, str) or result.status != ExecStatus.TUPLES_OK:
            return super().description
        types = tuple(result.ftype(i) for i in range(result.nfields))
        described = _DESCRIBED.get(self._conn)
        if described is None:
            described = _DESCRIBED[self._conn] = {}
        known = described.get(query)
        if known is not None and known[0] == types:
            return known[1]
        columns = super().description
        if len(described) >= MAX_TEXTS:
            described.clear()
        described[query] = (types, columns)
        return columns


def use_described_once(dbapi_connection) -> None:
    """Make `dbapi_connection` (a psycopg connection) open DescribedOnceCursors."""
    if isinstance(dbapi_connection, psycopg.Connection):
        dbapi_connection.cursor_factory = DescribedOnceCursor
