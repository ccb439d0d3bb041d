"""Exports an auditor can hand on: JSON, CSV or a FHIR AuditEvent bundle, each carrying the signed
checkpoint, every entry's leaf and inclusion proof, and the log's signature over the whole file.

`samverkan-audit verify-export FILE [--key VKEY] [--witness-key VKEY …]` checks one offline.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from samverkan.audit import merkle
from samverkan.audit.chain import canonical_json
from samverkan.audit.note import (
    Checkpoint,
    NoteSigner,
    SignedNote,
    parse_vkey,
    verify_cosignature,
    verify_signature,
)
from samverkan.runtime.signing import verify_raw

FORMAT = "samverkan-audit-export/v1"
FORMATS = ("json", "csv", "fhir")
_B64 = "urn:samverkan:audit"
CSV_COLUMNS = (
    "index",
    "event_id",
    "type",
    "source_principal",
    "recipient_principal",
    "subject",
    "actor",
    "legal_basis",
    "event_time",
)


@dataclass(frozen=True)
class Item:
    index: int
    leaf: dict[str, Any]  # Entry.leaf_fields()
    proof: list[bytes]


@dataclass(frozen=True)
class Export:
    principal: str
    exported_at: str
    exported_by: str
    query: dict[str, Any]
    log_key: str  # vkey of the log's signing key
    checkpoint: str  # the signed note, with the cosignatures it had at export time
    items: list[Item] = field(default_factory=list)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def render(export: Export, fmt: str, signer: NoteSigner) -> str:
    if fmt == "csv":
        return _csv(export, signer)
    body = _json_body(export) if fmt == "json" else _fhir_body(export)
    signature = _b64(signer.sign(FORMAT, _dump(body)).value)
    if fmt == "json":
        return _dump({**body, "signature": signature})
    return _dump({**body, "signature": {**_FHIR_SIG, "data": signature}})


def _json_body(export: Export) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "principal": export.principal,
        "exported_at": export.exported_at,
        "exported_by": export.exported_by,
        "query": export.query,
        "log_key": export.log_key,
        "checkpoint": export.checkpoint,
        "entries": [
            {"index": i.index, "entry": i.leaf, "proof": [_b64(p) for p in i.proof]}
            for i in export.items
        ],
    }


def _csv(export: Export, signer: NoteSigner) -> str:
    out = io.StringIO()
    meta = {k: v for k, v in _json_body(export).items() if k not in ("entries", "checkpoint")}
    out.write(f"# {json.dumps(meta, sort_keys=True)}\n")
    out.write(f"# checkpoint {_b64(export.checkpoint.encode())}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "leaf", "proof"])
    for item in export.items:
        shown = [item.index, *(item.leaf.get(c) or "" for c in CSV_COLUMNS[1:])]
        leaf = _b64(canonical_json(item.leaf))
        writer.writerow([*shown, leaf, " ".join(_b64(p) for p in item.proof)])
    text = out.getvalue()
    return text + f"# signature {_b64(signer.sign(FORMAT, text).value)}\n"


_FHIR_SIG = {
    "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.14"}],
    "sigFormat": "application/x-samverkan-ed25519",
}
_BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit"
_DCM = "http://dicom.nema.org/resources/ontology/DCM"


def _audit_event(export: Export, item: Item) -> dict[str, Any]:
    leaf = item.leaf
    outgoing = leaf["source_principal"] == export.principal
    agents = [
        _agent("urn:samverkan:principal", leaf["source_principal"], "AUT", requestor=True),
    ]
    if leaf.get("recipient_principal"):
        agents.append(_agent("urn:samverkan:principal", leaf["recipient_principal"], "IRCP"))
    if leaf.get("actor"):
        agents.append(_agent("urn:oid:1.2.752.29.4.19", leaf["actor"], "AUT", requestor=True))
    entities = []
    if leaf.get("subject"):
        entities.append(_entity("urn:samverkan:subject", leaf["subject"], "4"))
    if leaf.get("personnummer_pseudonym"):
        entities.append(
            _entity("urn:samverkan:personnummer-pseudonym", leaf["personnummer_pseudonym"], "1")
        )
    return {
        "resourceType": "AuditEvent",
        "id": leaf["event_id"],
        "meta": {"profile": [f"{_BALP}.Create" if outgoing else f"{_BALP}.Read"]},
        "type": {
            "system": _DCM,
            "code": "110106" if outgoing else "110107",
            "display": "Export" if outgoing else "Import",
        },
        "subtype": [{"system": "urn:samverkan:event-type", "code": leaf["type"]}],
        "action": "C" if outgoing else "R",
        "period": {"start": leaf["event_time"], "end": leaf["event_time"]},
        "recorded": leaf["recorded_at"],
        "outcome": "0",
        "purposeOfEvent": [
            {"coding": [{"system": "urn:samverkan:legal-basis", "code": leaf["legal_basis"]}]}
        ],
        "agent": agents,
        "source": {
            "observer": {
                "identifier": {"system": "urn:samverkan:principal", "value": export.principal}
            },
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                }
            ],
        },
        "entity": entities,
        "extension": [
            {"url": f"{_B64}:leaf-index", "valueInteger": item.index},
            {"url": f"{_B64}:leaf", "valueBase64Binary": _b64(canonical_json(leaf))},
            {
                "url": f"{_B64}:inclusion-proof",
                "valueString": " ".join(_b64(p) for p in item.proof),
            },
        ],
    }


def _agent(system: str, value: str, role: str, *, requestor: bool = False) -> dict[str, Any]:
    return {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": role,
                }
            ]
        },
        "who": {"identifier": {"system": system, "value": value}},
        "requestor": requestor,
    }


def _entity(system: str, value: str, role: str) -> dict[str, Any]:
    return {
        "what": {"identifier": {"system": system, "value": value}},
        "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": role},
    }


def _fhir_body(export: Export) -> dict[str, Any]:
    checkpoint = {
        "resourceType": "Binary",
        "id": "checkpoint",
        "contentType": "text/x.c2sp-checkpoint",
        "data": _b64(export.checkpoint.encode()),
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": export.exported_at,
        "identifier": {
            "system": f"{_B64}:export",
            "value": json.dumps(export.query, sort_keys=True),
        },
        "entry": [
            {"fullUrl": "urn:samverkan:audit:checkpoint", "resource": checkpoint},
            *(
                {"fullUrl": f"urn:uuid:{i.leaf['event_id']}", "resource": _audit_event(export, i)}
                for i in export.items
            ),
        ],
        "meta": {"tag": [{"system": f"{_B64}:log-key", "code": export.log_key}]},
    }


class ExportInvalid(Exception):
    """The export does not verify; the message says where."""


@dataclass(frozen=True)
class Verified:
    tree_size: int
    entries: int
    witnesses: list[str]


def verify(text: str, key: str | None = None, witness_keys: tuple[str, ...] = ()) -> Verified:
    """Check an export offline: its signature, its checkpoint and every entry's inclusion proof."""
    log_key, checkpoint, items, signed, signature = _parse(text)
    if key is not None and key.strip() != log_key:
        raise ExportInvalid("the export is signed by another key than the one given")
    name, _, public_key = parse_vkey(log_key)
    changed = ExportInvalid("the export's signature does not verify: it was changed")
    try:
        if not verify_raw(public_key, base64.b64decode(signature), signed.encode()):
            raise changed
    except ValueError:  # not base64
        raise changed from None
    note = SignedNote.parse(checkpoint)
    if not verify_signature(note, name, public_key):
        raise ExportInvalid("the checkpoint's signature does not verify")
    head = Checkpoint.parse(note.text)
    for index, leaf, proof in items:
        if not merkle.verify_inclusion(index, head.size, merkle.leaf_hash(leaf), proof, head.root):
            raise ExportInvalid(f"entry {index} is not in the log at checkpoint {head.size}")
    witnesses = []
    for vkey_text in witness_keys:
        w_name, _, w_key = parse_vkey(vkey_text)
        if verify_cosignature(note, w_name, w_key) is None:
            raise ExportInvalid(f"no valid cosignature by {w_name}")
        witnesses.append(w_name)
    return Verified(head.size, len(items), witnesses)


