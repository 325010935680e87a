"""Prices of what a claim bills, from `simulator/data/prices.json` (engine-behaviour.md §8).

Both engines take every cost from here — the reference engine as it records an entry, the
compiled engine as its journal is replayed into records — so their claims stay byte-identical.
Pricing stays out of the numba kernel: no decision in a life depends on a price, so a cost is
needed only once a record is built.

The data file names the source of every price; this module only checks the file (every price
a whole number of cents with a known source, every encounter class one the format knows) and
turns it into lookups. Whole cents keep a claim's lines, `TOTALCOST` and the patients'
`HEALTHCARE_EXPENSES + HEALTHCARE_COVERAGE` equal to the cent (csv-export.md §3.17).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simulator.gmf.schema import ENCOUNTER_CLASSES

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "prices.json"

GENERIC = "generic"
BRAND = "brand"


class PriceTableError(ValueError):
    """The price table breaks a rule this module relies on (a project bug, not user input)."""


@dataclass(frozen=True, slots=True)
class Prices:
    encounter_by_class: Mapping[str, float]
    encounter_default: float
    generic_fill: float
    brand_fill: float
    unknown_fill: float
    medication_kinds: Mapping[str, str]  # RxNorm code -> GENERIC | BRAND
    procedure: float
    immunization: float
    report: float

    def encounter(self, encounter_class: str) -> float:
        """Base cost of an encounter of this class; a class without a row costs the default."""
        return self.encounter_by_class.get(encounter_class, self.encounter_default)

    def medication_tier(self, code: str) -> str | None:
        """GENERIC or BRAND, the kind this RxNorm code is priced as; None: not in the table."""
        return self.medication_kinds.get(code)

    def medication(self, code: str) -> float:
        """Cost of one fill (dispense) of the drug with this RxNorm code; a code not in the
        table (e.g. of Synthea's corpus modules) costs the average of any prescription."""
        kind = self.medication_kinds.get(code)
        if kind is None:
            return self.unknown_fill
        return self.brand_fill if kind == BRAND else self.generic_fill


def _price(row: Any, where: str, sources: Mapping[str, str]) -> float:
    if not isinstance(row, dict) or row.get("source") not in sources:
        raise PriceTableError(f"{where}: needs a source named in `sources`")
    value = row.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PriceTableError(f"{where}: value {value!r} is not a number")
    if value < 0:
        raise PriceTableError(f"{where}: {value!r} is negative")
    # Decimal(repr()) reads the figure as written in the file, not its binary approximation
    if (Decimal(repr(float(value))) * 100) % 1 != 0:
        raise PriceTableError(f"{where}: {value!r} is not a whole number of cents")
    return float(value)


def load_prices(path: Path = DATA_FILE) -> Prices:
    data = json.loads(path.read_text(encoding="utf-8"))
    sources = data["sources"]
    enc = data["encounter"]
    unknown = set(enc["by_class"]) - set(ENCOUNTER_CLASSES)
    if unknown:
        raise PriceTableError(f"encounter.by_class: unknown encounter classes {sorted(unknown)}")
    by_class = {cls: _price(row, f"encounter.by_class.{cls}", sources)
                for cls, row in enc["by_class"].items()}
    med = data["medication"]
    kinds: dict[str, str] = {}
    for code, row in med["codes"].items():
        if row.get("kind") not in (GENERIC, BRAND) or row.get("source") not in sources:
            raise PriceTableError(f"medication.codes.{code}: needs a kind (generic or brand) "
                                  "and a source named in `sources`")
        kinds[code] = row["kind"]
    return Prices(
        encounter_by_class=MappingProxyType(by_class),
        encounter_default=_price(enc["default"], "encounter.default", sources),
        generic_fill=_price(med[GENERIC], "medication.generic", sources),
        brand_fill=_price(med[BRAND], "medication.brand", sources),
        unknown_fill=_price(med["default"], "medication.default", sources),
        medication_kinds=MappingProxyType(kinds),
        procedure=_price(data["procedure"], "procedure", sources),
        immunization=_price(data["immunization"], "immunization", sources),
        report=_price(data["report"], "report", sources),
    )


PRICES = load_prices()
encounter_cost = PRICES.encounter
medication_cost = PRICES.medication
medication_tier = PRICES.medication_tier
PROCEDURE_COST = PRICES.procedure
IMMUNIZATION_COST = PRICES.immunization
REPORT_COST = PRICES.report
