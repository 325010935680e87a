"""Files of the FHIR export: one bundle per patient, side bundles, and bulk NDJSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

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


class NdjsonWriter:
    """Bulk-data NDJSON: one ``<ResourceType>.ndjson`` per type, appended as records finish."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, BinaryIO] = {}

    def write_lines(self, lines: Mapping[str, list[bytes]]) -> None:
        for rtype, items in lines.items():
            f = self._files.get(rtype)
            if f is None:
                f = self._files[rtype] = open(self.directory / f"{rtype}.ndjson", "wb")  # noqa: SIM115
            for line in items:
                f.write(line)
                f.write(b"\n")

    def names(self) -> list[str]:
        return sorted(self._files)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


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
