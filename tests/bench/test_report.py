"""The terminal table says of each step of the search whether it held, why not, and whether it
started before the queues had drained."""

from __future__ import annotations

import pytest

from bench.report import verdict

pytestmark = pytest.mark.unit


def test_a_step_that_held_after_drained_queues_says_only_so() -> None:
    assert verdict({"sustained": True, "lag_at_start": 0}) == "sustained"


def test_a_step_from_a_run_before_the_lag_was_recorded_says_only_so() -> None:
    assert verdict({"sustained": True}) == "sustained"


def test_a_step_that_ran_away_says_why_and_what_was_left_unread() -> None:
    step = {"sustained": False, "why_not": ["p95 grew 2.5x", "3 failed"], "lag_at_start": 42}
    assert verdict(step) == "ran away: p95 grew 2.5x; 3 failed (started with 42 unread)"


def test_an_unknown_count_left_unread_is_named_as_such() -> None:
    step = {"sustained": True, "lag_at_start": None}
    assert verdict(step) == "sustained (started with an unknown number of unread)"
