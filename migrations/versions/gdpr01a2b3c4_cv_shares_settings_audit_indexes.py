"""data protection: shared CV links and their views, team settings, audit log indexes

Revision ID: gdpr01a2b3c4
Revises: rec0b0c1d2e3
Create Date: 2026-12-06 11:30:00

"""
from alembic import op
import sqlalchemy as sa

import webapp.models.types


# revision identifiers, used by Alembic.
revision = 'gdpr01a2b3c4'
down_revision = 'rec0b0c1d2e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cv_shares',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('sections', sa.JSON(), nullable=False),
        sa.Column('file_ids', sa.JSON(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.Column('expires_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', webapp.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_cv_shares_candidate_id_candidates'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cv_shares_created_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cv_shares')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_cv_shares_token_hash')),
    )
    op.create_index(op.f('ix_cv_shares_candidate_id'), 'cv_shares', ['candidate_id'], unique=False)
    op.create_table(
        'cv_share_views',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_id', sa.Integer(), nullable=False),
        sa.Column('viewed_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=False),
        sa.Column('what', sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(['share_id'], ['cv_shares.id'], name=op.f('fk_cv_share_views_share_id_cv_shares'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cv_share_views')),
    )
    op.create_index(op.f('ix_cv_share_views_share_id'), 'cv_share_views', ['share_id'], unique=False)
    op.create_table(
        'settings',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', webapp.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_settings')),
    )
    op.create_index('ix_audit_log_action', 'audit_log', ['action', 'id'], unique=False)
    op.create_index('ix_audit_log_created_at', 'audit_log', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_audit_log_created_at', table_name='audit_log')
    op.drop_index('ix_audit_log_action', table_name='audit_log')
    op.drop_table('settings')
    op.drop_index(op.f('ix_cv_share_views_share_id'), table_name='cv_share_views')
    op.drop_table('cv_share_views')
    op.drop_index(op.f('ix_cv_shares_candidate_id'), table_name='cv_shares')
    op.drop_table('cv_shares')
