"""mailbox folders remember their HIGHESTMODSEQ (CONDSTORE): an unchanged folder is not read

Revision ID: synca01c0d3e
Revises: dra1d0c0e0f1
Create Date: 2026-12-06 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'synca01c0d3e'
down_revision = 'dra1d0c0e0f1'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('mailbox_folders', sa.Column('highestmodseq', sa.BigInteger(), nullable=True))


def downgrade():
    op.execute('ALTER TABLE mailbox_folders DROP COLUMN highestmodseq')
