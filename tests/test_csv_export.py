"""Tests of the CSV exporter (reference: docs/csv-export.md)."""

from __future__ import annotations

import datetime as dt
import pathlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.export.csv import (
    CSV_FILES,
    RUN_LEVEL_FILES,
    CsvWriter,
    dispenses,
    record_rows,
)
from simulator.export.csv_text import (
    clean,
    format_date,
    format_datetime,
    format_decimal1,
    format_money,
)
from simulator.record import (
    Allergy,
    CarePlan,
    Claim,
    ClaimLine,
    Code,
    Condition,
    Device,
    Encounter,
    Entry,
    HealthRecord,
    ImagingInstance,
    ImagingSeries,
    ImagingStudy,
    Immunization,
    Medication,
    Observation,
    Patient,
    Procedure,
    Reaction,
    Report,
    Supply,
)

DAY = 86_400_000
SNOMED_URI = "http://snomed.info/sct"


def ms(text: str) -> int:
    """ISO local date-time text, read as UTC, to epoch milliseconds (independent of the
    exporter's own date code)."""
    value = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def snomed(code: str, display: str) -> Code:
    return Code("SNOMED-CT", code, display)


# --------------------------------------------------------------------------------------------
# Headers
# --------------------------------------------------------------------------------------------

EXPECTED_HEADERS = {
    "patients": "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,"
    "MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,"
    "LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME",
    "encounters": "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,"
    "DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,"
    "REASONDESCRIPTION",
    "conditions": "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION",
    "allergies": "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,"
    "DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2",
    "medications": "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,"
    "PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION",
    "observations": "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE",
    "procedures": "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,"
    "REASONDESCRIPTION",
    "immunizations": "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST",
    "careplans": "Id,START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,REASONCODE,REASONDESCRIPTION",
    "imaging_studies": "Id,DATE,PATIENT,ENCOUNTER,SERIES_UID,BODYSITE_CODE,BODYSITE_DESCRIPTION,"
    "MODALITY_CODE,MODALITY_DESCRIPTION,INSTANCE_UID,SOP_CODE,SOP_DESCRIPTION,PROCEDURE_CODE",
    "devices": "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI",
    "supplies": "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,QUANTITY",
    "claims": "Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,"
    "DEPARTMENTID,PATIENTDEPARTMENTID,DIAGNOSIS1,DIAGNOSIS2,DIAGNOSIS3,DIAGNOSIS4,DIAGNOSIS5,"
    "DIAGNOSIS6,DIAGNOSIS7,DIAGNOSIS8,REFERRINGPROVIDERID,APPOINTMENTID,CURRENTILLNESSDATE,"
    "SERVICEDATE,SUPERVISINGPROVIDERID,STATUS1,STATUS2,STATUSP,OUTSTANDING1,OUTSTANDING2,"
    "OUTSTANDINGP,LASTBILLEDDATE1,LASTBILLEDDATE2,LASTBILLEDDATEP,HEALTHCARECLAIMTYPEID1,"
    "HEALTHCARECLAIMTYPEID2",
    "claims_transactions": "ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,METHOD,FROMDATE,TODATE,"
    "PLACEOFSERVICE,PROCEDURECODE,MODIFIER1,MODIFIER2,DIAGNOSISREF1,DIAGNOSISREF2,DIAGNOSISREF3,"
    "DIAGNOSISREF4,UNITS,DEPARTMENTID,NOTES,UNITAMOUNT,TRANSFEROUTID,TRANSFERTYPE,PAYMENTS,"
    "ADJUSTMENTS,TRANSFERS,OUTSTANDING,APPOINTMENTID,LINENOTE,PATIENTINSURANCEID,FEESCHEDULEID,"
    "PROVIDERID,SUPERVISINGPROVIDERID",
    "payer_transitions": "PATIENT,MEMBERID,START_DATE,END_DATE,PAYER,SECONDARY_PAYER,PLAN_OWNERSHIP,"
    "OWNER_NAME",
    "organizations": "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION",
    "providers": "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,"
    "PROCEDURES",
    "payers": "Id,NAME,OWNERSHIP,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,"
    "AMOUNT_UNCOVERED,REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,COVERED_MEDICATIONS,"
    "UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,UNCOVERED_PROCEDURES,COVERED_IMMUNIZATIONS,"
    "UNCOVERED_IMMUNIZATIONS,UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS",
}


def test_headers_exact_and_in_reference_order() -> None:
    assert list(CSV_FILES) == list(EXPECTED_HEADERS)
    for stem, header in EXPECTED_HEADERS.items():
        assert ",".join(CSV_FILES[stem]) == header


REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "csv-export.md"


def _expand_columns(number: str, cell: str) -> list[str]:
    """Column names of one table row: "`X`", or a range row "8–15 | `DIAGNOSIS1` … `DIAGNOSIS8`"."""
    names = re.findall(r"`([^`]+)`", cell)
    bounds = re.fullmatch(r"(\d+)\s*[–-]\s*(\d+)", number)
    if bounds is None:
        assert len(names) == 1, (number, cell)
        return names
    first, last = (re.fullmatch(r"(\D+)(\d+)", name) for name in names)
    assert first is not None and last is not None and first[1] == last[1], cell
    columns = [f"{first[1]}{i}" for i in range(int(first[2]), int(last[2]) + 1)]
    assert len(columns) == int(bounds[2]) - int(bounds[1]) + 1, (number, cell)
    return columns


def reference_headers(text: str) -> dict[str, list[str]]:
    """{file stem: columns} from the "### 3.N name.csv" sections' first tables."""
    headers: dict[str, list[str]] = {}
    for section in re.split(r"^#+ ", text, flags=re.MULTILINE):
        title = re.match(r"3\.\d+ (\w+)\.csv", section)
        if title is None:
            continue
        columns: list[str] = []
        numbers: list[int] = []
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("|") or len(cells) < 2 or not cells[0][:1].isdigit():
                if columns and not line.startswith("|"):
                    break  # the column table ended
                continue
            expanded = _expand_columns(cells[0], cells[1])
            start = int(re.match(r"\d+", cells[0])[0])  # type: ignore[index]
            numbers.extend(range(start, start + len(expanded)))
            columns.extend(expanded)
        stem = title[1]
        assert numbers == list(range(1, len(columns) + 1)), stem  # no row missed
        headers[stem] = columns
    return headers


def test_headers_match_reference_document() -> None:
    # The project's own document: every table, every column, in the exporter's order.
    documented = reference_headers(REFERENCE.read_text(encoding="utf-8"))
    assert set(documented) == set(CSV_FILES)
    for stem, columns in CSV_FILES.items():
        assert list(columns) == documented[stem], stem


def test_reference_header_parser_sees_drift() -> None:
    text = (
        "## 3. Columns\n### 3.1 a.csv\n\n| # | Column | Content |\n|---|---|---|\n| 1 | `Id` | x |\n"
        "| 2–4 | `D1` … `D3` | y |\n| 5 | `Z` | z |\n\nprose | with a bar\n"
        "### 3.2 b.csv\n| # | Column |\n|---|---|\n| 1 | `A` |\n| 3 | `C` |\n"
    )
    with pytest.raises(AssertionError):
        reference_headers(text)  # b.csv skips column 2
    good = reference_headers(text.split("### 3.2")[0])
    assert good == {"a": ["Id", "D1", "D2", "D3", "Z"]}


