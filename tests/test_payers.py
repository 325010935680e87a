from __future__ import annotations

import json
import uuid
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import timeutil as tu
from simulator.engine.person import Person
from simulator.payers import (
    PAYER_COLUMNS,
    PAYER_TRANSITION_COLUMNS,
    PayerStats,
    Plan,
    choose_plan,
    cost_sharing,
    insurance_process,
    insurance_status,
    load_payers,
    payer_rows,
    payer_transition_rows,
)
from simulator.payers.billing import Billing
from simulator.payers.fills import dispenses
from simulator.payers.insurance import cap_out_of_pocket, pick_weighted, service_of, split_cost
from simulator.payers.plans import DATA_FILE, PRIVATE
from simulator.payers.prices import medication_cost, medication_tier
from simulator.record import (
    Code,
    CoveragePeriod,
    Encounter,
    Immunization,
    Medication,
    Procedure,
)

CATALOG = load_payers()
POVERTY = 17_550


def person(income: float, occupation: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"income": income, "poverty_ratio": income / POVERTY, "occupation_level": occupation,
            **extra}


def choose(age: int, year: int, attributes: dict[str, Any], state: str = "MA",
           previous: Plan | None = None, u: float = 0.5, coverage: float = 1.0) -> Plan:
    return choose_plan(CATALOG, age=age, year=year, state_abbreviation=state,
                       attributes=attributes, previous=previous, u=u, coverage=coverage)


def status(age: int, year: int, attributes: dict[str, Any], state: str = "MA",
           coverage: float = 1.0) -> str:
    """The plan's status; `coverage` 1.0: a coverage draw that leaves private plans open."""
    return insurance_status(choose(age, year, attributes, state, coverage=coverage))


def private_plans() -> list[Plan]:
    return [p for p in CATALOG.plans if p.payer.ownership == PRIVATE]


# ------------------------------------------------------------------------ data and catalog


def _figures(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every {"value": ...} figure and every by-year row in the data file."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if "value" in node or "amount" in node or "limit" in node or "date" in node:
            found.append((path, node))
        for key, child in node.items():
            found += _figures(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += _figures(child, f"{path}[{i}]")
    return found


def test_every_figure_names_a_known_source() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    sources = data["sources"]
    figures = _figures({k: v for k, v in data.items() if k != "sources"})
    assert len(figures) > 100
    for path, figure in figures:
        assert figure.get("source") in sources, path
    for key in ("deductible", "copay", "coinsurance", "monthly_premium", "max_out_of_pocket"):
        for name, design in data["plan_designs"].items():
            if key in design:
                assert isinstance(design[key], dict) and "source" in design[key], (name, key)
    for payer in data["payers"]:
        if payer["ownership"] == PRIVATE:
            assert payer["source"] in sources


def test_expansion_and_holdout_states_cover_the_51_jurisdictions_once() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))["medicaid"]
    expanded = [r["state"] for r in data["expansion_effective"]]
    holdouts = data["non_expansion_states"]["value"]
    assert len(expanded) == len(set(expanded)) == 41
    assert len(holdouts) == 10
    assert not set(expanded) & set(holdouts)


def test_catalog_order_ids_and_plans() -> None:
    payers = CATALOG.payers
    assert [(p.numeric_id, p.name, p.ownership) for p in payers[:3]] == [
        (10000, "Medicare", "GOVERNMENT"),
        (20000, "Medicaid", "GOVERNMENT"),
        (30000, "Dual Eligible", "GOVERNMENT"),
    ]
    assert payers[-1] is CATALOG.no_insurance
    assert payers[-1].name == payers[-1].ownership == "NO_INSURANCE"
    private = [p for p in payers if p.ownership == PRIVATE]
    assert 6 <= len(private) <= 8
    assert [p.ownership for p in payers[3:-1]] == [PRIVATE] * len(private)
    for p in payers:
        assert p.id == str(uuid.uuid3(uuid.NAMESPACE_OID, f"{p.numeric_id}{p.name}"))
        assert CATALOG.by_id[p.id] is p
        n_plans = sum(plan.payer is p for plan in CATALOG.plans)
        if p.ownership == PRIVATE:
            assert 1 <= n_plans <= 3
        else:
            assert n_plans == (0 if p is CATALOG.no_insurance else 1)
    assert len({plan.id for plan in CATALOG.plans}) == len(CATALOG.plans)
    assert load_payers() is CATALOG  # cached


