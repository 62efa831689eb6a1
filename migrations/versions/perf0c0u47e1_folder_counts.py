"""folder counts: the unread counters kept with the folder entries

Revision ID: perf0c0u47e1
Revises: e2e7c1a1f0b2
Create Date: 2026-12-06 11:20:00

Filled from the entries as they are. The partial index of unread entries, which the counts
used to be read from, goes: it only cost writes. Search now reads entries of the folder "all",
which only a rebuild makes: after upgrading, run `flask --app wsgi folders rebuild`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'perf0c0u47e1'
down_revision = 'e2e7c1a1f0b2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'folder_counts',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('folder', sa.String(length=24), nullable=False),
        sa.Column('unread', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_folder_counts_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'folder', name=op.f('pk_folder_counts')),
    )
    # The folders that show an unread count (webapp/mail/read/folders.py, counts_unread).
    op.execute(
        "INSERT INTO folder_counts (user_id, folder, unread) "
        "SELECT user_id, folder, count(*) FROM folder_entries WHERE is_unread AND folder IN "
        "('inbox', 'candidates', 'followed-candidates', 'followed-jobs', 'non-candidates', 'incoming-cv') "
        "GROUP BY user_id, folder"
    )
    op.drop_index('ix_folder_entries_unread', table_name='folder_entries')


def downgrade():
    op.create_index(
        'ix_folder_entries_unread', 'folder_entries', ['user_id', 'folder'],
        postgresql_where=sa.text('is_unread'), sqlite_where=sa.text('is_unread'),
    )
    op.drop_table('folder_counts')
