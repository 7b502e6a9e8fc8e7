"""Rosters: import (hashes only, passwords written once), sign-in with slow-down, the cookie."""

import csv
import hashlib
import hmac
import re
from pathlib import Path

import itsdangerous.timed
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import passwords
from app.audit.models import AuditEntry
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import roster
from app.credentials.errors import RosterImportInvalid
from app.credentials.models import RosterMember
from app.errors import PingyiError
from tests.conftest import migrate, new_sqlite_engine
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    cli_database,
    key_pool,  # noqa: F401 - an autouse fixture
    run_cli_failing,
    run_cli_ok,
)
from tests.factories import make_campaign

PASSWORD_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")
PHONES = ["13800138000", "13900139000", "13700137000"]


def lines(*identifiers: str) -> list[roster.RosterLine]:
    return [roster.RosterLine(line=i, identifier=value) for i, value in enumerate(identifiers, 1)]


def import_phones(
    session: Session, campaign: Campaign, identifiers: list[str] = PHONES
) -> list[roster.RosterEntry]:
    return roster.import_roster(session, campaign, "cadres", lines(*identifiers), SERVER_SECRET)


def members(session: Session, campaign: Campaign) -> list[RosterMember]:
    return list(
        session.scalars(select(RosterMember).where(RosterMember.campaign_id == campaign.id))
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestReadingIdentifiers:
    def test_one_per_line_with_blank_lines_skipped(self) -> None:
        read = roster.read_identifiers("\ufeff13800138000\n\n 13900139000 ,x\n".encode())

        assert read == [
            roster.RosterLine(1, "13800138000"),
            roster.RosterLine(3, "13900139000"),
        ]

    def test_a_named_column_of_a_file_with_a_header(self) -> None:
        data = "姓名,手机\n张三,13800138000\n李四,13900139000\n".encode()

        read = roster.read_identifiers(data, column="手机")

        assert read == [roster.RosterLine(2, "13800138000"), roster.RosterLine(3, "13900139000")]

    def test_a_missing_column_is_named(self) -> None:
        with pytest.raises(RosterImportInvalid) as error:
            roster.read_identifiers(b"name,phone\n", column="mobile")

        assert error.value.problems == ["line 1: there is no column “mobile”"]


class TestImport:
    def test_each_member_gets_a_password_and_only_hashes_are_stored(self, session: Session) -> None:
        campaign = make_campaign(session)

        entries = import_phones(session, campaign)

        assert [entry.identifier for entry in entries] == PHONES
        assert all(PASSWORD_PATTERN.match(entry.password) for entry in entries)
        assert len({entry.password for entry in entries}) == len(PHONES)
        stored = members(session, campaign)
        key = roster.identifier_key(SERVER_SECRET)
        assert {member.identifier_hash for member in stored} == {
            hmac.new(key, f"{campaign.slug}\n{phone}".encode(), hashlib.sha256).digest()
            for phone in PHONES
        }
        by_hash = {member.identifier_hash: member for member in stored}
        for entry in entries:
            member = by_hash[roster.identifier_hash(key, campaign, entry.identifier)]
            assert member.password_hash.startswith("$argon2id$")
            assert passwords.verify_password(
                member.password_hash, roster.normalize_password(entry.password)
            )
            assert not member.credential_issued
            assert member.blinded_hash is None

    def test_the_same_identifier_hashes_differently_in_another_campaign(
        self, session: Session
    ) -> None:
        first, second = make_campaign(session), make_campaign(session)
        import_phones(session, first)
        import_phones(session, second)

        first_hashes = {member.identifier_hash for member in members(session, first)}
        second_hashes = {member.identifier_hash for member in members(session, second)}
        assert not first_hashes & second_hashes

    @pytest.mark.parametrize(
        ("identifiers", "problem"),
        [
            (["13800138000", "138 0013 8000"], "line 3: the same identifier as line 2"),
            (["x" * 129], "line 2: the identifier is longer than 128"),
            (["--"], "line 2: the identifier is empty"),
        ],
    )
    def test_a_bad_line_imports_nothing(
        self, session: Session, identifiers: list[str], problem: str
    ) -> None:
        campaign = make_campaign(session)

        with pytest.raises(RosterImportInvalid) as error:
            import_phones(session, campaign, ["13600136000", *identifiers])

        assert error.value.problems == [problem]
        assert members(session, campaign) == []

    def test_identifiers_already_on_the_roster_are_refused(self, session: Session) -> None:
        campaign = make_campaign(session)
        import_phones(session, campaign, PHONES[:1])

        with pytest.raises(RosterImportInvalid) as error:
            import_phones(session, campaign, ["13600136000", PHONES[0]])

        assert error.value.problems == [f"line 2: already on the roster of {campaign.slug}"]
        assert len(members(session, campaign)) == 1

    def test_an_unknown_group_or_a_closed_campaign_is_refused(self, session: Session) -> None:
        campaign = make_campaign(session)
        with pytest.raises(PingyiError) as unknown_group:
            roster.import_roster(session, campaign, "journalists", lines("1"), SERVER_SECRET)
        campaign.status = CampaignStatus.CLOSED
        with pytest.raises(PingyiError) as closed:
            import_phones(session, campaign)

        assert (unknown_group.value.status_code, unknown_group.value.field) == (422, "group")
        assert (closed.value.status_code, closed.value.field) == (422, "campaign")
        assert members(session, campaign) == []

    def test_no_identifier_or_password_text_reaches_the_database_file(self) -> None:
        engine = new_sqlite_engine()
        migrate(engine)
        phones = [f"1380013{n:04d}" for n in range(40)]
        with Session(engine) as session:
            campaign = make_campaign(session)
            entries = import_phones(session, campaign, phones)
            session.commit()
        engine.dispose()
        assert engine.url.database is not None
        database = Path(engine.url.database)
        stored = b"".join(
            path.read_bytes()
            for path in database.parent.iterdir()
            if path.name.startswith(database.name)
        )

        for entry in entries:
            for text in (
                entry.identifier,
                entry.identifier[-8:],
                entry.password,
                entry.password.replace("-", ""),
            ):
                for encoding in ("utf-8", "utf-16-le"):
                    assert text.encode(encoding) not in stored, text


class TestImportCommand:
    def test_passwords_are_written_once_next_to_their_identifiers(self, tmp_path: Path) -> None:
        identifiers = tmp_path / "cadres.csv"
        identifiers.write_text("姓名,手机\n张三,13800138000\n李四,13900139000\n", "utf-8")
        out = tmp_path / "passwords.csv"
        with cli_database() as engine, Session(engine) as session:
            campaign = make_campaign(session)
            slug = campaign.slug
            session.commit()

            result = run_cli_ok(
                "roster", "import", slug, str(identifiers), "--group", "cadres",
                "--column", "手机", "--out", str(out),
            )  # fmt: skip

            assert "2 roster members" in result.output
            with out.open(encoding="utf-8", newline="") as stream:
                rows = list(csv.reader(stream))
            assert rows[0] == ["campaign", "rater_group", "identifier", "password"]
            assert [row[:3] for row in rows[1:]] == [
                [slug, "cadres", "13800138000"],
                [slug, "cadres", "13900139000"],
            ]
            assert all(PASSWORD_PATTERN.match(row[3]) for row in rows[1:])
            assert session.scalar(select(func.count()).select_from(RosterMember)) == 2
            audit = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence.desc())).first()
            assert audit is not None
            assert (audit.action, audit.object) == ("roster_import", f"campaign:{slug}")
            assert "13800138000" not in str(audit.detail)

            again = run_cli_failing(
                "roster", "import", slug, str(identifiers), "--group", "cadres",
                "--out", str(out),
            )  # fmt: skip
            assert "already exists" in again.output
            assert session.scalar(select(func.count()).select_from(RosterMember)) == 2

    def test_a_refused_import_leaves_no_passwords_file(self, tmp_path: Path) -> None:
        identifiers = tmp_path / "cadres.csv"
        identifiers.write_text("13800138000\n13800138000\n", "utf-8")
        out = tmp_path / "passwords.csv"
        with cli_database() as engine, Session(engine) as session:
            slug = make_campaign(session).slug
            session.commit()

            result = run_cli_failing(
                "roster", "import", slug, str(identifiers), "--group", "cadres", "--out", str(out)
            )

            assert "line 2: the same identifier as line 1" in result.output
            assert not out.exists()
            assert session.scalar(select(func.count()).select_from(RosterMember)) == 0

    def test_a_collector_keeps_no_roster(self, tmp_path: Path) -> None:
        identifiers = tmp_path / "cadres.csv"
        identifiers.write_text("13800138000\n", "utf-8")
        with cli_database(role="collector") as engine, Session(engine) as session:
            slug = make_campaign(session).slug
            session.commit()

            result = run_cli_failing(
                "roster", "import", slug, str(identifiers), "--group", "cadres",
                "--out", str(tmp_path / "p.csv"),
            )  # fmt: skip

            assert "collector" in result.output
            assert not (tmp_path / "p.csv").exists()


