"""mailbox connections show a running sync's progress: how many messages it reads, how many are read

Revision ID: synca02p4r0g
Revises: synca01c0d3e
Create Date: 2026-12-06 15:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'synca02p4r0g'
down_revision = 'synca01c0d3e'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('mailbox_connections', sa.Column('sync_total', sa.BigInteger(), nullable=True))
    op.add_column('mailbox_connections', sa.Column('sync_done', sa.BigInteger(), nullable=True))


def downgrade():
    op.execute('ALTER TABLE mailbox_connections DROP COLUMN sync_done')
    op.execute('ALTER TABLE mailbox_connections DROP COLUMN sync_total')
