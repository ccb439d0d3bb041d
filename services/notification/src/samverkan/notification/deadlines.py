"""Deadlines in working days: Monday to Friday, Swedish public holidays excluded (pure rules)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

SWEDEN = ZoneInfo("Europe/Stockholm")


@cache
def _public_holidays(year: int) -> frozenset[date]:
    # Public holidays (allmänna helgdagar) and the eves that are days off in practice
    # (midsummer, Christmas and New Year's Eve), when public offices are closed too.
    return frozenset(holidays.country_holidays("SE", years=year, categories=("public", "de_facto")))


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
