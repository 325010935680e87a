"""`simulate report` on a real run of 300 people: the page opens in headless Chromium with every
chart drawn and no request made, report.json agrees with counts made here with the csv module
alone, CSV and Parquet give the same figures, the same run gives the same bytes, and a run of
Synthea's corpus with few tables says what it cannot compute."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator.report.page import write_report

REFERENCE = dt.date(2024, 1, 1)
YEAR = 365.25
DEATH_CERTIFICATE = "308646001"
CHARTS_JS = """JSON.stringify([...document.querySelectorAll("figure.chart")].map(f => {
  const img = f.querySelector("img");
  const r = img.getBoundingClientRect();
  return {id: f.dataset.chart, x: r.left + window.scrollX, y: r.top + window.scrollY,
          w: r.width, h: r.height, loaded: img.complete && img.naturalWidth > 0};
}))"""


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 people of the project's modules, CSV and Parquet, the report written at the end of
    the run (``--report``)."""
    out = tmp_path_factory.mktemp("report") / "run"
    result = _simulate("-p", "300", "-s", "5", "-w", "2", "--format", "csv,parquet",
                       "--reference-date", REFERENCE.isoformat(), "-o", str(out), "--report")
    assert result.returncode == 0, result.stderr
    assert "report written to" in result.stdout, result.stdout
    return out


@pytest.fixture(scope="module")
def report(run: Path) -> dict[str, Any]:
    return json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))


def _rows(run: Path, table: str) -> list[dict[str, str]]:
    # values are never quoted (csv-export.md §1)
    with (run / "csv" / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, quoting=csv.QUOTE_NONE))


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def _figure(report: dict[str, Any], *path: str) -> Any:
    node: Any = report["sections"]
    for key in path:
        node = node[key] if not isinstance(node, list) else node[int(key)]
    return node


# ------------------------------------------------------------------ the page in a browser


def test_every_chart_renders_in_chromium_and_the_page_requests_nothing(
        run: Path, report: dict[str, Any]) -> None:
    from headless_chromium import find_chromium, open_page

    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (chromium, chromium-browser or google-chrome): "
                    "the page cannot be opened in a real browser")
    page = run / "report.html"
    html = page.read_text(encoding="utf-8")
    # a strict policy is the page's first line of defence
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    linked = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert linked and not [u for u in linked if not u.startswith(("data:image/png", "#"))]
    assert not re.search(r"<script|<link|@import|url\(", html)

    opened = open_page(binary, page, CHARTS_JS)
    schemes = Counter(url.split(":", 1)[0] for url in opened.requests)
    assert set(schemes) <= {"file", "data"}, schemes  # nothing from a network
    assert schemes["file"] == 1  # the page itself, nothing else from disk either

    boxes = json.loads(opened.value)
    ids = [c["id"] for c in report["charts"]]
    assert len(set(ids)) == len(ids) > 20
    assert sorted(b["id"] for b in boxes) == sorted(ids)
    assert sorted(p.stem for p in (run / "report").glob("*.png")) == sorted(ids)
    from PIL import Image

    shot = Image.open(io.BytesIO(opened.screenshot)).convert("RGB")
    assert shot.size[0] >= opened.size[0] - 1 and shot.size[1] >= opened.size[1] - 1
    for box in boxes:
        assert box["loaded"], box["id"]
        assert box["w"] > 100 and box["h"] > 100, box
        crop = shot.crop((round(box["x"]), round(box["y"]), round(box["x"] + box["w"]),
                          round(box["y"] + box["h"])))
        pixels = np.asarray(crop, dtype=np.int32).reshape(-1, 3)
        inked = int(np.sum(pixels.sum(axis=1) < 600))  # not white, nor near it
        coloured = int(np.sum(pixels.max(axis=1) - pixels.min(axis=1) > 25))
        assert inked > 0.01 * len(pixels), (box["id"], inked, len(pixels))
        assert coloured > 50, (box["id"], coloured)  # bars, not only axes and text


# ------------------------------------------------------------------ the figures, counted here


def test_people_and_tables_agree_with_the_csv_files(run: Path, report: dict[str, Any]) -> None:
    patients = _rows(run, "patients")
    alive = sum(1 for p in patients if not p["DEATHDATE"])
    assert _figure(report, "run", "figures", "patients_table") == {
        "lives": len(patients), "alive": alive, "deceased": len(patients) - alive}
    assert alive == 300
    assert _figure(report, "who", "figures", "living") == alive
    tables = _figure(report, "run", "figures", "tables")
    for csv_file in (run / "csv").glob("*.csv"):
        with csv_file.open(encoding="utf-8") as fh:
            lines = sum(1 for _ in fh) - 1
        assert tables[csv_file.stem]["rows"] == lines, csv_file.stem
        assert tables[csv_file.stem]["format"] == "parquet"  # read from Parquet when written


