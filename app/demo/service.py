"""A demo district: twelve departments, last year's published campaign, this year's open one.

The sample ballots come from separate batches of codes that are never written out, so every
code in the demo codes file is still unused when the demo is first loaded. Last year's
campaign is closed, tallied and published, so results can be shown; this year's stays open
for rating. Each campaign's tally key is shared 2-of-3 among three demo trustees, whose share
files are written under ``var/trustees/<slug>/``, so this year's box can be tallied.
"""

import csv
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import private_files, strict_yaml
from app.accounts import service as account_service
from app.accounts.models import Role, StaffUser
from app.admission import codes
from app.admission import service as admission_service
from app.admission.models import AdmissionCode, CodeStatus
from app.audit import service as audit_service
from app.ballot_box import service as box_service
from app.ballot_box import shares
from app.ballots import service as ballot_service
from app.ballots.schemas import BallotIn, EvaluationIn
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign
from app.campaigns.schemas import CampaignSpec
from app.comments import service as comment_service
from app.comments.models import CommentStatus
from app.departments import service as department_service
from app.reports.cells import csv_row
from app.surveys import service as survey_service
from app.surveys.schemas import Questionnaire

DEMO_DIR = Path(__file__).resolve().parent
CODES_PER_GROUP = 60
SAMPLE_BALLOTS_PER_GROUP = {"citizens": 40, "enterprises": 24, "cadres": 30}
PAST_SAMPLE_BALLOTS_PER_GROUP = {"citizens": 90, "enterprises": 45, "cadres": 60}
SAMPLE_SEED = 2026
SAMPLE_COMMENTS_FILE = "sample-comments.yaml"


DEMO_ACTOR = "demo"
TRUSTEES = 3
TRUSTEE_THRESHOLD = 2


@dataclass(frozen=True)
class DemoReport:
    slug: str
    title: str
    created: bool
    shares_dir: Path


def demo_spec(file_name: str = "campaign.yaml") -> CampaignSpec:
    """This year's open demo campaign, or another spec kept beside it."""
    return CampaignSpec.model_validate(
        strict_yaml.safe_load((DEMO_DIR / file_name).read_text(encoding="utf-8"))
    )


def load_demo(
    session: Session,
    surveys_dir: Path,
    hashing_key: bytes,
    codes_out: Path,
    default_threshold: int,
    trustees_dir: Path,
) -> DemoReport:
    spec = demo_spec()
    existing = session.scalar(select(Campaign).where(Campaign.slug == spec.slug))
    if existing is not None:
        return DemoReport(
            slug=existing.slug,
            title=existing.title_zh,
            created=False,
            shares_dir=trustees_dir / existing.slug,
        )

    department_service.import_csv(session, (DEMO_DIR / "departments.csv").read_bytes())
    questionnaire = survey_service.find_template(surveys_dir, spec.questionnaire)
    _load_past_campaign(session, questionnaire, hashing_key, default_threshold, trustees_dir)
    campaign = campaign_service.create_campaign(
        session, spec, questionnaire, default_threshold=default_threshold
    )
    _make_trustees(session, campaign, trustees_dir)
    lifecycle.open_campaign(session, campaign, actor=DEMO_ACTOR)

    with private_files.private_text(codes_out) as stream:  # mode 0600: the demo's codes
        writer = csv.writer(stream)
        writer.writerow(admission_service.CODES_CSV_HEADER)
        for group in campaign.rater_groups:
            issued = admission_service.issue_codes(
                session,
                campaign,
                hashing_key=hashing_key,
                group_key=group.key,
                count=CODES_PER_GROUP,
            )
            writer.writerows(csv_row((campaign.slug, group.key, "", code)) for code in issued.codes)

    _submit_sample_ballots(
        session, campaign, questionnaire, hashing_key, SAMPLE_BALLOTS_PER_GROUP, SAMPLE_SEED
    )
    return DemoReport(
        slug=campaign.slug,
        title=campaign.title_zh,
        created=True,
        shares_dir=trustees_dir / campaign.slug,
    )


def _make_trustees(session: Session, campaign: Campaign, trustees_dir: Path) -> list[Path]:
    """The campaign's tally key, its three demo trustees' shares written to files.

    Files left by an earlier demo database are replaced: they open nothing in this one.
    """
    made = box_service.create_tally_key(
        session, campaign, count=TRUSTEES, threshold=TRUSTEE_THRESHOLD
    )
    directory = trustees_dir / campaign.slug
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for share in made.share_files:
        path = directory / share.file_name()
        path.unlink(missing_ok=True)
        shares.write_new_file(path, share.dump())
        written.append(path)
    return written


def _load_past_campaign(
    session: Session,
    questionnaire: Questionnaire,
    hashing_key: bytes,
    default_threshold: int,
    trustees_dir: Path,
) -> None:
    """Last year's campaign: rated by more raters, closed, tallied and published."""
    campaign = campaign_service.create_campaign(
        session, demo_spec("campaign-2025.yaml"), questionnaire, default_threshold=default_threshold
    )
    share_files = _make_trustees(session, campaign, trustees_dir)
    lifecycle.open_campaign(session, campaign, actor=DEMO_ACTOR)
    _submit_sample_ballots(
        session,
        campaign,
        questionnaire,
        hashing_key,
        PAST_SAMPLE_BALLOTS_PER_GROUP,
        SAMPLE_SEED - 1,
    )
    lifecycle.close_campaign(session, campaign, actor=DEMO_ACTOR)
    entered = [shares.read_share_file(path) for path in share_files[:TRUSTEE_THRESHOLD]]
    lifecycle.tally_campaign(session, campaign, entered, actor=DEMO_ACTOR)
    _review_sample_comments(session, campaign)
    lifecycle.publish_campaign(session, campaign, actor=DEMO_ACTOR)