# --------------------------------------------------------------------------------------------
# Formatting primitives
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("plain", "plain"),
        ("Boston, Massachusetts, US", "Boston  Massachusetts  US"),
        ("a\r\nb", "a b"),
        ("a\rb\nc", "a b c"),
        ("a\n\nb", "a  b"),
        (" ,x, ", "x"),
        ("\t x \x00", "x"),
        ("x\u00a0", "x\u00a0"),  # Java trim() only strips chars <= U+0020
    ],
)
def test_clean(raw: str | None, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    ("when", "date", "datetime"),
    [
        ("2019-03-04T07:12:45.999", "2019-03-04", "2019-03-04T07:12:45Z"),
        ("1970-01-01T00:00:00", "1970-01-01", "1970-01-01T00:00:00Z"),
        ("1969-12-31T23:59:59.999", "1969-12-31", "1969-12-31T23:59:59Z"),
        ("1969-12-31T23:59:59.001", "1969-12-31", "1969-12-31T23:59:59Z"),
        ("1901-02-03T04:05:06.700", "1901-02-03", "1901-02-03T04:05:06Z"),
        ("2100-12-31T23:59:59", "2100-12-31", "2100-12-31T23:59:59Z"),
    ],
)
def test_dates(when: str, date: str, datetime: str) -> None:
    assert format_date(ms(when)) == date
    assert format_datetime(ms(when)) == datetime


def test_negative_millisecond_is_floored() -> None:
    assert format_datetime(-1) == "1969-12-31T23:59:59Z"
    assert format_date(-1) == "1969-12-31"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0.00"),
        (0, "0.00"),
        (136.0, "136.00"),
        (0.125, "0.13"),  # exact tie -> half-up (Python alone would give 0.12)
        (0.375, "0.38"),
        (2.675, "2.67"),  # binary value is below the tie
        (1.005, "1.00"),
        (1234.565, "1234.57"),  # binary value is above the tie
        (-0.125, "-0.13"),
        (1e6, "1000000.00"),
    ],
)
def test_money(value: float, expected: str) -> None:
    assert format_money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (98.25, "98.3"),  # exact tie -> half-up
        (98.35, "98.3"),  # binary 98.3499999...
        (0.25, "0.3"),
        (0.05, "0.1"),
        (120.0, "120.0"),
        (-1.25, "-1.3"),
        (float("nan"), "NaN"),
    ],
)
def test_decimal1(value: float, expected: str) -> None:
    assert format_decimal1(value) == expected


# --------------------------------------------------------------------------------------------
# A hand-built record
# --------------------------------------------------------------------------------------------

T1 = ms("2019-03-04T07:12:45.123")
T1_TEXT = "2019-03-04T07:12:45Z"
T1_STOP = T1 + 15 * 60_000
T1_STOP_TEXT = "2019-03-04T07:27:45Z"
T2 = ms("1969-12-31T23:59:59.500")  # pre-1970: negative time
T2_TEXT = "1969-12-31T23:59:59Z"
END = ms("2020-01-01T00:00:00")


def make_patient() -> Patient:
    return Patient(
        id="p-1",
        birthdate=ms("1965-07-15T10:00:00"),
        gender="F",
        race="white",
        ethnicity="nonhispanic",
        ssn="999-12-3456",
        drivers="S99912345",
        passport="X12345678X",
        prefix="Mrs.",
        first="Jane123",
        middle="Q",
        last="Doe456",
        suffix="",
        maiden="Roe789",
        marital="M",
        birthplace="Boston, Massachusetts, US",
        address="1 Main St\r\nApt 2",
        city="Springfield",
        state="Massachusetts",
        county="Hampden County",
        fips="25013",
        zip="01101",
        lat=42.36134718321357,
        lon=-71.0,
        income=52000,
    )


