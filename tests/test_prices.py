"""The price table (simulator/data/prices.json, engine-behaviour.md §8): prices come from it,
every row names its source, it covers every drug our modules prescribe, and a run bills what
it says."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.payers.prices import (
    BRAND,
    DATA_FILE,
    GENERIC,
    PRICES,
    PriceTableError,
    encounter_cost,
    load_prices,
    medication_cost,
)

MODULES = Path(__file__).resolve().parent.parent / "modules"
TABLE = json.loads(DATA_FILE.read_text(encoding="utf-8"))
LISINOPRIL = "314076"  # "lisinopril 10 MG Oral Tablet"
LANTUS = "285018"  # "insulin glargine 100 UNT/ML Injectable Solution [Lantus]"


def _prescribed() -> dict[str, str]:
    """RxNorm code -> display of every MedicationOrder in our modules."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "MedicationOrder":
                for code in node.get("codes", []):
                    if code.get("system") == "RxNorm":
                        found.setdefault(code["code"], code.get("display", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(MODULES.glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def test_an_inpatient_stay_costs_more_than_an_emergency_visit_more_than_a_checkup() -> None:
    by_class = TABLE["encounter"]["by_class"]
    assert encounter_cost("inpatient") == by_class["inpatient"]["value"]
    assert encounter_cost("wellness") == by_class["wellness"]["value"]
    assert encounter_cost("inpatient") > encounter_cost("emergency") > encounter_cost("wellness")


def test_a_class_without_a_row_costs_the_default() -> None:
    assert encounter_cost("not-a-class") == TABLE["encounter"]["default"]["value"]


def test_a_generic_fill_costs_less_than_a_branded_one() -> None:
    assert PRICES.medication_kinds[LISINOPRIL] == GENERIC
    assert PRICES.medication_kinds[LANTUS] == BRAND
    assert medication_cost(LISINOPRIL) == TABLE["medication"]["generic"]["value"]
    assert medication_cost(LANTUS) == TABLE["medication"]["brand"]["value"]
    assert medication_cost(LISINOPRIL) < medication_cost(LANTUS)


def test_an_unknown_code_costs_the_documented_default() -> None:
    default = TABLE["medication"]["default"]
    assert medication_cost("0000000") == default["value"]
    assert "not in `codes`" in default["what"]
    assert default["value"] not in (TABLE["medication"]["generic"]["value"],
                                    TABLE["medication"]["brand"]["value"])


def test_every_row_of_the_table_names_a_known_source() -> None:
    sources = TABLE["sources"]
    rows: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "value" in node or "kind" in node:
                rows.append((where, node))
                return
            for key, value in node.items():
                if key != "sources":
                    walk(value, f"{where}.{key}")

    walk(TABLE, "")
    assert len(rows) > 50
    for where, row in rows:
        assert row.get("source") in sources, where
    used = {row["source"] for _, row in rows}
    assert used == set(sources), "a source no row uses"
    assert all(len(text) > 40 for text in sources.values())


def test_the_table_covers_every_drug_our_modules_prescribe_classified_by_its_name() -> None:
    """A [Brand] suffix marks a branded RxNorm drug; any other name is a clinical (generic)
    drug. The table's display is the modules' own, so a renamed code shows here."""
    prescribed = _prescribed()
    codes = TABLE["medication"]["codes"]
    assert len(prescribed) > 30
    assert set(codes) == set(prescribed)
    for code, display in prescribed.items():
        assert codes[code]["display"] == display, code
        expected = BRAND if display.rstrip().endswith("]") else GENERIC
        assert codes[code]["kind"] == expected, (code, display)


@pytest.mark.parametrize(("patch", "message"), [
    ({"procedure": {"value": 500.001, "source": "synthea-default", "what": ""}},
     "not a whole number of cents"),
    ({"report": {"value": 100.0, "source": "nowhere", "what": ""}}, "needs a source"),
    ({"immunization": {"value": -1.0, "source": "synthea-default", "what": ""}}, "negative"),
])
def test_the_loader_refuses_a_price_without_source_or_in_fractions_of_a_cent(
        tmp_path: Path, patch: dict[str, Any], message: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({**TABLE, **patch}), encoding="utf-8")
    with pytest.raises(PriceTableError, match=message):
        load_prices(path)


def test_the_loader_refuses_an_unknown_encounter_class(tmp_path: Path) -> None:
    table = json.loads(json.dumps(TABLE))
    table["encounter"]["by_class"]["dental"] = {"value": 1.0, "source": "synthea-default"}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table), encoding="utf-8")
    with pytest.raises(PriceTableError, match="dental"):
        load_prices(path)


def test_a_run_bills_the_table_prices(tmp_path: Path) -> None:
    """Every encounter's base cost is its class's price and every medication's its code's, in
    the CSV a run writes (the compiled engine; the parity tests hold the reference to it)."""
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["-p", "40", "-s", "7", "-w", "1", "--format", "csv",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "csv" / "encounters.csv").open(newline="") as f:
        encounters = list(csv.DictReader(f))
    with (out / "csv" / "medications.csv").open(newline="") as f:
        medications = list(csv.DictReader(f))
    classes = {row["ENCOUNTERCLASS"] for row in encounters}
    assert {"wellness", "ambulatory"} <= classes
    for row in encounters:
        assert float(row["BASE_ENCOUNTER_COST"]) == encounter_cost(row["ENCOUNTERCLASS"]), row
    assert medications
    for row in medications:
        assert float(row["BASE_COST"]) == medication_cost(row["CODE"]), row
    assert {medication_cost(row["CODE"]) for row in medications} != {medication_cost("0")}
