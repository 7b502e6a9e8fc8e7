"""sealed ballot box

Ballots are stored as one ciphertext each in ``ballot_box`` until the trustees open it at the
tally; ``tally_keys`` holds each campaign's public tally key, ``tallies`` what a tally found,
and two tables hold trustees' shares on their way out (after the key is made) and in (before
the tally). Campaigns gain the status ``tallied``; staff accounts gain the role ``trustee``
(评议结果开启人), who enters a share of the tally key in the console.

A campaign that was already closed or published has had its comments copied and its rows
sealed at close, as tallying does now: a closed one becomes ``tallied``. An open one keeps
storing its ballots as evaluations until it is given a tally key (``pingyi trustees create``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 01:13:45.522145
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CONSTRAINT = "ck_campaigns_campaign_status"
OLD_STATUSES = ("draft", "open", "closed", "published")
NEW_STATUSES = ("draft", "open", "closed", "tallied", "published")
ROLE_CONSTRAINT = "ck_staff_users_staff_role"
OLD_ROLES = ("admin", "liaison", "auditor")
NEW_ROLES = ("admin", "liaison", "auditor", "trustee")


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN ({})".format(", ".join(f"'{status}'" for status in statuses))


def _role_check(roles: tuple[str, ...]) -> str:
    return "role IN ({})".format(", ".join(f"'{role}'" for role in roles))


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(STATUS_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(STATUS_CONSTRAINT), _status_check(NEW_STATUSES))
    op.execute("UPDATE campaigns SET status = 'tallied' WHERE status = 'closed'")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(ROLE_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(ROLE_CONSTRAINT), _role_check(NEW_ROLES))

    op.create_table(
        "ballot_box",
        sa.Column("tracker", sa.LargeBinary(length=32), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_ballot_box_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("tracker", name=op.f("pk_ballot_box")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("ballot_box", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballot_box_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "tally_keys",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("share_count", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_tally_keys_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_tally_keys")),
    )
    op.create_table(
        "tallies",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("ballots_in_box", sa.Integer(), nullable=False),
        sa.Column("ballots_counted", sa.Integer(), nullable=False),
        sa.Column("box_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("rejected", sa.JSON(), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_tallies_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_tallies")),
    )
    op.create_table(
        "pending_trustee_shares",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("trustee", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("json_taken", sa.Boolean(), nullable=False),
        sa.Column("pdf_taken", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_pending_trustee_shares_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "trustee", name=op.f("pk_pending_trustee_shares")),
    )
    op.create_table(
        "entered_trustee_shares",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("trustee", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_entered_trustee_shares_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "trustee", name=op.f("pk_entered_trustee_shares")),
    )


def downgrade() -> None:
    op.drop_table("entered_trustee_shares")
    op.drop_table("pending_trustee_shares")
    op.drop_table("tallies")
    op.drop_table("tally_keys")
    with op.batch_alter_table("ballot_box", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballot_box_campaign_id"))
    op.drop_table("ballot_box")
    # A trustee's account cannot outlive the role: it is removed, as its role no longer exists.
    op.execute("DELETE FROM staff_users WHERE role = 'trustee'")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(ROLE_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(ROLE_CONSTRAINT), _role_check(OLD_ROLES))
    op.execute("UPDATE campaigns SET status = 'closed' WHERE status = 'tallied'")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(STATUS_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(STATUS_CONSTRAINT), _status_check(OLD_STATUSES))
