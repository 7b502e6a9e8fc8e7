"""Counting concatenated answers (what results use) gives exactly what counting answers one
distinct string at a time (the plain reference, ``tally``) gives, on random campaigns and in
the database on both engines."""

import random
from collections import defaultdict
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ballots.answers import encode
from app.ballots.models import STRAIGHT_LINING, TOO_FAST, Evaluation
from app.campaigns.models import Campaign, CampaignStatus
from app.results import service as results_service
from app.results import tally as tally_module
from app.results.tally import (
    AnswerRow,
    ConcatenatedRow,
    tally,
    tally_concatenated,
)
from app.surveys.schemas import Questionnaire
from tests.factories import make_campaign, make_department
from tests.results.helpers import rating_questionnaire
from tests.results.test_properties import Scenario, scenarios

FLAGS = [0, 0, 0, STRAIGHT_LINING, TOO_FAST, STRAIGHT_LINING | TOO_FAST]


def concatenated(rows: list[AnswerRow], seed: int) -> list[ConcatenatedRow]:
    """The rows as the database aggregates them: by cell and flags, strings in any order."""
    strings: dict[tuple[int, int, int], list[str]] = defaultdict(list)
    for target_id, group_id, answers, flags, count in rows:
        strings[(target_id, group_id, flags)] += [answers] * count
    shuffler = random.Random(seed)
    result = []
    for (target_id, group_id, flags), answers in strings.items():
        shuffler.shuffle(answers)
        result.append((target_id, group_id, flags, len(answers), "".join(answers)))
    shuffler.shuffle(result)
    return result


