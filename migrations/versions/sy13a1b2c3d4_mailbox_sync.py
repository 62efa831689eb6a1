"""mailbox sync: a user's IMAP mailbox, how far each folder was read, what was appended to Sent

Revision ID: sy13a1b2c3d4
Revises: lead01a2b3c4
Create Date: 2026-12-06 11:30:00

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'sy13a1b2c3d4'
down_revision = 'lead01a2b3c4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mailbox_connections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('security', sa.String(length=12), nullable=False),
        sa.Column('username', sa.String(length=255), nullable=False),
        sa.Column('secret', sa.LargeBinary(), nullable=False),
        sa.Column('incoming_folder', sa.String(length=255), nullable=False),
        sa.Column('sent_folder', sa.String(length=255), nullable=True),
        sa.Column('connected_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.Column('next_sync_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.Column('last_sync_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.Column('last_error_kind', sa.String(length=16), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_error_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('imported_count', sa.BigInteger(), server_default='0', nullable=False),
        sa.CheckConstraint("security IN ('tls', 'starttls', 'none')", name=op.f('ck_mailbox_connections_security')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mailbox_connections_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox_connections')),
        sa.UniqueConstraint('user_id', name=op.f('uq_mailbox_connections_user_id')),
    )
    op.create_index(op.f('ix_mailbox_connections_next_sync_at'), 'mailbox_connections', ['next_sync_at'])
    op.create_table(
        'mailbox_folders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
        sa.Column('last_uid', sa.BigInteger(), nullable=False),
        sa.Column('synced_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("role IN ('incoming', 'sent')", name=op.f('ck_mailbox_folders_role')),
        sa.ForeignKeyConstraint(['connection_id'], ['mailbox_connections.id'], name=op.f('fk_mailbox_folders_connection_id_mailbox_connections'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox_folders')),
        sa.UniqueConstraint('connection_id', 'name', name=op.f('uq_mailbox_folders_connection_id')),
    )
    op.create_table(
        'mailbox_appends',
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('appended_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['mailbox_connections.id'], name=op.f('fk_mailbox_appends_connection_id_mailbox_connections'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_mailbox_appends_message_id_messages'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('connection_id', 'message_id', name=op.f('pk_mailbox_appends')),
    )


def downgrade():
    op.drop_table('mailbox_appends')
    op.drop_table('mailbox_folders')
    op.drop_index(op.f('ix_mailbox_connections_next_sync_at'), table_name='mailbox_connections')
    op.drop_table('mailbox_connections')
