"""The public view models for settings the HTTP tests' campaign does not use: a private
release, a trimmed score, an item with points of its own, a withheld campaign total."""

import pytest
from sqlalchemy.orm import Session

from app import i18n
from app.campaigns import service as campaign_service
from app.campaigns.policy import ResultsPolicy
from app.public import methodology, views
from app.results import service as results_service
from app.results.schemas import CampaignResults, PrivacyInfo
from tests.public.helpers import Published


@pytest.fixture
def english() -> None:
    i18n.set_locale("en")


@pytest.fixture
def published(session: Session) -> Published:
    return Published(session)


def results_of(session: Session, published: Published) -> CampaignResults:
    return results_service.campaign_results(session, published.campaign, "en")


def text_of(view: methodology.MethodologyView) -> str:
    return "\n".join(
        [
            *(paragraph for section in view.sections for paragraph in section.paragraphs),
            *(bullet for section in view.sections for bullet in section.bullets),
        ]
    )


@pytest.mark.usefixtures("english")
class TestMethodologyView:
    def test_privacy_release_is_described_when_present(
        self, session: Session, published: Published
    ) -> None:
        privacy = PrivacyInfo(
            mechanism="Laplace",
            epsilon=0.5,
            unit="one rater's whole ballot",
            sensitivity=1.0,
            library="OpenDP",
        )
        results = results_of(session, published).model_copy(update={"privacy": privacy})

        view = methodology.methodology(published.campaign, results, ResultsPolicy())

        section = next(section for section in view.sections if section.anchor == "privacy")
        assert ["Privacy budget ε", "0.5"] in section.tables[0].rows
        assert ["Method", "Laplace"] in section.tables[0].rows
        assert ["Library", "OpenDP"] in section.tables[0].rows

    def test_no_privacy_section_without_a_private_release(
        self, session: Session, published: Published
    ) -> None:
        view = methodology.methodology(
            published.campaign, results_of(session, published), ResultsPolicy()
        )

        assert "privacy" not in [section.anchor for section in view.sections]

    def test_trimmed_score_is_explained_when_the_campaign_trims(
        self, session: Session, published: Published
    ) -> None:
        results = results_of(session, published)
        trimmed = results.model_copy(update={"trim_share": 0.1})

        assert "trimmed score" not in text_of(
            methodology.methodology(published.campaign, results, ResultsPolicy())
        )
        assert "its highest 10% and its lowest 10%" in text_of(
            methodology.methodology(published.campaign, trimmed, ResultsPolicy())
        )

    def test_items_with_points_of_their_own_get_their_own_table(
        self, session: Session, published: Published
    ) -> None:
        results = results_of(session, published)
        points = {**results.points, "speed": {5: 100.0, 4: 90.0, 3: 50.0, 2: 10.0, 1: 0.0}}

        view = methodology.methodology(
            published.campaign, results.model_copy(update={"points": points}), ResultsPolicy()
        )

        tables = next(section for section in view.sections if section.anchor == "points").tables
        own = next(table for table in tables if table.caption == "Question “Quick”")
        assert own.rows[:2] == [["Very satisfied", "100"], ["Satisfied", "90"]]

    def test_quality_counts_without_the_withheld_campaign_total(
        self, session: Session, published: Published
    ) -> None:
        results = results_of(session, published)
        assert results.quality is not None
        quality = results.quality.model_copy(
            update={"evaluations": None, "flagged": 5, "straight_lining": 3, "too_fast": 4}
        )

        text = quality_text(published, results.model_copy(update={"quality": quality}))

        assert (
            "In this campaign 5 evaluations were flagged: 3 for the same answer throughout and "
            "4 for speed" in text
        )
        assert "None" not in text

    def test_a_withheld_flag_count_reads_not_published(
        self, session: Session, published: Published
    ) -> None:
        results = results_of(session, published)
        assert results.quality is not None
        quality = results.quality.model_copy(
            update={"flagged": 5, "straight_lining": None, "too_fast": 5}
        )

        text = quality_text(published, results.model_copy(update={"quality": quality}))

        assert (
            "In this campaign 5 of 24 evaluations were flagged: not published for the same "
            "answer throughout and 5 for speed" in text
        )
        assert "None" not in text

    def test_withheld_flagged_count_is_said_in_one_sentence(
        self, session: Session, published: Published
    ) -> None:
        # Nobody's evaluation was flagged: a count of 0 is below the threshold of 3.
        results = results_of(session, published)
        assert results.quality is not None
        assert (
            results.quality.flagged,
            results.quality.straight_lining,
            results.quality.too_fast,
        ) == (None, None, None)

        text = quality_text(published, results)

        assert (
            "How many evaluations were flagged is not published, to protect raters' anonymity."
            in text
        )
        assert "evaluations were flagged:" not in text
        assert "None" not in text


def quality_text(published: Published, results: CampaignResults) -> str:
    """The methodology's text on low-quality evaluations."""
    view = methodology.methodology(published.campaign, results, ResultsPolicy())
    (section,) = [section for section in view.sections if section.anchor == "quality"]
    return "\n".join(section.paragraphs)


@pytest.mark.usefixtures("english")
class TestDepartmentView:
    def test_trimmed_score_only_when_the_campaign_trims(
        self, session: Session, published: Published
    ) -> None:
        results = results_of(session, published)
        policy = campaign_service.policy_of(published.campaign)

        plain = views.department(published.campaign, results, published.east.code, policy, [])
        trimmed = views.department(
            published.campaign,
            results.model_copy(update={"trim_share": 0.1}),
            published.east.code,
            policy,
            [],
        )

        assert all(group.trimmed_score is None for group in plain.groups)
        assert all(group.trimmed_score is not None for group in trimmed.groups)
