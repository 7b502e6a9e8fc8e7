"""A big closed campaign for the results and export benchmarks, built fast.

Sixty departments in four categories, three rater groups (citizens, enterprises, cadres), a
twelve-item questionnaire (two items for one group only, one item not scored), and as many
evaluations as asked for, drawn with numpy: each department has its own standing, about 8% of
answers are 不了解, a few percent of evaluations are straight-lined or too fast (flagged), 2%
carry a comment, and a handful of department × group cells are small, so disclosure control
has threshold, unanimity and complementary suppression to do.

The departments, questionnaire and campaign go through the application's services; the
evaluations are written in bulk: COPY on PostgreSQL, ``executemany`` on SQLite. Each
benchmark database is created on the server named by ``PINGYI_TEST_POSTGRES_URL`` as
``pingyi_bench_<random>`` and dropped afterwards.
"""

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.ballots.models import STRAIGHT_LINING, TOO_FAST
from app.campaigns import service as campaign_service
from app.campaigns.models import Campaign, CampaignStatus
from app.campaigns.policy import QualityPolicy, ResultsPolicy
from app.campaigns.schemas import CampaignSpec, RaterGroupSpec
from app.config import PROJECT_ROOT
from app.db import build_engine
from app.departments.models import Department
from app.surveys.schemas import Questionnaire

POSTGRES_URL = os.environ.get(
    "PINGYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
EVALUATIONS = 1_000_000
SLUG = "bench-results"
SEED = 20261231
THRESHOLD = 5

CATEGORIES = ["经济发展类", "执法监管类", "社会民生类", "综合服务类"]
DEPARTMENTS = 60
GROUPS = [("citizens", 50.0, 0.60), ("enterprises", 30.0, 0.25), ("cadres", 20.0, 0.15)]
NOT_APPLICABLE_SHARE = 0.08
STRAIGHT_LINED_SHARE = 0.02  # evaluations answered at one level throughout
TOO_FAST_SHARE = 0.015
COMMENT_SHARE = 0.02
# (department index, group index, evaluations): cells below the threshold or just above it.
SMALL_CELLS = [(7, 1, 3), (19, 2, 2), (33, 1, 6), (41, 2, 4), (52, 1, 9), (58, 2, 1)]
COMMENTS = [
    "窗口工作人员态度很好，办事效率高。",
    "希望进一步简化办事流程，减少材料。",
    "电话经常打不通，建议增加咨询热线。",
    "网上办理很方便，点赞！",
    "排队时间太长，希望增加窗口。",
]

FIVE, THREE = "five_level", "three_level"
ITEMS: list[tuple[str, str, str, list[str] | None, bool]] = [
    # id, dimension, scale, groups (None: everyone), scored
    ("attitude_courtesy", "service_attitude", FIVE, None, True),
    ("attitude_first_contact", "service_attitude", FIVE, None, True),
    ("efficiency_time_limits", "efficiency", FIVE, None, True),
    ("efficiency_fewer_trips", "efficiency", FIVE, None, True),
    ("law_standard_enforcement", "rule_of_law", FIVE, None, True),
    ("law_fair_discretion", "rule_of_law", FIVE, ["enterprises", "cadres"], True),
    ("open_procedures", "transparency", THREE, None, True),
    ("open_responsiveness", "transparency", THREE, None, True),
    ("integrity_no_favours", "integrity", FIVE, None, True),
    ("discipline_business_support", "discipline", THREE, ["enterprises"], True),
    ("grassroots_guidance", "discipline", THREE, ["cadres"], True),
    ("overall_impression", "overall", FIVE, None, False),
]
DIMENSIONS = [
    ("service_attitude", "服务态度"),
    ("efficiency", "办事效率"),
    ("rule_of_law", "依法行政"),
    ("transparency", "政务公开"),
    ("integrity", "廉洁自律"),
    ("discipline", "工作纪律"),
    ("overall", "总体评价"),
]


def questionnaire() -> Questionnaire:
    return Questionnaire.model_validate(
        {
            "id": "bench_twelve_items",
            "version": 1,
            "title": {"zh": "基准测试问卷", "en": "Benchmark questionnaire"},
            "rater_groups": [
                {"key": "citizens", "name": {"zh": "办事群众", "en": "Citizens"}},
                {"key": "enterprises", "name": {"zh": "企业代表", "en": "Enterprises"}},
                {"key": "cadres", "name": {"zh": "基层干部", "en": "Grassroots cadres"}},
            ],
            "dimensions": [
                {"id": key, "name": {"zh": name, "en": key}} for key, name in DIMENSIONS
            ],
            "items": [
                {
                    "id": item_id,
                    "dimension": dimension,
                    "scale": scale,
                    "groups": groups,
                    "scored": scored,
                    "text": {"zh": f"题目{index + 1}", "en": f"Item {index + 1}"},
                }
                for index, (item_id, dimension, scale, groups, scored) in enumerate(ITEMS)
            ],
            "comment": {"prompt": {"zh": "意见建议", "en": "Comments"}, "max_length": 500},
        }
    )


@dataclass
class Evaluations:
    """The evaluations as columns; ``target`` and ``group`` are indexes into the campaign's."""

    target: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]
    answers: npt.NDArray[np.uint8]  # (evaluations, items) ASCII codes
    flags: npt.NDArray[np.int64]
    comment: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.target)

    def answer_strings(self) -> list[str]:
        width = self.answers.shape[1]
        strings: list[str] = self.answers.view(f"S{width}").ravel().astype(f"U{width}").tolist()
        return strings


