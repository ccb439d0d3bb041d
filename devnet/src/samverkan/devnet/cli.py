"""`samverkan-dev`: run the demo, or keep a local two-principal network up for development."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from datetime import timedelta

from samverkan.devnet import demo
from samverkan.devnet.network import Network
from samverkan.runtime.auth import Role, issue_token
from samverkan.runtime.signing import Signer, fingerprint, generate_key


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


def _keygen() -> int:
    key = generate_key()
    print(key)  # alone on stdout, so `$(samverkan-dev keygen)` is the key
    public_key = Signer(key, "key").public_key_b64()
    print(f"public key:  {public_key}", file=sys.stderr)
    print(
        f"fingerprint: {fingerprint(public_key)}  (other principals pin it in trusted_keys)",
        file=sys.stderr,
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("SAMVERKAN_AUTH_JWT_KEY")
    if not key:
        print("samverkan-dev token: give --key or set SAMVERKAN_AUTH_JWT_KEY", file=sys.stderr)
        return 2
    print(
        issue_token(
            key,
            person=args.person,
            principal=args.principal,
            function=args.function,
            roles=[Role(r) for r in args.role],
            ttl=timedelta(hours=args.hours),
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samverkan-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the two-principal scenario end to end and exit")
    commands.add_parser("up", help="start a local two-principal network until Ctrl-C")
    commands.add_parser(
        "keygen",
        help="print a new Ed25519 signing key (SAMVERKAN_SIGNING_KEY); its public key and "
        "fingerprint go to stderr",
    )
    token = commands.add_parser("token", help="mint a development bearer token (HS256)")
    token.add_argument("--principal", required=True, help="e.g. sjostad-kommun")
    token.add_argument("--function", help="the function acted in (required for staff)")
    token.add_argument("--person", default="SE2120001231-dev0001", help="HSA-style person id")
    token.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in Role],
        default=[],
        help="repeat for several roles (default: staff)",
    )
    token.add_argument("--hours", type=float, default=8.0, help="validity")
    token.add_argument(
        "--key", help="the node's SAMVERKAN_AUTH_JWT_KEY (default: from the environment)"
    )
    args = parser.parse_args(argv)
    if args.command == "keygen":
        return _keygen()
    if args.command == "token":
        args.role = args.role or [Role.STAFF.value]
        return _token(args)
    # SIGTERM unwinds like Ctrl-C, so every started process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return demo.main() if args.command == "demo" else _up()
