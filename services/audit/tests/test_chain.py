"""An entry's leaf bytes: one canonical spelling, however they are written."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from samverkan.audit.chain import Entry, _leaf_json

pytestmark = pytest.mark.unit

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _json_module(value: Any) -> bytes:
    """The definition: what every leaf so far was written as."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@given(_json_values)
@example({"b": "plain", "a": [1, None, True]})  # nothing to escape
@example({"subject": "åäö ✓ 😀"})  # non-ASCII: \u escapes, surrogate pairs
@example("del \x7f")  # ASCII, yet escaped: each quirk alone, or one hides the others
@example('quote " backslash \\')
@example("tab \t nul \x00")
@example("line separator \u2028")
@example({"seq": 2**64})  # beyond what orjson writes
def test_a_leaf_is_written_in_json_modules_spelling(value: Any) -> None:
    assert _leaf_json({"value": value}) == _json_module({"value": value})


def _entry(**fields: Any) -> Entry:
    moment = datetime(2026, 11, 24, 12, 0, 0, 1, tzinfo=UTC)
    values: dict[str, Any] = {
        "seq": 7,
        "event_id": UUID(int=1),
        "topic": "samverkan.referral.v1",
        "partition": 2,
        "offset": 9,
        "type": "se.samverkan.referral.sent.v1",
        "source": "urn:samverkan:m:referral",
        "source_principal": "m",
        "recipient_principal": "r",
        "subject": "s",
        "legal_basis": "none",
        "event_time": moment,
        "recorded_at": moment,
        "personnummer_pseudonym": None,
        "headers": [["ce_id", "1"], ["ce_subject", "Åsa"]],
        "payload": b"{}",
        "payload_sha256": bytes(32),
        "actor": None,
    }
    return Entry(**{**values, **fields})


def test_leaf_fields_spell_every_field_and_leave_out_absent_late_ones() -> None:
    fields = _entry().leaf_fields()
    assert fields == {
        "seq": 7,
        "event_id": "00000000-0000-0000-0000-000000000001",
        "topic": "samverkan.referral.v1",
        "partition": 2,
        "offset": 9,
        "type": "se.samverkan.referral.sent.v1",
        "source": "urn:samverkan:m:referral",
        "source_principal": "m",
        "recipient_principal": "r",
        "subject": "s",
        "legal_basis": "none",
        "event_time": "2026-11-24T12:00:00.000001+00:00",
        "recorded_at": "2026-11-24T12:00:00.000001+00:00",
        "personnummer_pseudonym": None,
        "headers": [["ce_id", "1"], ["ce_subject", "Åsa"]],
        "payload": "7b7d",
        "payload_sha256": "00" * 32,
    }  # no "actor": entries from before it existed keep their leaf


def test_leaf_at_a_seq_is_the_leaf_of_the_entry_at_that_seq() -> None:
    entry = _entry(seq=-1)
    assert entry.leaf_bytes(41) == dataclasses.replace(entry, seq=41).leaf_bytes()
    assert json.loads(entry.leaf_bytes())["seq"] == -1  # its own seq without one given
    assert entry.leaf_fields(41)["seq"] == 41 and entry.seq == -1
