"""held scheduled mail: the candidate replied after it was scheduled; it waits for its author

Revision ID: dra1d0c0e0f1
Revises: sy13a1b2c3d4
Create Date: 2026-12-06 12:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'dra1d0c0e0f1'
down_revision = 'sy13a1b2c3d4'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy): on SQLite, rebuilding messages would drop its triggers.
    op.add_column('messages', sa.Column('held_at', sa.DateTime(), nullable=True))


def downgrade():
    # SQLite >= 3.35 drops a column in place, keeping the triggers (no batch copy either).
    op.execute('ALTER TABLE messages DROP COLUMN held_at')
