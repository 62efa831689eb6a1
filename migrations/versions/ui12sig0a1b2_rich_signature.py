"""rich signature: the user's signature as cleaned HTML too (bold, italic, links)

Revision ID: ui12sig0a1b2
Revises: synca02p4r0g
Create Date: 2026-12-06 15:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ui12sig0a1b2"
down_revision = "synca02p4r0g"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("signature_html", sa.Text(), nullable=True))


def downgrade():
    op.execute("ALTER TABLE users DROP COLUMN signature_html")
