"""folder entries: per-user folder membership of conversations, read instead of computed

Revision ID: d1e2f3a4b5c6
Revises: c9d4e7a2b1f0
Create Date: 2026-12-06 09:05:00

The table is derived data: after upgrading, fill it with `flask --app wsgi folders rebuild`
(`make run` and the demo seed do it themselves).
"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'd1e2f3a4b5c6'
down_revision = 'c9d4e7a2b1f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'folder_entries',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('folder', sa.String(length=24), nullable=False),
        sa.Column('thread_id', sa.Integer(), nullable=False),
        sa.Column('activity_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('is_unread', sa.Boolean(), nullable=False),
        sa.Column('message_count', sa.Integer(), nullable=False),
        sa.Column('has_attachments', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_folder_entries_message_id_messages'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_folder_entries_thread_id_threads'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_folder_entries_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'folder', 'thread_id', name=op.f('pk_folder_entries')),
    )
    op.create_index('ix_folder_entries_page', 'folder_entries', ['user_id', 'folder', 'activity_at', 'thread_id'])
    op.create_index(
        'ix_folder_entries_unread', 'folder_entries', ['user_id', 'folder'],
        postgresql_where=sa.text('is_unread'), sqlite_where=sa.text('is_unread'),
    )
    op.create_index('ix_folder_entries_thread', 'folder_entries', ['thread_id'])


def downgrade():
    op.drop_index('ix_folder_entries_thread', table_name='folder_entries')
    op.drop_index('ix_folder_entries_unread', table_name='folder_entries')
    op.drop_index('ix_folder_entries_page', table_name='folder_entries')
    op.drop_table('folder_entries')
