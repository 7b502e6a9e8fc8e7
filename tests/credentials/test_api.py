"""The credential API: public keys, issuance with a voucher or a roster sign-in, and the
admission response's key."""

import hashlib
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission.models import AdmissionCode, CodeStatus
from app.campaigns.models import Campaign, CampaignStatus
from app.credentials import blind_rsa, roster
from app.credentials import keys as credential_keys
from app.credentials.models import RosterMember
from tests.conftest import make_client
from tests.console import post_form, sign_in
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    RaterSide,
    all_keys,
    key_pool,  # noqa: F401 - an autouse fixture
    rater_side,
)
from tests.factories import HASHING_KEY, issue_code, make_campaign, make_staff

KEYS_URL = "/api/v1/campaigns/{slug}/keys"
CREDENTIALS_URL = "/api/v1/credentials"
LOGIN_URL = "/api/v1/roster/login"


@pytest.fixture(autouse=True)
def _fresh_login_failures() -> Iterator[None]:
    roster.login_failures.clear()
    yield
    roster.login_failures.clear()


def open_campaign(session: Session) -> Campaign:
    campaign = make_campaign(session)
    credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
    return campaign


def side_for(client: TestClient, slug: str, group: str = "citizens") -> RaterSide:
    keys = client.get(KEYS_URL.format(slug=slug)).json()["keys"]
    key = next(k for k in keys if k["rater_group"] == group and k["target"] is None)
    return rater_side(credential_keys.decode_b64url(key["public_key"], field="key"))


def status_of(session: Session, code: str) -> tuple[CodeStatus, bytes | None]:
    row = session.get_one(AdmissionCode, codes.keyed_hash(HASHING_KEY, codes.normalize(code)))
    session.refresh(row)
    return row.status, row.blinded_hash


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