def test_medicare_premium_and_deductible_by_year() -> None:
    medicare = next(p for p in CATALOG.plans if p.payer.name == "Medicare")
    assert medicare.premium_in(2023) == 164.90
    assert medicare.premium_in(2024) == 174.70
    assert medicare.premium_in(2000) == 45.50
    assert medicare.premium_in(1970) == 42.50  # before the table: its first row
    assert medicare.deductible_in(2023) == 226
    assert medicare.deductible_in(2011) == 155  # gap: last known figure
    assert medicare.coinsurance == 0.20 and medicare.max_out_of_pocket is None


# ------------------------------------------------------------------------ plan choice


def test_65_year_old_gets_medicare_even_when_rich_and_employed() -> None:
    assert status(65, 2020, person(200_000, 0.9)) == "medicare"
    assert status(64, 2020, person(200_000, 0.9)) == "private"


def test_medicare_by_disability_or_esrd_only_after_1973() -> None:
    for flag in ("end_stage_renal_disease", "disabled"):
        assert status(40, 2000, person(200_000, 0.9, **{flag: True})) == "medicare"
        assert status(40, 1970, person(200_000, 0.9, **{flag: True})) == "private"


def test_poor_adult_gets_medicaid_in_an_expansion_state_after_2014() -> None:
    poor = person(1.2 * POVERTY)
    assert status(30, 2015, poor, "MA") == "medicaid"
    # above the pre-ACA adult limit (64 % FPL), with a coverage draw among the uninsured
    assert status(30, 2013, poor, "MA", coverage=0.0) == "none"
    assert status(30, 2015, poor, "TX", coverage=0.0) == "none"  # non-expansion state
    assert status(30, 2023, poor, "NC", coverage=0.0) == "none"  # NC expanded in Dec. 2023
    assert status(30, 2024, poor, "NC") == "medicaid"
    assert status(30, 2015, person(0.5 * POVERTY), "WI") == "medicaid"  # WI's own 100 % limit
    assert status(30, 2012, person(0.6 * POVERTY), "TX") == "medicaid"  # below 64 % pre-ACA


def test_children_pregnancy_and_blindness_routes_to_medicaid() -> None:
    family = person(1.5 * POVERTY)  # too poor to afford a private plan
    assert status(10, 2020, family, "TX") == "medicaid"  # CHIP up to 250 % FPL
    assert status(10, 1995, family, "TX") == "none"  # before CHIP
    assert status(19, 2020, family, "TX", coverage=0.0) == "none"
    assert status(30, 2020, person(1.8 * POVERTY, pregnant=True), "TX") == "medicaid"
    assert status(30, 2020, person(100_000, blindness=True), "TX") == "medicaid"
    assert status(30, 1960, person(0.1 * POVERTY), "TX") == "none"  # before Medicaid


def test_poor_and_70_is_dual_eligible() -> None:
    assert status(70, 2020, person(0.3 * POVERTY)) == "dual eligible"
    assert status(70, 2020, person(3.0 * POVERTY)) == "medicare"


def test_rich_employed_40_year_old_is_private() -> None:
    plan = choose(40, 2020, person(150_000, 0.7))
    assert insurance_status(plan) == "private"
    assert plan.payer.ownership == PRIVATE


def test_affordability_by_income_share_before_the_mandate_then_the_coverage_draw() -> None:
    ppo = max(p.monthly_premium for p in private_plans())
    cheapest = min(p.monthly_premium for p in private_plans())
    # Income where no private plan costs <= 3.4 % of it: uninsured before the mandate year.
    low = 0.9 * 12 * cheapest / 0.034
    assert status(40, 2005, person(low, 0.5), "TX") == "none"
    # From the mandate year the coverage draw alone decides, whatever the occupation level.
    share = CATALOG.rules.uninsured_share("TX")
    assert status(40, 2006, person(low, 0.5), "TX", coverage=share) == "private"
    assert status(40, 2020, person(low, 0.1), "TX", coverage=share) == "private"
    assert status(40, 2020, person(150_000, 0.9), "TX", coverage=share - 1e-9) == "none"
    # Enough income pays for the dearest plan without an employer.
    assert status(40, 1990, person(1.01 * 12 * ppo / 0.034, 0.0), "TX") == "private"


def test_no_candidate_means_no_insurance() -> None:
    plan = choose(40, 1950, person(5_000, 0.0))
    assert plan is CATALOG.no_insurance_plan
    assert plan.payer is CATALOG.no_insurance
    assert insurance_status(plan) == "none"