def make_record() -> HealthRecord:
    bp_panel = Observation(
        id="obs-bp",
        start=T1,
        codes=[Code("LOINC", "85354-9", "Blood pressure panel")],
        value=None,
        category="vital-signs",
        children=[
            Observation("obs-dia", T1, [Code("LOINC", "8462-4", "Diastolic Blood Pressure")],
                        value=80.0, unit="mm[Hg]", category="vital-signs"),
            Observation("obs-sys", T1, [Code("LOINC", "8480-6", "Systolic Blood Pressure")],
                        value=120.0, unit="mm[Hg]", category="vital-signs"),
            Observation("obs-null-child", T1, [Code("LOINC", "0-0", "No value")], value=None),
        ],
    )  # fmt: skip
    lab = Observation(
        "obs-lab", T1, [Code("LOINC", "2339-0", "Glucose")], value=98.25, unit="mg/dL",
        category="laboratory",
    )  # fmt: skip
    report = Report(
        "rep-1", T1, [Code("LOINC", "51990-0", "Basic Metabolic Panel")], observations=[lab],
        cost=10.001,
    )  # fmt: skip
    e1 = Encounter(
        id="e-1",
        start=T1,
        stop=T1_STOP,
        codes=[snomed("410620009", "Well child visit (procedure)")],
        encounter_class="wellness",
        organization_id="org-1",
        clinician_id="clin-1",
        payer_id="payer-1",
        base_cost=136.8,
        observations=[
            Observation("obs-h", T1, [Code("LOINC", "8302-2", "Body Height")], value=172.3456,
                        unit="cm", category="vital-signs"),
            bp_panel,
            lab,
            Observation("obs-int", T1, [Code("LOINC", "1-1", "Count")], value=3),
            Observation("obs-bool", T1, [Code("LOINC", "2-2", "Flag")], value=True,
                        category="exam"),
            Observation("obs-false", T1, [Code("LOINC", "2-3", "Flag2")], value=False),
            Observation("obs-code", T1, [Code("LOINC", "72166-2", "Tobacco smoking status")],
                        value=snomed("266919005", "Never smoked tobacco, (finding)"),
                        category="survey"),
            Observation("obs-str", T1, [Code("LOINC", "3-3", "Note")],
                        value="line one,\nline two ", unit="{text, here}"),
            Observation("obs-sampled", T1, [Code("LOINC", "4-4", "ECG")],
                        value=[1.5, 2.0, -0.25], category="procedure"),
            Observation("obs-null", T1, [Code("LOINC", "5-5", "Nothing")], value=None),
        ],
        reports=[report],
        conditions=[
            Condition("c-1", T1, [snomed("444814009", "Viral sinusitis (disorder)")],
                      stop=T1 + 10 * DAY),
            Condition("c-2", T1, [Code("ICD10-CM", "J01.90", "Acute sinusitis, unspecified")]),
            Condition("c-3", T1, [Code("http://example.org/cs", "X1", "Other\r\nsystem")]),
        ],
        allergies=[
            Allergy("a-1", T1, [Code("RxNorm", "7984", "Penicillin V")],
                    allergy_type="allergy", category="medication",
                    reactions=[
                        Reaction(snomed("271807003", "Eruption of skin (disorder)"), "mild"),
                        Reaction(snomed("39579001", "Anaphylaxis, (disorder)"), "severe"),
                        Reaction(snomed("878820003", "Rhinoconjunctivitis"), "moderate"),
                    ]),
            Allergy("a-2", T1, [Code("http://snomed.info/sct", "91935009", "Peanut")],
                    stop=T1 + DAY, allergy_type="intolerance", category="food",
                    reactions=[Reaction(snomed("247472004", "Wheal (finding)"), "moderate")]),
            Allergy("a-3", T1, [Code("local", "9", "Dust")]),
        ],
        procedures=[
            Procedure("pr-1", T1, [snomed("430193006", "Medication reconciliation")],
                      stop=T1_STOP, cost=516.65,
                      reasons=[snomed("444814009", "Viral sinusitis, (disorder)")]),
            Procedure("pr-2", T1, [Code("CDT", "D1110", "Prophylaxis - adult")], cost=0.125),
        ],
        immunizations=[
            Immunization("i-1", T1, [Code("CVX", "140", "Influenza, seasonal")], cost=140.52),
        ],
        careplans=[
            CarePlan("cp-1", T1, [snomed("699728000", " Asthma self management ")],
                     stop=T1 + 30 * DAY,
                     reasons=[snomed("195967001", "Asthma, (disorder)")]),
            CarePlan("cp-2", T1, [snomed("53950000", "Respiratory therapy")]),
        ],
        imaging_studies=[
            ImagingStudy(
                "img-1", T1, [snomed("399208008", "Plain X-ray of chest")], uid="1.2.3",
                series=[
                    ImagingSeries(
                        "1.2.3.1", snomed("51185008", "Thoracic structure"),
                        Code("DICOM-DCM", "CR", "Computed Radiography"),
                        [
                            ImagingInstance("1.2.3.1.1", "PA",
                                            Code("DICOM-SOP", "1.2.840.10008.5.1.4.1.1.1.1",
                                                 "Digital X-Ray Image Storage")),
                            ImagingInstance("1.2.3.1.2", "LAT",
                                            Code("DICOM-SOP", "1.2.840.10008.5.1.4.1.1.1.1",
                                                 "Digital X-Ray Image Storage")),
                        ],
                    ),
                    ImagingSeries(
                        "1.2.3.2", snomed("8205005", "Wrist"),
                        Code("DICOM-DCM", "DX", "Digital Radiography"),
                        [ImagingInstance("1.2.3.2.1", "AP",
                                         Code("DICOM-SOP", "1.2.840.10008.5.1.4.1.1.1",
                                              "Digital X-Ray"))],
                    ),
                ],
            )
        ],
        devices=[
            Device("d-1", T1, [snomed("706180003", "Tracheal tube, device")],
                   udi="(01)12345(11)190304(17)440304(10)123(21)456"),
        ],
        supplies=[Supply("s-1", T1, [snomed("419343004", "Disposable\nair filter")],
                         quantity=5)],
    )  # fmt: skip
    e2 = Encounter(
        id="e-2",
        start=T2,
        codes=[snomed("185345009", "Encounter for symptom")],
        encounter_class="ambulatory",
        reason=snomed("10509002", "Acute bronchitis, (disorder)"),
        base_cost=0.125,
        medications=[
            Medication("m-1", T2, [Code("RxNorm", "834060", "Penicillin V 250 MG, Oral Tablet")],
                       stop=T2 + 95 * DAY, prescription={"refills": 3}, cost=3.339,
                       reasons=[snomed("10509002", "Acute bronchitis, (disorder)")]),
            Medication("m-2", T2, [Code("RxNorm", "2", "Two")], stop=T2 + 95 * DAY,
                       prescription={"duration": {"quantity": 30, "unit": "days"}}, cost=10.1),
            Medication("m-3", T2, [Code("RxNorm", "3", "Three")], cost=0.29,
                       prescription={"duration": {"quantity": 2, "unit": "months"}}),
            Medication("m-4", T2, [Code("RxNorm", "4", "Four")], stop=T2 + 29 * DAY, cost=1.0),
            Medication("m-5", T2, [Code("RxNorm", "5", "Five")], administration=True,
                       cost=255.0),
        ],
    )  # fmt: skip
    return HealthRecord(patient=make_patient(), index=0, end_time=END, encounters=[e1, e2])


def test_patient_row() -> None:
    rows = record_rows(make_record())
    assert rows["patients"] == [
        "p-1,1965-07-15,,999-12-3456,S99912345,X12345678X,Mrs.,Jane123,Q,Doe456,,Roe789,M,white,"
        "nonhispanic,F,Boston  Massachusetts  US,1 Main St Apt 2,Springfield,Massachusetts,"
        # expenses and coverage come from the claims (none here), not the Patient fields
        "Hampden County,25013,01101,42.36134718321357,-71.0,0.00,0.00,52000"
    ]


def test_patient_row_dead_and_missing_values() -> None:
    patient = Patient(
        id="p-2",
        birthdate=ms("1900-02-28T23:59:59.999"),
        gender="M",
        race="black",
        ethnicity="hispanic",
        deathdate=ms("1969-06-30T12:00:00"),
        city=" Lowell ,",
    )
    line = record_rows(HealthRecord(patient=patient))["patients"][0]
    assert line == (
        "p-2,1900-02-28,1969-06-30,,,,,,,,,,,black,hispanic,M,,,Lowell,,,,,,,0.00,0.00,"
    )


def test_encounter_rows() -> None:
    rows = record_rows(make_record())
    # total = 136.8 + 516.65 + 0.125 (procedures) + 140.52 (immunization) + 10.001 (report)
    assert rows["encounters"] == [
        f"e-1,{T1_TEXT},{T1_STOP_TEXT},p-1,org-1,clin-1,payer-1,wellness,410620009,"
        "Well child visit (procedure),136.80,804.10,0.00,,",
        f"e-2,{T2_TEXT},,p-1,,,,ambulatory,185345009,Encounter for symptom,0.13,0.13,0.00,"
        "10509002,Acute bronchitis  (disorder)",
    ]


def test_condition_rows_use_system_uris() -> None:
    rows = record_rows(make_record())
    assert rows["conditions"] == [
        f"2019-03-04,2019-03-14,p-1,e-1,{SNOMED_URI},444814009,Viral sinusitis (disorder)",
        "2019-03-04,,p-1,e-1,http://hl7.org/fhir/sid/icd-10-cm,J01.90,Acute sinusitis  unspecified",
        "2019-03-04,,p-1,e-1,http://example.org/cs,X1,Other system",
    ]


def test_allergy_rows_sorted_reactions_and_short_systems() -> None:
    rows = record_rows(make_record())
    assert rows["allergies"] == [
        "2019-03-04,,p-1,e-1,7984,RxNorm,Penicillin V,allergy,medication,"
        "39579001,Anaphylaxis  (disorder),SEVERE,878820003,Rhinoconjunctivitis,MODERATE",
        "2019-03-04,2019-03-05,p-1,e-1,91935009,SNOMED-CT,Peanut,intolerance,food,"
        "247472004,Wheal (finding),MODERATE,,,",
        "2019-03-04,,p-1,e-1,9,Unknown,Dust,,,,,,,,",
    ]


def test_allergy_reaction_sort_is_stable() -> None:
    record = HealthRecord(
        patient=make_patient(),
        encounters=[
            Encounter(
                "e", 0, [snomed("1", "E")],
                allergies=[Allergy("a", 0, [Code("SNOMED-CT", "2", "A")], reactions=[
                    Reaction(snomed("r1", "R1"), "mild"),
                    Reaction(snomed("r2", "R2"), "moderate"),
                    Reaction(snomed("r3", "R3"), "moderate"),
                ])],
            )
        ],
    )  # fmt: skip
    line = record_rows(record)["allergies"][0]
    assert line.endswith(",r2,R2,MODERATE,r3,R3,MODERATE")


