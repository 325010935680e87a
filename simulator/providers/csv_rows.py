"""Rows of organizations.csv and providers.csv (csv-export.md §3.13, §3.14).

Pure functions returning field strings; the CSV writer cleans and joins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from simulator.providers.network import ProviderNetwork

ORGANIZATION_COLUMNS = ("Id", "NAME", "ADDRESS", "CITY", "STATE", "ZIP", "LAT", "LON", "PHONE",
                        "REVENUE", "UTILIZATION")
PROVIDER_COLUMNS = ("Id", "ORGANIZATION", "NAME", "GENDER", "SPECIALITY", "ADDRESS", "CITY",
                    "STATE", "ZIP", "LAT", "LON", "ENCOUNTERS", "PROCEDURES")


def plain_decimal(value: float) -> str:
    """Shortest round-trip decimal text, never in exponent form ("0.0", "1234.5")."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


def organization_rows(network: ProviderNetwork, encounters_by_org: Mapping[str, int],
                      revenue_by_org: Mapping[str, float]) -> list[list[str]]:
    """One row per organization with at least one encounter, in network order."""
    rows = []
    for o in network.organizations:
        encounters = encounters_by_org.get(o.id, 0)
        if encounters < 1:
            continue
        # Cents are the finest unit a sum of prices should carry; this also hides float dust.
        revenue = round(float(revenue_by_org.get(o.id, 0.0)), 2)
        rows.append([o.id, o.name, o.address, o.city, o.state, o.zip, repr(o.lat), repr(o.lon),
                     o.phone, plain_decimal(revenue), str(int(encounters))])
    return rows


def provider_rows(network: ProviderNetwork, encounters_by_clinician: Mapping[str, int],
                  procedures_by_clinician: Mapping[str, int],
                  exported_org_ids: set[str]) -> list[list[str]]:
    """One row per clinician of each exported organization, even with no encounters."""
    rows = []
    for o in network.organizations:
        if o.id not in exported_org_ids:
            continue
        for c in network.clinicians_of(o):
            rows.append([c.id, o.id, f"{c.first} {c.last}", c.gender, c.specialty, o.address,
                         o.city, o.state, o.zip, repr(o.lat), repr(o.lon),
                         str(int(encounters_by_clinician.get(c.id, 0))),
                         str(int(procedures_by_clinician.get(c.id, 0)))])
    return rows
