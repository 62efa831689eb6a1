"""draft origins: a draft remembers the message it forwards, or the scheduled message it edits

Revision ID: ui12drf0c1d2
Revises: ui12sig0a1b2
Create Date: 2026-12-06 15:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ui12drf0c1d2"
down_revision = "ui12sig0a1b2"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch copy): on SQLite, rebuilding messages would drop its triggers.
    op.add_column("messages", sa.Column("forward_of_id", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("revises_id", sa.Integer(), nullable=True))


def downgrade():
    op.execute("ALTER TABLE messages DROP COLUMN revises_id")
    op.execute("ALTER TABLE messages DROP COLUMN forward_of_id")