def test_choice_is_deterministic_in_u_and_uniform_over_the_best_candidates() -> None:
    rich = person(150_000, 0.7)
    plans = private_plans()
    n = len(plans)
    picked = [choose(40, 2020, rich, u=(i + 0.5) / n) for i in range(n)]
    assert picked == plans  # each slice of [0, 1) gives one plan, in catalog order
    for u in (0.0, 0.3, 0.999999):
        assert choose(40, 2020, rich, u=u) == choose(40, 2020, rich, u=u)
    assert choose(40, 2020, rich, u=0.999999999) == plans[-1]


def test_previous_private_plan_is_kept_while_it_still_fits() -> None:
    rich = person(150_000, 0.7)
    previous = private_plans()[3]
    for u in (0.0, 0.25, 0.5, 0.99):
        assert choose(40, 2020, rich, previous=previous, u=u) is previous
    # no longer affordable: a new choice (here none at all)
    assert choose(40, 2020, person(10_000, 0.0), previous=previous, state="TX",
                  coverage=0.0).payer.name == (
        "NO_INSURANCE"
    )
    # a government plan with better priority wins over the old private plan
    assert choose(65, 2020, rich, previous=previous).payer.name == "Medicare"
    # a previous government plan is not "kept": the choice follows u
    medicaid = next(p for p in CATALOG.plans if p.payer.name == "Medicaid")
    assert choose(40, 2020, rich, previous=medicaid, u=0.0) == private_plans()[0]


# ------------------------------------------------------------------------ cost sharing


def _cents(x: float) -> int:
    return int((Decimal(repr(x)) * 100).to_integral_value(ROUND_DOWN))


def _plan(name: str) -> Plan:
    return next(p for p in CATALOG.plans if p.name == name)


def test_cost_sharing_worked_examples() -> None:
    ppo = _plan("UnitedHealthcare PPO")  # copay 25, deductible 1735, coinsurance 19 %
    assert cost_sharing(ppo, 100.0, 1735.0, "encounter") == (0.0, 100.0, 1660.0)
    assert cost_sharing(ppo, 100.0, 0.0, "encounter") == (60.75, 39.25, 0.0)
    assert cost_sharing(ppo, 100.0, 0.0, "procedure") == (81.0, 19.0, 0.0)
    assert cost_sharing(ppo, 10.0, 0.0, "medication") == (0.0, 10.0, 0.0)  # copay > cost
    assert cost_sharing(ppo, 123.456, 0.0, "immunization") == (100.0, 23.45, 0.0)
    none = CATALOG.no_insurance_plan
    assert cost_sharing(none, 99.999, 50.0, "encounter") == (0.0, 99.99, 50.0)
    medicaid = _plan("Medicaid")
    assert cost_sharing(medicaid, 250.0, 0.0, "encounter") == (250.0, 0.0, 0.0)


ALL_PLANS = [*CATALOG.plans, CATALOG.no_insurance_plan]


@settings(max_examples=300, deadline=None)
@given(
    plan=st.sampled_from(ALL_PLANS),
    cost=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    deductible_left=st.floats(min_value=0, max_value=1e4, allow_nan=False),
    kind=st.sampled_from(["encounter", "medication", "procedure", "immunization", "device"]),
    encounter_class=st.sampled_from(["wellness", "ambulatory", "emergency", "inpatient"]),
    tier=st.sampled_from(["generic", "brand", None]),
    year=st.sampled_from([None, 2005, 2010, 2011, 2024]),
)
def test_cost_sharing_properties(plan: Plan, cost: float, deductible_left: float,
                                 kind: str, encounter_class: str, tier: str | None,
                                 year: int | None) -> None:
    service = service_of(kind, encounter_class, tier)
    payer, patient, left = cost_sharing(plan, cost, deductible_left, kind, service, year)
    assert payer >= 0 and patient >= 0
    assert round(payer * 100) + round(patient * 100) == _cents(cost)
    assert 0 <= left <= deductible_left
    if not plan.is_insured:
        assert payer == 0 and left == deductible_left


