"""shared mailboxes: an admin connects jobs@ / talent@ and names who shares it; a mailbox is connected once

Revision ID: syncb1d2e3f4
Revises: syncb0a1b2c3
Create Date: 2026-12-06 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'syncb1d2e3f4'
down_revision = 'syncb0a1b2c3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mailbox_connections') as batch:
        batch.add_column(sa.Column('shared', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('name', sa.String(length=120), nullable=True))
        batch.drop_constraint(op.f('uq_mailbox_connections_user_id'), type_='unique')
        batch.create_unique_constraint(op.f('uq_mailbox_connections_host'), ['host', 'username'])
    op.create_index(
        'uq_mailbox_connections_personal',
        'mailbox_connections',
        ['user_id'],
        unique=True,
        sqlite_where=sa.text('NOT shared'),
        postgresql_where=sa.text('NOT shared'),
    )
    op.create_table(
        'mailbox_shares',
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['mailbox_connections.id'], name=op.f('fk_mailbox_shares_connection_id_mailbox_connections'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mailbox_shares_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('connection_id', 'user_id', name=op.f('pk_mailbox_shares')),
    )
    op.create_index(op.f('ix_mailbox_shares_user_id'), 'mailbox_shares', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_mailbox_shares_user_id'), table_name='mailbox_shares')
    op.drop_table('mailbox_shares')
    op.execute('DELETE FROM mailbox_connections WHERE shared')
    op.drop_index('uq_mailbox_connections_personal', table_name='mailbox_connections')
    with op.batch_alter_table('mailbox_connections') as batch:
        batch.drop_constraint(op.f('uq_mailbox_connections_host'), type_='unique')
        batch.create_unique_constraint(op.f('uq_mailbox_connections_user_id'), ['user_id'])
        batch.drop_column('name')
        batch.drop_column('shared')
