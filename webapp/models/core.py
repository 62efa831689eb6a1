"""Typed handles for the modules that write Core statements (delivery, filing, classification).

A model's `__table__` is typed as a FromClause, which Core's insert/update/delete refuse; it
is a Table. An INSERT, UPDATE or DELETE returns a CursorResult (rowcount, the new primary key),
which `Session.execute` types as a plain Result. Each is said once, here.
"""

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Table

from webapp.extensions import Model, db


def table_of(model: type[Model]) -> Table:
    """The model's table, as Core statements take it."""
    return cast(Table, model.__table__)


def execute_dml(
    statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
) -> CursorResult[Any]:
    """Run an INSERT, UPDATE or DELETE in the session; its result (rowcount, inserted key)."""
    return cast(CursorResult[Any], db.session.execute(statement, params))