class TestKeys:
    def test_each_rater_group_and_scope_has_a_public_key_and_fingerprint(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        target = campaign.targets[0].department.code
        issue_code(session, campaign, group="cadres", target=target)
        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)

        response = client.get(KEYS_URL.format(slug=campaign.slug))

        assert response.status_code == 200
        body = response.json()
        assert body["campaign"] == campaign.slug
        assert [(k["rater_group"], k["target"]) for k in body["keys"]] == [
            ("citizens", None),
            ("cadres", None),
            ("cadres", target),
        ]
        stored = {key.id: key for key in all_keys(session)}
        for listed in body["keys"]:
            der = credential_keys.decode_b64url(listed["public_key"], field="key")
            assert "=" not in listed["public_key"]
            assert der == stored[listed["id"]].public_key
            assert listed["fingerprint"] == hashlib.sha256(der).hexdigest()
            assert blind_rsa.load_public_key(der).key_size >= 3072
            assert set(listed) == {"id", "rater_group", "target", "public_key", "fingerprint"}

    def test_a_campaign_without_keys_lists_none_and_an_unknown_one_is_404(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)

        assert client.get(KEYS_URL.format(slug=campaign.slug)).json()["keys"] == []
        missing = client.get(KEYS_URL.format(slug="no-such-campaign"))
        assert error_of(missing) == (404, "not_found")

    def test_opening_a_campaign_in_the_console_makes_its_keys(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        admin = make_staff(session)
        sign_in(client, admin.username)

        response = post_form(
            client,
            f"/admin/campaigns/{campaign.slug}/open",
            token_from=f"/admin/campaigns/{campaign.slug}/open",
        )

        assert response.status_code == 303
        keys = client.get(KEYS_URL.format(slug=campaign.slug)).json()["keys"]
        assert [(k["rater_group"], k["target"]) for k in keys] == [
            ("citizens", None),
            ("cadres", None),
        ]

    def test_issuing_a_scoped_batch_in_the_console_makes_its_key(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session, status=CampaignStatus.DRAFT)
        target = campaign.targets[1].department.code
        admin = make_staff(session)
        sign_in(client, admin.username)
        codes_page = f"/admin/campaigns/{campaign.slug}/codes"

        response = post_form(
            client,
            codes_page,
            {"group": "citizens", "count": "3", "target": target},
            token_from=codes_page,
        )

        assert response.status_code == 303
        keys = client.get(KEYS_URL.format(slug=campaign.slug)).json()["keys"]
        assert [(k["rater_group"], k["target"]) for k in keys] == [("citizens", target)]


class TestAdmissionCarriesTheKey:
    def test_the_admission_response_names_the_key_of_the_codes_group_and_scope(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = open_campaign(session)
        target = campaign.targets[1].department.code
        scoped = issue_code(session, campaign, group="cadres", target=target)
        credential_keys.open_campaign_keys(session, campaign, SERVER_SECRET)
        unscoped = issue_code(session, campaign, group="citizens")
        keys = client.get(KEYS_URL.format(slug=campaign.slug)).json()["keys"]
        by_scope = {(k["rater_group"], k["target"]): k for k in keys}

        for code, scope in ((unscoped, ("citizens", None)), (scoped, ("cadres", target))):
            body = client.post("/api/v1/admission", json={"code": code}).json()
            expected = by_scope[scope]
            assert body["credential_key"] == {
                "id": expected["id"],
                "public_key": expected["public_key"],
                "fingerprint": expected["fingerprint"],
            }

    def test_it_is_null_while_the_campaign_has_no_key(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = make_campaign(session)
        code = issue_code(session, campaign)

        body = client.post("/api/v1/admission", json={"code": code}).json()

        assert body["credential_key"] is None


class TestVoucherIssuance:
    def test_a_voucher_is_exchanged_once_for_a_blind_signature(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = side_for(client, campaign.slug)

        response = client.post(
            CREDENTIALS_URL, json={"voucher": code, "blinded_message": side.blinded_b64}
        )

        assert response.status_code == 200
        body = response.json()
        key = credential_keys.key_for_code(session, HASHING_KEY, code)
        assert key is not None
        assert body["campaign"] == campaign.slug
        assert body["rater_group"] == "citizens"
        assert body["key_id"] == key.id
        signature = side.finalize(body["blind_signature"])
        assert blind_rsa.verify(side.public_key, side.prepared, signature)
        assert status_of(session, code) == (
            CodeStatus.USED,
            hashlib.sha256(side.blinded).digest(),
        )
        assert "set-cookie" not in response.headers

    def test_a_retry_gets_the_same_signature_and_another_message_409(
        self, client: TestClient, session: Session
    ) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = side_for(client, campaign.slug)
        body = {"voucher": code, "blinded_message": side.blinded_b64}
        first = client.post(CREDENTIALS_URL, json=body).json()

        again = client.post(CREDENTIALS_URL, json=body)
        other = client.post(
            CREDENTIALS_URL,
            json={"voucher": code, "blinded_message": side_for(client, campaign.slug).blinded_b64},
        )

        assert again.status_code == 200
        assert again.json() == first
        assert error_of(other) == (409, "code_used")
        assert other.json()["error"]["field"] == "voucher"
        assert status_of(session, code)[1] == hashlib.sha256(side.blinded).digest()

    @pytest.mark.parametrize(
        ("problem", "expected"),
        [
            ("unknown voucher", (403, "code_unknown")),
            ("mistyped voucher", (422, "code_mistyped")),
            ("not base64url", (422, "credential_malformed")),
            ("wrong length", (422, "credential_malformed")),
            ("missing blinded message", (422, "invalid")),
            ("unexpected field", (422, "invalid")),
            ("campaign closed", (409, "campaign_not_open")),
        ],
    )
    def test_refusals_are_json_errors_and_change_nothing(
        self,
        client: TestClient,
        session: Session,
        problem: str,
        expected: tuple[int, str],
    ) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = side_for(client, campaign.slug)
        body: dict[str, object] = {"voucher": code, "blinded_message": side.blinded_b64}
        if problem == "unknown voucher":
            body["voucher"] = codes.generate()
        elif problem == "mistyped voucher":
            body["voucher"] = code[:-1] + ("0" if code[-1] != "0" else "1")
        elif problem == "not base64url":
            body["blinded_message"] = "not base64!"
        elif problem == "wrong length":
            body["blinded_message"] = credential_keys.encode_b64url(side.blinded[:-1])
        elif problem == "missing blinded message":
            del body["blinded_message"]
        elif problem == "unexpected field":
            body["code"] = code
        else:
            campaign.status = CampaignStatus.CLOSED
            session.flush()

        response = client.post(CREDENTIALS_URL, json=body)

        assert error_of(response) == expected
        assert status_of(session, code) == (CodeStatus.UNUSED, None)

    def test_neither_voucher_nor_sign_in_is_403(self, client: TestClient, session: Session) -> None:
        campaign = open_campaign(session)
        side = side_for(client, campaign.slug)

        response = client.post(CREDENTIALS_URL, json={"blinded_message": side.blinded_b64})

        assert error_of(response) == (403, "roster_session_missing")

    def test_issuance_writes_no_request_log_line(
        self, client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
    ) -> None:
        campaign = open_campaign(session)
        code = issue_code(session, campaign)
        side = side_for(client, campaign.slug)
        caplog.set_level(logging.INFO, logger="pingyi.requests")

        client.post(CREDENTIALS_URL, json={"voucher": code, "blinded_message": side.blinded_b64})
        client.post(LOGIN_URL, json={"campaign": campaign.slug, "identifier": "1", "password": "x"})

        logged = [r.getMessage() for r in caplog.records if r.name == "pingyi.requests"]
        assert not [line for line in logged if "/credentials" in line or "/roster" in line]

    def test_a_body_over_64_kib_is_413(self, client: TestClient) -> None:
        response = client.post(
            CREDENTIALS_URL, json={"voucher": "x", "blinded_message": "A" * (65 * 1024)}
        )

        assert error_of(response) == (413, "too_large")


class TestRosterIssuance:
    @pytest.fixture
    def member(self, session: Session) -> tuple[Campaign, roster.RosterEntry]:
        campaign = open_campaign(session)
        (entry,) = roster.import_roster(
            session, campaign, "cadres", [roster.RosterLine(1, "13800138000")], SERVER_SECRET
        )
        return campaign, entry

    def login(
        self, client: TestClient, campaign: Campaign, entry: roster.RosterEntry
    ) -> httpx.Response:
        return client.post(
            LOGIN_URL,
            json={
                "campaign": campaign.slug,
                "identifier": entry.identifier,
                "password": entry.password,
            },
        )

    def test_a_member_signs_in_and_fetches_one_credential_with_the_cookie(
        self,
        client: TestClient,
        session: Session,
        member: tuple[Campaign, roster.RosterEntry],
    ) -> None:
        campaign, entry = member

        login = self.login(client, campaign, entry)

        assert login.status_code == 200
        body = login.json()
        assert body["campaign"] == campaign.slug
        assert body["rater_group"] == "cadres"
        assert body["credential_issued"] is False
        assert body["expires_in"] == 900
        cookie = login.headers["set-cookie"]
        assert cookie.startswith("pingyi_roster=")
        for attribute in ("Path=/api/v1/credentials", "Max-Age=900", "HttpOnly", "SameSite=Strict"):
            assert attribute in cookie
        assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test

        side = rater_side(
            credential_keys.decode_b64url(body["credential_key"]["public_key"], field="k")
        )
        issued = client.post(CREDENTIALS_URL, json={"blinded_message": side.blinded_b64})

        assert issued.status_code == 200
        assert issued.json()["rater_group"] == "cadres"
        assert blind_rsa.verify(
            side.public_key, side.prepared, side.finalize(issued.json()["blind_signature"])
        )
        assert "Max-Age=0" in issued.headers["set-cookie"]
        stored = session.scalars(select(RosterMember)).one()
        session.refresh(stored)
        assert stored.credential_issued
        assert stored.blinded_hash == hashlib.sha256(side.blinded).digest()
        again = client.post(CREDENTIALS_URL, json={"blinded_message": side.blinded_b64})
        assert error_of(again) == (403, "roster_session_missing")

    def test_after_signing_in_again_only_the_same_blinded_message_is_signed(
        self,
        client: TestClient,
        session: Session,
        member: tuple[Campaign, roster.RosterEntry],
    ) -> None:
        campaign, entry = member
        key = self.login(client, campaign, entry).json()["credential_key"]
        side = rater_side(credential_keys.decode_b64url(key["public_key"], field="k"))
        first = client.post(CREDENTIALS_URL, json={"blinded_message": side.blinded_b64}).json()

        relogin = self.login(client, campaign, entry)
        retry = client.post(CREDENTIALS_URL, json={"blinded_message": side.blinded_b64})
        self.login(client, campaign, entry)
        other_side = rater_side(credential_keys.decode_b64url(key["public_key"], field="k"))
        other = client.post(CREDENTIALS_URL, json={"blinded_message": other_side.blinded_b64})

        assert relogin.json()["credential_issued"] is True
        assert retry.json()["blind_signature"] == first["blind_signature"]
        assert error_of(other) == (409, "credential_issued")

    def test_the_cookie_is_sent_to_issuance_only(
        self,
        client: TestClient,
        member: tuple[Campaign, roster.RosterEntry],
    ) -> None:
        campaign, entry = member
        self.login(client, campaign, entry)

        to_issuance = client.build_request("POST", CREDENTIALS_URL, json={})
        to_ballots = client.build_request("POST", "/api/v1/ballots", json={})
        to_admission = client.build_request("POST", "/api/v1/admission", json={})

        assert "pingyi_roster=" in to_issuance.headers.get("cookie", "")
        assert "cookie" not in to_ballots.headers
        assert "cookie" not in to_admission.headers

    def test_over_https_the_cookie_is_secure(
        self, session: Session, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, entry = member
        with make_client(session) as client:
            client.base_url = client.base_url.copy_with(scheme="https")
            login = self.login(client, campaign, entry)

        assert "Secure" in login.headers["set-cookie"]

    def test_a_wrong_password_is_403_and_sets_no_cookie(
        self,
        client: TestClient,
        session: Session,
        member: tuple[Campaign, roster.RosterEntry],
    ) -> None:
        campaign, entry = member
        wrong = roster.RosterEntry(entry.identifier, "00000-00000")
        unknown = roster.RosterEntry("13000000000", entry.password)

        responses = [self.login(client, campaign, attempt) for attempt in (wrong, unknown)]

        assert [error_of(response) for response in responses] == [(403, "roster_login_failed")] * 2
        assert all("set-cookie" not in r.headers for r in responses)
        assert session.scalar(select(func.count()).select_from(RosterMember)) == 1

    def test_repeated_failures_are_slowed_down_with_429(
        self, client: TestClient, member: tuple[Campaign, roster.RosterEntry]
    ) -> None:
        campaign, entry = member
        wrong = roster.RosterEntry(entry.identifier, "00000-00000")
        for _ in range(4):
            self.login(client, campaign, wrong)

        throttled = self.login(client, campaign, entry)

        assert error_of(throttled) == (429, "roster_login_throttled")
        assert "2" in throttled.json()["error"]["message"]

    def test_an_unknown_campaign_is_404_and_a_closed_one_409(
        self,
        client: TestClient,
        session: Session,
        member: tuple[Campaign, roster.RosterEntry],
    ) -> None:
        campaign, entry = member
        unknown = client.post(
            LOGIN_URL,
            json={"campaign": "no-such", "identifier": entry.identifier, "password": "x"},
        )
        campaign.status = CampaignStatus.CLOSED
        session.flush()

        closed = self.login(client, campaign, entry)

        assert error_of(unknown) == (404, "not_found")
        assert error_of(closed) == (409, "campaign_not_open")


class TestOpenApi:
    def test_the_routes_are_documented(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()
        paths = schema["paths"]

        assert {"get"} <= set(paths["/api/v1/campaigns/{slug}/keys"])
        issuance = paths["/api/v1/credentials"]["post"]
        assert {"200", "403", "409", "422"} <= set(issuance["responses"])
        request_schema = schema["components"]["schemas"]["CredentialRequestIn"]
        assert set(request_schema["properties"]) == {"voucher", "blinded_message"}
        assert {"200", "403", "429"} <= set(paths["/api/v1/roster/login"]["post"]["responses"])
