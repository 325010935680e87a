"""Referential integrity of a whole CSV run (csv-export.md §3): every id a row points at is
exported, and every claim's transactions balance to the cent.

Runs the CLI (``simulate -p 30 -s 3 --format csv``) once on the project's modules and once on
the Synthea module corpus (skipped when the corpus is absent).
"""

from __future__ import annotations

import csv
import pathlib
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.export.csv import CSV_FILES

# Files whose rows belong to one encounter of one patient.
ENCOUNTER_FILES = (
    "conditions", "allergies", "observations", "procedures", "medications", "immunizations",
    "careplans", "imaging_studies", "devices", "supplies",
)  # fmt: skip
QUALITY_OF_LIFE = {"QALY", "DALY", "QOLS"}  # observations without an encounter (§3.7)
PATIENT_METHODS = {"COPAY", "CASH", "CHECK", "CC"}


@dataclass
class Run:
    directory: pathlib.Path
    tables: dict[str, list[dict[str, str]]]

    def ids(self, stem: str, column: str = "Id") -> set[str]:
        return {row[column] for row in self.tables[stem]}


def simulate(out: pathlib.Path, *extra: str) -> pathlib.Path:
    args = ["-p", "30", "-s", "3", "-o", str(out), "--format", "csv", "-w", "1", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out / "csv"


def read_run(directory: pathlib.Path) -> Run:
    tables: dict[str, list[dict[str, str]]] = {}
    for stem, columns in CSV_FILES.items():
        with open(directory / f"{stem}.csv", encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            assert tuple(next(reader)) == columns, stem
            rows = list(reader)
        assert all(len(row) == len(columns) for row in rows), stem
        tables[stem] = [dict(zip(columns, row, strict=True)) for row in rows]
    return Run(directory, tables)


@pytest.fixture(scope="module", params=["default", "corpus"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    extra: tuple[str, ...] = ()
    if request.param == "corpus":
        corpus: pathlib.Path = request.getfixturevalue("corpus_dir")
        extra = ("--modules-dir", str(corpus))
    directory = simulate(tmp_path_factory.mktemp(f"csv-{request.param}"), *extra)
    return read_run(directory)


def cents(text: str) -> int:
    return round(float(text) * 100) if text else 0


def test_run_has_claims(run: Run) -> None:
    t = run.tables
    assert len(t["patients"]) >= 30 and t["encounters"] and t["claims"]
    claimed = Counter(row["APPOINTMENTID"] for row in t["claims"])
    medications = Counter(row["ENCOUNTER"] for row in t["medications"])
    # the engine bills every encounter and, separately, every medication
    unbilled = {row["CODE"] for row in t["encounters"] if row["Id"] not in claimed}
    assert not unbilled  # every encounter is billed, the death certification visit too
    for eid, count in claimed.items():
        assert count == 1 + medications[eid], eid


def test_ids_are_unique(run: Run) -> None:
    for stem, column in (("patients", "Id"), ("encounters", "Id"), ("claims", "Id"),
                         ("claims_transactions", "ID"), ("organizations", "Id"),
                         ("providers", "Id"), ("payers", "Id")):  # fmt: skip
        ids = [row[column] for row in run.tables[stem]]
        assert len(ids) == len(set(ids)), stem
    charges = [(r["CLAIMID"], r["CHARGEID"]) for r in run.tables["claims_transactions"]]
    assert len(charges) == len(set(charges))


def test_encounter_rows_point_at_patients_and_encounters(run: Run) -> None:
    patients = run.ids("patients")
    owner = {row["Id"]: row["PATIENT"] for row in run.tables["encounters"]}
    assert set(owner.values()) <= patients
    for stem in ENCOUNTER_FILES:
        for row in run.tables[stem]:
            assert row["PATIENT"] in patients, (stem, row)
            if stem == "observations" and not row["ENCOUNTER"]:
                assert row["CODE"] in QUALITY_OF_LIFE, row
                continue
            assert owner.get(row["ENCOUNTER"]) == row["PATIENT"], (stem, row)


def test_encounters_point_at_organizations_providers_and_payers(run: Run) -> None:
    organizations = run.ids("organizations")
    providers = {row["Id"]: row["ORGANIZATION"] for row in run.tables["providers"]}
    payers = run.ids("payers")
    for row in run.tables["encounters"]:
        assert row["ORGANIZATION"] in organizations, row
        assert providers.get(row["PROVIDER"]) == row["ORGANIZATION"], row
        assert row["PAYER"] in payers, row
    assert set(providers.values()) <= organizations
    for row in run.tables["medications"]:
        assert row["PAYER"] in payers, row


def test_payer_transitions_point_at_patients_and_payers(run: Run) -> None:
    patients = run.ids("patients")
    payers = run.ids("payers")
    assert run.tables["payer_transitions"]
    for row in run.tables["payer_transitions"]:
        assert row["PATIENT"] in patients, row
        assert row["PAYER"] in payers, row
        assert not row["SECONDARY_PAYER"] or row["SECONDARY_PAYER"] in payers, row


def test_claims_point_at_patients_encounters_payers_and_providers(run: Run) -> None:
    patients = run.ids("patients")
    encounters = {row["Id"]: row for row in run.tables["encounters"]}
    payers = run.ids("payers")
    providers = run.ids("providers")
    for claim in run.tables["claims"]:
        assert claim["PATIENTID"] in patients, claim
        encounter = encounters.get(claim["APPOINTMENTID"])
        assert encounter is not None and encounter["PATIENT"] == claim["PATIENTID"], claim
        assert claim["PROVIDERID"] == claim["SUPERVISINGPROVIDERID"] == encounter["PROVIDER"]
        assert claim["PROVIDERID"] in providers, claim
        primary = claim["PRIMARYPATIENTINSURANCEID"]
        assert not primary or primary == encounter["PAYER"], claim
        assert not primary or primary in payers
        assert claim["SERVICEDATE"] == encounter["START"]
        assert claim["CURRENTILLNESSDATE"] <= claim["SERVICEDATE"]  # ISO text sorts by time


def test_transactions_point_at_claims_and_balance(run: Run) -> None:
    claims = {row["Id"]: row for row in run.tables["claims"]}
    organizations = run.ids("organizations")
    by_claim: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in run.tables["claims_transactions"]:
        claim = claims.get(row["CLAIMID"])
        assert claim is not None, row
        assert row["PATIENTID"] == claim["PATIENTID"], row
        assert row["APPOINTMENTID"] == claim["APPOINTMENTID"], row
        assert row["PLACEOFSERVICE"] in organizations, row
        assert row["DEPARTMENTID"] == claim["DEPARTMENTID"], row
        by_claim[row["CLAIMID"]].append(row)
    assert set(by_claim) == set(claims)  # every claim bills at least its main entry
    for claim_id, rows in by_claim.items():
        assert [int(r["CHARGEID"]) for r in rows] == list(range(len(rows))), claim_id
        charges = payments = adjustments = outstanding = 0
        balance = None
        for r in rows:
            kind = r["TYPE"]
            if kind == "CHARGE":
                outstanding += balance or 0  # what the previous line left
                balance = cents(r["AMOUNT"])
                charges += balance
            elif kind == "PAYMENT":
                payments += cents(r["PAYMENTS"])
                assert balance is not None
                balance -= cents(r["PAYMENTS"])
            elif kind == "ADJUSTMENT":
                adjustments += cents(r["ADJUSTMENTS"])
                assert balance is not None
                balance -= cents(r["ADJUSTMENTS"])
            elif kind == "TRANSFERIN":
                transfer_out = rows[int(r["TRANSFEROUTID"])]
                assert transfer_out["TYPE"] == "TRANSFEROUT"
                assert cents(r["AMOUNT"]) == cents(transfer_out["TRANSFERS"]) == balance
            else:
                assert kind == "TRANSFEROUT", r
            assert cents(r["OUTSTANDING"]) == balance, r
        outstanding += balance or 0
        assert charges == payments + adjustments + outstanding, claim_id
        assert outstanding == 0  # no secondary payer yet: the patient settles every line


def test_patient_totals_cover_their_transactions(run: Run) -> None:
    """HEALTHCARE_EXPENSES / _COVERAGE sum the claims' patient / payer parts over the whole
    life, so the claims of the 10 years written give a lower bound."""
    check_patient_totals(run, whole_life=False)


def test_patient_totals_are_their_claims_over_whole_lives(tmp_path: pathlib.Path) -> None:
    check_patient_totals(read_run(simulate(tmp_path, "--years-of-history", "0")),
                         whole_life=True)


def check_patient_totals(run: Run, whole_life: bool) -> None:
    """Report lines are billed but have no transactions (§3.18), so the transactions give a
    lower bound even over whole lives."""
    paid_by_patient: Counter[str] = Counter()
    paid_by_payer: Counter[str] = Counter()
    for r in run.tables["claims_transactions"]:
        if r["TYPE"] == "PAYMENT":
            target = paid_by_patient if r["METHOD"] in PATIENT_METHODS else paid_by_payer
            target[r["PATIENTID"]] += cents(r["PAYMENTS"])
    covered_by_encounters: Counter[str] = Counter()
    costs: Counter[str] = Counter()  # what the rows say was done and dispensed
    for e in run.tables["encounters"]:
        covered_by_encounters[e["PATIENT"]] += cents(e["PAYER_COVERAGE"])
        costs[e["PATIENT"]] += cents(e["TOTAL_CLAIM_COST"])
    for m in run.tables["medications"]:
        covered_by_encounters[m["PATIENT"]] += cents(m["PAYER_COVERAGE"])
        costs[m["PATIENT"]] += cents(m["TOTALCOST"])  # BASE_COST x DISPENSES
    total_expenses = 0
    for p in run.tables["patients"]:
        expenses, coverage = cents(p["HEALTHCARE_EXPENSES"]), cents(p["HEALTHCARE_COVERAGE"])
        assert expenses >= paid_by_patient[p["Id"]], p
        assert coverage >= paid_by_payer[p["Id"]], p
        if whole_life:
            assert coverage == covered_by_encounters[p["Id"]], p
            # every dispense is billed: patient and payers paid what the rows cost
            assert expenses + coverage == costs[p["Id"]], p
        else:
            assert coverage >= covered_by_encounters[p["Id"]], p
        total_expenses += expenses
    assert total_expenses > 0


def test_claims_do_not_depend_on_the_number_of_workers(run: Run, tmp_path: pathlib.Path) -> None:
    if "default" not in run.directory.parent.name:
        pytest.skip("checked once, on the project's modules")
    parallel = simulate(tmp_path, "-w", "2", "--shard-size", "4")
    for stem in ("claims", "claims_transactions", "patients", "encounters"):
        expected = (run.directory / f"{stem}.csv").read_bytes()
        assert (parallel / f"{stem}.csv").read_bytes() == expected, stem
