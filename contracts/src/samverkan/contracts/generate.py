"""Write the committed contracts from the models, or with --check verify them: `make contracts`.

Writes `asyncapi.yaml`, `schemas/<type>.json`, and `schemas/history/<type>/<n>.json`: every
structurally different version of each schema ever committed, so that compatibility is checked
against all of them (BACKWARD_TRANSITIVE) in any clone, without network or git history.
A change that breaks a consumer of an earlier version is refused: give the event a new major
version instead (a new type, on a new topic).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samverkan.contracts import asyncapi, yamltext
from samverkan.contracts.compat import breaking_changes, normalise
from samverkan.contracts.schemas import all_schemas, dumps

ROOT = Path(__file__).resolve().parents[3]  # contracts/, beside src/
SCHEMAS = Path("schemas")
HISTORY = SCHEMAS / "history"
ASYNCAPI = Path("asyncapi.yaml")


@dataclass
class Plan:
    """What differs between the models and the committed files under one root."""

    writes: dict[Path, str] = field(default_factory=dict)  # relative path -> new text
    breaking: list[str] = field(default_factory=list)


def plan(root: Path, schemas: dict[str, dict[str, Any]], asyncapi_text: str) -> Plan:
    result = Plan()
    wanted = {ASYNCAPI: asyncapi_text}
    history = _history(root)
    for event_type, schema in schemas.items():
        wanted[SCHEMAS / f"{event_type}.json"] = dumps(schema)
        versions = history.get(event_type, [])
        for number, old in versions:
            result.breaking += [
                f"{event_type} against committed version {number}: {problem}"
                for problem in breaking_changes(old, schema)
            ]
        if not versions or normalise(versions[-1][1]) != normalise(schema):
            number = versions[-1][0] + 1 if versions else 1
            wanted[HISTORY / event_type / f"{number}.json"] = dumps(schema)
    for event_type in sorted(set(history) - set(schemas)):
        result.breaking.append(
            f"{event_type}: the event type was removed, but consumers may still read it "
            f"(retiring a major version means removing {HISTORY / event_type} on purpose)"
        )
    for path, text in wanted.items():
        current = root / path
        if not current.is_file() or current.read_text(encoding="utf-8") != text:
            result.writes[path] = text
    return result


def _history(root: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    found: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    if not (root / HISTORY).is_dir():
        return found
    for folder in sorted((root / HISTORY).iterdir()):
        versions = [(int(p.stem), p) for p in folder.glob("*.json") if p.stem.isdigit()]
        found[folder.name] = [
            (n, json.loads(p.read_text(encoding="utf-8"))) for n, p in sorted(versions)
        ]
    return found


def run(root: Path, *, check: bool, out: Any = sys.stdout) -> int:
    result = plan(root, all_schemas(), yamltext.dump(asyncapi.document()))
    for problem in result.breaking:
        print(f"not backward compatible: {problem}", file=out)
    if check:
        for path in result.writes:
            state = "stale" if (root / path).exists() else "missing"
            print(f"{state}: {root.name}/{path} (run `make contracts`)", file=out)
        return 1 if result.breaking or result.writes else 0
    if result.breaking:
        print("nothing written: make the change additive, or a new major version", file=out)
        return 1
    for path, text in result.writes.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
        print(f"wrote {root.name}/{path}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samverkan.contracts.generate")
    parser.add_argument("--check", action="store_true", help="only verify; exit 1 if not clean")
    parser.add_argument("--root", type=Path, default=ROOT, help="the contracts/ folder")
    args = parser.parse_args(argv)
    return run(args.root, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
