"""psycopg cursors describe a statement's columns once per connection (webapp/pgcursor.py)."""

import os

import pytest
from sqlalchemy import text

from webapp.extensions import db

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="psycopg's cursors: PostgreSQL only",
)


def test_the_same_statement_is_described_once_and_read_the_same(app):
    with app.app_context():
        conn = db.session.connection()
        first = conn.exec_driver_sql("SELECT 1 AS one, 'x'::text AS two")
        described = first.cursor.description
        assert [c.name for c in described] == ["one", "two"]
        assert first.all() == [(1, "x")]
        second = conn.exec_driver_sql("SELECT 1 AS one, 'x'::text AS two")
        assert second.cursor.description is described  # not built again
        assert second.mappings().all() == [{"one": 1, "two": "x"}]


def test_a_column_of_another_type_is_described_anew(app):
    """The same text, once the table changed: the result's types say so, and so does the description."""
    with app.app_context():
        conn = db.session.connection()
        conn.exec_driver_sql("CREATE TEMP TABLE described (v integer)")
        conn.exec_driver_sql("INSERT INTO described VALUES (7)")
        before = conn.exec_driver_sql("SELECT v FROM described")
        assert before.cursor.description[0].type_code == 23  # int4
        assert before.all() == [(7,)]
        conn.exec_driver_sql("ALTER TABLE described ALTER COLUMN v TYPE text")
        after = conn.exec_driver_sql("SELECT v FROM described")
        assert after.cursor.description[0].type_code == 25  # text
        assert after.all() == [("7",)]
        db.session.rollback()


def test_a_statement_without_rows_has_no_description(app):
    with app.app_context():
        result = db.session.execute(text("SET LOCAL statement_timeout = 1000"))
        assert result.cursor is None or result.cursor.description is None
        db.session.rollback()
