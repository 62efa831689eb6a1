"""classification requeues

Revision ID: ded7debf5657
Revises: fbd56a0f8998
Create Date: 2026-11-28 03:27:28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ded7debf5657'
down_revision = 'fbd56a0f8998'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy): on SQLite, rebuilding messages would drop its search triggers.
    op.add_column(
        'messages', sa.Column('classify_requeues', sa.Integer(), server_default='0', nullable=False)
    )


def downgrade():
    # SQLite >= 3.35 drops a column in place, keeping the search triggers (no batch copy either).
    op.execute('ALTER TABLE messages DROP COLUMN classify_requeues')
