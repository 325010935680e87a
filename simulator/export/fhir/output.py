"""Files of the FHIR export: one bundle per patient, side bundles, and bulk NDJSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from simulator.record import HealthRecord

_UNSAFE = re.compile(r"[^\w-]+")


def record_filename(record: HealthRecord, suffix: str) -> str:
    """``<First>_<Last>_<patient id><suffix>``, safe on every filesystem."""
    p = record.patient
    name = _UNSAFE.sub("_", f"{p.first}_{p.last}").strip("_") or "patient"
    return f"{name}_{p.id}{suffix}"


def dumps(resource: Mapping[str, Any]) -> bytes:
    return orjson.dumps(resource)


def ndjson_lines(resources: Any) -> dict[str, list[bytes]]:
    lines: dict[str, list[bytes]] = {}
    for resource in resources:
        lines.setdefault(resource["resourceType"], []).append(orjson.dumps(resource))
    return lines


def parameters(names: list[str], base_url: str = "http://localhost:8000/") -> dict[str, Any]:
    """The bulk-data import manifest listing every NDJSON file (fhir-export.md §1)."""
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "inputFormat", "valueCode": "application/fhir+ndjson"}] + [
            {"name": "input", "part": [{"name": "type", "valueCode": n},
                                       {"name": "url", "valueUrl": f"{base_url}{n}.ndjson"}]}
            for n in names
        ],
    }
