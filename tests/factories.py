"""Typed factories for test data. Each returns what it made, flushed, in the given session."""

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeStatus
from app.ballot_box import contents as ballot_contents
from app.ballot_box import service as box_service
from app.ballot_box import shares, tally_key
from app.ballot_box.contents import BallotContents
from app.ballot_box.models import SealedBallot, Tally
from app.ballots.models import Evaluation
from app.ballots.schemas import BallotIn, EvaluationIn
from app.ballots.service import submit_ballot
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import ResultsPolicy
from app.campaigns.schemas import CampaignSpec, RaterGroupSpec
from app.departments.models import Department
from app.surveys.schemas import Questionnaire

if TYPE_CHECKING:
    from app.accounts.models import StaffUser

HASHING_KEY = codes.hashing_key(b"test-secret-key")
_sequence = itertools.count(1)


def small_questionnaire(**overrides: Any) -> Questionnaire:
    """Three items: two five-level items for everyone, one three-level item for cadres only."""
    data: dict[str, Any] = {
        "id": "small",
        "version": 1,
        "title": {"zh": "小问卷", "en": "Small questionnaire"},
        "rater_groups": [
            {"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}},
            {"key": "cadres", "name": {"zh": "基层干部", "en": "Cadres"}},
        ],
        "dimensions": [
            {"id": "attitude", "name": {"zh": "服务态度", "en": "Attitude"}},
            {"id": "efficiency", "name": {"zh": "办事效率", "en": "Efficiency"}},
        ],
        "items": [
            {
                "id": "courtesy",
                "dimension": "attitude",
                "scale": "five_level",
                "text": {"zh": "态度热情", "en": "Courteous"},
            },
            {
                "id": "speed",
                "dimension": "efficiency",
                "scale": "five_level",
                "text": {"zh": "办事快捷", "en": "Quick"},
            },
            {
                "id": "guidance",
                "dimension": "efficiency",
                "scale": "three_level",
                "groups": ["cadres"],
                "text": {"zh": "指导基层", "en": "Guides grassroots units"},
            },
        ],
        "comment": {"prompt": {"zh": "意见建议", "en": "Comments"}, "max_length": 200},
    }
    data.update(overrides)
    return Questionnaire.model_validate(data)


def make_department(
    session: Session, *, code: str | None = None, name: str | None = None, category: str = "综合类"
) -> Department:
    number = next(_sequence)
    department = Department(
        code=code or f"D{number:04d}", name=name or f"测试单位{number}", category=category
    )
    session.add(department)
    session.flush()
    return department


def make_campaign(
    session: Session,
    *,
    questionnaire: Questionnaire | None = None,
    groups: dict[str, float] | None = None,
    departments: list[Department] | None = None,
    status: CampaignStatus = CampaignStatus.OPEN,
    threshold: int = 5,
    slug: str | None = None,
    sealed_box: bool = True,
) -> Campaign:
    """A campaign in ``status``, with a 2-of-3 tally key unless ``sealed_box`` is False (a
    campaign as opened before the ballot box existed: its ballots are stored directly)."""
    questionnaire = questionnaire or small_questionnaire()
    departments = departments or [make_department(session) for _ in range(2)]
    groups = groups or {"citizens": 1.0, "cadres": 1.0}
    spec = CampaignSpec(
        slug=slug or f"test-{next(_sequence)}",
        title={"zh": "测试评议", "en": "Test evaluation"},  # type: ignore[arg-type]
        questionnaire=questionnaire.id,
        disclosure_threshold=threshold,
        rater_groups=[RaterGroupSpec(key=key, weight=weight) for key, weight in groups.items()],
        targets=[department.code for department in departments],
    )
    campaign = campaign_service.create_campaign(
        session, spec, questionnaire, default_threshold=threshold
    )
    if sealed_box:
        made = box_service.create_tally_key(session, campaign, count=3, threshold=2)
        _TRUSTEE_SHARES[campaign.slug] = [
            shares.parse_share(share.dump(), share.file_name()) for share in made.share_files
        ]
    campaign.status = status
    session.flush()
    return campaign


# The trustees' shares of each campaign made here, by slug (slugs are unique in a run).
_TRUSTEE_SHARES: dict[str, list[shares.Share]] = {}


def trustee_shares(campaign: Campaign) -> list[shares.Share]:
    """All three trustees' shares of a campaign made by :func:`make_campaign` (2 open it)."""
    return _TRUSTEE_SHARES[campaign.slug]


def tally(session: Session, campaign: Campaign) -> Tally:
    """Close the campaign if it is open, then open its ballot box with two trustees' shares
    and store what it held, as the trustees would."""
    if campaign.status == CampaignStatus.OPEN:
        lifecycle.close_campaign(session, campaign, actor="test")
    entered = trustee_shares(campaign)[:2] if campaign.slug in _TRUSTEE_SHARES else []
    return lifecycle.tally_campaign(session, campaign, entered, actor="test")


def ballot_count(session: Session, campaign: Campaign | None = None) -> int:
    """Ballots in the box, sealed or counted."""
    query = select(func.count()).select_from(SealedBallot)
    if campaign is not None:
        query = query.where(SealedBallot.campaign_id == campaign.id)
    return session.scalar(query) or 0


def issue_codes(
    session: Session,
    campaign: Campaign,
    *,
    group: str = "citizens",
    count: int = 1,
    target: str | None = None,
) -> list[str]:
    issued = admission_service.issue_codes(
        session,
        campaign,
        hashing_key=HASHING_KEY,
        group_key=group,
        count=count,
        target_code=target,
    )
    return issued.codes


def issue_code(session: Session, campaign: Campaign, **options: Any) -> str:
    return issue_codes(session, campaign, count=1, **options)[0]


def answers_for(
    campaign: Campaign, group: str = "citizens", level: int | None = 4
) -> dict[str, int | None]:
    """The same answer to every item the group sees."""
    questionnaire = campaign_service.questionnaire_of(campaign)
    return {item.id: level for item in questionnaire.items_for(group)}


def code_status(session: Session, code: str) -> CodeStatus | None:
    hashed = codes.keyed_hash(HASHING_KEY, codes.normalize(code))
    return session.scalar(select(AdmissionCode.status).where(AdmissionCode.code_hash == hashed))


def evaluation_count(session: Session, campaign: Campaign | None = None) -> int:
    query = select(func.count()).select_from(Evaluation)
    if campaign is not None:
        query = query.where(Evaluation.campaign_id == campaign.id)
    return session.scalar(query) or 0


STAFF_PASSWORD = "correct horse battery staple"


def make_staff(
    session: Session,
    *,
    role: str = "admin",
    department: Department | None = None,
    username: str | None = None,
) -> "StaffUser":
    from app.accounts import service as account_service
    from app.accounts.models import Role

    return account_service.create_user(
        session,
        username=username or f"{role}{next(_sequence)}",
        password=STAFF_PASSWORD,
        role=Role(role),
        department_code=department.code if department else None,
    )


# --- Looking inside the sealed ballot box (added for the ballot-box tests) ---------------------


def sealed_contents(session: Session, campaign: Campaign) -> list[BallotContents]:
    """What each ballot still sealed in the campaign's box holds, in tracker order, decrypted
    in memory with two trustees' shares, as the tally would; the box is left as it is."""
    key = box_service.tally_key_of(session, campaign)
    assert key is not None, f"campaign {campaign.slug} has no tally key"
    fingerprint = bytes(key.fingerprint)
    key_pair = shares.rebuild_key(
        trustee_shares(campaign)[:2],
        campaign_slug=campaign.slug,
        key_fingerprint=fingerprint,
        threshold=key.threshold,
    )
    info = tally_key.info_for(campaign.slug, fingerprint)
    return [
        ballot_contents.decode(tally_key.open_sealed(ciphertext, key_pair, info))
        for _tracker, ciphertext in box_service.sealed_ballots(session, campaign)
    ]


# --- Rated campaigns (moved here from the results and reports tests) ---------------------------

Level = int | None  # None is 不了解 (don't know)
Answers = tuple[Level, Level, Level]  # (courtesy, speed, overall) of rating_questionnaire
Rating = tuple[int, str, Sequence[Answers]]  # target index, rater group, one answer set a rater


def rating_questionnaire(**overrides: object) -> Questionnaire:
    """Courtesy (five-level), speed (three-level) and overall (five-level, not scored)."""
    return small_questionnaire(
        rater_groups=[
            {"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}},
            {"key": "enterprises", "name": {"zh": "企业", "en": "Enterprises"}},
            {"key": "cadres", "name": {"zh": "基层干部", "en": "Cadres"}},
        ],
        items=[
            {
                "id": "courtesy",
                "dimension": "attitude",
                "scale": "five_level",
                "text": {"zh": "态度热情", "en": "Courteous"},
            },
            {
                "id": "speed",
                "dimension": "efficiency",
                "scale": "three_level",
                "text": {"zh": "办事快捷", "en": "Quick"},
            },
            {
                "id": "overall",
                "dimension": "attitude",
                "scale": "five_level",
                "scored": False,
                "text": {"zh": "总体印象", "en": "Overall impression"},
            },
        ],
        **overrides,
    )


def rate(
    session: Session,
    campaign: Campaign,
    group: str,
    answer_sets: Sequence[Answers],
    target_index: int = 0,
) -> None:
    """One ballot per answer set, each on its own admission code."""
    target = campaign.targets[target_index].department.code
    codes = issue_codes(session, campaign, group=group, count=len(answer_sets))
    for code, (courtesy, speed, overall) in zip(codes, answer_sets, strict=True):
        answers = {"courtesy": courtesy, "speed": speed, "overall": overall}
        ballot = BallotIn(code=code, evaluations=[EvaluationIn(target=target, answers=answers)])
        submit_ballot(session, HASHING_KEY, ballot)


def rated_campaign(
    session: Session,
    ratings: Sequence[Rating],
    *,
    groups: dict[str, float],
    departments: list[Department] | None = None,
    threshold: int = 3,
    status: CampaignStatus = CampaignStatus.TALLIED,
    policy: ResultsPolicy | None = None,
) -> Campaign:
    """A campaign of :func:`rating_questionnaire` rated as raters would, then brought through
    its lifecycle to ``status``.

    Each rating ``(target index, group, answer sets)`` is a ballot per answer set on a code
    of its own (:func:`rate`), in the order given; an empty one rates nothing. ``policy`` is
    set while the campaign is open. ``status``: OPEN leaves it as rated; CLOSED closes it;
    TALLIED also opens its ballot box with two trustees' shares and counts it; PUBLISHED
    also publishes it.
    """
    campaign = make_campaign(
        session,
        questionnaire=rating_questionnaire(),
        groups=groups,
        departments=departments,
        threshold=threshold,
    )
    if policy is not None:
        campaign_service.set_policy(session, campaign, policy)
    for target_index, group, answer_sets in ratings:
        if answer_sets:
            rate(session, campaign, group, answer_sets, target_index)
    if status == CampaignStatus.CLOSED:
        lifecycle.close_campaign(session, campaign, actor="test")
    elif status in (CampaignStatus.TALLIED, CampaignStatus.PUBLISHED):
        tally(session, campaign)
    if status == CampaignStatus.PUBLISHED:
        lifecycle.publish_campaign(session, campaign, actor="test")
    return campaign
