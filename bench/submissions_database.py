"""The database side of ``bench/submissions.py``: a fresh database with two open campaigns
and their codes, ballots to send, and the database-only measurements.

The two campaigns are alike (questionnaire, departments, rater group) but for the ballot box:
``sealed`` has a tally key, so its ballots are sealed into ``ballot_box``; ``unsealed`` has
none, as a campaign opened before the ballot box existed, so its ballots take the previous
path (evaluations and a receipt stored at once)."""

import contextlib
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from _ballot_box import make_tally_key, plaintext_of, sealer  # noqa: E402
from sqlalchemy import Engine, create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.admission import codes as code_format  # noqa: E402
from app.admission import service as admission_service  # noqa: E402
from app.ballot_box import service as box_service  # noqa: E402
from app.ballot_box.shares import Share  # noqa: E402
from app.ballots import answers as answer_codec  # noqa: E402
from app.ballots import quality, receipts  # noqa: E402
from app.ballots import service as ballot_service  # noqa: E402
from app.ballots.schemas import BallotIn  # noqa: E402
from app.campaigns import lifecycle  # noqa: E402
from app.campaigns import service as campaign_service  # noqa: E402
from app.campaigns.models import Campaign, CampaignStatus  # noqa: E402
from app.campaigns.schemas import CampaignSpec  # noqa: E402
from app.departments import service as department_service  # noqa: E402
from app.surveys import service as survey_service  # noqa: E402

QUESTIONNAIRE_FILE = PROJECT_ROOT / "surveys" / "conduct-efficiency-annual.yaml"
RATER_GROUP = "enterprises"  # sees 12 of the questionnaire's 14 items
ITEMS_PER_EVALUATION = 12
DEPARTMENT_COUNT = 30
SEALED, UNSEALED = "sealed", "unsealed"
VARIANTS = (SEALED, UNSEALED)
VARIANT_NAMES = {SEALED: "sealed box", UNSEALED: "unsealed (previous path)"}
COMMENTS = (
    "窗口工作人员态度很好，材料一次告知，办事效率高。",
    "排队时间有点长，希望增加周末窗口。",
    "网上办理很方便，但是系统有时候比较慢，建议优化。",
    "整体满意，个别工作人员解释政策不够清楚。",
)


