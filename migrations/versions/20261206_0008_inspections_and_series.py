"""inspections and series

- ``campaigns.series``: campaigns sharing a key form a series (e.g. annual), compared year
  over year on public department pages;
- staff accounts gain the role ``inspector`` (暗访), who records mystery-inspection findings;
- ``inspection_findings`` with ``inspection_evidence`` (files stored under random names),
  ``inspection_bulletins`` (通报单, numbered 〔year〕number号) and the findings each lists,
  and ``inspection_scores`` (the office's per-department score in a campaign, in hundredths).

An expand migration: it only adds, so it keeps the application revisions listed in
``schema_compatibility`` and adds its own.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE_CONSTRAINT = "ck_staff_users_staff_role"
OLD_ROLES = ("admin", "liaison", "auditor", "trustee")
NEW_ROLES = ("admin", "liaison", "auditor", "trustee", "inspector")
METHODS = ("simulated_application", "phone_check", "site_visit", "other")


def _role_check(roles: tuple[str, ...]) -> str:
    return "role IN ({})".format(", ".join(f"'{role}'" for role in roles))


def upgrade() -> None:
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('0008')")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_campaigns_series"), ["series"], unique=False)
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(ROLE_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(ROLE_CONSTRAINT), _role_check(NEW_ROLES))

    op.create_table(
        "inspection_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("found_on", sa.Date(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                *METHODS,
                name="inspection_method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_inspection_findings_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["staff_users.id"],
            name=op.f("fk_inspection_findings_recorded_by_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_findings")),
    )
    with op.batch_alter_table("inspection_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_findings_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inspection_findings_recorded_by"), ["recorded_by"], unique=False
        )
    op.create_table(
        "inspection_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("original_name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_inspection_evidence_evidence_size")),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["inspection_findings.id"],
            name=op.f("fk_inspection_evidence_finding_id_inspection_findings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_evidence")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_inspection_evidence_stored_name")),
    )
    with op.batch_alter_table("inspection_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_evidence_finding_id"), ["finding_id"], unique=False
        )
    op.create_table(
        "inspection_bulletins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("issuing_office", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("copy_to", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_bulletins")),
        sa.UniqueConstraint("year", "number", name=op.f("uq_inspection_bulletins_year_number")),
    )
    op.create_table(
        "inspection_bulletin_findings",
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["inspection_bulletins.id"],
            name=op.f("fk_inspection_bulletin_findings_bulletin_id_inspection_bulletins"),
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["inspection_findings.id"],
            name=op.f("fk_inspection_bulletin_findings_finding_id_inspection_findings"),
        ),
        sa.PrimaryKeyConstraint(
            "bulletin_id", "finding_id", name=op.f("pk_inspection_bulletin_findings")
        ),
    )
    op.create_table(
        "inspection_scores",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("score_hundredths", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "score_hundredths >= 0 AND score_hundredths <= 10000",
            name=op.f("ck_inspection_scores_score_range"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_inspection_scores_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_inspection_scores_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "department_id", name=op.f("pk_inspection_scores")),
    )


def downgrade() -> None:
    op.drop_table("inspection_scores")
    op.drop_table("inspection_bulletin_findings")
    op.drop_table("inspection_bulletins")
    with op.batch_alter_table("inspection_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_evidence_finding_id"))
    op.drop_table("inspection_evidence")
    with op.batch_alter_table("inspection_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_findings_recorded_by"))
        batch_op.drop_index(batch_op.f("ix_inspection_findings_department_id"))
    op.drop_table("inspection_findings")
    # An inspector's account cannot outlive the role: it is removed, as its role no longer exists.
    op.execute("DELETE FROM staff_users WHERE role = 'inspector'")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(ROLE_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(ROLE_CONSTRAINT), _role_check(OLD_ROLES))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_series"))
        batch_op.drop_column("series")
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0008'")
