"""indexes for deleting messages: the reports about a message and its folder entries

Revision ID: lead01a2b3c4
Revises: perf5ea4c4d0c1
Create Date: 2026-12-06 12:45:00

Erasing a candidate or applying retention deletes messages; without these indexes each
deleted message made the database scan messages (for reports naming it) and folder_entries.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'lead01a2b3c4'
down_revision = 'perf5ea4c4d0c1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f('ix_messages_bounced_message_id'), 'messages', ['bounced_message_id'])
    op.create_index(op.f('ix_folder_entries_message_id'), 'folder_entries', ['message_id'])


def downgrade():
    op.drop_index(op.f('ix_folder_entries_message_id'), table_name='folder_entries')
    op.drop_index(op.f('ix_messages_bounced_message_id'), table_name='messages')