@settings(max_examples=300, deadline=None)
@given(
    plan=st.sampled_from(ALL_PLANS),
    cost=st.floats(min_value=0, max_value=1e5, allow_nan=False),
    deductible_left=st.floats(min_value=0, max_value=1e4, allow_nan=False),
    kind=st.sampled_from(["encounter", "medication", "procedure"]),
    allowed=st.integers(min_value=0, max_value=2_000_000),
)
def test_out_of_pocket_cap_moves_only_the_excess_to_the_payer(
        plan: Plan, cost: float, deductible_left: float, kind: str, allowed: int) -> None:
    split = split_cost(plan, cost, deductible_left, kind)
    capped = cap_out_of_pocket(split, allowed)
    cents = [round(x * 100) for x in capped[:4]]
    before = [round(x * 100) for x in split[:4]]
    assert sum(cents) == sum(before) == _cents(cost)  # the line's cost, whoever pays it
    assert all(c >= 0 for c in cents)
    patient = sum(cents[:3])
    assert patient == min(sum(before[:3]), allowed)
    assert capped[4] == split[4]  # the deductible left is the split's


def _visit(billing: Billing, when: int, cost: float, n: int,
           cls: str = "emergency") -> Encounter:
    """A visit billed under the deductible (an emergency one unless `cls` says otherwise)."""
    enc = Encounter(id=f"enc-{n}", start=when, codes=[], name="visit", base_cost=cost,
                    encounter_class=cls)
    enc.stop, enc.ended = when, True
    billing.adjudicate(enc)
    return enc


def test_deductible_starts_again_each_plan_year() -> None:
    ppo = _plan("UnitedHealthcare PPO")  # copay 25, deductible 1735, coinsurance 19 %
    billing = Billing(CATALOG)
    year1, year2, year3 = (tu.ymd_ms(y, 3, 1) for y in (2021, 2022, 2023))
    billing.enrol(ppo, year1, year2, 40, lambda: "m")
    visits = [_visit(billing, year1 + tu.DAY, 1000.0, 1),
              _visit(billing, year1 + 2 * tu.DAY, 1000.0, 2)]
    billing.enrol(ppo, year2, year3, 41, lambda: "m")  # the same plan, a new plan year
    visits.append(_visit(billing, year2 + tu.DAY, 1000.0, 3))
    billing.close(year3)
    first, second, third = (v.claim.lines[0] for v in visits)
    assert (first.copay, first.deductible) == (25.0, 975.0)
    assert second.deductible == 1735.0 - 975.0  # what is left of the year's deductible
    assert (third.copay, third.deductible) == (25.0, 975.0)


def test_out_of_pocket_maximum_caps_each_plan_year() -> None:
    cap = _plan("UnitedHealthcare PPO").max_out_of_pocket
    assert cap == 9100
    billing = Billing(CATALOG)
    starts = [tu.ymd_ms(2020 + y, 3, 1) for y in range(3)]
    paid_by_year = []
    years = []
    for y in range(2):  # two plan years of the same plan, each enrolled as it starts
        billing.enrol(_plan("UnitedHealthcare PPO"), starts[y], starts[y + 1], 40, lambda: "m")
        years.append([_visit(billing, starts[y] + (n + 1) * tu.DAY, 20_000.0, 10 * y + n).claim
                      for n in range(6)])
    billing.close(starts[2])
    for claims in years:
        patient = sum(line.patient for claim in claims for line in claim.lines)
        assert round(patient, 2) == cap  # 6 x 20,000 of care reaches the cap every year
        last = claims[-1].lines[0]
        assert last.patient == 0 and last.payer == 20_000.0  # past the cap the plan pays all
        paid_by_year.append(patient)
    assert paid_by_year[0] == paid_by_year[1]


def _year_of_visits(plan_name: str, year: int, visits: list[tuple[str, float]],
                    drugs: tuple[str, ...] = ()) -> tuple[list[Encounter], list[Medication]]:
    """Bill `visits` (class, cost) one day apart in a plan year of `year`, then one fill of
    each RxNorm code in `drugs` prescribed at the first visit."""
    billing = Billing(CATALOG)
    start, end = tu.ymd_ms(year, 1, 1), tu.ymd_ms(year + 1, 1, 1)
    billing.enrol(_plan(plan_name), start, end, 40, lambda: "m")
    encounters = []
    for n, (cls, cost) in enumerate(visits):
        enc = Encounter(id=f"enc-{n}", start=start + (n + 1) * tu.DAY, codes=[], name="visit",
                        base_cost=cost, encounter_class=cls)
        enc.stop, enc.ended = enc.start, True
        if n == 0:
            for k, code in enumerate(drugs):
                enc.medications.append(Medication(
                    id=f"med-{k}", start=enc.start, codes=[Code("RxNorm", code)], name="rx",
                    cost=medication_cost(code), stop=enc.start))
        billing.adjudicate(enc)
        encounters.append(enc)
    billing.close(end)
    return encounters, [m for e in encounters for m in e.medications]


