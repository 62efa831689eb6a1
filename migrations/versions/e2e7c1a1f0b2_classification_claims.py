"""classification claims: when a classify drain took an unclassified message

Revision ID: e2e7c1a1f0b2
Revises: gdpr01a2b3c4
Create Date: 2026-12-06 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e2e7c1a1f0b2'
down_revision = 'gdpr01a2b3c4'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy): on SQLite, rebuilding messages would drop its triggers.
    op.add_column('messages', sa.Column('classify_claimed_at', sa.DateTime(), nullable=True))


def downgrade():
    # SQLite >= 3.35 drops a column in place, keeping the triggers (no batch copy either).
    op.execute('ALTER TABLE messages DROP COLUMN classify_claimed_at')