def draw_evaluations(count: int = EVALUATIONS, seed: int = SEED) -> Evaluations:
    """Plausible evaluations, in a random (submission-like) order."""
    generator = np.random.default_rng(seed)
    cell_shares = np.array(
        [
            [share * weight for _, _, share in GROUPS]
            for weight in generator.pareto(2.5, DEPARTMENTS) + 0.3  # some departments popular
        ]
    )
    for department, group_index, _ in SMALL_CELLS:
        cell_shares[department, group_index] = 0
    small_total = sum(size for _, _, size in SMALL_CELLS)
    cell_counts = generator.multinomial(
        count - small_total, (cell_shares / cell_shares.sum()).ravel()
    )
    cell_counts = cell_counts.reshape(DEPARTMENTS, len(GROUPS))
    for department, group_index, size in SMALL_CELLS:
        cell_counts[department, group_index] = size
    cells = np.repeat(np.arange(DEPARTMENTS * len(GROUPS)), cell_counts.ravel())
    generator.shuffle(cells)
    target, group = np.divmod(cells, len(GROUPS))

    # Each department's standing: the chance of the top level; the rest falls away below it.
    standing = generator.uniform(0.35, 0.85, DEPARTMENTS)[target]
    answers = np.empty((count, len(ITEMS)), dtype=np.uint8)
    group_keys = [key for key, _, _ in GROUPS]
    for index, (_, _, scale, groups, _) in enumerate(ITEMS):
        top = 5 if scale == FIVE else 3
        draw = generator.random(count)
        step = np.where(draw < standing, 0, 1 + (draw - standing) * 3 // (1 - standing))
        levels = np.clip(top - step, 1, top).astype(np.uint8)
        levels[generator.random(count) < NOT_APPLICABLE_SHARE] = 0
        symbols = levels + ord("0")
        if groups is not None:
            hidden = ~np.isin(group, [group_keys.index(key) for key in groups])
            symbols[hidden] = ord("-")
        answers[:, index] = symbols
    straight = generator.random(count) < STRAIGHT_LINED_SHARE
    answers[straight] = np.where(answers[straight] == ord("-"), ord("-"), ord("3"))

    shown = answers != ord("-")
    answered = shown & (answers != ord("0"))
    answered_count = answered.sum(axis=1)
    first = np.where(answered, answers, 0).max(axis=1)
    lowest = np.where(answered, answers, 255).min(axis=1)
    flags = np.where((answered_count >= 6) & (first == lowest), STRAIGHT_LINING, 0)
    flags |= np.where(generator.random(count) < TOO_FAST_SHARE, TOO_FAST, 0)
    comment = generator.random(count) < COMMENT_SHARE
    return Evaluations(target, group, answers, flags.astype(np.int64), comment)


def uuid_hexes(count: int, generator: np.random.Generator) -> list[str]:
    """Random version-4 UUIDs as 32 hex digits."""
    raw = generator.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    hexed = np.empty((count, 32), dtype=np.uint8)
    hexed[:, 0::2] = digits[raw >> 4]
    hexed[:, 1::2] = digits[raw & 0x0F]
    hexes: list[str] = hexed.view("S32").ravel().astype("U32").tolist()
    return hexes


# Databases


def migrate(engine: Engine) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def postgres_database() -> Iterator[Engine]:
    """A fresh, migrated ``pingyi_bench_<random>`` database, dropped afterwards."""
    url = make_url(POSTGRES_URL)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"pingyi_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = build_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database(directory: Path) -> Iterator[Engine]:
    path = directory / "bench.db"
    engine = build_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Built:
    campaign_id: int
    slug: str
    target_ids: list[int]
    group_ids: list[int]
    load_seconds: float  # writing the evaluations, analysing included


def build_campaign(
    engine: Engine,
    evaluations: Evaluations,
    slug: str = SLUG,
    *,
    check_foreign_keys: bool = False,
) -> Built:
    """Departments, a closed campaign rating them all, and its evaluations, committed."""
    with Session(engine) as session:
        for index in range(DEPARTMENTS):
            session.add(
                Department(
                    code=f"B{index:03d}",
                    name=f"区第{index + 1}局",
                    name_en=f"District bureau {index + 1}",
                    category=CATEGORIES[index % len(CATEGORIES)],
                )
            )
        session.flush()
        spec = CampaignSpec(
            slug=slug,
            title={"zh": "百万评价基准测试", "en": "A million evaluations"},
            questionnaire="bench_twelve_items",
            disclosure_threshold=THRESHOLD,
            rater_groups=[RaterGroupSpec(key=key, weight=weight) for key, weight, _ in GROUPS],
            targets="all",
            policy=ResultsPolicy(
                trim_share=0.05, quality=QualityPolicy(handling="down_weight", down_weight=0.5)
            ),
        )
        campaign = campaign_service.create_campaign(
            session, spec, questionnaire(), default_threshold=THRESHOLD
        )
        # Its evaluations are loaded below as a tally would have written them: the campaign
        # is tallied (results need a tallied or published campaign), with no ballot box.
        campaign.status = CampaignStatus.TALLIED
        session.flush()
        built = (
            campaign.id,
            [target.id for target in campaign.targets],
            [group.id for group in campaign.rater_groups],
        )
        session.commit()
    campaign_id, target_ids, group_ids = built
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, campaign_id, target_ids, group_ids, evaluations, check_foreign_keys)
    else:
        _insert_sqlite(engine, campaign_id, target_ids, group_ids, evaluations)
    return Built(campaign_id, slug, target_ids, group_ids, time.perf_counter() - started)


