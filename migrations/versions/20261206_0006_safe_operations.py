"""safe operations

- ``secret_check``: one row holding a check value of the server secret (an HMAC of a fixed
  label), so a server or command started with another secret stops instead of failing code
  by code;
- ``schema_compatibility``: the application revisions that can run against this schema.
  Each migration that only adds (expand) keeps the earlier revisions listed; one that
  removes or changes what older code relies on (contract) leaves only its own. Readiness
  accepts a schema whose list names the application's own head;
- ``code_batches.ready``: a batch is usable only once its slips and code file are written;
- ``campaigns.seal_pending``: set in the transaction that seals a campaign's rows, cleared once
  the vacuum that removes the old copies has run, so an interrupted seal shows and resumes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secret_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_value", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secret_check")),
    )
    op.create_table(
        "schema_compatibility",
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_schema_compatibility")),
    )
    # A contract step: the application before this revision does not know these columns'
    # meaning (it would hand out codes of a batch whose slips were never written).
    op.execute("INSERT INTO schema_compatibility (revision) VALUES ('0006')")
    with op.batch_alter_table("code_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ready", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("seal_pending", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("seal_pending")
    with op.batch_alter_table("code_batches", schema=None) as batch_op:
        batch_op.drop_column("ready")
    op.drop_table("schema_compatibility")
    op.drop_table("secret_check")