def test_observation_rows() -> None:
    rows = record_rows(make_record())
    pe = f"{T1_TEXT},p-1,e-1"
    assert rows["observations"] == [
        f"{pe},vital-signs,8302-2,Body Height,172.3,cm,numeric",
        # panel: children instead (stored order), null child skipped
        f"{pe},vital-signs,8462-4,Diastolic Blood Pressure,80.0,mm[Hg],numeric",
        f"{pe},vital-signs,8480-6,Systolic Blood Pressure,120.0,mm[Hg],numeric",
        # report observation: written once (from encounter.observations)
        f"{pe},laboratory,2339-0,Glucose,98.3,mg/dL,numeric",
        f"{pe},,1-1,Count,3,,text",
        f"{pe},exam,2-2,Flag,true,,boolean",
        f"{pe},,2-3,Flag2,false,,boolean",
        f"{pe},survey,72166-2,Tobacco smoking status,Never smoked tobacco  (finding),,text",
        f"{pe},,3-3,Note,line one  line two,{{text  here}},text",
        f"{pe},procedure,4-4,ECG,1.5 2.0 -0.25,,text",
    ]


def test_procedure_rows() -> None:
    rows = record_rows(make_record())
    assert rows["procedures"] == [
        f"{T1_TEXT},{T1_STOP_TEXT},p-1,e-1,{SNOMED_URI},430193006,Medication reconciliation,"
        "516.65,444814009,Viral sinusitis  (disorder)",
        f"{T1_TEXT},,p-1,e-1,http://www.ada.org/cdt,D1110,Prophylaxis - adult,0.13,,",
    ]


def test_medication_rows() -> None:
    rows = record_rows(make_record())
    stop95 = format_datetime(T2 + 95 * DAY)
    assert stop95 == "1970-04-05T23:59:59Z"
    # m-3 open: END - T2 = 18262 days (1970-01-01 .. 2020-01-01) + 0.5 s -> / 60 days = 304
    assert rows["medications"] == [
        f"{T2_TEXT},{stop95},p-1,,e-2,834060,Penicillin V 250 MG  Oral Tablet,3.34,0.00,3,"
        "10.01,10509002,Acute bronchitis  (disorder)",
        f"{T2_TEXT},{stop95},p-1,,e-2,2,Two,10.10,0.00,3,30.30,,",
        f"{T2_TEXT},,p-1,,e-2,3,Three,0.29,0.00,304,88.16,,",
        f"{T2_TEXT},1970-01-29T23:59:59Z,p-1,,e-2,4,Four,1.00,0.00,1,1.00,,",
        f"{T2_TEXT},{T2_TEXT},p-1,,e-2,5,Five,255.00,0.00,1,255.00,,",
    ]


def test_medication_end_time_argument_and_payer() -> None:
    record = make_record()
    record.encounters[1].payer_id = "payer-9"
    rows = record_rows(record, end_time=T2 + 125 * DAY)
    assert rows["medications"][2] == f"{T2_TEXT},,p-1,payer-9,e-2,3,Three,0.29,0.00,2,0.58,,"


@pytest.mark.parametrize(
    ("prescription", "stop_days", "expected"),
    [
        ({"refills": 11}, 10, 11),
        ({"refills": 0}, 400, 1),  # minimum 1
        ({"refills": 2, "duration": {"quantity": 1, "unit": "days"}}, 400, 2),  # refills win
        ({"duration": {"quantity": 30, "unit": "days"}}, 89, 2),
        ({"duration": {"quantity": 30, "unit": "days"}}, 90, 3),
        ({"duration": {"quantity": 1, "unit": "years"}}, 729, 1),  # 365-day years
        ({"duration": {"quantity": 1, "unit": "years"}}, 730, 2),
        ({"duration": {"quantity": 2, "unit": "weeks"}}, 43, 3),
        ({"duration": {"quantity": 1, "unit": "months"}}, 61, 2),  # 30-day months
        ({"duration": {"quantity": 12, "unit": "hours"}}, 3, 6),
        ({"duration": {"quantity": 1.9, "unit": "days"}}, 3, 3),  # quantity truncated
        ({"dosage": {"amount": 1}}, 59, 1),
        (None, 60, 2),
        (None, 0, 1),
    ],
)
def test_dispenses_rule(prescription: dict | None, stop_days: int, expected: int) -> None:
    med = Medication("m", T1, [Code("RxNorm", "1", "x")], stop=T1 + stop_days * DAY,
                     prescription=prescription)  # fmt: skip
    assert dispenses(med, END) == expected


def test_dispenses_open_medication_uses_end_time() -> None:
    med = Medication("m", T1, [Code("RxNorm", "1", "x")], prescription=None)
    assert dispenses(med, T1 + 95 * DAY) == 3


def test_immunization_rows() -> None:
    rows = record_rows(make_record())
    assert rows["immunizations"] == [f"{T1_TEXT},p-1,e-1,140,Influenza  seasonal,140.52"]


def test_careplan_rows_description_not_cleaned() -> None:
    rows = record_rows(make_record())
    assert rows["careplans"] == [
        "cp-1,2019-03-04,2019-04-03,p-1,e-1,699728000, Asthma self management ,"
        "195967001,Asthma  (disorder)",
        "cp-2,2019-03-04,,p-1,e-1,53950000,Respiratory therapy,,",
    ]


def test_imaging_rows_one_per_instance() -> None:
    rows = record_rows(make_record())
    head = f"img-1,{T1_TEXT},p-1,e-1"
    assert rows["imaging_studies"] == [
        f"{head},1.2.3.1,51185008,Thoracic structure,CR,Computed Radiography,1.2.3.1.1,"
        "1.2.840.10008.5.1.4.1.1.1.1,Digital X-Ray Image Storage,399208008",
        f"{head},1.2.3.1,51185008,Thoracic structure,CR,Computed Radiography,1.2.3.1.2,"
        "1.2.840.10008.5.1.4.1.1.1.1,Digital X-Ray Image Storage,399208008",
        f"{head},1.2.3.2,8205005,Wrist,DX,Digital Radiography,1.2.3.2.1,"
        "1.2.840.10008.5.1.4.1.1.1,Digital X-Ray,399208008",
    ]


def test_device_and_supply_rows() -> None:
    rows = record_rows(make_record())
    assert rows["devices"] == [
        f"{T1_TEXT},,p-1,e-1,706180003,Tracheal tube  device,"
        "(01)12345(11)190304(17)440304(10)123(21)456"
    ]
    assert rows["supplies"] == ["2019-03-04,p-1,e-1,419343004,Disposable air filter,5"]


def test_every_file_present_and_column_counts() -> None:
    rows = record_rows(make_record())
    assert list(rows) == [f for f in CSV_FILES if f not in RUN_LEVEL_FILES]
    for stem, lines in rows.items():
        for line in lines:
            assert line.count(",") == len(CSV_FILES[stem]) - 1, (stem, line)
            assert "\n" not in line and "\r" not in line


def test_rows_follow_encounter_order() -> None:
    record = make_record()
    record.encounters.reverse()
    rows = record_rows(record)
    assert [line.split(",")[0] for line in rows["encounters"]] == ["e-2", "e-1"]