def _rows(
    campaign_id: int, target_ids: list[int], group_ids: list[int], evaluations: Evaluations
) -> Iterator[tuple[Any, ...]]:
    generator = np.random.default_rng(SEED + 1)
    ids = uuid_hexes(len(evaluations), generator)
    comment_picks = generator.integers(0, len(COMMENTS), len(evaluations)).tolist()
    targets = np.asarray(target_ids)[evaluations.target].tolist()
    groups = np.asarray(group_ids)[evaluations.group].tolist()
    flags = evaluations.flags.tolist()
    comments = evaluations.comment.tolist()
    for row in zip(
        ids,
        targets,
        groups,
        evaluations.answer_strings(),
        comments,
        comment_picks,
        flags,
        strict=True,
    ):
        identifier, target, group, answers, has_comment, pick, flag = row
        yield (
            identifier,
            campaign_id,
            target,
            group,
            answers,
            COMMENTS[pick] if has_comment else None,
            flag,
        )


COLUMNS = "id, campaign_id, target_id, rater_group_id, answers, comment, quality_flags"
COPY_CHUNK = 100_000
NULL = "\\N"  # COPY text format


def _copy_postgres(
    engine: Engine,
    campaign_id: int,
    target_ids: list[int],
    group_ids: list[int],
    evaluations: Evaluations,
    check_foreign_keys: bool,
) -> None:
    """COPY, then VACUUM ANALYZE, as sealing would, and a CHECKPOINT.

    Without ``check_foreign_keys`` the session skips the foreign key triggers (the rows are
    drawn consistent), which otherwise take most of the load time on a small machine.
    """
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            if not check_foreign_keys:  # superuser only: skips the per-row foreign key triggers
                cursor.execute("SET LOCAL session_replication_role = replica")
            copy_rows(cursor, campaign_id, target_ids, group_ids, evaluations)
        driver.commit()
        driver.autocommit = True
        driver.execute("VACUUM ANALYZE evaluations")
        driver.execute("CHECKPOINT")  # so the load's writes do not slow what is timed next
        driver.autocommit = False
    finally:
        raw.close()


def copy_rows(
    cursor: Any,
    campaign_id: int,
    target_ids: list[int],
    group_ids: list[int],
    evaluations: Evaluations,
) -> None:
    """COPY the evaluations in text format, 100,000 lines a write."""
    with cursor.copy(f"COPY evaluations ({COLUMNS}) FROM STDIN") as copy:
        lines: list[str] = []
        for identifier, campaign, target, group, answers, comment, flags in _rows(
            campaign_id, target_ids, group_ids, evaluations
        ):
            lines.append(
                f"{identifier}\t{campaign}\t{target}\t{group}\t{answers}\t"
                f"{NULL if comment is None else comment}\t{flags}\n"
            )
            if len(lines) == COPY_CHUNK:
                copy.write("".join(lines))
                lines.clear()
        if lines:
            copy.write("".join(lines))


def _insert_sqlite(
    engine: Engine,
    campaign_id: int,
    target_ids: list[int],
    group_ids: list[int],
    evaluations: Evaluations,
) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        cursor.executemany(
            f"INSERT INTO evaluations ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            _rows(campaign_id, target_ids, group_ids, evaluations),  # type: ignore[arg-type]
        )
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE")
        cursor.close()
    finally:
        raw.close()


def load_campaign(session: Session, slug: str = SLUG) -> Campaign:
    return campaign_service.get_campaign(session, slug)
