"""Makes the repository's `deploy` package importable, and gives each test its own copy of the tree."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A repository root whose deploy/ and docs/ are copies (to break), the rest links to the real one."""
    root = tmp_path / "repo"
    root.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "deploy", root / "deploy", ignore=ignore)
    shutil.copytree(ROOT / "docs", root / "docs", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    for linked in ("uv.lock", "contracts", "runtime", "devnet", "services"):
        (root / linked).symlink_to(ROOT / linked)
    return root
