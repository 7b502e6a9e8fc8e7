"""Turnout (codes issued and used per rater group) under disclosure control."""

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.admission import service as admission_service
from app.admission import turnout as admission_turnout
from app.admission.turnout import GroupCodeCounts, GroupTurnout, Turnout, disclose_turnout
from app.campaigns.models import Campaign
from tests.factories import HASHING_KEY, issue_codes, make_campaign, small_questionnaire

THRESHOLD = 5


def three_group_campaign(session: Session, threshold: int = THRESHOLD) -> Campaign:
    groups = [
        {"key": "citizens", "name": {"zh": "群众", "en": "Citizens"}},
        {"key": "cadres", "name": {"zh": "基层干部", "en": "Cadres"}},
        {"key": "deputies", "name": {"zh": "两代表一委员", "en": "Deputies"}},
    ]
    return make_campaign(
        session,
        questionnaire=small_questionnaire(rater_groups=groups),
        groups={"citizens": 1.0, "cadres": 1.0, "deputies": 1.0},
        threshold=threshold,
    )


def issue_and_use(
    session: Session, campaign: Campaign, group: str, *, issued: int, used: int
) -> list[str]:
    """Issue a batch of ``issued`` codes to the group and use ``used`` of them."""
    codes = issue_codes(session, campaign, group=group, count=issued)
    for code in codes[:used]:
        admission_service.use_code(session, HASHING_KEY, code)
    return codes


def last_batch_id(session: Session, campaign: Campaign) -> int:
    return admission_service.list_batches(session, campaign)[-1].id


def used_by_group(result: Turnout) -> dict[str, int | None]:
    return {group.rater_group: group.used for group in result.groups}


class TestCountsPerGroup:
    def test_turnout_counts_issued_revoked_and_used_codes_of_each_group(
        self, any_session: Session
    ) -> None:
        campaign = make_campaign(any_session, threshold=THRESHOLD)
        issue_and_use(any_session, campaign, "citizens", issued=8, used=6)
        issue_and_use(any_session, campaign, "citizens", issued=4, used=0)
        admission_service.revoke_batch(any_session, campaign, last_batch_id(any_session, campaign))
        issue_and_use(any_session, campaign, "cadres", issued=7, used=5)

        result = admission_turnout.turnout(any_session, campaign, "zh_CN")

        assert result == Turnout(
            groups=[
                GroupTurnout("citizens", "群众", issued=8, revoked=4, used=6),
                GroupTurnout("cadres", "基层干部", issued=7, revoked=0, used=5),
            ],
            issued=15,
            used=11,
            threshold=THRESHOLD,
        )

    def test_group_names_follow_the_locale(self, session: Session) -> None:
        campaign = make_campaign(session)

        result = admission_turnout.turnout(session, campaign, "en")

        assert [group.name for group in result.groups] == ["Citizens", "Cadres"]

    def test_group_without_codes_shows_none_issued_and_none_used(self, session: Session) -> None:
        """Nothing issued means nothing used, by shape: 0 discloses nothing."""
        campaign = make_campaign(session)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.groups[0] == GroupTurnout("citizens", "群众", issued=0, revoked=0, used=0)
        assert (result.issued, result.used) == (0, 0)

    def test_group_whose_codes_are_all_revoked_shows_none_used(self, session: Session) -> None:
        campaign = make_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=4, used=0)
        admission_service.revoke_batch(session, campaign, last_batch_id(session, campaign))

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.groups[0] == GroupTurnout("citizens", "群众", issued=0, revoked=4, used=0)

    def test_codes_of_another_campaign_are_not_counted(self, session: Session) -> None:
        campaign = make_campaign(session)
        other = make_campaign(session)
        issue_and_use(session, other, "citizens", issued=9, used=7)
        issue_and_use(session, campaign, "citizens", issued=6, used=5)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert (result.groups[0].issued, result.groups[0].used) == (6, 5)