def test_empty_record() -> None:
    rows = record_rows(HealthRecord(patient=make_patient()))
    assert len(rows["patients"]) == 1
    assert all(not lines for stem, lines in rows.items() if stem != "patients")


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------


def test_writer_writes_headers_and_lines(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out" / "csv"
    rows = record_rows(make_record())
    with CsvWriter(out) as writer:
        writer.write_lines(rows)
        writer.write_lines(rows)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.csv" for s in CSV_FILES)
    for stem, header in EXPECTED_HEADERS.items():
        data = (out / f"{stem}.csv").read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        assert b"\r" not in data
        lines = rows.get(stem, [])
        expected = "".join(line + "\n" for line in [header, *lines, *lines])
        assert data.decode("utf-8") == expected


def test_writer_selected_files(tmp_path: pathlib.Path) -> None:
    writer = CsvWriter(tmp_path, files=["Patients.CSV", "encounters"])
    writer.write_lines(record_rows(make_record()))
    writer.close()
    writer.close()  # idempotent
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encounters.csv", "patients.csv"]
    assert len((tmp_path / "encounters.csv").read_text().splitlines()) == 3
    with pytest.raises(ValueError):
        writer.write_lines({"patients": ["x"]})


def test_writer_unknown_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError):
        CsvWriter(tmp_path, files=["nope"])


def test_writer_utf8(tmp_path: pathlib.Path) -> None:
    patient = make_patient()
    patient.first = "Zoë"
    patient.birthplace = "São Paulo, SP, BR"
    with CsvWriter(tmp_path, files=["patients"]) as writer:
        writer.write_lines(record_rows(HealthRecord(patient=patient)))
    text = (tmp_path / "patients.csv").read_bytes().decode("utf-8")
    assert ",Zoë," in text and ",São Paulo  SP  BR," in text


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

any_text = st.text(max_size=30)
nasty_text = st.text(alphabet=st.sampled_from(list("ab ,\r\n\t\x0b\u2028é")), max_size=12)
free_text = st.one_of(any_text, nasty_text)
# Columns the reference does not clean hold tokens without separators.
token = st.text(alphabet=st.characters(exclude_characters=",\r\n"), max_size=12)
times = st.integers(min_value=ms("1850-01-01T00:00:00"), max_value=ms("2150-01-01T00:00:00"))
opt_times = st.none() | times
money = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False) | st.integers(0, 10**6)
systems = st.sampled_from(["SNOMED-CT", "LOINC", "RxNorm", "CVX", "DICOM-DCM", "x", ""])
codes = st.builds(Code, systems, token, free_text)
code_lists = st.lists(codes, min_size=1, max_size=2)
clean_only_codes = st.builds(Code, systems, token, token)  # for uncleaned description columns
values = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    free_text,
    codes,
    st.lists(st.floats(-1e3, 1e3), max_size=4),
)


def _observations(depth: int) -> st.SearchStrategy[Observation]:
    children = st.lists(_observations(depth - 1), max_size=3) if depth > 0 else st.just([])
    return st.builds(
        Observation,
        id=token,
        start=times,
        codes=code_lists,
        value=values,
        unit=free_text,
        category=st.none() | token,
        children=children,
    )


entry_kwargs = {"id": token, "start": times, "codes": code_lists, "stop": opt_times}
encounters = st.builds(
    Encounter,
    **entry_kwargs,
    encounter_class=token,
    reason=st.none() | codes,
    organization_id=st.none() | token,
    clinician_id=st.none() | token,
    payer_id=st.none() | token,
    base_cost=money,
    observations=st.lists(_observations(1), max_size=3),
    reports=st.lists(st.builds(Report, **entry_kwargs, cost=money), max_size=2),
    conditions=st.lists(st.builds(Condition, **entry_kwargs), max_size=2),
    allergies=st.lists(
        st.builds(
            Allergy,
            **entry_kwargs,
            allergy_type=st.none() | token,
            category=st.none() | token,
            reactions=st.lists(
                st.builds(Reaction, codes, st.sampled_from(["mild", "moderate", "severe"])),
                max_size=3,
            ),
        ),
        max_size=2,
    ),
    procedures=st.lists(
        st.builds(Procedure, **entry_kwargs, reasons=st.lists(codes, max_size=2), cost=money),
        max_size=2,
    ),
    immunizations=st.lists(st.builds(Immunization, **entry_kwargs, cost=money), max_size=2),
    medications=st.lists(
        st.builds(
            Medication,
            **entry_kwargs,
            reasons=st.lists(codes, max_size=2),
            prescription=st.none()
            | st.fixed_dictionaries(
                {},
                optional={
                    "refills": st.integers(0, 20),
                    "duration": st.fixed_dictionaries(
                        {
                            "quantity": st.integers(0, 100),
                            "unit": st.sampled_from(["days", "weeks", "months", "years"]),
                        }
                    ),
                },
            ),
            administration=st.booleans(),
            cost=st.floats(min_value=0, max_value=1e6),
        ),
        max_size=2,
    ),
    careplans=st.lists(
        st.builds(
            CarePlan,
            id=token,
            start=times,
            codes=st.lists(clean_only_codes, min_size=1, max_size=2),
            stop=opt_times,
            reasons=st.lists(codes, max_size=2),
        ),
        max_size=2,
    ),
    imaging_studies=st.lists(
        st.builds(
            ImagingStudy,
            **entry_kwargs,
            series=st.lists(
                st.builds(
                    ImagingSeries,
                    token,
                    clean_only_codes,
                    clean_only_codes,
                    st.lists(
                        st.builds(ImagingInstance, token, free_text, clean_only_codes), max_size=3
                    ),
                ),
                max_size=2,
            ),
        ),
        max_size=2,
    ),  # fmt: skip
    devices=st.lists(st.builds(Device, **entry_kwargs, udi=token), max_size=2),
    supplies=st.lists(st.builds(Supply, **entry_kwargs, quantity=st.integers(0, 100)), max_size=2),
)
patients = st.builds(
    Patient,
    id=token,
    birthdate=times,
    gender=free_text,
    race=free_text,
    ethnicity=free_text,
    deathdate=opt_times,
    ssn=free_text,
    drivers=free_text,
    passport=free_text,
    prefix=free_text,
    first=free_text,
    middle=free_text,
    last=free_text,
    suffix=free_text,
    maiden=free_text,
    marital=free_text,
    birthplace=free_text,
    address=free_text,
    city=free_text,
    state=free_text,
    county=free_text,
    fips=free_text,
    zip=free_text,
    lat=st.none() | st.floats(allow_nan=False),
    lon=st.none() | st.floats(allow_nan=False),
    income=st.none() | st.integers(0, 10**7),
)
records = st.builds(
    HealthRecord,
    patient=patients,
    end_time=times,
    encounters=st.lists(encounters, max_size=3),
)


@given(free_text)
def test_clean_has_no_separators(text: str) -> None:
    out = clean(text)
    assert "," not in out and "\n" not in out and "\r" not in out
    assert out == out.strip("".join(chr(i) for i in range(33)))
    assert clean(out) == out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_every_line_has_header_column_count(record: HealthRecord) -> None:
    rows = record_rows(record)
    assert list(rows) == [f for f in CSV_FILES if f not in RUN_LEVEL_FILES]
    for stem, lines in rows.items():
        width = len(CSV_FILES[stem])
        for line in lines:
            assert "\n" not in line and "\r" not in line
            assert len(line.split(",")) == width, (stem, line)
    assert len(rows["encounters"]) == len(record.encounters)
    assert len(rows["imaging_studies"]) == sum(
        len(series.instances)
        for e in record.encounters
        for study in e.imaging_studies
        for series in study.series
    )


