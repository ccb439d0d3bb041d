"""`make demo`: a two-principal network, one referral end to end, and a timeline of what happened."""

from __future__ import annotations

import sys
import time

from samverkan.devnet import scenario
from samverkan.devnet.network import Network


def _timeline(outcome: scenario.Outcome) -> None:
    print("\nTimeline per principal, from each principal's own audit trail:")
    for principal, entries in outcome.trails.items():
        print(f"\n  {principal}")
        for e in entries:
            event = e["type"].removeprefix("se.samverkan.")
            origin = e["source_principal"]
            print(f"    {e['event_time'][11:23]}  {origin:<16} {event}")


def main() -> int:
    started = time.monotonic()
    print("Starting a two-principal network (embedded Kafka, a Postgres per principal, SMTP)…")
    with Network() as net:
        print(
            f"  Kafka at {net.bootstrap_servers}; mail catcher at {net.mail.host}:{net.mail.port}"
        )
        for principal in net.principals.values():
            urls = ", ".join(f"{s} {p.url}" for s, p in principal.services.items())
            print(f"  {principal.id}: {urls}")
        print("\nWhat happened:")
        outcome = scenario.run(net)
        _timeline(outcome)
        mail = outcome.mails[0]
        leaked = [v for v in scenario.CHILD.values() if v in mail.raw.decode(errors="replace")]
        print(f"\nThe mail to {', '.join(mail.rcpt_tos)}:\n")
        print("    " + mail.body.strip().replace("\n", "\n    "))
        if leaked:
            print("demo FAILED: personal data in the notification mail", file=sys.stderr)
            return 1
        if not all(result["ok"] for result in outcome.audit.values()):
            print("demo FAILED: an audit chain does not verify", file=sys.stderr)
            return 1
        chains = ", ".join(f"{p} {r['entries']}" for p, r in outcome.audit.items())
        print(
            f"\ndemo ok: referral {outcome.referral_id} sent by {scenario.MUNICIPALITY}, received"
            f" and accepted by {scenario.REGION}; one mail without personal data; audit chains"
            f" verified ({chains} entries) in {time.monotonic() - started:.0f}s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