class TestGroupThreshold:
    @pytest.mark.parametrize("threshold", [3, 5])
    def test_used_count_one_below_the_threshold_is_withheld(
        self, session: Session, threshold: int
    ) -> None:
        campaign = make_campaign(session, threshold=threshold)
        issue_and_use(session, campaign, "citizens", issued=10, used=threshold - 1)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.groups[0] == GroupTurnout("citizens", "群众", issued=10, revoked=0, used=None)
        assert result.threshold == threshold

    @pytest.mark.parametrize("threshold", [3, 5])
    def test_used_count_at_the_threshold_is_shown(self, session: Session, threshold: int) -> None:
        campaign = make_campaign(session, threshold=threshold)
        issue_and_use(session, campaign, "citizens", issued=10, used=threshold)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.groups[0].used == threshold


class TestComplementarySuppression:
    def test_total_is_withheld_when_exactly_one_group_is(self, session: Session) -> None:
        campaign = make_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=6)
        issue_and_use(session, campaign, "cadres", issued=10, used=2)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert used_by_group(result) == {"citizens": 6, "cadres": None}
        assert result.used is None

    def test_total_is_shown_when_two_groups_are_withheld_and_it_reaches_the_threshold(
        self, session: Session
    ) -> None:
        campaign = three_group_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=6)
        issue_and_use(session, campaign, "cadres", issued=10, used=2)
        issue_and_use(session, campaign, "deputies", issued=10, used=3)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert used_by_group(result) == {"citizens": 6, "cadres": None, "deputies": None}
        assert result.used == 11

    def test_total_below_the_threshold_is_withheld(self, session: Session) -> None:
        campaign = three_group_campaign(session)
        issue_and_use(session, campaign, "cadres", issued=10, used=1)
        issue_and_use(session, campaign, "deputies", issued=10, used=2)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.used is None
        assert result.issued == 20

    def test_total_is_shown_when_no_group_is_withheld(self, session: Session) -> None:
        campaign = make_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=5)
        issue_and_use(session, campaign, "cadres", issued=10, used=7)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.used == 12


class TestTotalThatWouldPinWithheldGroups:
    """Two withheld groups can still be recomputed from the total at the ends of their range."""

    def test_total_is_withheld_when_the_withheld_groups_are_all_zero(
        self, session: Session
    ) -> None:
        campaign = three_group_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=6)
        issue_and_use(session, campaign, "cadres", issued=10, used=0)
        issue_and_use(session, campaign, "deputies", issued=10, used=0)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.used is None

    def test_total_is_withheld_when_the_withheld_groups_are_all_one_below_the_threshold(
        self, session: Session
    ) -> None:
        campaign = three_group_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=6)
        issue_and_use(session, campaign, "cadres", issued=10, used=THRESHOLD - 1)
        issue_and_use(session, campaign, "deputies", issued=10, used=THRESHOLD - 1)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.used is None

    def test_group_without_codes_does_not_hide_the_one_withheld_group(
        self, session: Session
    ) -> None:
        campaign = three_group_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=6)
        issue_and_use(session, campaign, "cadres", issued=10, used=2)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert used_by_group(result) == {"citizens": 6, "cadres": None, "deputies": 0}
        assert result.used is None

    def test_group_without_codes_does_not_withhold_the_total(self, session: Session) -> None:
        campaign = three_group_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=6)
        issue_and_use(session, campaign, "cadres", issued=10, used=5)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.used == 11

    def test_group_known_from_its_revoked_batch_does_not_hide_the_one_withheld_group(
        self, session: Session
    ) -> None:
        campaign = three_group_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=6)
        issue_and_use(session, campaign, "cadres", issued=10, used=2)
        issue_and_use(session, campaign, "deputies", issued=3, used=1)
        admission_service.revoke_batch(session, campaign, last_batch_id(session, campaign))

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.used is None


