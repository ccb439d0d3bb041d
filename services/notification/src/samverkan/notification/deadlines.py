"""Deadlines in working days: Monday to Friday, Swedish public holidays excluded (pure rules)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from dateutil.easter import easter

SWEDEN = ZoneInfo("Europe/Stockholm")


@cache
def _public_holidays(year: int) -> frozenset[date]:
    """Sweden's public holidays (allmänna helgdagar, lag 1989:253, as they have been since
    2005) and the eves that are days off in practice (midsummer, Christmas and New Year's Eve),
    when public offices are closed too. Sundays, holidays as well, are weekend days anyway.

    Written out here, not asked of the `holidays` package: it loads every country's calendars
    for these, 16 MB of the service's memory. The tests check these rules against it."""
    easter_day = easter(year)
    midsummer_eve = _first(4, date(year, 6, 19))  # the Friday of 19-25 June
    return frozenset(
        {
            date(year, 1, 1),  # nyårsdagen
            date(year, 1, 6),  # trettondedag jul
            easter_day - timedelta(days=2),  # långfredagen
            easter_day + timedelta(days=1),  # annandag påsk
            date(year, 5, 1),  # första maj
            easter_day + timedelta(days=39),  # Kristi himmelsfärdsdag
            date(year, 6, 6),  # Sveriges nationaldag
            midsummer_eve,  # midsommarafton
            midsummer_eve + timedelta(days=1),  # midsommardagen
            _first(5, date(year, 10, 31)),  # alla helgons dag: the Saturday of 31 Oct-6 Nov
            date(year, 12, 24),  # julafton
            date(year, 12, 25),  # juldagen
            date(year, 12, 26),  # annandag jul
            date(year, 12, 31),  # nyårsafton
        }
    )


def _first(weekday: int, day: date) -> date:
    """The first `weekday` (Monday 0) on or after `day`."""
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _public_holidays(day.year)


def due_at(start: datetime, working_days: int) -> datetime:
    """The moment a deadline of `working_days` passes for something started at `start`:
    the end of the `working_days`-th working day after the (Swedish) day it started on.
    With 0 the deadline is the end of the start day itself if that is a working day."""
    day = start.astimezone(SWEDEN).date()
    counted = 0
    if working_days == 0:
        while not is_working_day(day):
            day += timedelta(days=1)
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), SWEDEN)


def is_overdue(due: datetime, now: datetime) -> bool:
    return now >= due
