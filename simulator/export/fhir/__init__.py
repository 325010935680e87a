"""FHIR R4 (4.0.1) export with US Core 6.1 profiles (``docs/fhir-export.md``).

Resources are built as plain dicts and serialised with orjson; ``fhir.resources`` is only used by
the optional validator (:mod:`simulator.export.fhir_validate`), never on the hot path.
"""

from simulator.export.fhir.bundle import (
    BUNDLE_MODES,
    FhirContext,
    patient_bundle,
    patient_bundle_chunks,
    patient_bundle_json,
    patient_resources,
    shared_bundles,
    shared_resources,
)

__all__ = [
    "BUNDLE_MODES",
    "FhirContext",
    "patient_bundle",
    "patient_bundle_chunks",
    "patient_bundle_json",
    "patient_resources",
    "shared_bundles",
    "shared_resources",
]
