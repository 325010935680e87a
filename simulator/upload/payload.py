"""Idempotent requests from FHIR resources.

A *unit* is what the journal records as done: one patient (a bundle file, or a simulated
person) or one block of NDJSON lines. Its *items* are resources, each already serialised as a
``PUT <Type>/<id>`` bundle entry (or, for NDJSON, as the bare resource for a single PUT).
Re-sending a PUT with the resource's own id stores the same resource again, never a second
one, which is what makes retries safe. Bundles written with ``urn:uuid:`` fullUrls (our
``transaction`` mode, Synthea's bundles) have those references rewritten to ``Type/id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

# Resources that many patients share: uploaded with the first patient that needs them and
# skipped once the server has confirmed them.
BUNDLE_TYPES = ("transaction", "batch")
SHARED_TYPES = frozenset({"Organization", "Location", "Practitioner", "PractitionerRole"})

# NDJSON is uploaded type by type in this order, so a resource's references point at types
# already on the server (servers that check referential integrity need that); unknown types go
# last, alphabetically.
TYPE_ORDER = (
    "Organization", "Location", "Practitioner", "PractitionerRole", "Patient", "Encounter",
    "Condition", "AllergyIntolerance", "Observation", "Procedure", "Immunization", "Device",
    "Medication", "MedicationRequest", "MedicationAdministration", "DiagnosticReport",
    "DocumentReference", "ImagingStudy", "CareTeam", "CarePlan", "SupplyDelivery",
    "Coverage", "Claim", "ExplanationOfBenefit", "Provenance",
)


class PayloadError(ValueError):
    """A source file that is not what it claims to be (the message names file and place)."""


@dataclass(slots=True)
class Item:
    key: str  # "Type/id"
    shared: bool
    body: bytes  # a PUT bundle entry, or the resource itself for a single PUT

    @property
    def resource_type(self) -> str:
        return self.key.partition("/")[0]


@dataclass(slots=True)
class Unit:
    key: str  # recorded in the journal: "patients/<file>", "ndjson/<file>:<first line>", …
    items: list[Item]
    single: bool = False  # items are sent one PUT each (NDJSON), not in bundles
    note: Any = None  # JSON kept in the journal with the unit (a person's encounter counts)


def resource_key(resource: Any, where: str) -> tuple[str, str]:
    if not isinstance(resource, dict):
        raise PayloadError(f"{where}: expected a FHIR resource (a JSON object)")
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if not isinstance(rtype, str) or not rtype:
        raise PayloadError(f"{where}: the resource has no resourceType")
    if not isinstance(rid, str) or not rid:
        raise PayloadError(f"{where}: the {rtype} has no id, so it cannot be PUT idempotently")
    return rtype, rid


def put_entry(resource: dict[str, Any], rtype: str, rid: str, base: str) -> bytes:
    return put_entry_bytes(orjson.dumps(resource), rtype, rid, base)


def put_entry_bytes(resource: bytes, rtype: str, rid: str, base: str) -> bytes:
    key = f"{rtype}/{rid}".encode()
    return (b'{"fullUrl":"' + base.encode() + b"/" + key + b'","resource":' + resource
            + b',"request":{"method":"PUT","url":"' + key + b'"}}')


# orjson writes no whitespace, so every reference in a serialised resource looks like this
_REFERENCE = re.compile(rb'"reference":"((?:[^"\\]|\\.)*)"')


def bundle_items(bundle: Any, base: str, where: str) -> list[Item]:
    """A Bundle's resources as PUT entries, in the bundle's order. References to another
    entry's fullUrl (``urn:uuid:…``) become ``Type/id``; others are left as they are."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise PayloadError(f"{where}: not a FHIR Bundle")
    entries = bundle.get("entry")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise PayloadError(f"{where}: $.entry is not a list")
    keyed: list[tuple[dict[str, Any], str, str]] = []
    mapping: dict[bytes, bytes] = {}
    for i, entry in enumerate(entries):
        place = f"{where}: $.entry[{i}]"
        if not isinstance(entry, dict):
            raise PayloadError(f"{place}: not an object")
        resource = entry.get("resource")
        rtype, rid = resource_key(resource, f"{place}.resource")
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url != f"{rtype}/{rid}":
            mapping[orjson.dumps(full_url)[1:-1]] = f"{rtype}/{rid}".encode()
        keyed.append((resource, rtype, rid))

    def literal(match: re.Match[bytes]) -> bytes:
        target = mapping.get(match[1])
        return match[0] if target is None else b'"reference":"' + target + b'"'

    items = []
    for resource, rtype, rid in keyed:
        raw = orjson.dumps(resource)
        if mapping:
            raw = _REFERENCE.sub(literal, raw)
        items.append(Item(f"{rtype}/{rid}", rtype in SHARED_TYPES,
                          put_entry_bytes(raw, rtype, rid, base)))
    return items


def ndjson_items(lines: list[bytes], first_line: int, where: str) -> list[Item]:
    """NDJSON lines as single-PUT items (the body is the line itself, unparsed beyond its key)."""
    items = []
    for n, line in enumerate(lines, start=first_line):
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PayloadError(f"{where}:{n}: not JSON ({exc})") from None
        rtype, rid = resource_key(resource, f"{where}:{n}")
        items.append(Item(f"{rtype}/{rid}", rtype in SHARED_TYPES, line))
    return items


def record_items(resources: Iterator[tuple[dict[str, Any], bool]], base: str) -> list[Item]:
    """A simulated person's resources (literal references, shared ones embedded)."""
    return [Item(f"{r['resourceType']}/{r['id']}", shared,
                 put_entry(r, r["resourceType"], r["id"], base)) for r, shared in resources]


def bundle_body(entries: list[bytes], bundle_type: str) -> bytes:
    return (b'{"resourceType":"Bundle","type":"' + bundle_type.encode() + b'","entry":['
            + b",".join(entries) + b"]}")


def type_rank(resource_type: str) -> tuple[int, str]:
    try:
        return TYPE_ORDER.index(resource_type), ""
    except ValueError:
        return len(TYPE_ORDER), resource_type