def test_preventive_care_is_free_from_the_aca_plan_years() -> None:
    # a wellness visit with a vaccine, under the deductible, before and after 2011
    for plan_name in ("UnitedHealthcare PPO", "UnitedHealthcare HDHP/SO", "Medicare"):
        for year, free in ((2009, False), (2010, False), (2011, True), (2023, True)):
            billing = Billing(CATALOG)
            start = tu.ymd_ms(year, 1, 1)
            billing.enrol(_plan(plan_name), start, tu.ymd_ms(year + 1, 1, 1), 66,
                          lambda: "m")
            enc = Encounter(id="w", start=start + tu.DAY, codes=[], name="checkup",
                            base_cost=265.0, encounter_class="wellness")
            enc.immunizations.append(Immunization(id="i", start=enc.start, codes=[],
                                                  cost=136.0))
            enc.stop, enc.ended = enc.start, True
            billing.adjudicate(enc)
            billing.close(tu.ymd_ms(year + 1, 1, 1))
            patient = [line.patient for line in enc.claim.lines]
            assert (patient == [0.0, 0.0]) is free, (plan_name, year, patient)
            if free:
                assert enc.claim.payer_paid == 401.0


def test_ppo_office_visits_and_drugs_pay_a_copay_outside_the_deductible() -> None:
    generic, brand = "197319", "106892"  # allopurinol (generic), Humulin (brand)
    assert (medication_tier(generic), medication_tier(brand)) == ("generic", "brand")
    visits, meds = _year_of_visits(
        "UnitedHealthcare PPO", 2022,
        [("ambulatory", 265.0), ("urgentcare", 265.0), ("emergency", 527.0)],
        (generic, brand, "999999"))
    office, urgent, emergency = (v.claim.lines[0] for v in visits)
    assert (office.copay, office.deductible, office.coinsurance) == (25.0, 0.0, 0.0)
    assert urgent.patient == 25.0 and urgent.payer == 240.0
    # the deductible is untouched by them: the emergency visit pays copay, then deductible
    assert (emergency.copay, emergency.deductible) == (25.0, 502.0)
    by_code = {m.code.code: m.claim.lines[0] for m in meds}
    assert by_code[generic].patient == 11.0 and by_code[generic].payer == 6.0
    assert by_code[brand].patient == 33.0 and by_code[brand].payer == 320.0
    assert by_code["999999"].patient == 11.0  # not in the price table: first-tier copay


def test_hdhp_office_visits_count_against_the_deductible() -> None:
    visits, _ = _year_of_visits("UnitedHealthcare HDHP/SO", 2022, [("ambulatory", 265.0)])
    line = visits[0].claim.lines[0]
    assert (line.copay, line.deductible, line.payer) == (0.0, 265.0, 0.0)


@settings(max_examples=300, deadline=None)
@given(u=st.floats(min_value=0.0, max_value=1.0, exclude_max=True), n=st.integers(1, 20))
def test_equal_weights_pick_as_the_uniform_index(u: float, n: int) -> None:
    plans = [_plan("Medicaid")] * n
    ids = [Plan(**{**{f: getattr(plans[0], f) for f in Plan.__slots__}, "id": str(i)})
           for i in range(n)]
    assert pick_weighted(ids, u).id == str(min(int(u * n), n - 1))


def test_private_members_pick_the_hdhp_as_often_as_workers_do() -> None:
    private = [p for p in CATALOG.plans if p.payer.ownership == PRIVATE]
    picks = [pick_weighted(private, (i + 0.5) / 10_000) for i in range(10_000)]
    hdhp = sum(p.name.endswith("HDHP/SO") for p in picks) / len(picks)
    assert abs(hdhp - 0.29) < 0.001  # KFF 2022: 29% of covered workers are in HDHP/SOs
    assert len({p.payer.id for p in picks}) == 8  # every insurer still chosen


def test_medicare_pays_a_hospital_stay_after_the_part_a_deductible() -> None:
    billing = Billing(CATALOG)
    start = tu.ymd_ms(2023, 1, 1)
    billing.enrol(_plan("Medicare"), start, tu.ymd_ms(2024, 1, 1), 70, lambda: "m")
    stay = Encounter(id="stay", start=start + tu.DAY, codes=[], name="admission",
                     base_cost=10_400.0, encounter_class="inpatient")
    stay.procedures.append(Procedure(id="p", start=stay.start, codes=[], cost=500.0))
    stay.stop, stay.ended = stay.start + 4 * tu.DAY, True
    billing.adjudicate(stay)
    billing.close(tu.ymd_ms(2024, 1, 1))
    own, surgery = stay.claim.lines
    assert (own.copay, own.deductible, own.coinsurance, own.payer) == (1600.0, 0, 0, 8800.0)
    assert surgery.patient == 0 and surgery.payer == 500.0


