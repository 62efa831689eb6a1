"""participants keep their mail; sender authentication of inbound mail

Revision ID: lea5c0de0001
Revises: we5ec0a1b2c3
Create Date: 2026-12-06 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'lea5c0de0001'
down_revision = 'we5ec0a1b2c3'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (no batch copy): on SQLite, rebuilding messages would drop its search triggers.
    # Mail moved to a candidate by a conversion (or an answer in a conversation with no candidate):
    # the people who took part keep seeing it, whoever may see the candidate.
    op.add_column(
        'messages',
        sa.Column('shown_to_participants', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # What the receiving server's Authentication-Results said of the sender: pass, fail or none
    # (NULL: not checked: outbound mail, mail from before this column, an admin's import).
    op.add_column('messages', sa.Column('sender_auth', sa.String(length=8), nullable=True))


def downgrade():
    # SQLite >= 3.35 drops a column in place, keeping the search triggers (no batch copy either).
    op.execute('ALTER TABLE messages DROP COLUMN sender_auth')
    op.execute('ALTER TABLE messages DROP COLUMN shown_to_participants')
