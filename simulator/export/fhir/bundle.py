"""Bundles and bulk NDJSON from the resources of :mod:`simulator.export.fhir.clinical`.

Modes (``--fhir-bundle``):

* ``transaction`` (default): one POST loads a patient into an empty server. Shared
  Organization, Location, Practitioner and PractitionerRole resources ride along in every patient
  bundle as conditional creates (``ifNoneExist`` on their identifier), so nothing needs loading
  first and re-posting creates no duplicates; references use ``urn:uuid:`` fullUrls, which the
  server resolves to the existing resource when a conditional create matches. (Synthea instead
  references shared resources with conditional references that need its side bundles loaded
  first.)
* ``batch``: every entry is ``PUT <Type>/<id>`` with literal ``Type/id`` references: idempotent,
  so any bundle can be re-sent and nothing is ever duplicated.
* ``collection``: the same resources with no requests, for archiving and analytics.

Bulk NDJSON (``--format ndjson``) writes each patient's resources with ``Type/id`` references
and the shared resources once per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from simulator.export.fhir import shared
from simulator.export.fhir.clinical import RecordResources, literal_reference, urn_reference
from simulator.record import HealthRecord

BUNDLE_MODES = ("transaction", "batch", "collection")


@dataclass(frozen=True)
class FhirContext:
    """What the exporter looks up besides the record: the provider network and payer catalog of
    the run (either may be None for records made without them)."""

    network: Any = None
    payers: Any = None


def _entry(resource: dict[str, Any], is_shared: bool, mode: str) -> dict[str, Any]:
    rtype = resource["resourceType"]
    rid = resource["id"]
    if mode == "batch":
        return {"fullUrl": f"{rtype}/{rid}", "resource": resource,
                "request": {"method": "PUT", "url": f"{rtype}/{rid}"}}
    entry: dict[str, Any] = {"fullUrl": f"urn:uuid:{rid}", "resource": resource}
    if mode == "transaction":
        request = {"method": "POST", "url": rtype}
        if is_shared:
            ident = resource["identifier"][0]
            request["ifNoneExist"] = f"identifier={ident['system']}|{ident['value']}"
        entry["request"] = request
    return entry


def bundle_entries(record: HealthRecord, ctx: FhirContext,
                   mode: str = "transaction") -> Iterator[dict[str, Any]]:
    if mode not in BUNDLE_MODES:
        raise ValueError(f"unknown bundle mode {mode!r}")
    ref = literal_reference if mode == "batch" else urn_reference
    for resource, is_shared in RecordResources(record, ctx, ref):
        yield _entry(resource, is_shared, mode)


def patient_bundle(record: HealthRecord, ctx: FhirContext, mode: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": mode,
            "entry": list(bundle_entries(record, ctx, mode))}


def patient_bundle_chunks(record: HealthRecord, ctx: FhirContext,
                          mode: str = "transaction") -> Iterator[bytes]:
    """The same bundle as :func:`patient_bundle`, serialised entry by entry: only one entry's
    dicts are alive at a time (hundreds of thousands of live dicts make the garbage collector
    rescan them over and over), and a writer never holds the whole bundle either."""
    yield b'{"resourceType":"Bundle","type":"' + mode.encode() + b'","entry":['
    first = True
    for entry in bundle_entries(record, ctx, mode):
        data = orjson.dumps(entry)
        yield data if first else b"," + data
        first = False
    yield b"]}"


def patient_bundle_json(record: HealthRecord, ctx: FhirContext,
                        mode: str = "transaction") -> bytes:
    return b"".join(patient_bundle_chunks(record, ctx, mode))


def patient_resources(record: HealthRecord, ctx: FhirContext) -> Iterator[dict[str, Any]]:
    """A patient's resources for bulk NDJSON: ``Type/id`` references, shared ones left out."""
    for resource, _ in RecordResources(record, ctx, literal_reference, embed_shared=False):
        yield resource


def shared_resources(ctx: FhirContext, org_encounters: Mapping[str, int],
                     clinician_encounters: Mapping[str, int],
                     virtual: bool = False) -> Iterator[dict[str, Any]]:
    """Every organization (with its Location) and clinician (with its PractitionerRole) that
    had an encounter, with utilization counts; ids in sorted order so output is stable."""
    network = ctx.network
    for org_id in sorted(org_encounters):
        org = network.organization(org_id)
        yield shared.organization(org, org_encounters[org_id])
        yield shared.location(org, literal_reference)
    for cid in sorted(clinician_encounters):
        c = network.clinician_by_id(cid)
        org = network.organization(c.organization_id)
        yield shared.practitioner(c, org, clinician_encounters[cid])
        yield shared.practitioner_role(c, org, literal_reference)
    if virtual:
        yield shared.home_location()


def shared_bundles(ctx: FhirContext, org_encounters: Mapping[str, int],
                   clinician_encounters: Mapping[str, int],
                   mode: str = "transaction") -> dict[str, dict[str, Any]]:
    """Synthea's side files: ``hospitalInformation`` (organizations and their locations, and the
    patient-home location) and ``practitionerInformation`` (clinicians and their roles)."""
    bundle_type = "batch" if mode == "transaction" else mode
    hospitals: list[dict[str, Any]] = []
    practitioners: list[dict[str, Any]] = []
    for resource in shared_resources(ctx, org_encounters, clinician_encounters, virtual=True):
        target = practitioners if resource["resourceType"].startswith("Practitioner") else hospitals
        target.append(resource)
    return {
        "hospitalInformation": _side_bundle(hospitals, bundle_type, mode),
        "practitionerInformation": _side_bundle(practitioners, bundle_type, mode),
    }


def _side_bundle(resources: Iterable[dict[str, Any]], bundle_type: str, mode: str) -> dict:
    entries = []
    for resource in resources:
        e = _entry(resource, True, mode)
        if mode != "batch":
            e["fullUrl"] = f"{resource['resourceType']}/{resource['id']}"
        entries.append(e)
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}
