"""`samverkan-dev`: run the demo, or keep a local two-principal network up for development."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from samverkan.devnet import demo
from samverkan.devnet.network import Network
from samverkan.runtime.auth import Role


def _up() -> int:
    with Network() as net:
        print(f"Kafka: {net.bootstrap_servers}   SMTP: {net.mail.host}:{net.mail.port}")
        for principal in net.principals.values():
            print(f"\n{principal.id}")
            for service, process in principal.services.items():
                print(f"  {service:<13} {process.url}/docs")
            admin = principal.token(
                person=f"admin@{principal.id}", function=None, roles=[Role.ADMIN]
            )
            print(f"  admin token:   {admin}")
        print("\nRunning; Ctrl-C stops everything.")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samverkan-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the two-principal scenario end to end and exit")
    commands.add_parser("up", help="start a local two-principal network until Ctrl-C")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every started process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return demo.main() if args.command == "demo" else _up()