@contextlib.contextmanager
def fresh_database(engine_name: str, workdir: Path, postgres_url: str) -> Iterator[str]:
    """A new, empty database's URL; a PostgreSQL database is dropped afterwards."""
    if engine_name == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    server = make_url(postgres_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"pingyi_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass(frozen=True)
class BenchCampaign:
    """One of the two campaigns: its id, slug, codes and (sealed only) trustees' shares."""

    variant: str
    campaign_id: int
    slug: str
    codes: list[str]
    shares: list[Share]


def set_up_campaigns(
    session: Session, hashing_key: bytes, code_count: int
) -> dict[str, BenchCampaign]:
    """30 departments and two open campaigns for enterprises over all of them, ``sealed``
    (a 2-of-3 tally key made while a draft, then opened) and ``unsealed`` (no tally key, as
    a campaign opened before the ballot box existed); ``code_count`` codes for each."""
    rows = ["code,name,category"] + [
        f"B{number:03d},测试单位{number},{'综合类' if number % 2 else '执法类'}"
        for number in range(1, DEPARTMENT_COUNT + 1)
    ]
    department_service.import_csv(session, "\n".join(rows).encode())
    questionnaire = survey_service.load_questionnaire(QUESTIONNAIRE_FILE)
    assert len(questionnaire.items_for(RATER_GROUP)) == ITEMS_PER_EVALUATION
    made = {}
    for variant in VARIANTS:
        spec = CampaignSpec.model_validate(
            {
                "slug": f"bench-{variant}",
                "title": {"zh": "提交性能测试", "en": "Submission benchmark"},
                "questionnaire": questionnaire.id,
                "rater_groups": [{"key": RATER_GROUP, "weight": 1}],
                "targets": "all",
            }
        )
        campaign = campaign_service.create_campaign(
            session, spec, questionnaire, default_threshold=5
        )
        trustee_shares: list[Share] = []
        if variant == SEALED:
            trustee_shares = make_tally_key(session, campaign)
            lifecycle.open_campaign(session, campaign, actor="bench")
        else:
            # Opened before the ballot box existed: no tally key, and opening now needs one.
            campaign.status = CampaignStatus.OPEN
            session.flush()
        issued: list[str] = []
        while len(issued) < code_count:
            count = min(admission_service.MAX_BATCH_SIZE, code_count - len(issued))
            batch = admission_service.issue_codes(
                session, campaign, hashing_key=hashing_key, group_key=RATER_GROUP, count=count
            )
            issued += batch.codes
        made[variant] = BenchCampaign(variant, campaign.id, campaign.slug, issued, trustee_shares)
    return made


def ballot_bodies(codes: list[str], start_key: bytes, seed: int) -> list[bytes]:
    """One JSON body per code: one random department, 12 answers, a comment."""
    questionnaire = survey_service.load_questionnaire(QUESTIONNAIRE_FILE)
    choices = {
        item.id: [level.value for level in item.levels] + [None]
        for item in questionnaire.items_for(RATER_GROUP)
    }
    generator = random.Random(seed)
    started = quality.new_start_token(start_key)  # as if every form was shown just now
    bodies = []
    for code in codes:
        ballot = {
            "code": code,
            "evaluations": [
                {
                    "target": f"B{generator.randint(1, DEPARTMENT_COUNT):03d}",
                    "answers": {
                        item_id: generator.choice(levels) for item_id, levels in choices.items()
                    },
                    "comment": generator.choice(COMMENTS),
                    "started": started,
                }
            ],
        }
        bodies.append(json.dumps(ballot, ensure_ascii=False).encode())
    return bodies


def db_only_service(
    engine: Engine, hashing_key: bytes, start_key: bytes, bodies: list[bytes]
) -> tuple[float, float, list[str]]:
    """Submissions/s through ``ballot_service.submit_ballot`` and a commit, one at a time,
    and this process's CPU seconds per submission (the database's own is not in it).

    Also returns the statements the first submission sent, to show what one costs.
    """
    ballots = [BallotIn.model_validate_json(body) for body in bodies]
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    def note_commit(_conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine, "commit", note_commit)
    with factory() as session:
        ballot_service.submit_ballot(session, hashing_key, ballots[0], start_key=start_key)
        session.commit()
    event.remove(engine, "before_cursor_execute", note)
    event.remove(engine, "commit", note_commit)
    if engine.dialect.name == "postgresql":  # sent by psycopg and the pool, not SQLAlchemy
        seen[:0] = ["(pre-ping SELECT 1)", "(BEGIN)"]

    started = time.perf_counter()
    cpu_from = time.process_time()
    for ballot in ballots[1:]:
        with factory() as session:
            ballot_service.submit_ballot(session, hashing_key, ballot, start_key=start_key)
            session.commit()
    cpu = time.process_time() - cpu_from
    count = len(ballots) - 1
    return count / (time.perf_counter() - started), cpu / count, seen


def db_only_statements(
    engine: Engine,
    hashing_key: bytes,
    bodies: list[bytes],
    campaign: BenchCampaign,
) -> float:
    """Submissions/s for the bare statements of one submission, one transaction each: the
    very statement objects the service executes, then COMMIT. Both paths: the conditional
    UPDATE of the code and the SELECT of what it admits to (the tally key's fingerprint
    included); then the sealed ballot's INSERT into ``ballot_box``, or the unsealed path's
    evaluation and receipt INSERTs.

    Values, ciphertexts included, are prepared before the clock starts, so what is left is
    the database's cost, the driver's and SQLAlchemy Core's, without the service's Python,
    the ORM session or the encryption.
    """
    questionnaire = survey_service.load_questionnaire(QUESTIONNAIRE_FILE)
    prepared = []
    with Session(engine) as session:
        seal = (
            sealer(session, get_campaign(session, campaign)) if campaign.variant == SEALED else None
        )
    for body in bodies:
        ballot = json.loads(body)
        evaluation = ballot["evaluations"][0]
        answers = answer_codec.encode(questionnaire, RATER_GROUP, evaluation["answers"])
        code_hash = code_format.keyed_hash(hashing_key, code_format.normalize(ballot["code"]))
        if seal is not None:
            plaintext = plaintext_of(
                RATER_GROUP, [(evaluation["target"], answers, 0, evaluation["comment"])]
            )
            tracker, ciphertext = seal(plaintext)
            prepared.append((code_hash, [evaluation["target"]], (tracker, ciphertext)))
        else:
            row = {
                "id": uuid.uuid4(),
                "answers": answers,
                "comment": evaluation["comment"],
                "quality_flags": 0,
            }
            receipt_hash = receipts.receipt_hash(receipts.new_receipt())
            prepared.append((code_hash, [evaluation["target"]], (row, receipt_hash)))
    # The service's own statements (private to it, but these are what is being measured).
    mark_used = admission_service._MARK_USED
    batch_admission = admission_service._BATCH_ADMISSION
    put = box_service._PUT
    insert_evaluations = ballot_service._INSERT_EVALUATIONS
    insert_receipt = ballot_service._INSERT_RECEIPT
    started = time.perf_counter()
    with engine.connect() as connection:
        for code_hash, department_codes, values in prepared:
            with connection.begin():
                batch_id = connection.execute(mark_used, {"hashed": code_hash}).scalar_one()
                admitted = connection.execute(
                    batch_admission, {"batch_id": batch_id, "department_codes": department_codes}
                ).one()
                if seal is not None:
                    tracker, ciphertext = values
                    connection.execute(
                        put,
                        {
                            "tracker": tracker,
                            "campaign_id": admitted.campaign_id,
                            "ciphertext": ciphertext,
                        },
                    )
                else:
                    row, receipt_hash = values
                    row |= {
                        "campaign_id": admitted.campaign_id,
                        "target_id": admitted.target_id,
                        "rater_group_id": admitted.rater_group_id,
                    }
                    connection.execute(insert_evaluations, [row])
                    connection.execute(
                        insert_receipt,
                        {"receipt_hash": receipt_hash, "campaign_id": admitted.campaign_id},
                    )
    return len(prepared) / (time.perf_counter() - started)


def get_campaign(session: Session, campaign: BenchCampaign) -> Campaign:
    return session.get_one(Campaign, campaign.campaign_id)
