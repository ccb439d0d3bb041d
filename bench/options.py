"""What one bench run does and how much of it: command-line flags with small, bounded defaults."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
# The consuming services, in the order they catch up. Audit first: the others publish (receipts,
# notification.sent) onto topics audit reads.
CATCHUP_SERVICES = ("audit", "directory", "notification", "referral")


@dataclass
class Options:
    # Below what the current services sustain on 2 shared cores: at a saturating rate the latency
    # run would measure the queue, not the system; the step-up search finds the ceiling.
    rate: float = 10.0  # referrals/s for the latency run
    duration_s: float = 20.0
    poll_ms: float = 10.0  # how often the watchers look for arrivals in the databases
    rtt_messages: int = 200  # raw broker round trips in the baseline
    steps: list[float] = field(default_factory=lambda: [5.0, 10.0, 20.0, 40.0, 80.0])
    step_s: float = 8.0
    refine: int = 2  # steps halving the gap between the last sustained step and the one past it
    drain_s: float = 15.0  # how long a run may take to settle after the last send
    backlog: int = 100_000  # referral events in the catch-up backlog (directory events: a fifth)
    audit_entries: int = 3000  # entries the audit service appends, in consumer-sized batches
    verify_entries: int = 50_000  # entries in the trail when verify is timed
    skip: list[str] = field(default_factory=list)  # parts to leave out: network, catchup, audit
    services: list[str] = field(default_factory=lambda: list(CATCHUP_SERVICES))  # to catch up
    profile: bool = False  # py-spy flame graphs of each service during catch-up
    out: Path = RESULTS

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


PARTS = ("network", "catchup", "audit")
# Referrals the latency run and each step must send at least: fewer give no percentiles worth
# the name, and no trend (a third of the sends is compared with the last third).
MIN_SENDS = 6


def sends(rate: float, duration_s: float) -> int:
    """How many referrals a run at `rate` a second for `duration_s` sends (`load.Driver.run`)."""
    return round(rate * duration_s)


def _number(text: str, *, whole: bool, zero_ok: bool = False) -> float:
    """`text` as a finite number above zero (or zero too); `whole` numbers may be written 1e5."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and (value >= 0 if zero_ok else value > 0)):
        bound = "zero or more" if zero_ok else "above zero"
        raise argparse.ArgumentTypeError(f"must be finite and {bound} (got {text!r})")
    if whole and not value.is_integer():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return value


def _positive(text: str) -> float:
    return _number(text, whole=False)


def _count(text: str) -> int:
    return int(_number(text, whole=True))


def _zero_or_more(text: str) -> int:
    return int(_number(text, whole=True, zero_ok=True))


def _rates(text: str) -> list[float]:
    rates = [_positive(part) for part in text.split(",") if part.strip()]
    if not rates:
        raise argparse.ArgumentTypeError("name at least one rate, e.g. 20,40,80")
    if rates != sorted(set(rates)):
        raise argparse.ArgumentTypeError(f"the rates must rise, e.g. 20,40,80 (got {text!r})")
    return rates


def _chosen(text: str, known: tuple[str, ...], *, allow_none: bool = False) -> list[str]:
    """The names in comma-separated `text`, each one of `known`, in `known`'s order."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown or not (chosen or allow_none):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(known)} (got {text!r})")
    return [name for name in known if name in chosen]


def _services(text: str) -> list[str]:
    return _chosen(text, CATCHUP_SERVICES)


def _parts(text: str) -> list[str]:
    return _chosen(text, PARTS, allow_none=True)


def parse(argv: list[str] | None = None) -> Options:
    d = Options()
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--rate", type=_positive, default=d.rate, help="referrals/s in the latency run")
    p.add_argument("--duration", type=_positive, default=d.duration_s, dest="duration_s")
    p.add_argument("--poll-ms", type=_positive, default=d.poll_ms, help="watcher poll interval")
    p.add_argument("--rtt-messages", type=_count, default=d.rtt_messages)
    p.add_argument(
        "--steps", type=_rates, default=d.steps, help="rates of the step-up search, e.g. 20,40,80"
    )
    p.add_argument("--step-duration", type=_positive, default=d.step_s, dest="step_s")
    p.add_argument(
        "--refine",
        type=_zero_or_more,
        default=d.refine,
        help="steps between the last sustained rate and the one that ran away, each halving the gap",
    )
    p.add_argument("--drain", type=_positive, default=d.drain_s, dest="drain_s")
    p.add_argument(
        "--backlog", type=_count, default=d.backlog, help="referral events to catch up on"
    )
    p.add_argument("--audit-entries", type=_count, default=d.audit_entries)
    p.add_argument(
        "--verify-entries",
        type=_zero_or_more,
        default=d.verify_entries,
        help="entries in the trail when verify is timed (at least --audit-entries)",
    )
    p.add_argument(
        "--skip",
        type=_parts,
        default=[],
        help=f"comma-separated parts to leave out: {', '.join(PARTS)}",
    )
    p.add_argument(
        "--services",
        type=_services,
        default=d.services,
        help="comma-separated services to catch up, e.g. audit (default: all four)",
    )
    p.add_argument("--profile", action="store_true", help="py-spy flame graph per service")
    p.add_argument("--out", type=Path, default=d.out, help="where results are written")
    options = Options(**vars(p.parse_args(argv)))
    if set(options.skip) == set(PARTS):
        p.error("argument --skip: that leaves nothing to run")
    if "network" not in options.skip:
        if sends(options.rate, options.duration_s) < MIN_SENDS:
            p.error(f"--rate × --duration must send at least {MIN_SENDS} referrals")
        if sends(min(options.steps), options.step_s) < MIN_SENDS:
            p.error(f"each of --steps × --step-duration must send at least {MIN_SENDS} referrals")
    return options
