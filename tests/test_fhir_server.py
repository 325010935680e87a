"""What the in-memory Medplum FHIR server (tests/fhir_server/) does with the Bundles our FHIR
exporter will send. Each test pins one behaviour, so a router upgrade that changes it fails
loudly. Bundle shapes follow docs/fhir-export.md §2 and §4 (urn:uuid
fullUrls, POST + ifNoneExist "identifier=<system>|<value>" for shared resources, conditional
references in transaction mode); REST semantics from the FHIR R4 spec, http.html.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fhir_server import (
    FhirServer,
    FhirServerUnavailable,
    check_toolchain,
    find_references,
    start_server,
)
from fhir_server import fhir_server as fhir_server  # noqa: F401  (pytest fixture)

# Identifier systems from fhir-export.md §2 (the ones Synthea uses for shared resources).
SYNTHEA = "https://github.com/synthetichealth/synthea"
NPI = "http://hl7.org/fhir/sid/us-npi"

# Medplum 4.5.2 batch.ts: a transaction that needs serializable isolation (any conditional
# create/update/delete) may hold at most 8 entries, and any transaction at most 50 updates.
MAX_STRICT_TRANSACTION_ENTRIES = 8
MAX_TRANSACTION_UPDATES = 50


@pytest.fixture
def server(fhir_server: FhirServer) -> Iterator[FhirServer]:  # noqa: F811
    fhir_server.reset()
    yield fhir_server


@pytest.fixture(scope="module")
def batchlike_server() -> Iterator[FhirServer]:
    """A second server with FHIR_TRANSACTIONS=0 (transactions run entry by entry)."""
    try:
        with start_server(transactions=False) as server:
            yield server
    except FhirServerUnavailable as error:
        pytest.skip(f"FHIR test server unavailable: {error}")


# --- bundle builders ------------------------------------------------------------------------


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def entry(full_url: str, resource: dict[str, Any], if_none_exist: str | None = None) -> dict:
    request: dict[str, str] = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    resource = {**resource, "id": full_url.removeprefix("urn:uuid:")}
    return {"fullUrl": full_url, "resource": resource, "request": request}


def bundle(entries: list[dict], kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def patient(mrn: str) -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SYNTHEA, "value": mrn}],
        "name": [{"family": "Test", "given": [mrn]}],
        "gender": "female",
        "birthDate": "1980-02-29",
    }


def encounter(patient_ref: str, **extra: Any) -> dict:
    return {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "subject": {"reference": patient_ref},
        "period": {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T10:30:00Z"},
        **extra,
    }


def observation(patient_ref: str, encounter_ref: str, value: float = 72.0) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": patient_ref},
        "encounter": {"reference": encounter_ref},
        "effectiveDateTime": "2020-01-01T10:05:00Z",
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org"},
    }


def ident(system: str, value: str) -> str:
    return f"identifier={system}|{value}"


def shared_entries(urns: dict[str, str]) -> list[dict]:
    """Organization, Location, Practitioner, PractitionerRole, each POST + ifNoneExist."""
    org = {
        "resourceType": "Organization",
        "identifier": [{"system": SYNTHEA, "value": "org-1"}],
        "name": "General Hospital",
    }
    loc = {
        "resourceType": "Location",
        "identifier": [{"system": SYNTHEA, "value": "loc-1"}],
        "name": "General Hospital",
        "managingOrganization": {"reference": urns["org"]},
    }
    prac = {
        "resourceType": "Practitioner",
        "identifier": [{"system": NPI, "value": "9999999999"}],
        "name": [{"family": "Doc"}],
    }
    role = {
        "resourceType": "PractitionerRole",
        "identifier": [{"system": SYNTHEA, "value": "role-1"}],
        "practitioner": {"reference": urns["prac"]},
        "organization": {"reference": urns["org"]},
        "location": [{"reference": urns["loc"]}],
    }
    return [
        entry(urns["org"], org, ident(SYNTHEA, "org-1")),
        entry(urns["loc"], loc, ident(SYNTHEA, "loc-1")),
        entry(urns["prac"], prac, ident(NPI, "9999999999")),
        entry(urns["role"], role, ident(SYNTHEA, "role-1")),
    ]


def patient_bundle_with_shared(
    mrn: str, shared_urns: dict[str, str], observations: int = 0
) -> dict:
    pat, enc = urn(), urn()
    clinical = [
        entry(pat, patient(mrn)),
        entry(
            enc,
            encounter(
                pat,
                serviceProvider={"reference": shared_urns["org"]},
                participant=[{"individual": {"reference": shared_urns["prac"]}}],
                location=[{"location": {"reference": shared_urns["loc"]}}],
            ),
        ),
    ]
    clinical += [entry(urn(), observation(pat, enc, 60.0 + i)) for i in range(observations)]
    return bundle(shared_entries(shared_urns) + clinical)


def statuses(response_bundle: dict) -> list[str]:
    return [e["response"]["status"] for e in response_bundle["entry"]]


def locations(response_bundle: dict) -> list[str]:
    return [e["response"]["location"] for e in response_bundle["entry"]]


def read(server: FhirServer, reference: str) -> dict:
    response = server.get(reference)
    assert response.status == 200, (reference, response.body)
    return response.body


# --- plain REST ----------------------------------------------------------------------------


def test_create_read_and_search(server: FhirServer) -> None:
    assert server.get("metadata").body["fhirVersion"] == "4.0.1"
    created = server.post("Patient", {**patient("mrn-1"), "id": "client-chosen"})
    assert created.status == 201
    new_id = created.body["id"]
    # R4 http.html#create: a client id on create is ignored.
    assert new_id != "client-chosen"
    assert f"/fhir/R4/Patient/{new_id}/_history/" in created.headers["Location"]
    assert read(server, f"Patient/{new_id}")["identifier"][0]["value"] == "mrn-1"
    assert server.get("Patient/does-not-exist").status == 404
    assert server.get("NotAType").status == 404

    server.post("Patient", patient("mrn-2"))
    found = server.get(f"Patient?identifier={SYNTHEA}|mrn-1").body
    assert [e["resource"]["id"] for e in found["entry"]] == [new_id]
    page = server.get("Patient?_count=1").body
    assert (len(page["entry"]), page["total"]) == (1, 2)
    counted = server.get("Patient?_summary=count").body
    assert counted["total"] == 2 and "entry" not in counted


def test_put_creates_with_client_id_then_updates(server: FhirServer) -> None:
    first = server.put("Patient/p-1", {**patient("mrn-1"), "id": "p-1"})
    # Update-as-create answers 200, not the 201 the spec suggests (MemoryRepository cannot
    # tell create from update).
    assert (first.status, first.body["id"]) == (200, "p-1")
    second = server.put("Patient/p-1", {**patient("mrn-1"), "id": "p-1", "gender": "male"})
    assert second.status == 200
    assert second.body["meta"]["versionId"] != first.body["meta"]["versionId"]
    assert read(server, "Patient/p-1")["gender"] == "male"
    assert server.count("Patient") == 1
    assert server.put("Patient/p-2", {**patient("x"), "id": "other"}).status == 400


def test_if_none_exist_header_makes_create_idempotent(server: FhirServer) -> None:
    header = {"If-None-Exist": ident(SYNTHEA, "org-1")}
    org = {"resourceType": "Organization", "identifier": [{"system": SYNTHEA, "value": "org-1"}]}
    first = server.post("Organization", org, header)
    again = server.post("Organization", org, header)
    assert (first.status, again.status) == (201, 200)
    assert again.body["id"] == first.body["id"]
    assert server.count("Organization") == 1


def test_structurally_invalid_resources_are_rejected(server: FhirServer) -> None:
    missing_code = {k: v for k, v in observation("Patient/x", "Encounter/y").items() if k != "code"}
    bad_date = {**patient("mrn-1"), "birthDate": "1980-13-01"}
    unknown_field = {**patient("mrn-1"), "favouriteColour": "blue"}
    for resource in (missing_code, bad_date, unknown_field):
        response = server.post(resource["resourceType"], resource)
        assert response.status == 400, resource
        assert response.resource_type == "OperationOutcome"
    assert server.count("Patient") == 0


def test_code_values_and_reference_targets_are_not_checked(server: FhirServer) -> None:
    # Limits of the validator: required bindings and dangling references pass, so exporter
    # tests must check those themselves (find_references + read).
    odd_gender = server.post("Patient", {**patient("mrn-1"), "gender": "unknown-code"})
    dangling = server.post("Observation", observation("Patient/nobody", "Encounter/never"))
    assert (odd_gender.status, dangling.status) == (201, 201)


# --- question 1: transaction with urn:uuid references ------------------------------------------


def test_transaction_rewrites_urn_uuid_references(server: FhirServer) -> None:
    pat, enc, obs = urn(), urn(), urn()
    # Observation first: the server must resolve forward references too.
    sent = bundle(
        [
            entry(obs, observation(pat, enc)),
            entry(pat, patient("mrn-1")),
            entry(enc, encounter(pat)),
        ]
    )
    response = server.post("", sent)
    assert response.status == 200
    assert response.body["type"] == "transaction-response"
    assert statuses(response.body) == ["201", "201", "201"]
    obs_ref, pat_ref, enc_ref = locations(response.body)
    assert (obs_ref.split("/")[0], pat_ref.split("/")[0]) == ("Observation", "Patient")
    # Server-assigned ids: the urn:uuid (and the resource.id we sent) are not kept.
    assert pat_ref != f"Patient/{pat.removeprefix('urn:uuid:')}"

    stored_obs = read(server, obs_ref)
    assert stored_obs["subject"]["reference"] == pat_ref
    assert stored_obs["encounter"]["reference"] == enc_ref
    assert read(server, enc_ref)["subject"]["reference"] == pat_ref
    for ref in find_references(stored_obs) + find_references(read(server, enc_ref)):
        assert not ref.startswith("urn:uuid:")
        read(server, ref)


def test_urn_uuid_rewriting_is_textual(server: FhirServer) -> None:
    # batch.ts rewrites any string holding a bundle fullUrl (lower-case hex only), not just
    # Reference.reference: an identifier value "urn:uuid:<id>" (DocumentReference, fhir-export.md
    # §3) becomes "Patient/<server id>" when <id> is another entry's fullUrl.
    pat = urn()
    upper = pat.upper().replace("URN:UUID:", "urn:uuid:")
    obs = {
        **observation(upper, "Encounter/x"),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": pat}],
    }
    response = server.post("", bundle([entry(pat, patient("mrn-1")), entry(urn(), obs)]))
    assert statuses(response.body) == ["201", "201"]
    pat_ref, obs_ref = locations(response.body)
    stored = read(server, obs_ref)
    assert stored["identifier"][0]["value"] == pat_ref
    assert stored["subject"]["reference"] == upper  # upper-case UUID: left dangling


# --- question 2: shared resources with ifNoneExist in patient transactions ----------------------


SHARED = {
    "Organization": ident(SYNTHEA, "org-1"),
    "Location": ident(SYNTHEA, "loc-1"),
    "Practitioner": ident(NPI, "9999999999"),
    "PractitionerRole": ident(SYNTHEA, "role-1"),
}


def shared_urns() -> dict[str, str]:
    return {"org": urn(), "loc": urn(), "prac": urn(), "role": urn()}


def assert_shared_deduplicated(server: FhirServer, first: dict, second: dict) -> None:
    for resource_type, query in SHARED.items():
        assert server.count(resource_type, query) == 1, resource_type
    assert server.count("Patient") == 2
    # Entries 0-3 are the shared ones; the second bundle resolves them to the first's ids.
    assert locations(second)[:4] == locations(first)[:4]
    assert statuses(first)[:4] == ["201"] * 4
    assert statuses(second)[:4] == ["200"] * 4
    org_ref, loc_ref, prac_ref, _ = locations(first)[:4]
    stored = read(server, locations(second)[5])
    assert stored["serviceProvider"]["reference"] == org_ref
    assert stored["participant"][0]["individual"]["reference"] == prac_ref
    assert stored["location"][0]["location"]["reference"] == loc_ref
    role = read(server, locations(second)[3])
    assert (role["organization"]["reference"], role["practitioner"]["reference"]) == (
        org_ref,
        prac_ref,
    )


def test_shared_resources_deduplicated_across_small_transactions(server: FhirServer) -> None:
    # 6 entries: within Medplum's limit for transactions containing conditional creates.
    first = server.post("", patient_bundle_with_shared("mrn-1", shared_urns()))
    second = server.post("", patient_bundle_with_shared("mrn-2", shared_urns()))
    assert (first.status, second.status) == (200, 200), (first.body, second.body)
    assert_shared_deduplicated(server, first.body, second.body)


def test_conditional_create_transactions_are_capped_at_8_entries(server: FhirServer) -> None:
    at_limit = patient_bundle_with_shared("mrn-1", shared_urns(), observations=2)
    over = patient_bundle_with_shared("mrn-2", shared_urns(), observations=3)
    assert len(at_limit["entry"]) == MAX_STRICT_TRANSACTION_ENTRIES
    assert server.post("", at_limit).status == 200
    rejected = server.post("", over)
    assert rejected.status == 400
    assert "too many entries" in rejected.body["issue"][0]["details"]["text"]
    assert server.count("Patient") == 1  # checked before anything is written


def test_batchlike_server_deduplicates_large_transactions(batchlike_server: FhirServer) -> None:
    server = batchlike_server
    server.reset()
    first = server.post("", patient_bundle_with_shared("mrn-1", shared_urns(), observations=20))
    second = server.post("", patient_bundle_with_shared("mrn-2", shared_urns(), observations=20))
    assert (first.status, second.status) == (200, 200)
    assert set(statuses(first.body)[4:]) == {"201"}
    assert_shared_deduplicated(server, first.body, second.body)
    assert server.count("Observation") == 40


def test_shared_bundle_as_batch_then_patients(server: FhirServer) -> None:
    # Synthea's layout (fhir-export.md §4): shared resources in a batch Bundle with
    # POST + ifNoneExist; batch has no entry cap, and urn:uuid references are still rewritten.
    urns = shared_urns()
    first = server.post("", bundle(shared_entries(urns), kind="batch"))
    again = server.post("", bundle(shared_entries(shared_urns()), kind="batch"))
    assert (first.status, again.body["type"]) == (200, "batch-response")
    assert (statuses(first.body), statuses(again.body)) == (["201"] * 4, ["200"] * 4)
    role = read(server, locations(first.body)[3])
    assert role["organization"]["reference"] == locations(first.body)[0]
    for resource_type, query in SHARED.items():
        assert server.count(resource_type, query) == 1


# --- question 3: batch of PUT Type/id with literal references ---------------------------------


def put_entry(resource: dict) -> dict:
    ref = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": ref, "resource": resource, "request": {"method": "PUT", "url": ref}}


def put_bundle(kind: str = "batch", observations: int = 2) -> dict:
    org = {"resourceType": "Organization", "id": "org-1", "name": "General Hospital"}
    pat = {
        **patient("mrn-1"),
        "id": "pat-1",
        "managingOrganization": {"reference": "Organization/org-1"},
    }
    enc = {**encounter("Patient/pat-1"), "id": "enc-1"}
    obs = [
        {**observation("Patient/pat-1", "Encounter/enc-1", 60.0 + i), "id": f"obs-{i}"}
        for i in range(observations)
    ]
    # Referencing entries first: literal references need no ordering.
    return bundle([put_entry(r) for r in [*obs, enc, pat, org]], kind=kind)


def test_batch_put_is_idempotent(server: FhirServer) -> None:
    types = ("Organization", "Patient", "Encounter", "Observation")
    first = server.post("", put_bundle())
    assert first.status == 200 and first.body["type"] == "batch-response"
    assert set(statuses(first.body)) == {"200"}
    assert locations(first.body)[-1] == "Organization/org-1"
    counts = {t: server.count(t) for t in types}
    assert counts == {"Organization": 1, "Patient": 1, "Encounter": 1, "Observation": 2}

    second = server.post("", put_bundle())
    assert set(statuses(second.body)) == {"200"}
    assert {t: server.count(t) for t in types} == counts
    assert read(server, "Observation/obs-0")["subject"]["reference"] == "Patient/pat-1"
    assert len(server.get("Patient/pat-1/_history").body["entry"]) == 2


def test_transaction_update_cap(server: FhirServer) -> None:
    at_limit = put_bundle("transaction", observations=MAX_TRANSACTION_UPDATES - 3)
    over = put_bundle("transaction", observations=MAX_TRANSACTION_UPDATES - 2)
    assert server.post("", at_limit).status == 200
    rejected = server.post("", over)
    assert rejected.status == 400
    assert "more update operations" in rejected.body["issue"][0]["details"]["text"]
    assert server.post("", put_bundle("batch", observations=200)).status == 200


# --- question 4: conditional references ----------------------------------------------------------


def test_conditional_references_are_stored_unresolved(server: FhirServer) -> None:
    org = server.post("", bundle(shared_entries(shared_urns()), kind="batch"))
    org_ref = locations(org.body)[0]
    conditional = f"Organization?{ident(SYNTHEA, 'org-1')}"
    pat, enc = urn(), urn()
    sent = bundle(
        [
            entry(pat, patient("mrn-1")),
            entry(enc, encounter(pat, serviceProvider={"reference": conditional})),
        ]
    )
    response = server.post("", sent)
    assert response.status == 200 and statuses(response.body) == ["201", "201"]
    stored = read(server, locations(response.body)[1])
    # Not rewritten to org_ref: the router only resolves urn:uuid placeholders.
    assert stored["serviceProvider"]["reference"] == conditional != org_ref


# --- transactions are not rolled back ----------------------------------------------------------


def test_failed_transaction_is_not_rolled_back(server: FhirServer) -> None:
    pat = urn()
    broken = {**observation(pat, "Encounter/x"), "status": 42}
    response = server.post("", bundle([entry(pat, patient("mrn-1")), entry(urn(), broken)]))
    assert response.status == 400
    # MemoryRepository.withTransaction has no rollback: the Patient stays (a real Medplum
    # server on Postgres would roll back). Tests should reset() after a failed upload.
    assert server.count("Patient") == 1


# --- the Python helper ---------------------------------------------------------------------------


def test_find_references_walks_nested_structures() -> None:
    resource = {
        "subject": {"reference": "Patient/1"},
        "participant": [{"individual": {"reference": "Practitioner/2", "display": "x"}}],
        "note": [{"text": "reference"}],
    }
    assert find_references(resource) == ["Patient/1", "Practitioner/2"]


def test_toolchain_check_reports_missing_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FhirServerUnavailable, match="not on PATH"):
        check_toolchain()
    monkeypatch.setenv("SIMULATOR_SKIP_FHIR_SERVER", "1")
    with pytest.raises(FhirServerUnavailable, match="SIMULATOR_SKIP"):
        check_toolchain()


def test_server_starts_fast_and_is_stopped_on_exit(fhir_server: FhirServer) -> None:  # noqa: F811
    # Timing is reported for the CI budget; the install (if any) happened in this session.
    print(f"npm ci {fhir_server.install_seconds:.1f}s, start {fhir_server.startup_seconds:.1f}s")
    assert fhir_server.startup_seconds < 20
    with start_server() as other:
        assert other.port != fhir_server.port
        assert other.get("metadata").status == 200
    assert other.process.poll() is not None
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(other.base_url + "/metadata", timeout=5)
