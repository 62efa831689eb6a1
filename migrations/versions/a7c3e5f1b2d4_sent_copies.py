"""sent copies: the bytes each outbound message left with, in the database

Revision ID: a7c3e5f1b2d4
Revises: ded7debf5657
Create Date: 2026-11-28 04:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e5f1b2d4'
down_revision = 'ded7debf5657'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sent_copies',
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('message_id'),
    )


def downgrade():
    op.drop_table('sent_copies')
