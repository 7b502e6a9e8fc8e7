"""service catalog and English category names

An expand migration: it only adds, so it keeps the application revisions listed in
``schema_compatibility`` and adds its own.

- ``departments.category_en``: the category's English name, shown on English pages.

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
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('0009')")


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0009'")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("category_en")