class TestSignIn:
    @pytest.fixture
    def entries(self, session: Session) -> tuple[Campaign, list[roster.RosterEntry]]:
        campaign = make_campaign(session)
        return campaign, import_phones(session, campaign)

    def test_a_member_signs_in_with_identifier_and_password_as_typed(
        self, session: Session, entries: tuple[Campaign, list[roster.RosterEntry]]
    ) -> None:
        campaign, imported = entries
        typed_identifier = "１３８ ０013-8000"  # full-width digits, a space and a dash
        typed_password = imported[0].password.lower().replace("-", " ")

        signed_in = roster.sign_in(
            session,
            SERVER_SECRET,
            campaign.slug,
            typed_identifier,
            typed_password,
            failures=roster.FailureCounter(),
        )

        assert signed_in.campaign.id == campaign.id
        assert signed_in.rater_group.key == "cadres"
        assert signed_in.member.identifier_hash == roster.identifier_hash(
            roster.identifier_key(SERVER_SECRET), campaign, PHONES[0]
        )

    def test_wrong_password_and_unknown_identifier_get_the_same_refusal(
        self, session: Session, entries: tuple[Campaign, list[roster.RosterEntry]]
    ) -> None:
        campaign, imported = entries
        counter = roster.FailureCounter()
        refusals = []
        for identifier, password in (
            (PHONES[0], imported[1].password),
            ("13000000000", imported[0].password),
        ):
            with pytest.raises(PingyiError) as error:
                roster.sign_in(
                    session, SERVER_SECRET, campaign.slug, identifier, password, failures=counter
                )
            refusals.append((error.value.status_code, error.value.code, error.value.field))

        assert refusals == [(403, "roster_login_failed", "password")] * 2

    def test_failures_slow_down_sign_in_for_that_identifier_only(
        self, session: Session, entries: tuple[Campaign, list[roster.RosterEntry]]
    ) -> None:
        campaign, imported = entries
        clock = FakeClock()
        counter = roster.FailureCounter(clock=clock)

        def attempt(identifier: str, password: str) -> str:
            try:
                roster.sign_in(
                    session, SERVER_SECRET, campaign.slug, identifier, password, failures=counter
                )
            except PingyiError as error:
                seconds = error.params.get("seconds")
                return f"{error.code}:{seconds}" if seconds else error.code
            return "ok"

        wrong = "00000-00000"
        outcomes = [attempt(PHONES[0], wrong) for _ in range(3)]  # as documented: after three
        assert outcomes == ["roster_login_failed"] * 3
        assert attempt(PHONES[0], imported[0].password) == "roster_login_throttled:2"
        assert attempt(PHONES[1], imported[1].password) == "ok"
        clock.now += 2
        assert attempt(PHONES[0], wrong) == "roster_login_failed"
        assert attempt(PHONES[0], imported[0].password) == "roster_login_throttled:4"
        clock.now += 4
        assert attempt(PHONES[0], imported[0].password) == "ok"
        assert attempt(PHONES[0], wrong) == "roster_login_failed"  # forgotten after success

    def test_ten_failures_lock_an_identifier_for_fifteen_minutes(
        self, session: Session, entries: tuple[Campaign, list[roster.RosterEntry]]
    ) -> None:
        campaign, imported = entries
        clock = FakeClock()
        counter = roster.FailureCounter(clock=clock)
        for _ in range(10):
            clock.now += 200  # past each wait (at most 128 s), never long enough to forget
            with pytest.raises(PingyiError) as failed:
                roster.sign_in(
                    session, SERVER_SECRET, campaign.slug, PHONES[0], "x", failures=counter
                )
            assert failed.value.code == "roster_login_failed"
        with pytest.raises(PingyiError) as locked:
            roster.sign_in(
                session, SERVER_SECRET, campaign.slug, PHONES[0], imported[0].password,
                failures=counter,
            )  # fmt: skip

        assert locked.value.code == "roster_login_throttled"
        assert locked.value.params["seconds"] == 15 * 60

    def test_a_campaign_that_is_not_open_refuses_sign_in(
        self, session: Session, entries: tuple[Campaign, list[roster.RosterEntry]]
    ) -> None:
        campaign, imported = entries
        campaign.status = CampaignStatus.CLOSED

        with pytest.raises(PingyiError) as error:
            roster.sign_in(session, SERVER_SECRET, campaign.slug, PHONES[0], imported[0].password)

        assert error.value.code == "campaign_not_open"

    def test_the_counter_forgets_idle_identifiers_when_full(self) -> None:
        clock = FakeClock()
        counter = roster.FailureCounter(clock=clock, max_entries=3, lock_duration=10)
        for key in (b"a", b"b", b"c"):
            counter.begin_attempt(key)
        clock.now += 11

        counter.begin_attempt(b"d")

        assert set(counter._entries) == {b"d"}


class TestSessionCookie:
    def test_a_session_round_trips_and_a_forged_one_is_ignored(self) -> None:
        value = roster.encode_session(SERVER_SECRET, roster.RosterSession(7, 3))

        assert roster.decode_session(SERVER_SECRET, value) == roster.RosterSession(7, 3)
        assert roster.decode_session(b"another secret", value) is None
        assert roster.decode_session(SERVER_SECRET, value[:-2] + "xx") is None
        assert roster.decode_session(SERVER_SECRET, None) is None

    def test_a_session_expires_after_fifteen_minutes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        value = roster.encode_session(SERVER_SECRET, roster.RosterSession(7, 3))
        real_time = itsdangerous.timed.time.time

        class Later:
            @staticmethod
            def time() -> float:
                return real_time() + 15 * 60 + 2

        monkeypatch.setattr(itsdangerous.timed, "time", Later)

        assert roster.decode_session(SERVER_SECRET, value) is None

    def test_the_cookie_is_scoped_to_credential_issuance(self) -> None:
        header = roster.cookie_header("v", secure=True)

        assert header == (
            "pingyi_roster=v; Path=/api/v1/credentials; Max-Age=900; HttpOnly; "
            "SameSite=Strict; Secure"
        )
