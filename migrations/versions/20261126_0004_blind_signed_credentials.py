"""blind-signed credentials

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 06:18:30.442432
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("receipt_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_receipts_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("receipt_hash", name=op.f("pk_receipts")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipts_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "credential_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("rater_group_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_credential_keys_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["rater_group_id"],
            ["campaign_rater_groups.id"],
            name=op.f("fk_credential_keys_rater_group_id_campaign_rater_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["campaign_targets.id"],
            name=op.f("fk_credential_keys_target_id_campaign_targets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_keys")),
        sa.UniqueConstraint(
            "campaign_id",
            "rater_group_id",
            "target_id",
            name=op.f("uq_credential_keys_campaign_id_rater_group_id_target_id"),
        ),
    )
    with op.batch_alter_table("credential_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credential_keys_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "roster_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("rater_group_id", sa.Integer(), nullable=False),
        sa.Column("identifier_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("credential_issued", sa.Boolean(), nullable=False),
        sa.Column("blinded_hash", sa.LargeBinary(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_roster_members_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["rater_group_id"],
            ["campaign_rater_groups.id"],
            name=op.f("fk_roster_members_rater_group_id_campaign_rater_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_members")),
        sa.UniqueConstraint(
            "campaign_id",
            "identifier_hash",
            name=op.f("uq_roster_members_campaign_id_identifier_hash"),
        ),
    )
    with op.batch_alter_table("roster_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roster_members_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "spent_credentials",
        sa.Column("message_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["credential_keys.id"],
            name=op.f("fk_spent_credentials_key_id_credential_keys"),
        ),
        sa.PrimaryKeyConstraint("message_hash", name=op.f("pk_spent_credentials")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("spent_credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_credentials_key_id"), ["key_id"], unique=False)

    with op.batch_alter_table("admission_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blinded_hash", sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admission_codes", schema=None) as batch_op:
        batch_op.drop_column("blinded_hash")

    with op.batch_alter_table("spent_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_credentials_key_id"))

    op.drop_table("spent_credentials")
    with op.batch_alter_table("roster_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_members_campaign_id"))

    op.drop_table("roster_members")
    with op.batch_alter_table("credential_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_keys_campaign_id"))

    op.drop_table("credential_keys")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipts_campaign_id"))

    op.drop_table("receipts")
