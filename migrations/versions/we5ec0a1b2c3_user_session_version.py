"""user session version

Revision ID: we5ec0a1b2c3
Revises: d1e2f3a4b5c6
Create Date: 2026-12-06 11:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'we5ec0a1b2c3'
down_revision = 'd1e2f3a4b5c6'
branch_labels = None
depends_on = None


def upgrade():
    # Every session and remember cookie names the version it was signed in under; logout and a
    # new password move it on, which ends them all (webapp/auth/sessions.py).
    op.add_column('users', sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('session_version')
