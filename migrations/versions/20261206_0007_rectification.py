"""rectification

问题清单 and 整改, after publication: each campaign's thresholds for its problem list, the
problem items, the tasks assigned to departments with their notes and evidence files, and the
office's own working-day overrides of the public-holiday calendar. Office side only: nothing
here is written by a rating or describes a rater.

An expand migration: it only adds, so it keeps the application revisions listed in
``schema_compatibility`` and adds its own.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rectification_workday_overrides",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_rectification_workday_overrides")),
    )
    op.create_table(
        "rectification_settings",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("item_mean_below", sa.Float(), nullable=False),
        sa.Column("satisfaction_below", sa.Float(), nullable=False),
        sa.Column("poor_share_above", sa.Float(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_rectification_settings_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_rectification_settings")),
    )
    op.create_table(
        "rectification_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "assigned",
                "plan_submitted",
                "in_progress",
                "report_submitted",
                "accepted",
                "returned",
                name="rectification_task_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("responsible_post", sa.String(length=100), nullable=True),
        sa.Column("plan_starts_on", sa.Date(), nullable=True),
        sa.Column("plan_ends_on", sa.Date(), nullable=True),
        sa.Column("report_submitted_on", sa.Date(), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_rectification_tasks_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name=op.f("fk_rectification_tasks_target_id_campaign_targets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_tasks")),
    )
    op.create_index(
        op.f("ix_rectification_tasks_campaign_id"), "rectification_tasks", ["campaign_id"]
    )
    op.create_index(op.f("ix_rectification_tasks_target_id"), "rectification_tasks", ["target_id"])
    op.create_table(
        "rectification_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["rectification_tasks.id"],
            name=op.f("fk_rectification_evidence_task_id_rectification_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_evidence")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_rectification_evidence_stored_name")),
    )
    op.create_index(
        op.f("ix_rectification_evidence_task_id"), "rectification_evidence", ["task_id"]
    )
    op.create_table(
        "rectification_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "progress",
                "report",
                "returned",
                "accepted",
                name="rectification_note_kind",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("written_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["rectification_tasks.id"],
            name=op.f("fk_rectification_notes_task_id_rectification_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_notes")),
    )
    op.create_index(op.f("ix_rectification_notes_task_id"), "rectification_notes", ["task_id"])
    op.create_table(
        "rectification_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "item",
                "bottom",
                "comment",
                "manual",
                name="rectification_problem_kind",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_rectification_problems_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name=op.f("fk_rectification_problems_target_id_campaign_targets"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["rectification_tasks.id"],
            name=op.f("fk_rectification_problems_task_id_rectification_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_problems")),
    )
    op.create_index(
        op.f("ix_rectification_problems_campaign_id"), "rectification_problems", ["campaign_id"]
    )
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('0007')")


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0007'")
    op.drop_index(
        op.f("ix_rectification_problems_campaign_id"), table_name="rectification_problems"
    )
    op.drop_table("rectification_problems")
    op.drop_index(op.f("ix_rectification_notes_task_id"), table_name="rectification_notes")
    op.drop_table("rectification_notes")
    op.drop_index(op.f("ix_rectification_evidence_task_id"), table_name="rectification_evidence")
    op.drop_table("rectification_evidence")
    op.drop_index(op.f("ix_rectification_tasks_target_id"), table_name="rectification_tasks")
    op.drop_index(op.f("ix_rectification_tasks_campaign_id"), table_name="rectification_tasks")
    op.drop_table("rectification_tasks")
    op.drop_table("rectification_settings")
    op.drop_table("rectification_workday_overrides")
