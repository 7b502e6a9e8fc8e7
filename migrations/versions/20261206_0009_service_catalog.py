"""service catalog and English category names

An expand migration: it only adds, so it keeps the application revisions listed in
``schema_compatibility`` and adds its own.

- ``departments.category_en``: the category's English name, shown on English pages.
- ``services``: each department's services (办事项目公开, docs/services.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_en", sa.String(length=50), nullable=True))
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("procedure", sa.Text(), nullable=False),
        sa.Column("materials", sa.Text(), nullable=False),
        sa.Column("time_limit", sa.String(length=200), nullable=False),
        sa.Column("fees", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("complaint_channel", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_services_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("department_id", "name", name=op.f("uq_services_department_id_name")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_services_department_id"), ["department_id"], unique=False
        )
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('0009')")


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0009'")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_department_id"))
    op.drop_table("services")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("category_en")
