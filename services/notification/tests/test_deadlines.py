"""Deadlines count Swedish working days: weekends and public holidays do not count."""

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from samverkan.notification.deadlines import SWEDEN, due_at, is_overdue, is_working_day

pytestmark = pytest.mark.unit


def test_public_holidays_and_eves_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 5, 14))  # Kristi himmelsfärdsdag, a Thursday
    assert not is_working_day(date(2026, 6, 19))  # midsommarafton, a Friday
    assert not is_working_day(date(2026, 12, 24))  # julafton
    assert not is_working_day(date(2026, 5, 16))  # Saturday
    assert is_working_day(date(2026, 5, 15))


@pytest.mark.parametrize("year", range(2005, 2101))
def test_working_days_are_those_the_holidays_package_names(year: int) -> None:
    """The rules in deadlines, checked against the well-kept `holidays` package (which the
    service does not load: it costs 16 MB), every day of every year under today's law."""
    days_off = holidays.country_holidays("SE", years=year, categories=("public", "de_facto"))
    start = date(year, 1, 1)
    for day in (start + timedelta(days=n) for n in range((date(year + 1, 1, 1) - start).days)):
        assert is_working_day(day) == (day.weekday() < 5 and day not in days_off), day


def test_one_working_day_skips_ascension_day() -> None:
    sent = datetime(2026, 5, 13, 9, 0, tzinfo=SWEDEN)  # Wednesday
    assert due_at(sent, 1) == datetime(2026, 5, 16, 0, 0, tzinfo=SWEDEN)  # end of Friday


def test_weekend_and_easter_are_skipped() -> None:
    sent = datetime(2026, 4, 2, 15, 0, tzinfo=SWEDEN)  # Thursday before Good Friday
    # Good Friday, the weekend and Easter Monday do not count: Tue 7, Wed 8 are days 1 and 2.
    assert due_at(sent, 2) == datetime(2026, 4, 9, 0, 0, tzinfo=SWEDEN)


def test_the_day_is_the_swedish_day() -> None:
    late = datetime(2026, 5, 12, 22, 30, tzinfo=UTC)  # already Wednesday 00:30 in Sweden
    assert due_at(late, 1) == datetime(2026, 5, 16, 0, 0, tzinfo=SWEDEN)


def test_zero_days_is_the_end_of_the_next_working_day_from_a_holiday() -> None:
    assert due_at(datetime(2026, 5, 14, 9, 0, tzinfo=SWEDEN), 0) == datetime(
        2026, 5, 16, 0, 0, tzinfo=SWEDEN
    )


def test_overdue_from_the_due_moment() -> None:
    due = datetime(2026, 5, 16, 0, 0, tzinfo=SWEDEN)
    assert not is_overdue(due, datetime(2026, 5, 15, 23, 59, tzinfo=SWEDEN))
    assert is_overdue(due, due)