def wide_questionnaire(points: list[list[float]], scored: list[bool]) -> Questionnaire:
    """One five-level item per entry of ``points``, for one rater group; some unseen by another."""
    return Questionnaire.model_validate(
        {
            "id": "wide",
            "version": 1,
            "title": {"zh": "宽问卷", "en": "Wide questionnaire"},
            "rater_groups": [
                {"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}},
                {"key": "cadres", "name": {"zh": "干部", "en": "Cadres"}},
            ],
            "dimensions": [{"id": "all", "name": {"zh": "全部", "en": "All"}}],
            "items": [
                {
                    "id": f"item{index}",
                    "dimension": "all",
                    "scale": "five_level",
                    "text": {"zh": f"题{index}", "en": f"Item {index}"},
                    "points": dict(zip(range(1, 6), item_points, strict=True)),
                    "scored": item_scored,
                    "groups": ["cadres"] if index % 3 == 2 else None,
                }
                for index, (item_points, item_scored) in enumerate(zip(points, scored, strict=True))
            ],
        }
    )


# Points with decimals, negatives and wide ranges: the integer keys must still be exact.
ITEM_POINTS = st.sampled_from(
    [
        [20.0, 40.0, 60.0, 80.0, 100.0],
        [0.5, 1.25, 2.0, 33.3, 99.9],
        [-10.0, -2.5, 0.0, 2.5, 10.0],
        [1e-3, 2e-3, 0.1, 1.0, 1e6],
        [7.0, 7.0, 7.0, 7.0, 7.0],
    ]
)


@st.composite
def wide_campaigns(draw: st.DrawFn) -> tuple[Questionnaire, list[AnswerRow]]:
    size = draw(st.integers(1, 14))
    questionnaire = wide_questionnaire(
        draw(st.lists(ITEM_POINTS, min_size=size, max_size=size)),
        draw(st.lists(st.booleans(), min_size=size, max_size=size)),
    )
    generator = random.Random(draw(st.integers(0, 2**32 - 1)))
    rows: list[AnswerRow] = []
    for _ in range(draw(st.integers(0, 60))):
        group = generator.choice(["citizens", "cadres"])
        answers: dict[str, Any] = {
            item.id: generator.choice([None, 1, 2, 3, 4, 5])
            for item in questionnaire.items_for(group)
        }
        encoded = encode(questionnaire, group, answers)
        target = generator.choice([1, 2])
        rows.append(
            (target, 10 if group == "citizens" else 20, encoded, generator.choice(FLAGS), 1)
        )
    return questionnaire, rows


class TestSameAsTheReference:
    @settings(max_examples=150, deadline=None)
    @given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
    def test_random_campaigns_count_the_same(self, scenario: Scenario, seed: int) -> None:
        rows = scenario.rows()

        assert tally_concatenated(scenario.questionnaire, concatenated(rows, seed)) == tally(
            scenario.questionnaire, rows
        )

    @settings(max_examples=150, deadline=None)
    @given(campaign=wide_campaigns(), seed=st.integers(0, 2**32 - 1))
    def test_decimal_and_negative_points_count_the_same(
        self, campaign: tuple[Questionnaire, list[AnswerRow]], seed: int
    ) -> None:
        questionnaire, rows = campaign

        assert tally_concatenated(questionnaire, concatenated(rows, seed)) == tally(
            questionnaire, rows
        )

    @pytest.mark.parametrize("batch", [1, 2, 7, 50])
    def test_counting_in_batches_counts_the_same(
        self, batch: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A cell's flagged evaluations (flags 1, 2 and 3 are rows of their own) and its
        unflagged ones can fall in different batches; they still add up."""
        monkeypatch.setattr(tally_module, "BATCH_EVALUATIONS", batch)
        questionnaire = wide_questionnaire([[20, 40, 60, 80, 100]] * 6, [True] * 5 + [False])
        generator = random.Random(batch)
        rows: list[AnswerRow] = [
            (
                generator.choice([1, 2]),
                10,
                "".join(generator.choice("012345") for _ in range(6)),
                generator.choice(FLAGS),
                generator.randint(1, 3),
            )
            for _ in range(200)
        ]

        assert tally_concatenated(questionnaire, concatenated(rows, batch)) == tally(
            questionnaire, rows
        )

    def test_equal_scores_from_different_answers_are_one_score(self) -> None:
        """(100 + 60) / 2 = 80 = 80 / 1 = (100 + 80 + 60) / 3: one entry, three evaluations."""
        questionnaire = wide_questionnaire([[20, 40, 60, 80, 100]] * 3, [True] * 3)
        rows: list[ConcatenatedRow] = [(1, 10, 0, 3, "530" + "400" + "543")]

        cell = tally_concatenated(questionnaire, rows).cells[(1, 10)]

        assert cell.scores == {Fraction(80): 3}

    def test_points_too_large_for_integer_keys_are_still_counted_exactly(self) -> None:
        questionnaire = wide_questionnaire([[1.0, 2.0, 3.0, 4.0, 1e300]] * 2, [True, True])
        rows: list[AnswerRow] = [(1, 10, "51", 0, 2), (1, 10, "55", STRAIGHT_LINING, 1)]

        counted = tally_concatenated(questionnaire, concatenated(rows, 0))

        assert counted == tally(questionnaire, rows)
        assert counted.cells[(1, 10)].scores == {(Fraction(10**300) + 1) / 2: 2}


class TestRefusesWhatItCannotRead:
    QUESTIONNAIRE = rating_questionnaire()  # courtesy (5 levels), speed (3 levels), overall

    @pytest.mark.parametrize(
        ("row", "problem"),
        [
            ((1, 10, 0, 2, "5315"), "2 evaluations of 3 answers take 6 characters, not 4"),
            ((1, 10, 0, 1, "5x3"), "“speed” is neither a level of its scale"),
            ((1, 10, 0, 1, "543"), "“speed” is neither a level of its scale"),  # 4 of 3 levels
            ((1, 10, 0, 1, "53é"), "ascii"),
            ((1, 10, 0, 0, ""), "at least one evaluation"),
        ],
    )
    def test_malformed_rows_are_refused(self, row: ConcatenatedRow, problem: str) -> None:
        with pytest.raises(ValueError, match=problem):
            tally_concatenated(self.QUESTIONNAIRE, [row])

    def test_no_rows_count_nothing(self) -> None:
        assert tally_concatenated(self.QUESTIONNAIRE, []) == tally(self.QUESTIONNAIRE, [])


class TestInTheDatabase:
    def test_campaign_tally_counts_what_the_reference_counts(self, any_session: Session) -> None:
        """string_agg on PostgreSQL, group_concat on SQLite: the same tally as grouping by the
        answers strings and counting them one by one."""
        questionnaire = rating_questionnaire()
        campaign = make_campaign(
            any_session,
            questionnaire=questionnaire,
            groups={"citizens": 1.0, "enterprises": 1.0, "cadres": 1.0},
            departments=[make_department(any_session) for _ in range(3)],
            status=CampaignStatus.TALLIED,
            threshold=3,
        )
        store_random_evaluations(any_session, campaign, questionnaire, count=400)

        counted = results_service.campaign_tally(any_session, campaign, questionnaire)

        assert counted == tally(questionnaire, rows_by_answers(any_session, campaign))
        assert counted.evaluations == 400


def store_random_evaluations(
    session: Session, campaign: Campaign, questionnaire: Questionnaire, count: int
) -> None:
    generator = random.Random(6)
    for _ in range(count):
        group = generator.choice(campaign.rater_groups)
        answers = {
            item.id: generator.choice([None, *(level.value for level in item.levels)])
            for item in questionnaire.items_for(group.key)
        }
        session.add(
            Evaluation(
                campaign_id=campaign.id,
                target_id=generator.choice(campaign.targets).id,
                rater_group_id=group.id,
                answers=encode(questionnaire, group.key, answers),
                quality_flags=generator.choice(FLAGS),
            )
        )
    session.flush()


def rows_by_answers(session: Session, campaign: Campaign) -> list[AnswerRow]:
    """The rows the first results grouped by: one per distinct answers string."""
    query = (
        select(
            Evaluation.target_id,
            Evaluation.rater_group_id,
            Evaluation.answers,
            Evaluation.quality_flags,
            func.count(),
        )
        .where(Evaluation.campaign_id == campaign.id)
        .group_by(
            Evaluation.target_id,
            Evaluation.rater_group_id,
            Evaluation.answers,
            Evaluation.quality_flags,
        )
    )
    return [(row[0], row[1], row[2], row[3], row[4]) for row in session.execute(query)]
