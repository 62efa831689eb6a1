"""Typed handles for the modules that write Core statements (delivery, filing, classification).

A model's `__table__` is typed as a FromClause, which Core's insert/update/delete refuse; it
is a Table. An INSERT, UPDATE or DELETE returns a CursorResult (rowcount, the new primary key),
which `Session.execute` types as a plain Result. Each is said once, here.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    CursorResult,
    Executable,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from webapp.extensions import Model, db


def table_of(model: type[Model]) -> Table:
    """The model's table, as Core statements take it."""
    return cast(Table, model.__table__)


class InList(ColumnElement[bool]):
    """`column IN (...)` over a list given at execution, as the parameter `name`.

    On PostgreSQL `column = ANY(:name)`, over one array: an expanding IN writes a new text for
    every length of the list, which PostgreSQL parses and plans anew and psycopg never prepares
    (a drain's group asks about 1 to 25 messages, conversations or senders in a dozen
    statements: its plans were most of PostgreSQL's planning). Elsewhere the expanding IN.
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is: SQLite would get "(... IN (...)) = 1"
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str):
        self.column = column
        self.name = name


@compiles(InList)
def _expanding_in(element: InList, compiler, **kw) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(InList, "postgresql")
def _any_of_array(element: InList, compiler, **kw) -> str:
    item = element.column.type
    if isinstance(item, NullType):  # a function's result (lower(email)): text
        item = String()
    array = bindparam(element.name, type_=ARRAY(item, dimensions=1))
    return compiler.process(element.column == any_(array), **kw)


def execute_dml(
    statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
) -> CursorResult[Any]:
    """Run an INSERT, UPDATE or DELETE in the session; its result (rowcount, inserted key)."""
    return cast(CursorResult[Any], db.session.execute(statement, params))


class RowsInsert:
    """An INSERT of many rows at once: on PostgreSQL one statement over arrays, elsewhere executemany.

    psycopg sends an executemany's rows together, but PostgreSQL still runs one INSERT a row
    (an executor started and ended, a snapshot, a command counter): a drain's group of 25
    messages writes about 180 folder entries. Over arrays (`unnest`) it runs one, whatever
    the count, with one text (prepared once). SQLAlchemy's multi-row INSERT for `returning`
    writes a new text for every count of rows (the listener's batches: built, converted by
    psycopg and planned by PostgreSQL each time).

    The columns are the rows' keys (every row has the same ones); the model's Python-side
    defaults fill the others, as an ORM or Core INSERT would. `returning`: the column whose
    values `__call__` returns, in the order of the rows (the table's autoincrement key:
    PostgreSQL draws it row after row, in the order the rows are selected, as SQLAlchemy's
    own ordered RETURNING assumes).
    """

    def __init__(
        self, table: Table, statement: Insert | None = None, returning: ColumnElement[int] | None = None
    ):
        self.table = table
        self.returning = returning
        self.base = insert(table) if statement is None else statement
        # executemany's statement (SQLite): SQLAlchemy returns the keys in the rows' order.
        self.plain = self.base
        if returning is not None:
            self.plain = self.base.returning(returning, sort_by_parameter_order=True)
        self.over_arrays: dict[tuple[str, ...], tuple[Insert, dict[str, Any]]] = {}  # by the rows' keys

    def _over_arrays(self, columns: tuple[str, ...]) -> tuple[Insert, dict[str, Any]]:
        """The INSERT over arrays for rows with these keys, and the defaults of the other columns."""
        known = self.over_arrays.get(columns)
        if known is not None:
            return known
        defaults = {
            c.name: c.default
            for c in self.table.c
            if c.name not in columns
            and isinstance(c.default, (ScalarElementColumnDefault, CallableColumnDefault))
        }
        every = columns + tuple(defaults)
        arrays = [bindparam(c, type_=ARRAY(self.table.c[c].type, dimensions=1)) for c in every]
        rows = func.unnest(*arrays).table_valued(*every, with_ordinality="row_number").render_derived()
        statement = self.base.from_select(
            every, select(*(rows.c[c] for c in every)).order_by(rows.c.row_number)
        )
        if self.returning is not None:
            statement = statement.returning(self.returning)
        self.over_arrays[columns] = statement, defaults
        return statement, defaults

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert the rows in the session; the `returning` column's values, in the rows' order."""
        if not rows:
            return []
        if db.session.get_bind().dialect.name != "postgresql":
            result = db.session.execute(self.plain, rows)
            return list(result.scalars()) if self.returning is not None else []
        columns = tuple(rows[0])
        statement, defaults = self._over_arrays(columns)
        params = {c: [row[c] for row in rows] for c in columns}
        for name, default in defaults.items():
            if isinstance(default, ScalarElementColumnDefault):
                params[name] = [default.arg] * len(rows)
            else:  # the model's callable (list, utcnow), which SQLAlchemy wraps to take a context
                make = cast(Callable[[None], Any], default.arg)
                params[name] = [make(None) for _ in rows]
        result = db.session.execute(statement, params)
        return sorted(result.scalars()) if self.returning is not None else []
