"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:17:50.347667
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "open",
                "closed",
                "published",
                name="campaign_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("disclosure_threshold", sa.Integer(), nullable=False),
        sa.Column("questionnaire", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("slug", name=op.f("uq_campaigns_slug")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "campaign_rater_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_rater_groups_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_rater_groups")),
        sa.UniqueConstraint(
            "campaign_id", "key", name=op.f("uq_campaign_rater_groups_campaign_id_key")
        ),
    )
    op.create_table(
        "campaign_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_targets_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_campaign_targets_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_targets")),
        sa.UniqueConstraint(
            "campaign_id",
            "department_id",
            name=op.f("uq_campaign_targets_campaign_id_department_id"),
        ),
    )
    op.create_table(
        "code_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("rater_group_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_code_batches_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["rater_group_id"],
            ["campaign_rater_groups.id"],
            name=op.f("fk_code_batches_rater_group_id_campaign_rater_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name=op.f("fk_code_batches_target_id_campaign_targets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_batches")),
    )
    with op.batch_alter_table("code_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_code_batches_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "evaluations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("rater_group_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.String(length=60), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("quality_flags", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_evaluations_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["rater_group_id"],
            ["campaign_rater_groups.id"],
            name=op.f("fk_evaluations_rater_group_id_campaign_rater_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name=op.f("fk_evaluations_target_id_campaign_targets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluations_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "admission_codes",
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "unused",
                "used",
                "revoked",
                name="code_status",
                native_enum=False,
                create_constraint=True,
                length=8,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["code_batches.id"], name=op.f("fk_admission_codes_batch_id_code_batches")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_admission_codes")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("admission_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admission_codes_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("admission_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admission_codes_batch_id"))

    op.drop_table("admission_codes")
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluations_campaign_id"))

    op.drop_table("evaluations")
    with op.batch_alter_table("code_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_code_batches_campaign_id"))

    op.drop_table("code_batches")
    op.drop_table("campaign_targets")
    op.drop_table("campaign_rater_groups")
    op.drop_table("departments")
    op.drop_table("campaigns")