def test_who_agrees_with_the_csv_files(run: Path, report: dict[str, Any]) -> None:
    living = [p for p in _rows(run, "patients") if not p["DEATHDATE"]]
    races = Counter(p["RACE"] for p in living)
    shares = {f["label"]: f for f in _figure(report, "who", "figures", "race", "shares")}
    assert shares["White"]["value"] == pytest.approx(races["white"] / len(living), abs=1e-6)
    assert shares["Black"]["value"] == pytest.approx(races["black"] / len(living), abs=1e-6)
    hispanic = _figure(report, "who", "figures", "ethnicity", "hispanic")
    assert hispanic["value"] == pytest.approx(
        sum(p["ETHNICITY"] == "hispanic" for p in living) / len(living), abs=1e-6)
    # the plan of each living person's latest plan year
    names = {p["Id"]: p["NAME"] for p in _rows(run, "payers")}
    latest: dict[str, tuple[str, str]] = {}
    for row in _rows(run, "payer_transitions"):
        if row["PATIENT"] not in latest or row["START_DATE"] > latest[row["PATIENT"]][0]:
            latest[row["PATIENT"]] = (row["START_DATE"], row["PAYER"])
    uninsured = sum(names[latest[p["Id"]][1]] == "NO_INSURANCE" for p in living)
    mix = {f["label"]: f for f in _figure(report, "who", "figures", "insurance", "shares")}
    assert mix["Uninsured"]["value"] == pytest.approx(uninsured / len(living), abs=1e-6)
    medicare = sum(names[latest[p["Id"]][1]] == "Medicare" for p in living)
    assert mix["Medicare"]["value"] == pytest.approx(medicare / len(living), abs=1e-6)
    # every row judged against its exclusive ACS share, computed here from the raw counts
    expected = _insurance_shares("Massachusetts")
    for label, share in expected.items():
        assert mix[label]["reference"] == pytest.approx(share, abs=1e-6), label
        assert mix[label]["status"] in ("in band", "out of band"), label
        assert mix[label]["source"], label


def _insurance_shares(state: str) -> dict[str, float]:
    """The insurance mix's references, from state_demographics.json's raw ACS figures: S2704
    counts (everyone, public coverage, Medicare and Medicaid alone or in combination) and the
    DP03 uninsured share, split into exclusive groups by inclusion-exclusion."""
    data = json.loads((Path(__file__).resolve().parent.parent / "simulator" / "data"
                       / "state_demographics.json").read_text(encoding="utf-8"))
    raw = data["states"][state]
    c, uninsured = raw["coverage"], raw["sdoh"]["uninsured"]
    everyone = c["population"]
    with_medicare_only = c["public"] - c["medicaid"]  # public without Medicaid: Medicare (or VA)
    with_medicaid_only = c["public"] - c["medicare"]
    both = c["public"] - with_medicare_only - with_medicaid_only
    return {"Medicare": with_medicare_only / everyone, "Medicaid": with_medicaid_only / everyone,
            "Dual Eligible": both / everyone,
            "Private": (everyone - c["public"]) / everyone - uninsured, "Uninsured": uninsured}


@pytest.mark.parametrize("state", ["Massachusetts", "Texas", "Wyoming"])
def test_insurance_references_split_the_population(state: str) -> None:
    from simulator.population.state_data import state_profile
    from simulator.report.sections.who import INSURANCE, insurance_references

    got = insurance_references(state_profile(state))
    expected = _insurance_shares(state)
    assert list(got) == list(INSURANCE)
    for label, (share, source) in got.items():
        assert share == pytest.approx(expected[label], abs=1e-12), label
        assert 0.0 < share < 1.0 and source and "ACS 2018" in source, label
    assert sum(share for share, _ in got.values()) == pytest.approx(1.0, abs=1e-12)
    if state == "Massachusetts":  # S2704 and DP03, Massachusetts, 2018, by hand
        assert got["Dual Eligible"][0] == pytest.approx((1187722 + 1570110 - 2498805) / 6830796)
        assert got["Private"][0] == pytest.approx(1 - 2498805 / 6830796 - 0.0277)


def _age(birth: str, on: dt.date) -> float:
    return (on - _day(birth)).days / YEAR