def test_service_of_names_the_benefit_each_line_falls_under() -> None:
    assert service_of("encounter", "wellness") == "preventive"
    assert service_of("procedure", "wellness") == "preventive"  # a screening at the checkup
    assert service_of("immunization", "emergency") == "preventive"
    assert service_of("encounter", "virtual") == "office visit"
    assert service_of("procedure", "ambulatory") == "procedure"
    assert service_of("encounter", "inpatient") == "hospital stay"
    assert service_of("procedure", "inpatient") == "inpatient care"
    assert service_of("encounter", "emergency") == "encounter"
    assert service_of("medication", drug_tier="brand") == "brand drug"
    assert service_of("medication", drug_tier=None) == "drug"


# ------------------------------------------------------------------------ the yearly process


class FakeSim:
    def __init__(self, person: Person) -> None:
        self.person = person
        self.env = simpy.Environment(initial_time=person.birth)
        self.billing = Billing(CATALOG)

    @property
    def now(self) -> int:
        return int(self.env.now)


def run_process(birth: int, attributes: dict[str, Any], until: int, seed: int = 1) -> FakeSim:
    sim = FakeSim(Person(index=0, seed=seed, birth=birth, attributes=dict(attributes)))
    sim.env.process(insurance_process(sim))  # type: ignore[arg-type]
    sim.env.run(until=until)
    return sim


def test_coverage_periods_are_contiguous_and_follow_plan_changes() -> None:
    birth = tu.ymd_ms(2000, 5, 31)
    end = tu.ymd_ms(2024, 1, 1)
    # 171 % FPL in MA: CHIP as a child (250 %), above the adult expansion limit (138 %).
    sim = run_process(birth, {"state_abbreviation": "MA", **person(1.71 * POVERTY)}, end)
    coverage: list[CoveragePeriod] = sim.billing.coverage
    assert coverage[0].start == birth
    for a, b in zip(coverage, coverage[1:], strict=False):
        assert a.end == b.start  # contiguous, no overlap
        if a.plan_id == b.plan_id:  # a plan year of the same plan keeps the member id
            assert a.member_id == b.member_id
    assert all(p.start < p.end for p in coverage)
    # one period per plan year, from birth and each birthday (Synthea's plan records)
    assert [p.start for p in coverage] == [birth] + [tu.age_reached_ms(birth, 12 * age)
                                                     for age in range(1, len(coverage))]
    medicaid = CATALOG.by_id[coverage[0].payer_id]
    assert medicaid.name == "Medicaid"
    child = [p for p in coverage if p.payer_id == medicaid.id]
    assert len(child) == 19  # child until 18 inclusive
    assert child[-1].end == tu.age_reached_ms(birth, 19 * 12)
    assert {p.ownership for p in child[:18]} == {"Guardian"} and child[0].member_id
    assert child[18].ownership == "Self"  # the 18-year-old's own plan
    assert len({p.member_id for p in child}) == 1
    last = coverage[-1]
    assert last.payer_id == CATALOG.no_insurance.id
    assert last.member_id == "" and last.ownership == ""
    assert sim.person.get("insurance_status") == "none"
    assert sim.billing.current_plan is CATALOG.no_insurance_plan
    assert {p.payer_id for p in coverage} == {medicaid.id, CATALOG.no_insurance.id}


def test_process_switches_to_medicare_at_65_and_is_reproducible() -> None:
    birth = tu.ymd_ms(1950, 2, 28)
    end = tu.ymd_ms(2020, 6, 1)
    attrs = {"state": "Massachusetts", **person(150_000, 0.7)}
    first = run_process(birth, attrs, end)
    again = run_process(birth, attrs, end)
    cov = first.billing.coverage
    assert [(p.start, p.end, p.payer_id, p.member_id) for p in cov] == [
        (p.start, p.end, p.payer_id, p.member_id) for p in again.billing.coverage
    ]
    names = [CATALOG.by_id[p.payer_id].name for p in cov]
    assert names[-1] == "Medicare"
    first_medicare = names.index("Medicare")
    assert cov[first_medicare].start == tu.age_reached_ms(birth, 65 * 12)
    assert set(names[first_medicare:]) == {"Medicare"}
    assert cov[-1].ownership == "Self"
    assert first.person.get("insurance_status") == "medicare"
    # private insurance is kept year to year once chosen (from 2006 for this income)
    private = [p for p in cov if CATALOG.by_id[p.payer_id].ownership == PRIVATE]
    assert len({(p.plan_id, p.member_id) for p in private}) == 1
    for a, b in zip(cov, cov[1:], strict=False):
        assert a.end == b.start


