"""The bench's flags: what they parse into, and every value that could not make a run refused
at once, naming the flag, instead of minutes into a run."""

from __future__ import annotations

import pytest

from bench.options import CATCHUP_SERVICES, MIN_SENDS, parse

pytestmark = pytest.mark.unit


def test_flags_parse_into_options() -> None:
    options = parse(["--rate", "5", "--steps", "5,10", "--skip", "audit", "--backlog", "10"])
    assert options.rate == 5 and options.steps == [5.0, 10.0]
    assert options.skip == ["audit"] and options.backlog == 10
    assert options.services == list(CATCHUP_SERVICES)  # every consuming service by default


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["--backlog", "1e5"], "backlog", 100_000),
        (["--refine", "0"], "refine", 0),
        (["--rate", "0.5", "--duration", "20"], "rate", 0.5),
        (["--verify-entries", "0"], "verify_entries", 0),
        (["--skip", " audit , network "], "skip", ["network", "audit"]),
        (["--skip", ""], "skip", []),
        (["--services", "referral,audit"], "services", ["audit", "referral"]),
    ],
)
def test_edge_values_that_make_a_run_are_taken(argv: list[str], field: str, value: object) -> None:
    assert getattr(parse(argv), field) == value


@pytest.mark.parametrize(
    ("flag", "wrong", "said"),
    [
        ("--rate", "0", "above zero"),
        ("--rate", "-1", "above zero"),
        ("--rate", "nan", "finite"),
        ("--rate", "inf", "finite"),
        ("--duration", "fast", "not a number"),
        ("--poll-ms", "0", "above zero"),
        ("--step-duration", "-8", "above zero"),
        ("--drain", "0", "above zero"),
        ("--steps", "5,-10", "above zero"),
        ("--steps", ",", "at least one rate"),
        ("--steps", "40,20", "must rise"),
        ("--steps", "5,5", "must rise"),
        ("--refine", "-1", "zero or more"),
        ("--backlog", "0", "above zero"),
        ("--backlog", "1.5", "not a whole number"),
        ("--backlog", "1e400", "finite"),
        ("--rtt-messages", "0", "above zero"),
        ("--audit-entries", "-3", "above zero"),
        ("--verify-entries", "-5", "zero or more"),
        ("--services", "audti", "choose from"),
        ("--services", "", "choose from"),
        ("--skip", "netwrok", "choose from"),
        ("--skip", "network,catchup,audit", "nothing to run"),
    ],
)
def test_values_that_cannot_make_a_run_are_refused_with_the_flag_named(
    flag: str, wrong: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse([flag, wrong])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flag}:" in error and said in error


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate", "0.2", "--duration", "20"],  # four referrals
        ["--steps", "0.5,5", "--step-duration", "8"],  # the first step sends four
    ],
)
def test_a_run_or_step_too_short_to_measure_is_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(argv)
    assert exit_.value.code == 2
    assert f"at least {MIN_SENDS} referrals" in capsys.readouterr().err


def test_sends_are_not_checked_when_the_network_part_is_skipped() -> None:
    assert parse(["--skip", "network", "--rate", "0.01"]).rate == 0.01