def _submit_sample_ballots(
    session: Session,
    campaign: Campaign,
    questionnaire: Questionnaire,
    hashing_key: bytes,
    ballots_per_group: dict[str, int],
    seed: int,
) -> None:
    """Plausible ratings: each department has its own standing, each rater knows a few."""
    generator = random.Random(seed)  # noqa: S311 - demo data, not security
    targets = [target.department.code for target in campaign.targets]
    comments_left = {code: list(texts) for code, texts in sample_comments().items()}
    standing = {code: generator.uniform(0.45, 0.9) for code in targets}
    for group in campaign.rater_groups:
        count = ballots_per_group.get(group.key, 0)
        if not count:
            continue
        issued = admission_service.issue_codes(
            session, campaign, hashing_key=hashing_key, group_key=group.key, count=count
        )
        items = questionnaire.items_for(group.key)
        for code in issued.codes:
            known = generator.sample(targets, generator.randint(3, min(8, len(targets))))
            evaluations = []
            for target in known:
                answers: dict[str, int | None] = {}
                for item in items:
                    if generator.random() < 0.08:
                        answers[item.id] = None
                        continue
                    top = max(level.value for level in item.levels)
                    draw = generator.random()
                    level = top if draw < standing[target] else top - 1 if draw < 0.93 else 1
                    answers[item.id] = max(level, 1)
                left = comments_left.get(target)
                comment = left.pop(0) if left else None  # each sample comment once
                evaluations.append(EvaluationIn(target=target, answers=answers, comment=comment))
            ballot_service.submit_ballot(
                session, hashing_key, BallotIn(code=code, evaluations=evaluations)
            )


def sample_comments() -> dict[str, list[str]]:
    """The demo's sample comments by department code (sample-comments.yaml)."""
    loaded = strict_yaml.safe_load((DEMO_DIR / SAMPLE_COMMENTS_FILE).read_text(encoding="utf-8"))
    return {str(code): [str(text) for text in texts] for code, texts in loaded.items()}


def _review_sample_comments(session: Session, campaign: Campaign) -> None:
    """Last year's comments as the office left them: approved, but for the last one of each
    department, rejected, so the public pages show comments and the queue has both kinds."""
    queue = comment_service.queue(session, campaign, CommentStatus.PENDING)
    for group in queue:
        for index, comment in enumerate(group.comments):
            status = CommentStatus.REJECTED if index == 0 else CommentStatus.APPROVED
            comment_service.set_status(session, campaign, comment.id, status)


def unused_codes(
    session: Session, hashing_key: bytes, codes_file: Path, per_group: int
) -> dict[str, list[str]]:
    """Up to ``per_group`` codes per rater group from the demo file that are still unused."""
    found: dict[str, list[str]] = {}
    if not codes_file.exists():
        return found
    with codes_file.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            group_codes = found.setdefault(row["rater_group"], [])
            if len(group_codes) >= per_group:
                continue
            hashed = codes.keyed_hash(hashing_key, codes.normalize(row["code"]))
            status = session.scalar(
                select(AdmissionCode.status).where(AdmissionCode.code_hash == hashed)
            )
            if status == CodeStatus.UNUSED:
                group_codes.append(row["code"])
    return found


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    note: str


DEMO_ACCOUNTS = (
    ("admin", "admin", "", "评议办管理员 office administrator"),
    ("auditor", "auditor", "", "审计员 auditor (read-only)"),
    ("liaison-spj", "liaison", "SPJ", "区行政审批局联络员 liaison of SPJ"),
)


def demo_accounts(session: Session, credentials_file: Path) -> list[DemoAccount]:
    """Demo staff accounts with generated passwords, kept (mode 600) in ``credentials_file``.

    Created once; later runs read the passwords back from the file, so ``make run`` can always
    print where to sign in. An account that already exists without a recorded password (made
    with ``pingyi user create``) is left alone and not listed.
    """
    recorded: dict[str, str] = {}
    if credentials_file.exists():
        for line in credentials_file.read_text(encoding="utf-8").splitlines():
            username, _, password = line.partition("\t")
            if username and password:
                recorded[username] = password
    accounts: list[DemoAccount] = []
    for username, role, department_code, note in DEMO_ACCOUNTS:
        existing = session.scalar(select(StaffUser).where(StaffUser.username == username))
        if existing is None:
            password = recorded.get(username) or secrets.token_urlsafe(9)
            account_service.create_user(
                session,
                username=username,
                password=password,
                role=Role(role),
                display_name=note.split(" ")[0],
                department_code=department_code or None,
            )
            audit_service.record(
                session, actor="demo", action="user_create", object=f"user:{username}"
            )
            recorded[username] = password
        elif username not in recorded:
            continue
        accounts.append(DemoAccount(username, recorded[username], role, note))
    with private_files.private_text(credentials_file) as stream:  # staff passwords: 0600
        stream.write("".join(f"{name}\t{password}\n" for name, password in recorded.items()))
    return accounts