def test_dead_person_stops_choosing() -> None:
    birth = tu.ymd_ms(1990, 1, 1)
    sim = FakeSim(Person(index=0, seed=3, birth=birth, attributes=person(150_000, 0.7)))
    sim.person.deathdate = tu.ymd_ms(2001, 6, 1)
    sim.env.process(insurance_process(sim))  # type: ignore[arg-type]
    sim.env.run(until=tu.ymd_ms(2010, 1, 1))
    assert sim.billing.coverage[-1].end == tu.ymd_ms(2002, 1, 1)


# ------------------------------------------------------------------------ CSV rows


def test_payer_transition_rows() -> None:
    day = tu.DAY
    coverage = [
        CoveragePeriod(start=10 * day, end=20 * day, payer_id="b", member_id="m2",
                       ownership="Self", owner_name="A, B"),
        CoveragePeriod(start=0, end=10 * day, payer_id="a", plan_id="p", ownership="Guardian"),
        CoveragePeriod(start=40 * day, end=50 * day, payer_id="c"),
    ]
    rows = payer_transition_rows("pid", coverage, end_time=15 * day)
    assert rows == [
        ["pid", "", "1970-01-01T00:00:00Z", "1970-01-11T00:00:00Z", "a", "", "Guardian", ""],
        ["pid", "m2", "1970-01-11T00:00:00Z", "1970-01-16T00:00:00Z", "b", "", "Self", "A  B"],
    ]
    assert all(len(r) == len(PAYER_TRANSITION_COLUMNS) == 8 for r in rows)
    # the patient owns a "Self" plan: the owner's name is the patient's
    coverage[0].owner_name = ""
    rows = payer_transition_rows("pid", coverage, end_time=15 * day, name="Ada Lovelace")
    assert [r[6:] for r in rows] == [["Guardian", ""], ["Self", "Ada Lovelace"]]


def test_payer_rows_and_stats_merge() -> None:
    medicare = CATALOG.payers[0]
    a = PayerStats(amount_covered=10.25, revenue=0.125, covered_encounters=2,
                   customers=1, member_months=12, qols_total=0.9, qols_years=1)
    b = PayerStats(amount_covered=0.5, uncovered_encounters=1, customers=2,
                   member_months=6, qols_total=0.7, qols_years=1)
    a.merge(b)
    rows = payer_rows(CATALOG, {medicare.id: a})
    assert len(PAYER_COLUMNS) == 22
    assert len(rows) == len(CATALOG.payers)
    assert all(len(r) == 22 for r in rows)
    row = dict(zip(PAYER_COLUMNS, rows[0], strict=True))
    assert row["Id"] == medicare.id and row["NAME"] == "Medicare"
    assert row["AMOUNT_COVERED"] == "10.75"
    assert row["REVENUE"] == "0.13"  # 0.125 is exact in binary: half-up, not half-even
    assert (row["COVERED_ENCOUNTERS"], row["UNCOVERED_ENCOUNTERS"]) == ("2", "1")
    assert row["UNIQUE_CUSTOMERS"] == "3" and row["MEMBER_MONTHS"] == "18"
    assert float(row["QOLS_AVG"]) == pytest.approx(0.8)
    last = dict(zip(PAYER_COLUMNS, rows[-1], strict=True))
    assert last["NAME"] == "NO_INSURANCE" and last["OWNERSHIP"] == "NO_INSURANCE"
    assert last["QOLS_AVG"] == "NaN" and last["AMOUNT_COVERED"] == "0.00"


# ------------------------------------------------------------------------ prescription fills


