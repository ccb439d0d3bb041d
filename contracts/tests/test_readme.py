"""The integrators' README covers every topic and header, and its example stays small and standalone."""

from pathlib import Path

import pytest

from samverkan.contracts import topics
from samverkan.contracts.envelope import HEADERS

pytestmark = pytest.mark.unit

CONTRACTS = Path(__file__).resolve().parents[1]
README = (CONTRACTS / "README.md").read_text(encoding="utf-8")
EXAMPLE = (CONTRACTS / "examples" / "consumer.py").read_text(encoding="utf-8")


def test_readme_names_every_topic_and_header() -> None:
    for name in (*topics.ALL, *(h.name for h in HEADERS)):
        assert f"`{name}`" in README, name


def test_example_consumer_uses_no_project_code_and_stays_short() -> None:
    imports = [line for line in EXAMPLE.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "samverkan" in line]
    assert {line.split()[1].split(".")[0] for line in imports} <= {
        "asyncio",
        "json",
        "os",
        "pathlib",
        "jsonschema",
        "aiokafka",
    }
    code = [line for line in EXAMPLE.splitlines() if line.strip()]
    assert len(code) <= 35
