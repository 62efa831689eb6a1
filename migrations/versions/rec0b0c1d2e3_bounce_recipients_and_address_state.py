"""bounce recipients, a candidate address that does not work, away until

Revision ID: rec0b0c1d2e3
Revises: lea5c0de0001
Create Date: 2026-12-06 12:10:00

Each failed recipient of a delivery report gets a row (also for reports that match no sent
message); a candidate's address keeps when and why it stopped working; an out-of-office
reply, and its candidate, keep the date the person is back.
"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'rec0b0c1d2e3'
down_revision = 'lea5c0de0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bounce_recipients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=True),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('diagnostic', sa.Text(), nullable=False),
        sa.Column('reporting_mta', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_bounce_recipients_message_id_messages'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bounce_recipients')),
    )
    op.create_index(op.f('ix_bounce_recipients_message_id'), 'bounce_recipients', ['message_id'])
    op.create_index(op.f('ix_bounce_recipients_address'), 'bounce_recipients', ['address'])
    # Plain ADD COLUMNs (no batch copy): on SQLite, rebuilding messages would drop its search triggers.
    op.add_column('candidate_emails', sa.Column('failing_since', webapp.models.types.UTCDateTime(), nullable=True))
    op.add_column('candidate_emails', sa.Column('failing_reason', sa.Text(), nullable=True))
    op.add_column('messages', sa.Column('away_until', sa.Date(), nullable=True))
    op.add_column('candidates', sa.Column('away_until', sa.Date(), nullable=True))


def downgrade():
    # SQLite >= 3.35 drops a column in place, keeping the search triggers (no batch copy either).
    op.execute('ALTER TABLE candidates DROP COLUMN away_until')
    op.execute('ALTER TABLE messages DROP COLUMN away_until')
    op.execute('ALTER TABLE candidate_emails DROP COLUMN failing_reason')
    op.execute('ALTER TABLE candidate_emails DROP COLUMN failing_since')
    op.drop_index(op.f('ix_bounce_recipients_address'), table_name='bounce_recipients')
    op.drop_index(op.f('ix_bounce_recipients_message_id'), table_name='bounce_recipients')
    op.drop_table('bounce_recipients')