def test_every_fill_of_a_prescription_is_billed_in_the_plan_year_it_falls_in() -> None:
    """11 monthly fills of 400.00 (csv DISPENSES 11, TOTALCOST 4,400.00) cross a plan year: the
    claim charges all 11, and the deductible starts again for the fills after the change."""
    hdhp = _plan("UnitedHealthcare HDHP/SO")  # no copay, deductible 2433, coinsurance 19 %
    billing = Billing(CATALOG)
    year1, year2, year3 = (tu.ymd_ms(y, 1, 1) for y in (2021, 2022, 2023))
    billing.enrol(hdhp, year1, year2, 40, lambda: "m")
    visit = Encounter(id="enc", start=year2 - 95 * tu.DAY, codes=[], name="visit",
                      base_cost=0.0)
    med = Medication(id="med", start=visit.start, codes=[], name="statin", cost=400.0,
                     prescription={"refills": 11, "duration": {"quantity": 30, "unit": "days"}})
    visit.medications.append(med)
    visit.stop, visit.ended = visit.start, True
    billing.adjudicate(visit)
    billing.enrol(hdhp, year2, year3, 41, lambda: "m")
    late = _visit(billing, year2 + 200 * tu.DAY, 100.0, 2)
    billing.close(year3)
    assert med.claim is not None
    (line,) = med.claim.lines
    assert dispenses(med, year3) == 11 and line.cost == 4400.0
    assert round((line.patient + line.payer) * 100) == 440000
    # 4 fills (days 0, 30, 60, 90) before the new plan year: 1,600 of its deductible; in the
    # new year 6 fills pay 2,400 of a fresh 2,433, the visit the last 33, and the 11th fill
    # pays 19 % coinsurance
    assert (line.copay, line.deductible) == (0.0, 1600.0 + 2400.0)
    assert (line.coinsurance, line.payer) == (76.0, 324.0)
    assert late.claim is not None
    assert (late.claim.lines[0].deductible, late.claim.lines[0].coinsurance) == (33.0, 12.73)


def test_a_fill_counted_only_with_its_whole_supply_period() -> None:
    """Without refills a prescription is dispensed once a supply period it was active: 2.5
    periods bill 2 fills, as DISPENSES counts."""
    billing = Billing(CATALOG)
    start = tu.ymd_ms(2021, 1, 1)
    visit = Encounter(id="enc", start=start, codes=[], name="visit", base_cost=0.0)
    med = Medication(id="med", start=start, codes=[], name="x", cost=12.34,
                     prescription={"duration": {"quantity": 10, "unit": "days"}})
    med.stop = start + 25 * tu.DAY
    visit.medications.append(med)
    visit.stop, visit.ended = start, True
    billing.adjudicate(visit)
    billing.close(start + 400 * tu.DAY)
    assert med.claim is not None
    (line,) = med.claim.lines
    assert dispenses(med, start + 400 * tu.DAY) == 2
    assert line.cost == 24.68 and line.patient == 24.68  # uninsured: the patient pays all


# ------------------------------------------------------------------------ uninsured draw


def test_uninsured_shares_are_the_acs_uninsured_among_people_without_public_coverage() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    entry = data["uninsured_without_public"]
    assert all(source in data["sources"] for source in entry["derived_from"])
    states = json.loads((DATA_FILE.parent / "state_demographics.json").read_text(
        encoding="utf-8"))
    assert len(entry["by_state"]) == len(states["states"]) == 51
    for raw in states["states"].values():
        c = raw["coverage"]
        expected = raw["sdoh"]["uninsured"] / (1 - c["public"] / c["population"])
        assert entry["by_state"][raw["abbreviation"]] == pytest.approx(expected, abs=5e-5)
    assert CATALOG.rules.uninsured_share("MA") == 0.0437
    assert CATALOG.rules.uninsured_share("TX") == 0.2496
    assert CATALOG.rules.uninsured_share("ZZ") == entry["national"] == 0.1376


def test_the_coverage_draw_closes_private_plans_but_not_government_ones() -> None:
    worker = person(90_000, occupation=0.9)
    share = CATALOG.rules.uninsured_share("TX")
    assert status(40, 2020, worker, "TX") == "private"  # no draw given: always open
    closed = choose_plan(CATALOG, age=40, year=2020, state_abbreviation="TX",
                         attributes=worker, previous=None, u=0.5, coverage=share - 1e-9)
    assert closed is CATALOG.no_insurance_plan
    opened = choose_plan(CATALOG, age=40, year=2020, state_abbreviation="TX",
                         attributes=worker, previous=None, u=0.5, coverage=share)
    assert insurance_status(opened) == "private"
    retiree = choose_plan(CATALOG, age=70, year=2020, state_abbreviation="TX",
                          attributes=worker, previous=None, u=0.5, coverage=0.0)
    assert insurance_status(retiree) == "medicare"
    poor = choose_plan(CATALOG, age=30, year=2020, state_abbreviation="MA",
                       attributes=person(10_000), previous=None, u=0.5, coverage=0.0)
    assert insurance_status(poor) == "medicaid"
