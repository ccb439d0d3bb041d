"""`python -m deploy.check`: validates deploy/ without a Docker engine or a cluster; exit 1 on a problem."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from deploy import compose_check, dockerfile, k8s_check, settings_catalogue, settings_doc
from deploy.envcheck import Problem
from samverkan.contracts import topics

ROOT = Path(__file__).resolve().parent.parent


def run(root: Path) -> tuple[list[Problem], list[str]]:
    """Every check over the tree at `root`: problems, and a line per thing found in order."""
    catalogue = settings_catalogue.load()
    deploy = root / "deploy"
    problems = dockerfile.check(deploy / "Dockerfile", root, catalogue)
    notes = ["deploy/Dockerfile: a final stage per service, non-root, entrypoint, healthcheck"]
    found, compose_notes = compose_check.check(deploy / "compose", root, catalogue)
    problems += found
    notes += compose_notes
    script = deploy / "compose" / "kafka" / "create-topics.sh"
    problems += compose_check.check_topics(script, root, topics.ALL)
    notes.append(f"{script.relative_to(root)}: creates exactly the topics of the contracts")
    found, k8s_notes = k8s_check.check(deploy / "k8s", root, catalogue)
    problems += found
    notes += k8s_notes
    problems += settings_doc.check(root, catalogue)
    notes.append(f"{settings_doc.DOC}: settings table matches the settings classes")
    return sorted(set(problems)), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.check", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to check")
    args = parser.parse_args(argv)
    started = time.monotonic()
    problems, notes = run(args.root.resolve())
    elapsed = time.monotonic() - started
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"deploy check: {len(problems)} problem(s) in {elapsed:.1f}s", file=sys.stderr)
        return 1
    for note in notes:
        print(f"ok: {note}")
    print(f"deploy check: no problems ({elapsed:.1f}s; images not built, nothing started)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