def _parse(text: str) -> tuple[str, str, list[tuple[int, bytes, list[bytes]]], str, str]:
    """(log key, checkpoint note, entries, signed text, signature) of any of the three formats."""
    try:
        if text.startswith("#"):
            return _parse_csv(text)
        body = json.loads(text)
        if _dump(body) != text:
            raise ExportInvalid("the file is not in its canonical form: it was changed")
        if body.get("resourceType") == "Bundle":
            return _parse_fhir(body)
        signature = body.pop("signature")
        items = [
            (e["index"], canonical_json(e["entry"]), [base64.b64decode(p) for p in e["proof"]])
            for e in body["entries"]
        ]
        return body["log_key"], body["checkpoint"], items, _dump(body), signature
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ExportInvalid(f"not a readable export: {exc}") from None


def _parse_fhir(
    body: dict[str, Any],
) -> tuple[str, str, list[tuple[int, bytes, list[bytes]]], str, str]:
    signature = body.pop("signature")["data"]
    resources = [e["resource"] for e in body["entry"]]
    checkpoint = base64.b64decode(resources[0]["data"]).decode()
    items = []
    for event in resources[1:]:
        ext = {x["url"].rsplit(":", 1)[1]: x for x in event["extension"]}
        proof = [base64.b64decode(p) for p in ext["inclusion-proof"]["valueString"].split()]
        items.append(
            (
                ext["leaf-index"]["valueInteger"],
                base64.b64decode(ext["leaf"]["valueBase64Binary"]),
                proof,
            )
        )
    return body["meta"]["tag"][0]["code"], checkpoint, items, _dump(body), signature