# --------------------------------------------------------------------------------------------
# Claims and claim transactions (§3.17, §3.18)
# --------------------------------------------------------------------------------------------

KINDS = {"org-1": "hospital", "org-h": "hospital", "org-n": "nursing", "org-p": "primary_care"}


def kind_of(org_id: str) -> str | None:
    return KINDS.get(org_id)


def make_billed_record() -> HealthRecord:
    """make_record() with its encounters (and one medication) adjudicated."""
    record = make_record()
    e1, e2 = record.encounters
    e1.claim = Claim(
        "claim-e1", "payer-1",
        [
            ClaimLine("e-1", "encounter", 136.8, copay=20.0, deductible=50.0, coinsurance=13.36,
                      payer=53.44),
            ClaimLine("pr-1", "procedure", 516.65, coinsurance=103.33, payer=413.32),
            ClaimLine("pr-2", "procedure", 0.125, payer=0.12),  # cost truncated to 0.12
            ClaimLine("i-1", "immunization", 140.52, payer=140.52),
            ClaimLine("rep-1", "report", 10.001, payer=10.0),  # no transactions
        ],
        member_id="mem-1",
    )  # fmt: skip
    # uninsured: NO_INSURANCE payer, no member id, the patient pays everything
    e2.claim = Claim("claim-e2", "no-ins", [ClaimLine("e-2", "encounter", 0.125, coinsurance=0.12)])
    e2.medications[0].claim = Claim(
        "claim-m1", "no-ins", [ClaimLine("m-1", "medication", 3.339, coinsurance=3.33)]
    )
    return record


def tx_fields(line: str) -> dict[str, str]:
    return dict(zip(CSV_FILES["claims_transactions"], line.split(","), strict=True))


def claim_fields(line: str) -> dict[str, str]:
    return dict(zip(CSV_FILES["claims"], line.split(","), strict=True))


def test_claim_rows() -> None:
    rows = record_rows(make_billed_record(), organization_kind=kind_of)
    assert rows["claims"] == [
        # adult wellness (department 20), hospital (claim type 2), closed before END
        f"claim-e1,p-1,clin-1,payer-1,,20,20,444814009,J01.90,X1,,,,,,,e-1,{T1_TEXT},{T1_TEXT},"
        f"clin-1,CLOSED,CLOSED,CLOSED,0,0,0,{T1_STOP_TEXT},{T1_STOP_TEXT},{T1_STOP_TEXT},2,2",
        # uninsured: no primary id; no stop: billed, outstanding = covered / patient's part;
        # no organization: claim type 2; the reason code is the only diagnosis
        f"claim-e2,p-1,,,,1,1,10509002,,,,,,,,,e-2,{T2_TEXT},{T2_TEXT},,BILLED,BILLED,BILLED,"
        f"0.00,0.00,0.12,{T2_TEXT},{T2_TEXT},{T2_TEXT},2,2",
        # the medication's claim takes everything but its id and money from its encounter
        f"claim-m1,p-1,,,,1,1,10509002,,,,,,,,,e-2,{T2_TEXT},{T2_TEXT},,BILLED,BILLED,BILLED,"
        f"0.00,0.00,3.33,{T2_TEXT},{T2_TEXT},{T2_TEXT},2,2",
    ]


def test_transactions_of_an_insured_encounter_claim() -> None:
    rows = record_rows(make_billed_record(), organization_kind=kind_of)
    lines = [t for t in rows["claims_transactions"] if ",claim-e1," in t]
    mid = f"{T1_TEXT},{T1_STOP_TEXT},org-1,410620009,,,1,2,3,,1,20,Well child visit (procedure)"
    tail = "e-1,,mem-1,1,clin-1,clin-1"
    body = [line.split(",", 1)[1] for line in lines]  # without the ID
    assert body[:6] == [
        f"claim-e1,0,p-1,CHARGE,136.80,,{mid},136.80,,1,0.00,0.00,,136.80,{tail}",
        f"claim-e1,1,p-1,PAYMENT,,COPAY,{mid},0.00,,,20.00,0.00,,116.80,{tail}",
        f"claim-e1,2,p-1,PAYMENT,,ECHECK,{mid},0.00,,,53.44,0.00,,63.36,{tail}",
        f"claim-e1,3,p-1,TRANSFEROUT,,,{mid},0.00,,,0.00,0.00,63.36,63.36,{tail}",
        f"claim-e1,4,p-1,TRANSFERIN,63.36,,{mid},0.00,3,p,0.00,0.00,63.36,63.36,{tail}",
        f"claim-e1,5,p-1,PAYMENT,,CC,{mid},0.00,,,63.36,0.00,,0.00,{tail}",  # 5 mod 3 -> CC
    ]
    fields = [tx_fields(line) for line in lines]
    assert [(f["CHARGEID"], f["TYPE"], f["METHOD"], f["PROCEDURECODE"]) for f in fields[6:]] == [
        ("6", "CHARGE", "", "430193006"),
        ("7", "PAYMENT", "ECHECK", "430193006"),  # no copay on item lines
        ("8", "TRANSFEROUT", "", "430193006"),
        ("9", "TRANSFERIN", "", "430193006"),
        ("10", "PAYMENT", "CHECK", "430193006"),
        ("11", "CHARGE", "", "D1110"),
        ("12", "PAYMENT", "ECHECK", "D1110"),
        ("13", "CHARGE", "", "140"),
        ("14", "PAYMENT", "ECHECK", "140"),
    ]  # the report line has no transactions
    assert fields[9]["TRANSFEROUTID"] == "8"
    assert fields[11]["AMOUNT"] == "0.12" and fields[12]["OUTSTANDING"] == "0.00"
    # an entry without a stop: TODATE is the epoch (§3.18 quirk)
    assert fields[13]["FROMDATE"] == T1_TEXT and fields[13]["TODATE"] == "1970-01-01T00:00:00Z"
    assert fields[13]["NOTES"] == "Influenza  seasonal"


def test_transactions_of_uninsured_claims() -> None:
    rows = record_rows(make_billed_record(), organization_kind=kind_of)
    fields = [tx_fields(t) for t in rows["claims_transactions"] if ",claim-e1," not in t]
    assert [(f["CLAIMID"], f["CHARGEID"], f["TYPE"], f["METHOD"]) for f in fields] == [
        ("claim-e2", "0", "CHARGE", ""),
        ("claim-e2", "1", "PAYMENT", "CHECK"),  # no transfer to the patient when uninsured
        ("claim-m1", "0", "CHARGE", ""),
        ("claim-m1", "1", "PAYMENT", "CHECK"),
    ]
    charge, payment, med_charge, _ = fields
    assert charge["TRANSFERTYPE"] == "p" and charge["AMOUNT"] == "0.12"
    assert payment["PAYMENTS"] == "0.12" and payment["OUTSTANDING"] == "0.00"
    for f in fields:
        assert f["PLACEOFSERVICE"] == "null" and f["PROVIDERID"] == "null"
        assert f["SUPERVISINGPROVIDERID"] == "null" and f["PATIENTINSURANCEID"] == ""
        assert f["APPOINTMENTID"] == "e-2" and f["DIAGNOSISREF1"] == "1"
        assert f["DIAGNOSISREF2"] == "" and f["DEPARTMENTID"] == "1"
    assert charge["TODATE"] == "1970-01-01T00:00:00Z"  # the encounter has no stop
    assert med_charge["PROCEDURECODE"] == "834060"
    assert med_charge["NOTES"] == "Penicillin V 250 MG  Oral Tablet"
    assert med_charge["TODATE"] == format_datetime(T2 + 95 * DAY)


