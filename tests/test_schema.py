"""What the rating tables may hold (docs/privacy.md, "Rules for stored data").

An allow-list: a new column on a rating table fails here until someone has decided, against
docs/privacy.md, that it cannot link a rating to a code, credential, account, IP, device or time.

The ballot box's tables are here too: ``ballot_box`` holds every ballot until the tally, and
``tallies`` names ballots by their trackers. Left out, as office side that holds nothing a rater
sent: ``tally_keys`` (each campaign's public tally key), and ``pending_trustee_shares`` and
``entered_trustee_shares`` (trustees' shares of the key on their way out of and into the
console, encrypted).
"""

from sqlalchemy import Engine, inspect

ALLOWED_COLUMNS = {
    "evaluations": {
        "id",  # random UUID (version 4)
        "campaign_id",
        "target_id",
        "rater_group_id",
        "answers",
        "comment",
        "quality_flags",
    },
    "admission_codes": {
        "code_hash",  # HMAC-SHA256 of the code with the server secret
        "batch_id",
        "status",  # unused / used / revoked; no "used at"
        "blinded_hash",  # SHA-256 of the blinded message a credential was signed for
    },
    "comment_reviews": {
        "id",  # random UUID, not the evaluation's
        "campaign_id",
        "target_id",
        "text",  # scrubbed copy, made at close in random order
        "status",  # pending / approved / rejected
    },
    "spent_credentials": {
        "message_hash",  # SHA-256 of the spent credential message
        "key_id",  # the campaign × rater group (× target) key it was signed with
    },
    "receipts": {
        "receipt_hash",  # SHA-256 of the random receipt handed to the rater
        "campaign_id",
    },
    "ballot_box": {
        "tracker",  # SHA-256 of the ciphertext: the rater's receipt, public after close
        "campaign_id",
        "ciphertext",  # the whole ballot, sealed to the tally key; NULL once tallied
    },
    "tallies": {
        "campaign_id",  # one tally per campaign
        "ballots_in_box",
        "ballots_counted",
        "box_digest",  # SHA-256 over the sorted trackers: which ballots the tally covered
        "rejected",  # trackers of the ballots not counted, each with the reason
        "offline",  # whether the box was opened on a trustee's machine
    },
    "roster_members": {
        "id",
        "campaign_id",
        "rater_group_id",
        "identifier_hash",  # keyed hash of the member's identifier
        "password_hash",  # Argon2 of the one-time password
        "credential_issued",  # the only trace of issuance: no time, no count
        "blinded_hash",  # SHA-256 of the blinded message its credential was signed for
    },
}
FORBIDDEN_FRAGMENTS = (
    "code",
    "token",
    "credential",
    "hash",
    "account",
    "user",
    "session",
    "ip",
    "address",
    "agent",
    "device",
    "time",
    "date",
    "_at",
    "seq",
    "order",
    "receipt",
)


class TestRatingTablesHoldNothingThatLinks:
    def test_evaluation_and_code_tables_have_only_allowed_columns(self, any_engine: Engine) -> None:
        inspector = inspect(any_engine)

        for table, allowed in ALLOWED_COLUMNS.items():
            columns = {column["name"] for column in inspector.get_columns(table)}
            assert columns == allowed, f"{table}: {sorted(columns ^ allowed)}"

    def test_evaluation_columns_carry_no_linking_names(self, any_engine: Engine) -> None:
        columns = {column["name"] for column in inspect(any_engine).get_columns("evaluations")}

        for column in columns:
            for fragment in FORBIDDEN_FRAGMENTS:
                assert fragment not in column, f"evaluations.{column} looks like {fragment!r}"

    def test_evaluation_key_is_not_a_sequence(self, any_engine: Engine) -> None:
        inspector = inspect(any_engine)
        primary_key = inspector.get_pk_constraint("evaluations")["constrained_columns"]
        id_column = next(c for c in inspector.get_columns("evaluations") if c["name"] == "id")

        assert primary_key == ["id"]
        assert id_column.get("autoincrement") is not True
        assert (
            id_column.get("default") is None
        )  # generated in the app as uuid4, never by a sequence

    def test_ballot_box_key_is_the_tracker_not_a_sequence(self, any_engine: Engine) -> None:
        inspector = inspect(any_engine)
        primary_key = inspector.get_pk_constraint("ballot_box")["constrained_columns"]
        tracker = next(c for c in inspector.get_columns("ballot_box") if c["name"] == "tracker")

        assert primary_key == ["tracker"]
        assert tracker.get("autoincrement") is not True
        assert tracker.get("default") is None  # the hash of the ciphertext, made in the app

    def test_sqlite_keeps_no_rowid_for_rating_tables(self, sqlite_engine: Engine) -> None:
        unordered = ALLOWED_COLUMNS.keys() - {
            "roster_members",  # issuing side, keyed by id
            "tallies",  # one row per campaign, written once: no order to hide
        }
        with sqlite_engine.connect() as connection:
            for table in sorted(unordered):
                sql = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
                ).scalar_one()
                assert "WITHOUT ROWID" in sql.upper(), table
