"""Working days for 整改 deadlines: China's public holidays and 调休 makeup workdays, with the
office's own overrides on top.

The calendar is the ``holidays`` package's ``CN`` (mainland China): its statutory holidays,
the days off moved by the State Council's yearly notice and the weekend days worked in their
place (``weekend_workdays``). A year whose notice the installed release does not know yet gets
only the statutory holidays by rule, without makeup workdays, so the office keeps a table of
days that override it (:class:`app.rectification.models.WorkdayOverride`): a date marked
working is a working day, a date marked off is not, whatever the calendar says.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.i18n import N_
from app.rectification.models import WorkdayOverride

MAX_WORKING_DAYS = 250  # about a year: a longer deadline is a typing mistake


@lru_cache(maxsize=8)
def _calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("CN", years=year)


def calendar_says_working(day: dt.date) -> bool:
    """Whether the public calendar alone makes ``day`` a working day."""
    return bool(_calendar(day.year).is_working_day(day))


def is_working_day(day: dt.date, overrides: Mapping[dt.date, bool]) -> bool:
    if day in overrides:
        return overrides[day]
    return calendar_says_working(day)


def add_working_days(start: dt.date, count: int, overrides: Mapping[dt.date, bool]) -> dt.date:
    """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
    if not 1 <= count <= MAX_WORKING_DAYS:
        raise InvalidInput(
            N_("A deadline must be between 1 and %(maximum)s working days."),
            field="working_days",
            maximum=MAX_WORKING_DAYS,
        )
    day = start
    remaining = count
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day, overrides):
            remaining -= 1
    return day


def overrides(session: Session) -> dict[dt.date, bool]:
    """The office's overrides, day → working."""
    return {row.day: row.working for row in session.scalars(select(WorkdayOverride))}


def override_rows(session: Session) -> Sequence[WorkdayOverride]:
    return session.scalars(select(WorkdayOverride).order_by(WorkdayOverride.day)).all()


def set_override(session: Session, day: dt.date, *, working: bool, note: str) -> WorkdayOverride:
    row = session.get(WorkdayOverride, day)
    if row is None:
        row = WorkdayOverride(day=day, working=working, note=note)
        session.add(row)
    else:
        row.working = working
        row.note = note
    session.flush()
    return row


def remove_override(session: Session, day: dt.date) -> bool:
    row = session.get(WorkdayOverride, day)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
