"""The schema comes from the migrations, and they match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from webapp.extensions import db


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as conn:
        from webapp.mail.read.search import include_in_autogenerate

        context = MigrationContext.configure(conn, opts={"include_object": include_in_autogenerate})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_folder_queries_have_indexes(app):
    from sqlalchemy import inspect

    with app.app_context():
        inspector = inspect(db.engine)
        indexed = {
            (table, tuple(ix["column_names"]))
            for table in ("threads", "messages", "message_recipients", "placements")
            for ix in inspector.get_indexes(table)
        }
    for needed in [
        ("threads", ("last_message_at", "id")),
        ("messages", ("thread_id", "sort_at")),
        ("messages", ("candidate_id",)),
        ("messages", ("sender_id", "status")),
        ("message_recipients", ("user_id",)),
        ("placements", ("offer_id",)),
    ]:
        assert needed in indexed, needed


def test_classification_requeues_migration_goes_down_and_up_keeping_search(app):
    """A plain ADD/DROP COLUMN: on SQLite a table rebuild would drop the search triggers."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    with app.app_context():
        try:
            downgrade(revision="fbd56a0f8998")
            db.engine.dispose()  # forget the pooled connections' view of the schema
            assert "classify_requeues" not in {c["name"] for c in inspect(db.engine).get_columns("messages")}
        finally:
            upgrade()
            db.engine.dispose()
        assert "classify_requeues" in {c["name"] for c in inspect(db.engine).get_columns("messages")}
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as conn:
                triggers = conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all()
            assert {"messages_fts_insert", "messages_fts_update", "messages_fts_delete"} <= set(triggers)