def test_transaction_ids_are_deterministic_and_unique() -> None:
    first = record_rows(make_billed_record(), organization_kind=kind_of)["claims_transactions"]
    again = record_rows(make_billed_record(), organization_kind=kind_of)["claims_transactions"]
    assert first == again
    ids = [line.split(",")[0] for line in first]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", i)
               for i in ids)  # fmt: skip
    # a claim's ids depend on its own id only, not on the rest of the record
    record = make_billed_record()
    record.encounters = record.encounters[1:]
    alone = record_rows(record, organization_kind=kind_of)["claims_transactions"]
    assert alone == [line for line in first if ",claim-e1," not in line]


def test_money_columns_from_claims() -> None:
    rows = record_rows(make_billed_record(), organization_kind=kind_of)
    # patient: 20 + 50 + 13.36 + 103.33 (e-1) + 0.12 (e-2) + 3.33 (m-1);
    # payers: 53.44 + 413.32 + 0.12 + 140.52 + 10.00 (the report line counts too)
    assert rows["patients"][0].endswith(",190.14,617.40,52000")
    e1, e2 = (line.split(",") for line in rows["encounters"])
    assert (e1[6], e1[12]) == ("payer-1", "617.40")
    assert (e2[6], e2[12]) == ("no-ins", "0.00")
    meds = [line.split(",") for line in rows["medications"]]
    assert [(m[3], m[8]) for m in meds] == [("no-ins", "0.00")] * 5


def test_medication_payer_coverage_is_the_claims_payer_amount() -> None:
    med = Medication("m", T1, [Code("RxNorm", "1", "x")], stop=T1_STOP, cost=50.0)
    med.claim = Claim(
        "claim-m",
        "payer-1",
        [ClaimLine("m", "medication", 50.0, copay=10.0, payer=40.0)],
        member_id="mem",
    )
    enc = Encounter("e", T1, [snomed("1", "E")], stop=T1_STOP, medications=[med])
    rows = record_rows(HealthRecord(patient=make_patient(), encounters=[enc], end_time=END),
                       organization_kind=kind_of)  # fmt: skip
    assert rows["medications"][0].split(",")[8] == "40.00"
    assert rows["patients"][0].endswith(",10.00,40.00,52000")
    # the encounter itself has no claim: no claims row for it, one for the medication
    assert [line.split(",")[0] for line in rows["claims"]] == ["claim-m"]
    methods = [tx_fields(t)["METHOD"] for t in rows["claims_transactions"]]
    assert methods == ["", "COPAY", "ECHECK"]


def _claimed_encounter(
    cls: str, start: int, org: str | None = None, reason: Code | None = None
) -> Encounter:
    """A one-day encounter whose claim the payer pays in full."""
    enc = Encounter("e", start, [snomed("185349003", "Encounter for check up")], stop=start + DAY,
                    encounter_class=cls, organization_id=org, reason=reason)  # fmt: skip
    enc.claim = Claim("c", "payer", [ClaimLine("e", "encounter", 100.0, payer=100.0)], "m")
    return enc


@pytest.mark.parametrize(
    ("cls", "age", "department"),
    [
        ("ambulatory", 30, "1"), ("outpatient", 30, "2"), ("inpatient", 30, "3"),
        ("emergency", 30, "4"), ("urgentcare", 30, "5"), ("hospice", 30, "6"), ("home", 30, "7"),
        ("snf", 30, "8"), ("virtual", 30, "9"), ("wellness", 17, "10"), ("wellness", 18, "20"),
        ("something-else", 30, "99"),
    ],
)  # fmt: skip
def test_department_ids(cls: str, age: int, department: str) -> None:
    patient = make_patient()
    birth = ms("1990-06-15T12:00:00")
    patient.birthdate = birth
    start = ms(f"{1990 + age}-06-15T12:00:00")  # the birthday itself: exactly `age`
    record = HealthRecord(patient, encounters=[_claimed_encounter(cls, start)], end_time=END)
    rows = record_rows(record, organization_kind=kind_of)
    claim = claim_fields(rows["claims"][0])
    assert claim["DEPARTMENTID"] == claim["PATIENTDEPARTMENTID"] == department
    assert {tx_fields(t)["DEPARTMENTID"] for t in rows["claims_transactions"]} == {department}


@pytest.mark.parametrize(
    ("org", "claim_type"),
    [("org-h", "2"), ("org-n", "2"), ("org-p", "1"), (None, "2"), ("unknown-org", "1")],
)
def test_claim_type_from_organization_kind(org: str | None, claim_type: str) -> None:
    record = HealthRecord(make_patient(), encounters=[_claimed_encounter("ambulatory", T1, org)],
                          end_time=END)  # fmt: skip
    claim = claim_fields(record_rows(record, organization_kind=kind_of)["claims"][0])
    assert claim["HEALTHCARECLAIMTYPEID1"] == claim["HEALTHCARECLAIMTYPEID2"] == claim_type
    tx = tx_fields(record_rows(record, organization_kind=kind_of)["claims_transactions"][0])
    assert tx["PLACEOFSERVICE"] == (org or "null")


def test_claim_type_default_uses_the_states_provider_network() -> None:
    from simulator.providers.network import provider_network

    network = provider_network("Massachusetts")
    hospital = next(o for o in network.organizations if o.kind == "hospital")
    clinic = next(o for o in network.organizations if o.kind == "primary_care")
    encounters = [_claimed_encounter("ambulatory", T1, hospital.id),
                  _claimed_encounter("wellness", T1, clinic.id)]  # fmt: skip
    record = HealthRecord(make_patient(), encounters=encounters, end_time=END)  # Massachusetts
    types = [claim_fields(c)["HEALTHCARECLAIMTYPEID1"] for c in record_rows(record)["claims"]]
    assert types == ["2", "1"]
    record.patient.state = "Atlantis"  # no network: only "no organization" is institutional
    types = [claim_fields(c)["HEALTHCARECLAIMTYPEID1"] for c in record_rows(record)["claims"]]
    assert types == ["1", "1"]


def test_secondary_payer_quirk() -> None:
    enc = _claimed_encounter("inpatient", T1, "org-h")
    assert enc.claim is not None
    enc.claim.secondary_payer_id = "payer-2"
    claim = claim_fields(record_rows(HealthRecord(make_patient(), encounters=[enc], end_time=END),
                                     organization_kind=kind_of)["claims"][0])  # fmt: skip
    assert claim["SECONDARYPATIENTINSURANCEID"] == "payer-2"
    # the reference fills the "2" columns only when there is *no* secondary payer
    assert (claim["STATUS1"], claim["STATUS2"], claim["STATUSP"]) == ("CLOSED", "", "CLOSED")
    assert (claim["OUTSTANDING2"], claim["LASTBILLEDDATE2"]) == ("", "")
    assert (claim["HEALTHCARECLAIMTYPEID1"], claim["HEALTHCARECLAIMTYPEID2"]) == ("2", "0")