def test_targets_agree_with_the_csv_files(run: Path, report: dict[str, Any]) -> None:
    adults = {p["Id"] for p in _rows(run, "patients")
              if not p["DEATHDATE"] and _age(p["BIRTHDATE"], REFERENCE) >= 18}
    diabetic = {c["PATIENT"] for c in _rows(run, "conditions")  # type 2 or type 1
                if c["CODE"] in ("44054006", "46635009") and not c["STOP"]}
    measures = {m["measure"]: m for m in _figure(report, "health", "figures", "targets")}
    overall = measures["diagnosed diabetes"]["rows"][0]
    assert overall["label"] == "all, 18+" and overall["n"] == len(adults)
    assert overall["value"] == pytest.approx(len(adults & diabetic) / len(adults), abs=1e-6)
    # obesity: each living adult's (20+) latest BMI
    older = {p["Id"] for p in _rows(run, "patients")
             if not p["DEATHDATE"] and _age(p["BIRTHDATE"], REFERENCE) >= 20}
    latest: dict[str, tuple[str, float]] = {}
    for o in _rows(run, "observations"):
        later = o["PATIENT"] not in latest or o["DATE"] > latest[o["PATIENT"]][0]
        if o["CODE"] == "39156-5" and o["PATIENT"] in older and later:
            latest[o["PATIENT"]] = (o["DATE"], float(o["VALUE"]))
    obesity = measures["obesity (measured BMI >= 30)"]["rows"][0]
    assert obesity["n"] == len(latest)
    assert obesity["value"] == pytest.approx(
        sum(v >= 30 for _, v in latest.values()) / len(latest), abs=1e-6)


def test_care_cost_and_deaths_agree_with_the_csv_files(run: Path,
                                                      report: dict[str, Any]) -> None:
    patients = _rows(run, "patients")
    start = REFERENCE.replace(year=REFERENCE.year - 10)  # the run exported 10 years
    years = 0.0
    for p in patients:
        birth = _day(p["BIRTHDATE"])
        end = min(_day(p["DEATHDATE"]) if p["DEATHDATE"] else REFERENCE, REFERENCE)
        years += max((end - max(birth, start)).days, 0) / YEAR
    encounters = _rows(run, "encounters")
    wellness = sum(1 for e in encounters if e["ENCOUNTERCLASS"] == "wellness"
                   and start <= _day(e["START"]) < REFERENCE)
    care = _figure(report, "care", "figures", "encounters_per_person_year")
    assert care["window_years"] == 10
    assert care["person_years"]["all ages"] == pytest.approx(years, rel=1e-6)
    assert care["classes"]["wellness"]["all ages"]["value"] == pytest.approx(wellness / years,
                                                                             rel=1e-5)
    # cost over the same 10 years: encounters started in them, and each prescription's
    # cost in proportion to its active days that fall in them
    lo = dt.datetime.combine(start, dt.time(), dt.UTC)
    hi = dt.datetime.combine(REFERENCE, dt.time(), dt.UTC)
    cost_total = covered_total = 0.0
    inpatient = [0.0, 0.0]  # cost, covered: the stays' claims, a type of service of its own
    for e in encounters:
        if lo <= dt.datetime.fromisoformat(e["START"]) < hi:
            cost_total += float(e["TOTAL_CLAIM_COST"])
            covered_total += float(e["PAYER_COVERAGE"])
            if e["ENCOUNTERCLASS"] == "inpatient" and e["CODE"] != "34043003":
                inpatient[0] += float(e["TOTAL_CLAIM_COST"])
                inpatient[1] += float(e["PAYER_COVERAGE"])
    medicines = [0.0, 0.0]
    for m in _rows(run, "medications"):
        begin = dt.datetime.fromisoformat(m["START"])
        stop = min(dt.datetime.fromisoformat(m["STOP"]) if m["STOP"] else hi, hi)
        if stop <= begin:
            part = float(lo <= begin < hi)
        else:
            part = max((min(stop, hi) - max(begin, lo)).total_seconds(), 0) / (
                stop - begin).total_seconds()
        cost_total += part * float(m["TOTALCOST"])
        covered_total += part * float(m["PAYER_COVERAGE"])
        medicines[0] += part * float(m["TOTALCOST"])
        medicines[1] += part * float(m["PAYER_COVERAGE"])
    cost = _figure(report, "care", "figures", "cost")
    assert cost["window_years"] == 10 and cost["person_years"] == pytest.approx(years, rel=1e-6)
    assert cost["per_person_year"]["value"] == pytest.approx(cost_total / years, rel=1e-5)
    assert cost["out_of_pocket_share"]["value"] == pytest.approx(
        1 - covered_total / cost_total, abs=1e-6)
    by_service = {f["label"]: f for f in cost["out_of_pocket_share_by_service"]}
    for service, (total, paid_by_payers) in (("hospital inpatient", inpatient),
                                             ("prescribed medicines", medicines)):
        assert cost["by_service"][service]["cost"] == pytest.approx(total, rel=1e-6)
        if total > 0:
            assert by_service[service]["value"] == pytest.approx(1 - paid_by_payers / total,
                                                                 abs=1e-6)
    assert by_service["prescribed medicines"]["reference"] == 0.192  # MEPS 2012
    paid = sum(float(p["HEALTHCARE_EXPENSES"]) for p in patients)
    covered = sum(float(p["HEALTHCARE_COVERAGE"]) for p in patients)
    assert cost["whole_lives"]["out_of_pocket_share"] == pytest.approx(paid / (paid + covered),
                                                                       abs=1e-6)
    causes = Counter(e["REASONDESCRIPTION"] for e in encounters
                     if e["CODE"] == DEATH_CERTIFICATE)
    found = _figure(report, "health", "figures", "causes_of_death")
    assert {c["cause"]: c["deaths"] for c in found["causes"]} == dict(causes)
    assert found["deceased_records"] == sum(1 for p in patients if p["DEATHDATE"])


