"""mailbox oauth: a connection logs in with a password or with OAuth 2.0 tokens (encrypted)

Revision ID: syncb0a1b2c3
Revises: privacy0c1a2b3
Create Date: 2026-12-06 14:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'syncb0a1b2c3'
down_revision = 'privacy0c1a2b3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mailbox_connections') as batch:
        batch.add_column(sa.Column('auth', sa.String(length=12), server_default='password', nullable=False))
        batch.add_column(sa.Column('oauth_provider', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('access_secret', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('access_expires_at', sa.DateTime(), nullable=True))
        batch.create_check_constraint(op.f('ck_mailbox_connections_auth'), "auth IN ('password', 'oauth2')")


def downgrade():
    with op.batch_alter_table('mailbox_connections') as batch:
        batch.drop_constraint(op.f('ck_mailbox_connections_auth'), type_='check')
        batch.drop_column('access_expires_at')
        batch.drop_column('access_secret')
        batch.drop_column('oauth_provider')
        batch.drop_column('auth')