class TestRevokedCodes:
    def test_revoked_codes_are_counted_apart_from_used_ones(self, session: Session) -> None:
        campaign = make_campaign(session, threshold=3)
        issue_and_use(session, campaign, "citizens", issued=6, used=3)
        admission_service.revoke_batch(session, campaign, last_batch_id(session, campaign))
        issue_and_use(session, campaign, "citizens", issued=4, used=0)

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.groups[0] == GroupTurnout("citizens", "群众", issued=7, revoked=3, used=3)
        assert result.issued == 7

    def test_revoked_count_is_shown_even_while_used_is_withheld(self, session: Session) -> None:
        campaign = make_campaign(session)
        issue_and_use(session, campaign, "citizens", issued=10, used=1)
        admission_service.revoke_batch(session, campaign, last_batch_id(session, campaign))

        result = admission_turnout.turnout(session, campaign, "zh_CN")

        assert result.groups[0] == GroupTurnout("citizens", "群众", issued=1, revoked=9, used=None)


# What the office knows besides the turnout table: the threshold, and from the list of batches
# how many codes each revoked batch held, so with the revoked count how many of them were used.


@st.composite
def code_counts(draw: st.DrawFn) -> tuple[int, list[GroupCodeCounts]]:
    threshold = draw(st.integers(min_value=3, max_value=6))
    groups = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        live_issued = draw(st.integers(min_value=0, max_value=10))
        live_used = draw(st.integers(min_value=0, max_value=live_issued))
        revoked_issued = draw(st.integers(min_value=0, max_value=4))
        revoked_used = draw(st.integers(min_value=0, max_value=revoked_issued))
        groups.append(
            GroupCodeCounts(
                rater_group=f"group{index}",
                name=f"第{index}组",
                issued=live_issued + revoked_issued,
                revoked=revoked_issued - revoked_used,
                used=live_used + revoked_used,
                used_in_revoked_batches=revoked_used,
            )
        )
    return threshold, groups


def possible_used_counts(group: GroupCodeCounts, threshold: int) -> range:
    """Every used count the office cannot rule out for a withheld group, from public figures."""
    return range(group.used_in_revoked_batches, min(threshold, group.issued - group.revoked + 1))


class TestNoWithheldCountCanBeRecomputed:
    @settings(max_examples=300, deadline=None)
    @given(counts=code_counts())
    def test_every_withheld_group_keeps_two_values_consistent_with_what_is_shown(
        self, counts: tuple[int, list[GroupCodeCounts]]
    ) -> None:
        """Try every world the office cannot rule out; keep those showing the same table."""
        threshold, groups = counts
        shown = disclose_turnout(groups, threshold)
        withheld = [index for index, group in enumerate(shown.groups) if group.used is None]
        candidates = [possible_used_counts(groups[index], threshold) for index in withheld]
        consistent: list[tuple[int, ...]] = []
        for used_counts in itertools.product(*candidates):
            world = list(groups)
            for index, used in zip(withheld, used_counts, strict=True):
                world[index] = replace(groups[index], used=used)
            if disclose_turnout(world, threshold) == shown:
                consistent.append(used_counts)

        for position, index in enumerate(withheld):
            if len(candidates[position]) < 2:
                continue  # known from the batches alone; nothing left to protect
            values = {used_counts[position] for used_counts in consistent}
            assert len(values) >= 2, f"{groups[index].rater_group} is pinned to {values}"

    @settings(max_examples=300, deadline=None)
    @given(counts=code_counts())
    def test_shown_figures_are_true_and_reach_the_threshold(
        self, counts: tuple[int, list[GroupCodeCounts]]
    ) -> None:
        threshold, groups = counts

        shown = disclose_turnout(groups, threshold)

        for group, counted in zip(shown.groups, groups, strict=True):
            assert (group.issued, group.revoked) == (
                counted.issued - counted.revoked,
                counted.revoked,
            )
            assert group.used in (None, counted.used)
            none_usable = counted.issued - counted.revoked == 0
            assert (group.used is None) == (counted.used < threshold and not none_usable)
        assert shown.issued == sum(group.issued - group.revoked for group in groups)
        assert shown.used in (None, sum(group.used for group in groups))
        assert shown.used is None or shown.used >= threshold or shown.issued == 0
