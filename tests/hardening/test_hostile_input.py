"""Hostile input on every public endpoint, on SQLite and PostgreSQL.

Each JSON endpoint gets a valid body with one hostile part (a huge or deeply nested body,
bytes that are not UTF-8, NUL, control and bidirectional characters, lone surrogates,
duplicate keys, wrong types…) and must answer a clear 4xx in the API's error shape
``{"error": {"code", "message"}}``, never a 5xx, with nothing stored: the same sealed ballots,
evaluations, receipts, spent credentials, comments, code statuses and roster members before
and after.
Each form (the rating pages, the verification page, the console's sign-in) gets the same kind
of input and must answer without a 5xx and store nothing. PostgreSQL refuses NUL in text, so a
NUL that reached it would be a 500 there: that is why every case runs on both engines.

Duplicate keys: a JSON body naming a key twice is refused with 422
(``app.middleware.input_guard.InputGuardMiddleware``, one place for every route): JSON leaves
its meaning open, and a proxy reading one value while the app acts on the other is a known attack.

The last class follows a comment holding markup from the ballot through closing, the tally,
review and publication, and checks it is shown escaped on every page that shows it.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import passwords
from app.accounts.models import StaffUser
from app.admission.models import AdmissionCode
from app.audit.models import AuditEntry
from app.ballot_box.models import SealedBallot
from app.ballots.models import Evaluation, Receipt
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import CommentPolicy, ResultsPolicy
from app.comments.models import CommentForReview
from app.credentials import keys as credential_keys
from app.credentials import roster
from app.credentials.models import RosterMember, SpentCredential
from app.ratelimit import RateLimits
from tests.console import csrf_token, post_form, sign_in
from tests.credentials.credential_helpers import (
    SERVER_SECRET,
    key_pool,  # noqa: F401 - an autouse fixture
    rater_side,
)
from tests.factories import answers_for, issue_code, make_campaign, make_staff, tally

PLACEHOLDER = "\ue000hostile\ue000"  # a private-use marker where a hostile part goes
KIB = 1024


# --- the scene: an open campaign with codes, keys and a roster ----------------------------------


@dataclass
class Scene:
    client: TestClient
    session: Session
    campaign: Campaign
    roster_entry: roster.RosterEntry
    staff: StaffUser
    target: str = ""
    answers: dict[str, int | None] = field(default_factory=dict)
    _closed: Campaign | None = None

    def code(self) -> str:
        return issue_code(self.session, self.campaign)

    def closed_slug(self) -> str:
        """A closed campaign's: receipts are checked only once a campaign is closed."""
        if self._closed is None:
            self._closed = make_campaign(self.session, status=CampaignStatus.CLOSED)
        return self._closed.slug

    def blinded_message(self) -> str:
        keys = self.client.get(f"/api/v1/campaigns/{self.campaign.slug}/keys").json()["keys"]
        key = next(key for key in keys if key["rater_group"] == "citizens")
        spki = credential_keys.decode_b64url(key["public_key"], field="key")
        return rater_side(spki).blinded_b64


@pytest.fixture
def scene(any_client: TestClient, any_session: Session) -> Iterator[Scene]:
    campaign = make_campaign(any_session)
    credential_keys.open_campaign_keys(any_session, campaign, SERVER_SECRET)
    [entry] = roster.import_roster(
        any_session, campaign, "cadres", [roster.RosterLine(1, "13800138000")], SERVER_SECRET
    )
    limits = RateLimits(attempts_per_minute=0)  # limits are tested on their own; here they
    limits.limiters.clear()  # would only turn hostile requests into 429s
    any_client.app.state.rate_limits = limits  # type: ignore[attr-defined]
    roster.login_failures.clear()
    yield Scene(
        client=any_client,
        session=any_session,
        campaign=campaign,
        roster_entry=entry,
        staff=make_staff(any_session),
        target=campaign.targets[0].department.code,
        answers=answers_for(campaign),
    )
    roster.login_failures.clear()


