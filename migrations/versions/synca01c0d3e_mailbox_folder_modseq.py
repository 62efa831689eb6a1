"""mailbox folders remember their HIGHESTMODSEQ (CONDSTORE): an unchanged folder is not read

Revision ID: synca01c0d3e
Revises: syncb1d2e3f4
Create Date: 2026-12-06 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'synca01c0d3e'
down_revision = 'syncb1d2e3f4'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('mailbox_folders', sa.Column('highestmodseq', sa.BigInteger(), nullable=True))


def downgrade():
    op.execute('ALTER TABLE mailbox_folders DROP COLUMN highestmodseq')
