"""Working-day deadlines: China's holidays and 调休 makeup workdays, with the office's table."""

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.rectification import workdays

NATIONAL_DAY_EVE = dt.date(2026, 9, 30)  # a Wednesday; 1–7 October 2026 are off


class TestCalendar:
    def test_national_day_holiday_is_skipped(self) -> None:
        assert workdays.add_working_days(NATIONAL_DAY_EVE, 1, {}) == dt.date(2026, 10, 8)

    def test_makeup_saturday_counts_as_a_working_day(self) -> None:
        # 10 October 2026 is a Saturday worked in exchange for a day of the holiday.
        assert workdays.add_working_days(NATIONAL_DAY_EVE, 3, {}) == dt.date(2026, 10, 10)
        assert workdays.add_working_days(NATIONAL_DAY_EVE, 4, {}) == dt.date(2026, 10, 12)

    def test_makeup_sunday_before_the_holiday(self) -> None:
        # Friday 18 September → Saturday off → Sunday 20 September is worked.
        assert workdays.add_working_days(dt.date(2026, 9, 18), 1, {}) == dt.date(2026, 9, 20)

    def test_2027_statutory_holidays_are_known(self) -> None:
        assert not workdays.calendar_says_working(dt.date(2027, 10, 1))
        assert not workdays.calendar_says_working(dt.date(2027, 2, 8))  # Spring Festival

    def test_out_of_range_counts_are_refused(self) -> None:
        with pytest.raises(InvalidInput):
            workdays.add_working_days(NATIONAL_DAY_EVE, 0, {})


class TestOfficeOverrides:
    def test_a_day_marked_off_is_skipped(self, session: Session) -> None:
        workdays.set_override(session, dt.date(2026, 10, 8), working=False, note="本地安排")
        deadline = workdays.add_working_days(NATIONAL_DAY_EVE, 1, workdays.overrides(session))
        assert deadline == dt.date(2026, 10, 9)

    def test_a_day_marked_working_counts(self, session: Session) -> None:
        workdays.set_override(session, dt.date(2026, 10, 7), working=True, note="")
        deadline = workdays.add_working_days(NATIONAL_DAY_EVE, 1, workdays.overrides(session))
        assert deadline == dt.date(2026, 10, 7)

    def test_removing_an_override_restores_the_calendar(self, session: Session) -> None:
        workdays.set_override(session, dt.date(2026, 10, 8), working=False, note="")
        assert workdays.remove_override(session, dt.date(2026, 10, 8))
        deadline = workdays.add_working_days(NATIONAL_DAY_EVE, 1, workdays.overrides(session))
        assert deadline == dt.date(2026, 10, 8)
