"""message carries: what candidate data an outbound message carries (forward, CV attached)

Revision ID: privacy0c1a2b3
Revises: dra1d0c0e0f1
Create Date: 2026-12-06 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'privacy0c1a2b3'
down_revision = 'dra1d0c0e0f1'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy): on SQLite, rebuilding messages would drop its triggers.
    op.add_column('messages', sa.Column('carries', sa.String(length=8), nullable=True))


def downgrade():
    # SQLite >= 3.35 drops a column in place, keeping the triggers (no batch copy either).
    op.execute('ALTER TABLE messages DROP COLUMN carries')
