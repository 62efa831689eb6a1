"""The demo, loaded through the real paths once a test session, then put back as it was.

Loading the demo writes 160 messages through the inbound pipeline and the delivery drain: over
two seconds, and some 80 browser tests each want it. The first load is kept (every table's
rows, and a copy of the blob store as it stood then) and each later test gets those rows back,
and any blob it finds missing, in a few milliseconds.
What a test wrote is gone by then (the autouse `db` fixture empties the tables after it).
"""

import shutil
from pathlib import Path

from sqlalchemy import func, insert, select, text

from webapp import changes
from webapp.extensions import db
from webapp.models import User
from webapp.models.core import table_of
from webapp.services import blob_store


class DemoSnapshot:
    """`load()` in an app context: the demo, from the snapshot once there is one."""

    def __init__(self, blob_copy: Path):
        self.blob_copy = blob_copy
        self.tables: list[tuple] | None = None  # (table, its rows), parents first
        self.blobs: list[Path] = []  # relative to the store's root

    def load(self) -> None:
        from webapp.demo import load_demo

        if self.tables is None:
            load_demo()
            self._take()
        else:
            self._put_back()

    def _take(self) -> None:
        self.tables = []
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if c.computed is None]  # PostgreSQL computes those
                # In key order: a row naming another of its table (a bounce, the message it
                # reports on) comes after it, as it was written.
                ordered = select(*columns).order_by(*table.primary_key.columns)
                rows = [dict(row) for row in conn.execute(ordered).mappings()]
                self.tables.append((table, rows))
        root = blob_store().root
        shutil.copytree(root, self.blob_copy, dirs_exist_ok=True)
        self.blobs = [
            path.relative_to(self.blob_copy) for path in self.blob_copy.rglob("*") if path.is_file()
        ]

    def _put_back(self) -> None:
        assert self.tables is not None
        session = db.session
        postgresql = db.engine.dialect.name == "postgresql"
        if not postgresql:
            session.execute(text("PRAGMA defer_foreign_keys = ON"))  # a bounce names a message of its table
        for table, rows in self.tables:
            if not rows:
                continue
            session.execute(insert(table), rows)  # through the session: the team's pages move
            if postgresql and "id" in table.c:  # the next id drawn must follow the rows put back
                sequence = func.pg_get_serial_sequence(table.name, "id")
                session.execute(select(func.setval(sequence, func.max(table.c.id))))
        # The users' own views (entries, counters, read state) move only when told.
        users = table_of(User)
        changes.touch_users(
            session, [row["id"] for table, rows in self.tables if table is users for row in rows]
        )
        session.commit()
        root = blob_store().root
        for relative in self.blobs:  # a test may have erased some (a candidate's data deleted)
            target = root / relative
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.blob_copy / relative, target)