@pytest.fixture(autouse=True)
def _cheap_dummy_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown users are checked against a dummy hash made with the real (slow) parameters;
    conftest makes the hasher cheap, this makes the dummy cheap too."""
    monkeypatch.setattr(passwords, "_DUMMY_HASH", passwords.hash_password("no-such-user"))


def stored_state(session: Session, *, with_staff_records: bool = True) -> dict[str, object]:
    """Everything a request could have stored, as counts."""
    session.expire_all()

    def count(model: Any, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    state: dict[str, object] = {
        "sealed ballots": count(SealedBallot),
        "evaluations": count(Evaluation),
        "receipts": count(Receipt),
        "spent credentials": count(SpentCredential),
        "comments for review": count(CommentForReview),
        "code statuses": sorted(
            (str(status), number)
            for status, number in session.execute(
                select(AdmissionCode.status, func.count()).group_by(AdmissionCode.status)
            )
        ),
        "codes exchanged": count(AdmissionCode, AdmissionCode.blinded_hash.is_not(None)),
        "roster members served": count(RosterMember, RosterMember.credential_issued),
    }
    if with_staff_records:  # a failed sign-in is recorded, by design
        state["audit entries"] = count(AuditEntry)
    return state


# --- JSON endpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonEndpoint:
    path: str
    valid: Callable[[Scene], dict[str, Any]]  # a body the endpoint accepts
    accepted: int
    free_text: tuple[str | int, ...]  # where the hostile part goes


JSON_ENDPOINTS = {
    "admission": JsonEndpoint(
        "/api/v1/admission", lambda scene: {"code": scene.code()}, 200, ("code",)
    ),
    "ballots": JsonEndpoint(
        "/api/v1/ballots",
        lambda scene: {
            "code": scene.code(),
            "evaluations": [{"target": scene.target, "answers": scene.answers, "comment": "很好"}],
        },
        201,
        ("evaluations", 0, "comment"),
    ),
    "credentials": JsonEndpoint(
        "/api/v1/credentials",
        lambda scene: {"voucher": scene.code(), "blinded_message": scene.blinded_message()},
        200,
        ("voucher",),
    ),
    "roster sign-in": JsonEndpoint(
        "/api/v1/roster/login",
        lambda scene: {
            "campaign": scene.campaign.slug,
            "identifier": scene.roster_entry.identifier,
            "password": scene.roster_entry.password,
        },
        200,
        ("identifier",),
    ),
}


def with_placeholder(body: dict[str, Any], where: tuple[str | int, ...]) -> bytes:
    """The body as JSON text, with the placeholder (quoted) at ``where``."""
    container: Any = body
    for step in where[:-1]:
        container = container[step]
    container[where[-1]] = PLACEHOLDER
    return json.dumps(body, ensure_ascii=False).encode()


def inject(raw_json: bytes) -> Callable[[dict[str, Any], tuple[str | int, ...]], bytes]:
    """Put ``raw_json`` (JSON text, possibly broken on purpose) where the free text goes."""

    def build(body: dict[str, Any], where: tuple[str | int, ...]) -> bytes:
        quoted = json.dumps(PLACEHOLDER, ensure_ascii=False).encode()
        return with_placeholder(body, where).replace(quoted, raw_json)

    return build


def whole(raw: bytes) -> Callable[[dict[str, Any], tuple[str | int, ...]], bytes]:
    return lambda _body, _where: raw


def duplicate_key(body: dict[str, Any], where: tuple[str | int, ...]) -> bytes:
    """The free-text field named twice in its object, once harmless and once not."""
    text = with_placeholder(body, where)
    key = json.dumps(where[-1]).encode()
    quoted = json.dumps(PLACEHOLDER, ensure_ascii=False).encode()
    return text.replace(key + b": " + quoted, key + b': "one", ' + key + b': "two"')


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class Hostile:
    name: str
    body: Callable[[dict[str, Any], tuple[str | int, ...]], bytes]
    statuses: frozenset[int]
    content_type: str = "application/json"


REFUSED = frozenset({422})
REFUSED_OR_UNKNOWN = frozenset({403, 422})  # a code is mistyped (422), an identifier unknown
TOO_LARGE = frozenset({413})

HOSTILE_JSON = [
    Hostile("over 64 KiB", inject(json.dumps("x" * 70 * KIB).encode()), TOO_LARGE),
    Hostile("nested 20,000 deep", whole(nested(20_000)), REFUSED),
    Hostile("objects nested 10,000 deep", whole(b'{"a":' * 10_000 + b"1" + b"}" * 10_000), REFUSED),
    Hostile("nested 5,000 deep in the field", inject(nested(5_000)), REFUSED),
    Hostile("bytes that are not UTF-8", inject(b'"\xff\xfe\xc0\x80"'), REFUSED),
    Hostile("a whole body that is not UTF-8", whole(b"\xff\xfe{\x00}"), REFUSED),
    Hostile("NUL", inject(b'"before\\u0000after"'), REFUSED),
    Hostile("NUL as the key", inject(b'"x", "\\u0000": "y"'), REFUSED),
    Hostile("bell and backspace", inject(b'"ring\\u0007\\b"'), REFUSED_OR_UNKNOWN),
    Hostile("terminal escape", inject(b'"\\u001b[2J\\u001b[31mred"'), REFUSED_OR_UNKNOWN),
    Hostile("right-to-left override", inject('"abc\u202efdp.exe"'.encode()), REFUSED_OR_UNKNOWN),
    Hostile("bidi isolate", inject('"\u2066x\u2069"'.encode()), REFUSED_OR_UNKNOWN),
    Hostile("C1 control", inject(b'"\\u0085\\u009b"'), REFUSED_OR_UNKNOWN),
    Hostile("lone surrogate", inject(b'"\\ud800"'), REFUSED),
    Hostile("duplicate key", duplicate_key, REFUSED),
    Hostile("a number", inject(b"12345"), REFUSED),
    Hostile("an integer of 5,000 digits", inject(b"9" * 5000), REFUSED),
    Hostile("Infinity", inject(b"Infinity"), REFUSED),
    Hostile("an object", inject(b'{"$ne": null}'), REFUSED),
    Hostile("an array", inject(b'["a", "b"]'), REFUSED),
    Hostile("true", inject(b"true"), REFUSED),
    Hostile("a top-level array", whole(b"[]"), REFUSED),
    Hostile("a top-level string", whole(b'"code"'), REFUSED),
    Hostile("an empty body", whole(b""), REFUSED),
    Hostile("not JSON", whole(b"code=7K3M"), REFUSED),
    Hostile("a form", whole(b"code=7K3M"), REFUSED, "application/x-www-form-urlencoded"),
    Hostile("plain text", whole(b'{"code": "x"}'), REFUSED, "text/plain"),
]


def assert_error_shape(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "field", "detail"}
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]


@pytest.mark.parametrize("endpoint", list(JSON_ENDPOINTS))
class TestJsonEndpoints:
    def test_the_valid_body_is_accepted(self, scene: Scene, endpoint: str) -> None:
        """The control: refusals below come from the hostile part, not from the rest."""
        spec = JSON_ENDPOINTS[endpoint]

        response = scene.client.post(spec.path, json=spec.valid(scene))

        assert response.status_code == spec.accepted, response.text

    def test_hostile_bodies_are_refused_in_the_error_shape_and_change_nothing(
        self, scene: Scene, endpoint: str
    ) -> None:
        spec = JSON_ENDPOINTS[endpoint]
        problems: list[str] = []
        for hostile in HOSTILE_JSON:
            content = hostile.body(spec.valid(scene), spec.free_text)
            before = stored_state(scene.session)
            response = scene.client.post(
                spec.path,
                content=content,
                headers={"content-type": hostile.content_type, "accept-language": "en"},
            )
            if response.status_code not in hostile.statuses:
                problems.append(f"{hostile.name}: {response.status_code} {response.text[:200]}")
                continue
            try:
                assert_error_shape(response)
            except (AssertionError, ValueError, KeyError) as failure:
                problems.append(f"{hostile.name}: not the error shape ({failure!r})")
            if "set-cookie" in response.headers:
                problems.append(f"{hostile.name}: sets a cookie")
            if stored_state(scene.session) != before:
                problems.append(f"{hostile.name}: something was stored")

        assert problems == []

    def test_a_body_streamed_without_a_length_is_cut_at_64_kib(
        self, scene: Scene, endpoint: str
    ) -> None:
        spec = JSON_ENDPOINTS[endpoint]
        scene.code()  # a code that must stay unused
        before = stored_state(scene.session)

        def chunks() -> Iterator[bytes]:
            yield b'{"code": "'
            for _ in range(80):
                yield b"x" * KIB
            yield b'"}'

        response = scene.client.post(
            spec.path, content=chunks(), headers={"content-type": "application/json"}
        )

        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
        assert stored_state(scene.session) == before

    def test_duplicate_keys_are_named_in_the_refusal(self, scene: Scene, endpoint: str) -> None:
        spec = JSON_ENDPOINTS[endpoint]

        response = scene.client.post(
            spec.path,
            content=duplicate_key(spec.valid(scene), spec.free_text),
            headers={"content-type": "application/json", "accept-language": "en"},
        )

        assert response.status_code == 422
        key = spec.free_text[-1]
        assert response.json()["error"]["message"] == (
            f"The request names “{key}” more than once; send each name once."
        )


class TestDuplicateAnswers:
    def test_an_item_answered_twice_is_refused(self, scene: Scene) -> None:
        item = next(iter(scene.answers))
        body = JSON_ENDPOINTS["ballots"].valid(scene)
        text = json.dumps(body).replace(f'"{item}": ', f'"{item}": 1, "{item}": ', 1)
        before = stored_state(scene.session)

        response = scene.client.post(
            "/api/v1/ballots", content=text, headers={"content-type": "application/json"}
        )

        assert response.status_code == 422
        assert stored_state(scene.session) == before


class TestNulNeverReachesTheDatabase:
    """Values the app looks up in the database; PostgreSQL would fail on a NUL in them."""

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            (
                "/api/v1/roster/login",
                {"campaign": "test\x00", "identifier": "13800138000", "password": "x"},
            ),
            ("/api/v1/admission", {"code": "7K3M-Q9XA-2HNP-4RTW-8CV\x00"}),
        ],
        ids=["campaign slug", "code"],
    )
    def test_in_a_json_value(self, scene: Scene, path: str, body: dict[str, str]) -> None:
        response = scene.client.post(path, json=body, headers={"accept-language": "en"})

        assert response.status_code == 422
        assert response.json()["error"]["message"] == (
            "The request contains a NUL character (U+0000), which is not accepted."
        )
        assert response.json()["error"]["field"] in body

    def test_in_a_console_form(self, scene: Scene) -> None:
        response = scene.client.post(
            "/admin/login",
            data={"csrftoken": csrf_token(scene.client), "username": "adm\x00in", "password": "x"},
        )

        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")


class TestStartToken:
    def test_hostile_query_strings_change_nothing(self, scene: Scene) -> None:
        before = stored_state(scene.session)
        for query in ("lang=%00", "lang=%E2%80%AE", "lang=" + "x" * 8000, "a=1&a=2&a=3"):
            response = scene.client.get(f"/api/v1/start-token?{query}")
            assert response.status_code in (200, 400), query
            if response.status_code == 400:
                assert_error_shape(response)

        assert stored_state(scene.session) == before


class TestPathParameters:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/campaigns/%00/keys",
            "/api/v1/campaigns/%00/results",
            "/verify/%00",
            "/results/%00",
            "/results/x/departments/%00",
            "/api/v1/campaigns/%E2%80%AE/keys",
            "/api/v1/campaigns/" + "x" * 5000 + "/keys",
        ],
    )
    def test_hostile_slugs_are_4xx_never_5xx(self, scene: Scene, path: str) -> None:
        response = scene.client.get(path)

        assert 400 <= response.status_code < 500


# --- forms --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormEndpoint:
    path: Callable[[Scene], str]
    valid: Callable[[Scene], dict[str, str]]
    accepted: int
    free_text: str
    in_place: frozenset[int]  # how it answers hostile values: the page again, with a message
    limit: int  # body size limit, bytes
    with_staff_records: bool = True


def complete_draft(scene: Scene, comment: str) -> str:
    return json.dumps(
        {
            "chosen": [scene.target],
            "answers": {scene.target: scene.answers},
            "comments": {scene.target: comment},
        },
        ensure_ascii=False,
    )


FORM_ENDPOINTS = {
    "code entry": FormEndpoint(
        lambda scene: "/r",
        lambda scene: {"code": scene.code()},
        200,
        "code",
        frozenset({422}),  # a mistyped code
        256 * KIB,
    ),
    "rating, submitted": FormEndpoint(
        lambda scene: "/r/rate",
        lambda scene: {
            "code": scene.code(),
            "draft": complete_draft(scene, "很好"),
            "step": "review",
            "action": "submit",
        },
        201,
        "draft",
        frozenset({200}),  # a draft that cannot be read is dropped: the rater starts again
        256 * KIB,
    ),
    "rating, a department's page": FormEndpoint(
        lambda scene: "/r/rate",
        lambda scene: {
            "code": scene.code(),
            "draft": json.dumps({"chosen": [scene.target]}),
            "step": "target-0",
            "action": "stay",
            **{f"answer-{item}": "4" for item in scene.answers},
            "comment": "很好",
        },
        200,
        "comment",
        frozenset({200}),  # kept in the draft; refused at submission (below)
        256 * KIB,
    ),
    "verification": FormEndpoint(
        lambda scene: f"/verify/{scene.closed_slug()}",
        lambda scene: {"receipt": "-".join(["0123-4567-89ab-cdef"] * 4)},  # a tracker
        200,
        "receipt",
        frozenset({200, 422}),  # not in the list, or not a receipt
        4096 * KIB,
    ),
    "console sign-in": FormEndpoint(
        lambda scene: "/admin/login",
        lambda scene: {
            "csrftoken": csrf_token(scene.client),
            "username": scene.staff.username,
            "password": "wrong",
        },
        401,
        "username",
        frozenset({401, 422}),  # wrong, or longer than a user name
        4096 * KIB,
        with_staff_records=False,
    ),
}

# (name, raw form value, the status it must get, if not the endpoint's answer in place);
# values are already percent-encoded.
HOSTILE_FORM_VALUES: list[tuple[str, bytes, frozenset[int] | None]] = [
    ("NUL", b"a%00b", frozenset({422})),
    ("a raw NUL byte", b"a\x00b", frozenset({422})),
    ("bell and escape", b"%07%1B%5B2J", None),
    ("right-to-left override", b"abc%E2%80%AEfdp.exe", None),
    ("bidi isolate", b"%E2%81%A6x%E2%81%A9", None),
    ("bytes that are not UTF-8", b"%FF%FE%C0%80", None),
    ("raw bytes that are not UTF-8", b"\xff\xfe", frozenset({400})),
    ("an encoded surrogate", b"%ED%A0%80", None),
    ("markup", b"%3Cscript%3Ealert(1)%3C%2Fscript%3E", None),
    ("JSON nested 20,000 deep", b"%5B" * 20_000 + b"%5D" * 20_000, None),
]


def form_body(fields: dict[str, str], name: str, raw_value: bytes) -> bytes:
    from urllib.parse import urlencode

    others = {key: value for key, value in fields.items() if key != name}
    encoded = urlencode(others).encode()
    return (encoded + b"&" if encoded else b"") + name.encode() + b"=" + raw_value


@pytest.mark.parametrize("endpoint", list(FORM_ENDPOINTS))
class TestForms:
    def post(self, scene: Scene, spec: FormEndpoint, content: bytes, **headers: str) -> Any:
        return scene.client.post(
            spec.path(scene),
            content=content,
            headers={"content-type": "application/x-www-form-urlencoded", **headers},
            follow_redirects=False,
        )

    def test_the_valid_form_is_answered(self, scene: Scene, endpoint: str) -> None:
        spec = FORM_ENDPOINTS[endpoint]

        response = scene.client.post(spec.path(scene), data=spec.valid(scene))

        assert response.status_code == spec.accepted, response.text[-500:]

    def test_hostile_values_are_answered_without_5xx_and_change_nothing(
        self, scene: Scene, endpoint: str
    ) -> None:
        spec = FORM_ENDPOINTS[endpoint]
        problems: list[str] = []
        for name, raw_value, statuses in HOSTILE_FORM_VALUES:
            content = form_body(spec.valid(scene), spec.free_text, raw_value)
            before = stored_state(scene.session, with_staff_records=spec.with_staff_records)
            response = self.post(scene, spec, content)
            if response.status_code not in (statuses or spec.in_place):
                problems.append(f"{name}: {response.status_code}")
            if not response.headers.get("content-type", "").startswith("text/html"):
                problems.append(f"{name}: {response.headers.get('content-type')}")
            after = stored_state(scene.session, with_staff_records=spec.with_staff_records)
            if after != before:
                problems.append(f"{name}: something was stored")

        assert problems == []

    def test_a_form_over_its_limit_is_413_and_changes_nothing(
        self, scene: Scene, endpoint: str
    ) -> None:
        spec = FORM_ENDPOINTS[endpoint]
        content = form_body(spec.valid(scene), spec.free_text, b"x" * (spec.limit + KIB))
        before = stored_state(scene.session, with_staff_records=spec.with_staff_records)

        response = self.post(scene, spec, content)

        assert response.status_code == 413
        assert stored_state(scene.session, with_staff_records=spec.with_staff_records) == before

    def test_a_json_body_gets_no_5xx(self, scene: Scene, endpoint: str) -> None:
        spec = FORM_ENDPOINTS[endpoint]
        body = spec.valid(scene)
        before = stored_state(scene.session, with_staff_records=spec.with_staff_records)

        response = scene.client.post(spec.path(scene), json=body)

        assert response.status_code < 500
        assert stored_state(scene.session, with_staff_records=spec.with_staff_records) == before


class TestHostileCommentsInTheRatingForm:
    @pytest.mark.parametrize(
        "comment",
        ["before\x00after", "ring\x07", "abc\u202efdp.exe", "\u2066x\u2069", "\x1b[31mred"],
        ids=["NUL", "bell", "override", "isolate", "escape"],
    )
    def test_an_invisible_character_in_the_draft_is_refused_at_submission(
        self, scene: Scene, comment: str
    ) -> None:
        code = scene.code()
        before = stored_state(scene.session)

        response = scene.client.post(
            "/r/rate",
            data={
                "code": code,
                "draft": complete_draft(scene, comment),
                "step": "review",
                "action": "submit",
                "lang": "en",
            },
            headers={"accept-language": "en"},
        )

        assert response.status_code < 500
        assert "invisible control character" in response.text
        assert stored_state(scene.session) == before


class TestFailedSignInsAreRecordedLegibly:
    def test_an_invisible_character_in_a_user_name_is_recorded_as_an_escape(
        self, scene: Scene
    ) -> None:
        response = scene.client.post(
            "/admin/login",
            data={
                "csrftoken": csrf_token(scene.client),
                "username": "admin\u202enimda\x07",
                "password": "x",
            },
            follow_redirects=False,
        )

        assert response.status_code == 401
        scene.session.expire_all()
        entry = scene.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "login_failed")
        ).one()
        assert entry.actor == "admin\\u202enimda\\u0007"
        assert "\u202e" not in entry.object


# --- markup in comments, through review and publication -----------------------------------------

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "</textarea><script>alert(3)</script>",
    "{{ 7*7 }} {% raw %}",
]
RESPONDENTS = 3


def shown_escaped(page: str, text: str) -> bool:
    """The text is on the page only in its escaped form, and never as markup."""
    escaped = (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )
    return escaped in page and ("<" not in text or text not in page)


class TestMarkupInCommentsIsShownEscapedEverywhere:
    def test_from_ballot_to_publication(self, scene: Scene) -> None:
        client, session, campaign = scene.client, scene.session, scene.campaign
        campaign_service.set_policy(
            session, campaign, ResultsPolicy(comments=CommentPolicy(min_respondents=RESPONDENTS))
        )
        comments = [*MARKUP, *["普通意见"] * max(0, RESPONDENTS - len(MARKUP))]
        for comment in comments:
            body = {
                "code": scene.code(),
                "evaluations": [
                    {"target": scene.target, "answers": scene.answers, "comment": comment}
                ],
            }
            assert client.post("/api/v1/ballots", json=body).status_code == 201

        # The rater's own review page, in the no-script flow, before anything is stored.
        review = client.post(
            "/r/rate",
            data={
                "code": scene.code(),
                "draft": complete_draft(scene, MARKUP[0]),
                "step": "review",
                "action": "stay",
            },
        )
        assert review.status_code == 200
        assert shown_escaped(review.text, MARKUP[0])

        assert sign_in(client, scene.staff.username).status_code == 303
        slug = campaign.slug
        closed = post_form(
            client, f"/admin/campaigns/{slug}/close", token_from=f"/admin/campaigns/{slug}/close"
        )
        assert closed.status_code == 303
        session.expire_all()
        tally(session, campaign)  # the trustees open the box; the comments come out of it
        queue_path = f"/admin/campaigns/{slug}/comments"
        queue = client.get(queue_path)
        assert queue.status_code == 200
        for text in MARKUP:
            assert shown_escaped(queue.text, text), text

        session.expire_all()
        copies = list(
            session.scalars(
                select(CommentForReview).where(CommentForReview.campaign_id == campaign.id)
            )
        )
        assert sorted(copy.text for copy in copies) == sorted(comments)  # stored as typed
        for copy in copies:
            edit_page = client.get(f"{queue_path}/{copy.id}/edit")
            assert edit_page.status_code == 200
            assert shown_escaped(edit_page.text, copy.text)
            approved = post_form(client, f"{queue_path}/{copy.id}/approve", token_from=queue_path)
            assert approved.status_code in (200, 303)

        published = post_form(
            client,
            f"/admin/campaigns/{slug}/publish",
            token_from=f"/admin/campaigns/{slug}/publish",
        )
        assert published.status_code == 303
        department = client.get(f"/results/{slug}/departments/{scene.target}")
        assert department.status_code == 200
        for text in MARKUP:
            assert shown_escaped(department.text, text), text
        assert not re.search(r"<script>alert|<img[^>]*onerror", department.text)