def _parse_csv(text: str) -> tuple[str, str, list[tuple[int, bytes, list[bytes]]], str, str]:
    signed, marker, signature = text.rpartition("# signature ")
    if not marker or not signature.endswith("\n") or not signed.endswith("\n"):
        raise ExportInvalid("the CSV export has no signature line")
    lines = signed.splitlines(keepends=True)
    meta = json.loads(lines[0][2:])
    checkpoint = base64.b64decode(lines[1].removeprefix("# checkpoint ")).decode()
    items = []
    for row in csv.DictReader(io.StringIO("".join(lines[2:]))):
        leaf = base64.b64decode(row["leaf"])
        shown = json.loads(leaf)
        if any(str(shown.get(c) or "") != row[c] for c in CSV_COLUMNS[1:]):
            raise ExportInvalid(f"row {row['index']} does not show what its leaf says")
        items.append((int(row["index"]), leaf, [base64.b64decode(p) for p in row["proof"].split()]))
    return meta["log_key"], checkpoint, items, signed, signature.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="samverkan-audit verify-export")
    parser.add_argument("file")
    parser.add_argument("--key", help="the log's vkey, as published by its principal")
    parser.add_argument("--witness-key", action="append", default=[], help="a witness's vkey")
    args = parser.parse_args(argv)
    with open(args.file, encoding="utf-8", newline="") as f:
        text = f.read()
    try:
        result = verify(text, args.key, tuple(args.witness_key))
    except ExportInvalid as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(
        f"ok: {result.entries} entries included in the signed checkpoint of size {result.tree_size}"
        + (f", cosigned by {', '.join(result.witnesses)}" if result.witnesses else "")
    )
    if args.key is None:
        print("note: the log key was taken from the file; compare it with --key", file=sys.stderr)
    return 0
