"""unclassified index: a partial index of inbound mail not classified yet (the drains' claims)

Revision ID: inbound0c1a551f
Revises: ui12drf0c1d2
Create Date: 2026-12-06 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'inbound0c1a551f'
down_revision = 'ui12drf0c1d2'
branch_labels = None
depends_on = None

PREDICATE = "outcome IS NULL AND direction = 'inbound'"


def upgrade():
    # Outbound mail has no outcome either: without this, every claim read all the sent mail.
    op.create_index(
        'ix_messages_unclassified',
        'messages',
        ['direction', 'classify_claimed_at', 'id'],
        unique=False,
        sqlite_where=sa.text(PREDICATE),
        postgresql_where=sa.text(PREDICATE),
    )


def downgrade():
    op.drop_index('ix_messages_unclassified', table_name='messages')