def test_billed_when_the_encounter_ends_at_or_after_the_end_of_the_simulation() -> None:
    enc = _claimed_encounter("emergency", T1, "org-h")
    assert enc.claim is not None
    enc.claim.lines[0].payer = 60.0
    enc.claim.lines[0].coinsurance = 40.0
    record = HealthRecord(make_patient(), encounters=[enc], end_time=enc.stop or 0)
    claim = claim_fields(record_rows(record, organization_kind=kind_of)["claims"][0])
    assert (claim["STATUS1"], claim["STATUS2"], claim["STATUSP"]) == ("BILLED",) * 3
    assert (claim["OUTSTANDING1"], claim["OUTSTANDING2"], claim["OUTSTANDINGP"]) == (
        "60.00", "60.00", "40.00",
    )  # fmt: skip
    assert claim["LASTBILLEDDATE1"] == claim["LASTBILLEDDATEP"] == format_datetime(T1)
    record.end_time += 1
    claim = claim_fields(record_rows(record, organization_kind=kind_of)["claims"][0])
    assert (claim["STATUS1"], claim["OUTSTANDING1"], claim["OUTSTANDINGP"]) == ("CLOSED", "0", "0")
    assert claim["LASTBILLEDDATE1"] == format_datetime(T1 + DAY)


def test_diagnoses_and_current_illness_date() -> None:
    asthma = snomed("195967001", "Asthma")
    flu = snomed("6142004", "Influenza")
    t0, t1, t2 = ms("2000-01-01T00:00:00"), ms("2005-01-01T00:00:00"), ms("2010-01-01T00:00:00")
    first = _claimed_encounter("ambulatory", t1)
    first.conditions = [Condition("c-a", t1, [asthma]),  # still active at the end
                        Condition("c-f", t1, [flu], stop=t1 + DAY)]  # fmt: skip
    later = _claimed_encounter("ambulatory", t2, reason=asthma)
    later.conditions = [Condition(f"c{i}", t2, [snomed(str(i), "x")]) for i in range(9)]
    flu_again = _claimed_encounter("ambulatory", t2, reason=flu)
    earlier = _claimed_encounter("ambulatory", t0, reason=asthma)
    no_diagnosis = _claimed_encounter("ambulatory", t2)
    record = HealthRecord(make_patient(), end_time=END,
                          encounters=[first, later, flu_again, earlier, no_diagnosis])  # fmt: skip
    claims = [claim_fields(c) for c in record_rows(record, organization_kind=kind_of)["claims"]]
    diagnoses = [[c[f"DIAGNOSIS{i}"] for i in range(1, 9)] for c in claims]
    assert diagnoses[0] == ["195967001", "6142004", "", "", "", "", "", ""]
    assert diagnoses[1] == ["195967001", "0", "1", "2", "3", "4", "5", "6"]  # at most 8
    assert diagnoses[4] == ["185349003", "", "", "", "", "", "", ""]  # the encounter's code
    illness = [c["CURRENTILLNESSDATE"] for c in claims]
    assert illness == [
        format_datetime(t1),
        format_datetime(t1),  # asthma, diagnosed earlier and still active
        format_datetime(t2),  # the flu ended: the encounter's own start
        format_datetime(t0),  # the encounter is earlier than the diagnosis
        format_datetime(t2),
    ]
    assert [c["SERVICEDATE"] for c in claims][1] == format_datetime(t2)


@st.composite
def billed_records(draw: st.DrawFn) -> HealthRecord:
    """Random records whose encounters and medications carry claims split like the engine's
    (the four parts of a line sum to its cost truncated to cents)."""
    record = draw(records)
    insured = draw(st.booleans())
    n = 0

    def claim_for(main: Entry, kind: str, items: list[tuple[Entry, str]]) -> Claim:
        nonlocal n
        n += 1
        lines = []
        for index, (entry, line_kind) in enumerate([(main, kind), *items]):
            cents = draw(st.integers(0, 10**7))
            copay = draw(st.integers(0, cents)) if insured and index == 0 else 0
            deductible = draw(st.integers(0, cents - copay)) if insured else 0
            coinsurance = draw(st.integers(0, cents - copay - deductible))
            payer = cents - copay - deductible - coinsurance if insured else 0
            coinsurance = coinsurance if insured else cents
            lines.append(ClaimLine(entry.id, line_kind, cents / 100, copay / 100,
                                   deductible / 100, coinsurance / 100, payer / 100))  # fmt: skip
        return Claim(f"claim-{n}", "payer", lines, member_id="member" if insured else "")

    for e in record.encounters:
        items: list[tuple[Entry, str]] = [(p, "procedure") for p in e.procedures]
        items += [(i, "immunization") for i in e.immunizations]
        items += [(r, "report") for r in e.reports]
        e.claim = claim_for(e, "encounter", items)
        for m in e.medications:
            m.claim = claim_for(m, "medication", [])
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(billed_records())
def test_claim_transactions_balance(record: HealthRecord) -> None:
    rows = record_rows(record, organization_kind=kind_of)
    claims = [claim_fields(line) for line in rows["claims"]]
    expected = [e.claim for e in record.encounters] + [
        m.claim for e in record.encounters for m in e.medications
    ]
    assert sorted(c["Id"] for c in claims) == sorted(c.id for c in expected if c is not None)
    lines_by_claim: dict[str, list[dict[str, str]]] = {}
    for line in rows["claims_transactions"]:
        f = tx_fields(line)
        lines_by_claim.setdefault(f["CLAIMID"], []).append(f)
    cents = lambda text: round(float(text) * 100) if text else 0  # noqa: E731
    patient_paid = payer_paid = 0
    for claim in expected:
        assert claim is not None
        txs = lines_by_claim.get(claim.id, [])
        assert [int(t["CHARGEID"]) for t in txs] == list(range(len(txs)))
        billed = [line for line in claim.lines if line.kind != "report"]
        assert sum(t["TYPE"] == "CHARGE" for t in txs) == len(billed)
        balance = 0
        for t in txs:  # every transaction moves the balance by exactly its own amount
            if t["TYPE"] == "CHARGE":
                assert balance == 0  # the previous line was settled
                balance = cents(t["AMOUNT"])
            elif t["TYPE"] == "PAYMENT":
                balance -= cents(t["PAYMENTS"])
                if t["METHOD"] == "ECHECK":
                    payer_paid += cents(t["PAYMENTS"])
                else:
                    assert t["METHOD"] in ("COPAY", "CASH", "CHECK", "CC")
                    patient_paid += cents(t["PAYMENTS"])
            else:
                assert t["TYPE"] in ("TRANSFEROUT", "TRANSFERIN") and claim.member_id
                assert cents(t["TRANSFERS"]) == balance
            assert cents(t["OUTSTANDING"]) == balance >= 0
        assert balance == 0
        assert sum(cents(t["AMOUNT"]) for t in txs if t["TYPE"] == "CHARGE") == sum(
            round(line.cost * 100) for line in billed
        )
    reports = [line for c in expected if c is not None for line in c.lines if line.kind == "report"]
    report_patient = sum(round(line.patient * 100) for line in reports)
    report_payer = sum(round(line.payer * 100) for line in reports)
    patient = rows["patients"][0].split(",")
    assert cents(patient[25]) == patient_paid + report_patient
    assert cents(patient[26]) == payer_paid + report_payer
