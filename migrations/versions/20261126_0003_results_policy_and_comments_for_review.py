"""results policy and comments for review

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:42:00.878413
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comment_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                name="comment_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_comment_reviews_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name=op.f("fk_comment_reviews_target_id_campaign_targets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_reviews")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("comment_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_reviews_campaign_id"), ["campaign_id"], unique=False
        )

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("policy")

    with op.batch_alter_table("comment_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_reviews_campaign_id"))

    op.drop_table("comment_reviews")
