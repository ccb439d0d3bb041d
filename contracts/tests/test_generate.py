"""Generated contracts: committed, current, and refused when a change would break a consumer."""

import io
import json
from pathlib import Path
from typing import Any

import pytest

from samverkan.contracts import generate
from samverkan.contracts.generate import HISTORY, ROOT, plan, run
from samverkan.contracts.schemas import all_schemas, dumps

pytestmark = pytest.mark.unit

TYPE = "se.samverkan.test.thing-happened.v1"


def _schema(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "title": "ThingHappened",
        "type": "object",
        "additionalProperties": False,
        "properties": fields,
        "required": required,
    }


V1 = _schema({"id": {"type": "string"}, "kind": {"enum": ["a", "b"]}}, ["id", "kind"])


def _commit(root: Path, *versions: dict[str, Any]) -> None:
    for number, schema in enumerate(versions, start=1):
        path = root / HISTORY / TYPE / f"{number}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(schema))


def _run(root: Path, *, check: bool) -> tuple[int, str]:
    out = io.StringIO()
    return run(root, check=check, out=out), out.getvalue()


def test_the_committed_contracts_are_current_and_compatible() -> None:
    code, output = _run(ROOT, check=True)
    assert code == 0, f"run `make contracts` and commit the result:\n{output}"
    assert (ROOT / "asyncapi.yaml").is_file()
    assert {p.stem for p in (ROOT / "schemas").glob("*.json")} == set(all_schemas())


def test_generate_writes_everything_and_check_then_passes(tmp_path: Path) -> None:
    code, output = _run(tmp_path, check=True)
    assert code == 1 and f"missing: {tmp_path.name}/asyncapi.yaml" in output
    assert _run(tmp_path, check=False)[0] == 0
    assert (tmp_path / "schemas" / "se.samverkan.referral.sent.v1.json").is_file()
    assert (tmp_path / HISTORY / "se.samverkan.referral.sent.v1" / "1.json").is_file()
    assert _run(tmp_path, check=True) == (0, "")


def test_check_names_a_stale_file(tmp_path: Path) -> None:
    _run(tmp_path, check=False)
    path = tmp_path / "schemas" / "se.samverkan.consent.given.v1.json"
    path.write_text(path.read_text().replace("recorded_by", "registered_by"))
    code, output = _run(tmp_path, check=True)
    assert code == 1
    assert (
        output.strip()
        == f"stale: {tmp_path.name}/schemas/se.samverkan.consent.given.v1.json (run `make contracts`)"
    )


def test_an_additive_change_passes_and_becomes_a_new_committed_version(tmp_path: Path) -> None:
    _commit(tmp_path, V1)
    v2 = json.loads(json.dumps(V1))
    v2["properties"]["note"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    result = plan(tmp_path, {TYPE: v2}, "")
    assert result.breaking == []
    assert json.loads(result.writes[HISTORY / TYPE / "2.json"]) == v2


def test_a_documentation_change_is_no_new_version(tmp_path: Path) -> None:
    _commit(tmp_path, V1)
    result = plan(tmp_path, {TYPE: {**V1, "description": "Now explained."}}, "")
    assert result.breaking == []
    assert set(result.writes) == {Path("schemas") / f"{TYPE}.json", Path("asyncapi.yaml")}


def test_every_earlier_version_is_checked_not_only_the_last(tmp_path: Path) -> None:
    v2 = json.loads(json.dumps(V1))
    v2["properties"]["kind"]["enum"].append("c")
    _commit(tmp_path, V1, v2)
    narrowed = json.loads(json.dumps(V1))  # drops "c" again: fine for 1, breaks data of 2
    assert plan(tmp_path, {TYPE: narrowed}, "").breaking == [
        f"{TYPE} against committed version 2: $.kind: value(s) ['c'] removed"
    ]
    legacy = _schema({**V1["properties"], "legacy": {"type": "string"}}, ["id", "kind"])
    _commit(tmp_path, legacy, V1)  # version 2 dropped a field, which version 1 may carry
    assert plan(tmp_path, {TYPE: V1}, "").breaking == [
        f"{TYPE} against committed version 1: $.legacy: field removed"
    ]


def test_a_removed_event_type_is_breaking(tmp_path: Path) -> None:
    _commit(tmp_path, V1)
    assert plan(tmp_path, {}, "").breaking[0].startswith(f"{TYPE}: the event type was removed")


def test_generate_refuses_to_write_a_breaking_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _commit(tmp_path, V1)
    monkeypatch.setattr(
        generate, "all_schemas", lambda: {TYPE: _schema(V1["properties"], ["id", "kind", "at"])}
    )
    code, output = _run(tmp_path, check=False)
    assert code == 1
    assert (
        f"not backward compatible: {TYPE} against committed version 1: $.at: new required field"
        in output
    )
    assert not (tmp_path / "schemas").joinpath(f"{TYPE}.json").exists()
    assert _run(tmp_path, check=True)[0] == 1


def test_the_module_runs_as_the_makefile_calls_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "samverkan.contracts.generate", "--check", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "missing: " in done.stdout
