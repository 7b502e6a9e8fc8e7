"""Schemathesis against the JSON API's OpenAPI schema, through the ASGI app.

The app runs on its own migrated SQLite database with the demo loaded (last year's campaign
published, this year's open with unused codes), so generated requests reach real code paths:
about half of the generated codes, vouchers and slugs are swapped for real ones. Every
response must be a documented status, match its schema and content type, never be a 5xx, and
schema-violating requests must be refused. Generation is deterministic and bounded
(``MAX_EXAMPLES`` per operation and phase), so a run takes well under a minute.
"""

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import health
from app.accounts import sessions
from app.accounts.web import session_secret
from app.campaigns import service as campaign_service
from app.config import get_settings
from app.db import committing, get_session
from app.demo import service as demo_service
from app.deps import code_hashing_key
from app.main import create_app
from app.ratelimit import RateLimits
from tests.conftest import migrate, new_sqlite_engine
from tests.factories import HASHING_KEY, make_staff

MAX_EXAMPLES = 30
DEMO_SLUGS = ("demo-2026", "demo-2025")  # open, and published
REFUSALS = ["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]

pytestmark = pytest.mark.slow

# The schema is read from the app when the module is collected (making the app touches no
# database); the demo database is attached to the app by a fixture, once per module.
# (schemathesis.pytest.from_fixture would defer both, but it fails under pytest 9.)
demo_app = create_app()
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    demo_app,
    config=schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "checks": {
                # A string the schema allows can still be refused for what it says: a code
                # that fails its check character is a 422, as the API documents. This check
                # would call every such refusal a bug.
                "positive_data_acceptance": {"enabled": False},
                # A body over the limit (413) is refused too.
                "negative_data_rejection": {"expected-statuses": REFUSALS},
            },
        }
    ),
)


class DemoValues:
    """Real codes, slugs, targets and items of the demo, to swap in for generated ones."""

    def __init__(
        self,
        codes_file: Path,
        targets: list[str],
        items: dict[str, list[str]],
        staff_cookie: str,
    ) -> None:
        rows = [line.split(",") for line in codes_file.read_text(encoding="utf-8").splitlines()]
        self.codes = [row[3] for row in rows[1:]]
        self.group_of = {row[3]: row[1] for row in rows[1:]}
        self.targets = targets
        self.items = items  # item ids per rater group
        self.staff_cookie = staff_cookie  # an administrator's console session

    @staticmethod
    def pick(values: list[str] | tuple[str, ...], generated: object) -> str | None:
        """A real value for half of the generated ones, chosen by the generated value, so runs
        stay deterministic."""
        digest = hashlib.sha256(repr(generated).encode()).digest()
        return None if digest[0] % 2 else values[digest[1] % len(values)]

    def swap_into(self, case: Any) -> None:
        """Only into requests meant to be valid: a request meant to break the schema stays
        broken (it must be refused)."""
        if case.meta is not None and case.meta.generation.mode != GenerationMode.POSITIVE:
            return
        if case.path_parameters and isinstance(case.path_parameters.get("slug"), str):
            slug = self.pick(DEMO_SLUGS, case.path_parameters["slug"])
            if slug is not None:
                case.path_parameters["slug"] = slug
            if self.pick(["signed in"], case.path_parameters["slug"] + "staff") is not None:
                case.cookies = {**(case.cookies or {}), sessions.COOKIE_NAME: self.staff_cookie}
        if not isinstance(case.body, dict):
            return
        if isinstance(case.body.get("campaign"), str):
            slug = self.pick(DEMO_SLUGS, case.body["campaign"])
            if slug is not None:
                case.body["campaign"] = slug
        for field in ("code", "voucher"):
            if isinstance(case.body.get(field), str):
                code = self.pick(self.codes, case.body[field])
                if code is not None:
                    case.body[field] = code
                    if field == "code" and isinstance(case.body.get("evaluations"), list):
                        self._answer_all(case.body["evaluations"], self.group_of[code])

    def _answer_all(self, evaluations: list[Any], group: str) -> None:
        """Make generated evaluations valid, keeping what was generated for the comment and
        the start token, so the ballot can be accepted and its answer checked too."""
        for position, evaluation in enumerate(evaluations):
            if isinstance(evaluation, dict):
                evaluation["target"] = self.targets[position % len(self.targets)]
                evaluation["answers"] = {item: 2 for item in self.items[group]}  # on every scale


@pytest.fixture(scope="module")
def demo_values(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoValues]:
    engine: Engine = new_sqlite_engine()
    migrate(engine)
    codes_file = tmp_path_factory.mktemp("demo") / "codes.csv"
    with Session(engine) as session, committing(session):
        demo_service.load_demo(
            session,
            get_settings().surveys_dir,
            HASHING_KEY,
            codes_file,
            default_threshold=5,
            trustees_dir=codes_file.parent / "trustees",
        )
        campaign = campaign_service.get_campaign(session, DEMO_SLUGS[0])
        questionnaire = campaign_service.questionnaire_of(campaign)
        targets = [target.department.code for target in campaign.targets]
        items = {
            group.key: [item.id for item in questionnaire.items_for(group.key)]
            for group in campaign.rater_groups
        }
        admin = make_staff(session, role="admin")
        staff_cookie = sessions.encode(
            session_secret(), sessions.new_session(admin.id, admin.session_version)
        )
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def request_session() -> Iterator[Session]:
        with factory() as session, committing(session):
            yield session

    demo_app.dependency_overrides[get_session] = request_session
    demo_app.dependency_overrides[code_hashing_key] = lambda: HASHING_KEY
    limits = RateLimits(attempts_per_minute=0)  # limits have their own tests; here they
    limits.limiters.clear()  # would only turn generated requests into 429s
    demo_app.state.rate_limits = limits
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(health, "get_engine", lambda: engine)  # /readyz checks this database
        yield DemoValues(codes_file, targets, items, staff_cookie)
    demo_app.dependency_overrides.clear()
    engine.dispose()


@schema.parametrize()
def test_api_answers_within_its_schema(case: Any, demo_values: DemoValues) -> None:
    demo_values.swap_into(case)
    case.call_and_validate()
