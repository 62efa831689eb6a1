"""status vocabulary: CHECK constraints on messages' direction, status, outcome, delivery state

Revision ID: c9d4e7a2b1f0
Revises: a7c3e5f1b2d4
Create Date: 2026-12-06 08:30:00

PostgreSQL gets real CHECK constraints. SQLite can only add one by rebuilding the table, and
with foreign keys on, dropping the old `messages` table would cascade into attachments, reads
and recipients (and drop the full-text triggers): there, BEFORE INSERT/UPDATE triggers refuse
the same values instead. The allowed values are written out here, as they were at this
revision: a later change to the enums needs a migration of its own.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c9d4e7a2b1f0'
down_revision = 'a7c3e5f1b2d4'
branch_labels = None
depends_on = None

DIRECTIONS = ("inbound", "outbound")
STATUSES = (
    "draft", "queued", "scheduled", "sending", "sent", "failed", "unknown", "cancelled", "received",
    "quarantined",
)
OUTCOMES = (
    "duplicate", "bounce", "auto_reply", "reply", "incoming_cv", "candidate", "internal", "non_candidate",
    "quarantined",
)
DELIVERY_STATES = ("delayed", "bounced")

# name -> (column, allowed values, whether NULL is allowed)
CHECKS = {
    "ck_messages_direction": ("direction", DIRECTIONS, False),
    "ck_messages_status": ("status", STATUSES, False),
    "ck_messages_outcome": ("outcome", OUTCOMES, True),
    "ck_messages_delivery_state": ("delivery_state", DELIVERY_STATES, True),
}


def _condition(column: str, values: tuple[str, ...], nullable: bool, prefix: str = "") -> str:
    allowed = f"{prefix}{column} IN ({', '.join(repr(v) for v in values)})"
    return f"{prefix}{column} IS NULL OR {allowed}" if nullable else allowed


def upgrade():
    dialect = op.get_bind().dialect.name
    # Workers before 2026-11 claimed a message with the outcome "classifying" in a commit of its
    # own; such a claim left by a dead worker is not a word of the vocabulary. Unclassified
    # again, the sweep classifies it.
    op.execute("UPDATE messages SET outcome = NULL, classified_at = NULL WHERE outcome = 'classifying'")
    for name, (column, values, nullable) in CHECKS.items():
        if dialect == "sqlite":
            refuse = f"SELECT RAISE(ABORT, 'CHECK constraint failed: {name}');"
            when = f"NOT ({_condition(column, values, nullable, 'new.')})"
            op.execute(f"CREATE TRIGGER {name}_insert BEFORE INSERT ON messages WHEN {when} BEGIN {refuse} END")
            op.execute(
                f"CREATE TRIGGER {name}_update BEFORE UPDATE OF {column} ON messages WHEN {when} "
                f"BEGIN {refuse} END"
            )
        else:
            op.create_check_constraint(name, "messages", _condition(column, values, nullable))


def downgrade():
    dialect = op.get_bind().dialect.name
    for name in CHECKS:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}_insert")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_update")
        else:
            op.drop_constraint(name, "messages", type_="check")
