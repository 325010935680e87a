"""Synthetic provider organizations and clinicians near the patient (engine-behaviour.md §7).

The organizations and clinicians are SYNTHETIC (invented, deterministically, per state) and sit
at real ZIP code locations; see `simulator.providers.network` and `simulator.providers.generate`.
"""

from simulator.providers.csv_rows import (
    ORGANIZATION_COLUMNS,
    PROVIDER_COLUMNS,
    organization_rows,
    provider_rows,
)
from simulator.providers.model import (
    CARDIOLOGY,
    ENCOUNTER_CLASSES,
    GENERAL_PRACTICE,
    Clinician,
    Organization,
    canonical_specialty,
    make_npi,
    npi_check_digit,
)
from simulator.providers.network import ProviderNetwork, provider_network

__all__ = [
    "CARDIOLOGY",
    "ENCOUNTER_CLASSES",
    "GENERAL_PRACTICE",
    "ORGANIZATION_COLUMNS",
    "PROVIDER_COLUMNS",
    "Clinician",
    "Organization",
    "ProviderNetwork",
    "canonical_specialty",
    "make_npi",
    "npi_check_digit",
    "organization_rows",
    "provider_network",
    "provider_rows",
]