def test_record_checks_agree_with_the_csv_files(run: Path, report: dict[str, Any]) -> None:
    checks = {c["check"]: c for c in _figure(report, "checks", "figures", "checks")}
    encounter_ids = {e["Id"] for e in _rows(run, "encounters")}
    conditions = _rows(run, "conditions")
    dangling = sum(1 for c in conditions if c["ENCOUNTER"] not in encounter_ids)
    check = checks["conditions.ENCOUNTER → encounters.Id"]
    assert (check["problems"], check["rows_checked"]) == (dangling, len(conditions))
    death = {p["Id"]: p["DEATHDATE"] for p in _rows(run, "patients") if p["DEATHDATE"]}
    observations = _rows(run, "observations")
    late = sum(1 for o in observations if o["PATIENT"] in death
               and o["DATE"][:10] > death[o["PATIENT"]])
    assert checks["observations: DATE after the person's death"]["problems"] == late
    heights = [float(o["VALUE"]) for o in observations if o["CODE"] == "8302-2"]
    outside = sum(1 for h in heights if not 20 <= h <= 272)
    assert checks["observations: body height (cm) outside 20–272"]["problems"] == outside
    assert report["summary"]["record_problems"] == sum(c["problems"] or 0
                                                       for c in checks.values())


# ------------------------------------------------------------------ formats and determinism


def test_csv_and_parquet_give_the_same_figures(run: Path, report: dict[str, Any],
                                               tmp_path: Path) -> None:
    only_csv = tmp_path / "run"
    only_csv.mkdir()
    shutil.copy(run / "run.json", only_csv / "run.json")
    (only_csv / "csv").symlink_to(run / "csv")
    write_report(only_csv)
    other = json.loads((only_csv / "report" / "report.json").read_text(encoding="utf-8"))
    for key in ("who", "health", "care", "checks"):
        assert other["sections"][key] == report["sections"][key], key
    formats = {t["format"] for t in other["sections"]["run"]["figures"]["tables"].values()}
    assert formats == {"csv"}


def test_the_same_run_gives_the_same_bytes(run: Path, tmp_path: Path) -> None:
    page = tmp_path / "again.html"
    write_report(run, page)
    first = {p.name: p.read_bytes() for p in [page, *sorted((tmp_path / "again").iterdir())]}
    write_report(run, page)
    second = {p.name: p.read_bytes() for p in [page, *sorted((tmp_path / "again").iterdir())]}
    assert first == second
    assert any(name.endswith(".png") for name in first)
    for name, data in first.items():
        if name.endswith(".png"):
            assert b"Software" not in data and b"tIME" not in data, name


# ------------------------------------------------------------------ any run folder


def test_a_corpus_run_with_few_tables_says_what_it_cannot_compute(tmp_path: Path,
                                                                 corpus_dir: Path) -> None:
    out = tmp_path / "corpus"
    result = _simulate("-p", "30", "-s", "3", "-w", "1", "--modules-dir", str(corpus_dir),
                       "--format", "csv", "--csv-files", "patients,encounters,conditions",
                       "--reference-date", REFERENCE.isoformat(), "-o", str(out))
    assert result.returncode == 0, result.stderr
    summary = write_report(out)
    assert summary.not_computable > 0 and summary.charts > 5
    document = json.loads((out / "report" / "report.json").read_text(encoding="utf-8"))
    health = document["sections"]["health"]
    obesity = next(m for m in health["figures"]["targets"] if m["measure"].startswith("obesity"))
    assert all(r["status"] == "not computable" and "observations" in r["why"]
               for r in obesity["rows"])
    said = " ".join(note for s in document["sections"].values() for note in s["not_computed"])
    for words in ("observations", "payer_transitions", "medications", "education"):
        assert words in said, words
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Not computed here" in page and "see --format and --csv-files" in page
