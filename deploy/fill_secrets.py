"""`python -m deploy.fill_secrets DIR`: writes each missing *.env from its *.env.example, with random secrets.

Every `CHANGE-ME-…` placeholder becomes a random value; the same placeholder gets the same value
in every file, so a database password in a DSN matches the one the Postgres init script sets.
"""

from __future__ import annotations

import argparse
import re
import secrets
from pathlib import Path

PLACEHOLDER = re.compile(r"CHANGE-ME[A-Za-z0-9_.-]*")


def fill(folder: Path) -> list[Path]:
    """Write the missing env files under `folder`; return the ones written."""
    values: dict[str, str] = {}
    written = []
    for example in sorted(folder.rglob("*.env.example")):
        target = example.with_suffix("")  # x.env.example → x.env
        if target.exists():
            continue
        text = example.read_text(encoding="utf-8")

        def random_value(match: re.Match[str]) -> str:
            return values.setdefault(match.group(0), secrets.token_urlsafe(32))

        lines = [
            line if line.lstrip().startswith("#") else PLACEHOLDER.sub(random_value, line)
            for line in text.splitlines()
        ]
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        target.chmod(0o600)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.fill_secrets", description=__doc__)
    parser.add_argument("folder", type=Path, help="e.g. deploy/compose/secrets")
    args = parser.parse_args(argv)
    written = fill(args.folder)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("nothing to write: every env file exists")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
