"""COVID-19 primary-series vaccination from US age-group adoption curves (engine-behaviour.md §4.5).

Each person alive when the US programme started (2020-12-14) draws one uniform number u at that
date. Coverage curves give, per age group, the cumulative share of the group that had completed
the primary series by a date; the person completes theirs at the first day on which the
coverage of the group they belong to *that day* reaches u (inverse-CDF sampling, so a cohort
reproduces the published curve). The first dose is placed one dosing interval earlier, never
before the day the person became eligible. Past the last published figure coverage is held flat;
people whose u is above their group's final coverage are never vaccinated.

Published figures: share of the age group "fully vaccinated" (= completed primary series) from
CDC data (COVID Data Tracker, MMWR), as relayed by the source given beside each point. The 18–64 curve is not
published in the sources found; it is derived from the published ≥18 and ≥65 figures.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from simulator.engine import timeutil as tu
from simulator.record import Code

PROGRAM_START = tu.ymd_ms(2020, 12, 14)  # MMWR 2021;70(25):922 (mm7025e1): programme launch

# CDC CVX code set, full vaccine names (CDC "COVID-19 Vaccine Related Codes",
# https://www.cdc.gov/vaccines/programs/iis/COVID-19-related-codes.html; cvx.txt).
MODERNA = Code("CVX", "207", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, "
               "100 mcg/0.5mL dose")
PFIZER = Code("CVX", "208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, "
              "30 mcg/0.3mL dose")
# Days between the two primary doses: Pfizer three weeks (KFF, "Update on COVID-19 Vaccination of
# 5-11 Year Olds in the U.S.", Jan 2022); mRNA doses "three to four weeks apart" (Business Insider,
# "Half of all US seniors have been fully vaccinated against COVID-19", Mar 2021), i.e. four weeks
# for Moderna.
INTERVAL_DAYS = {PFIZER.code: 21, MODERNA.code: 28}
# Share of Pfizer among mRNA doses administered by 30 Aug 2021: 209,579,682 Pfizer vs
# 145,280,750 Moderna (CDC via First Trust, alphaky.com "COVID-19 Tracker"). Janssen (14.3 M
# doses, single shot) is not modelled.
PFIZER_SHARE = 209_579_682 / (209_579_682 + 145_280_750)
# Only Pfizer-BioNTech was authorized under 18 (MMWR 2021;70(35):1206, mm7035e1).
PFIZER_ONLY_BELOW_AGE = 18

Curve = tuple[tuple[int, float], ...]


def _d(y: int, m: int, d: int) -> int:
    return tu.ymd_ms(y, m, d)


# ≥65 years, % fully vaccinated.
SENIORS: Curve = (
    (PROGRAM_START, 0.0),
    (_d(2021, 3, 20), 40.0),   # Epoch Times 21 Mar 2021 (CDC, "as of March 20": 22.3 M = 40 %)
    (_d(2021, 4, 2), 53.5),    # HotAir 3 Apr 2021 (CDC figures "as of Friday")
    (_d(2021, 5, 12), 71.9),   # NewsBreak May 2021 (CDC "as of May 12")
    (_d(2021, 5, 27), 73.9),   # NewsBreak 27 May 2021 (CDC update)
    (_d(2021, 7, 22), 79.6),   # CDC COVID Data Tracker Weekly Review, data as of 22 Jul 2021
    (_d(2021, 8, 26), 81.3),   # VOA via New Delhi Times 27 Aug 2021 (CDC, Thursday)
    (_d(2021, 12, 6), 87.0),   # Orlando Sentinel 6 Dec 2021 ("nearly 87%")
)
# ≥18 years (includes ≥65), % fully vaccinated.
ADULTS: Curve = (
    (PROGRAM_START, 0.0),
    (_d(2021, 3, 20), 16.7),   # The Hill via joemygod.com Mar 2021 (CDC tracker, Saturday 20 Mar)
    (_d(2021, 4, 9), 25.6),    # WXYZ Apr 2021 (CDC "on Friday"; dated by the 19 Apr deadline
                               # announced "on Tuesday", 6 Apr 2021)
    (_d(2021, 5, 27), 49.6),   # NewsBreak 27 May 2021
    (_d(2021, 7, 22), 59.7),   # CDC COVID Data Tracker Weekly Review, 22 Jul 2021
    (_d(2021, 8, 26), 62.7),   # VOA via New Delhi Times 27 Aug 2021
    (_d(2022, 2, 6), 74.4),    # SlashGear 7 Feb 2022 (CDC tracker update)
)
# 12–17 years, % completed series.
ADOLESCENTS: Curve = (
    (_d(2021, 4, 19), 0.0),
    (_d(2021, 7, 31), 31.9),   # MMWR 2021;70(35):1206 (mm7035e1)
    (_d(2021, 10, 13), 47.0),  # AAP "Children and COVID-19 Vaccination Trends", 13 Oct 2021
    (_d(2022, 2, 9), 56.0),    # NY Daily News 11 Feb 2022 (CDC data "as of Wednesday")
    (_d(2022, 6, 29), 59.0),   # AAP "Children and COVID-19 Vaccination Trends", 29 Jun 2022
)
# 5–11 years, % completed series.
CHILDREN: Curve = (
    (_d(2021, 11, 2), 0.0),
    (_d(2021, 12, 14), 10.0),  # NewsBreak Dec 2021 ("as of Dec. 14 ... about 10% fully vaccinated")
    (_d(2022, 1, 18), 18.8),   # KFF, "Update on COVID-19 Vaccination of 5-11 Year Olds", Jan 2022
    (_d(2022, 2, 9), 23.0),    # NY Daily News 11 Feb 2022
    (_d(2022, 6, 29), 29.0),   # AAP, 29 Jun 2022
)
# Share of ≥65 among adults, from the same 20 Mar 2021 CDC release: 43,036,820 fully vaccinated
# adults were 16.7 % of adults (The Hill) and 22.3 M fully vaccinated seniors were 40 % of seniors
# (Epoch Times).
SENIOR_SHARE_OF_ADULTS = (22.3e6 / 0.40) / (43_036_820 / 0.167)


def interpolate(curve: Curve, t: int) -> float:
    """Piecewise-linear coverage (%) at t; 0 before the first point, flat after the last."""
    times = [p[0] for p in curve]
    i = bisect.bisect_right(times, t)
    if i == 0:
        return 0.0
    if i == len(curve):
        return curve[-1][1]
    (t0, v0), (t1, v1) = curve[i - 1], curve[i]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def adults_18_64(t: int) -> float:
    w = SENIOR_SHARE_OF_ADULTS
    return max((interpolate(ADULTS, t) - w * interpolate(SENIORS, t)) / (1.0 - w), 0.0)


@dataclass(frozen=True)
class AgeGroup:
    min_age: int
    max_age: int
    eligible_from: int
    curve: Curve | None  # None: computed by adults_18_64

    def coverage(self, t: int) -> float:
        return adults_18_64(t) if self.curve is None else interpolate(self.curve, t)


# Eligibility: phased from the programme start for adults (ACIP prioritised ≥75 and then ≥65 from
# January 2021; all adults by 19 Apr 2021 — MMWR mm7025e1), all ≥16 from 19 Apr 2021 (same report),
# 12–15 from the EUA of 10 May 2021 (MMWR mm7035e1), 5–11 from CDC's recommendation of 2 Nov 2021
# (Emerg Infect Dis 2022;28(5), 22-0166). Under-5s (eligible 18 Jun 2022) have no coverage figures
# in the sources found and are not vaccinated.
GROUPS: tuple[AgeGroup, ...] = (
    AgeGroup(65, 200, PROGRAM_START, SENIORS),
    AgeGroup(18, 64, PROGRAM_START, None),
    AgeGroup(16, 17, _d(2021, 4, 19), ADOLESCENTS),
    AgeGroup(12, 15, _d(2021, 5, 10), ADOLESCENTS),
    AgeGroup(5, 11, _d(2021, 11, 2), CHILDREN),
)
DATA_END = max(c[-1][0] for c in (SENIORS, ADULTS, ADOLESCENTS, CHILDREN))


def group_at(age_years: int) -> AgeGroup | None:
    for group in GROUPS:
        if group.min_age <= age_years <= group.max_age:
            return group
    return None


def eligible_since(birth: int) -> int | None:
    """First instant the person may be vaccinated (groups only get younger eligibility dates
    as people age, so this is the earliest over the groups they will belong to)."""
    times = [max(g.eligible_from, tu.age_reached_ms(birth, g.min_age * 12)) for g in GROUPS
             if tu.age_reached_ms(birth, (g.max_age + 1) * 12) > g.eligible_from]
    return min(times) if times else None


@dataclass(frozen=True)
class Plan:
    vaccine: Code
    first: int
    second: int


def plan_vaccination(birth: int, u: float, pfizer: bool) -> Plan | None:
    """When a person with adoption draw u (0..1) completes the primary series, if ever."""
    start = eligible_since(birth)
    if start is None:
        return None
    target = 100.0 * u

    def reached(day: int) -> bool:
        group = group_at(tu.age_years(birth, day))
        return group is not None and day >= group.eligible_from and group.coverage(day) > target

    first_day = max(start, PROGRAM_START)
    first_day += -(first_day - PROGRAM_START) % tu.DAY  # whole days after the programme start
    # Coverage only grows with time and with age group, so scan by week, then by day.
    week = first_day
    while week <= DATA_END and not reached(week):
        week += tu.WEEK
    if week > DATA_END and not reached(DATA_END):
        return None
    day = max(week - tu.WEEK + tu.DAY, first_day)
    while not reached(day):
        day += tu.DAY
    return _plan(birth, day, start, pfizer)


def _plan(birth: int, full: int, start: int, pfizer: bool) -> Plan:
    vaccine = PFIZER if pfizer or tu.age_years(birth, full) < PFIZER_ONLY_BELOW_AGE else MODERNA
    interval = INTERVAL_DAYS[vaccine.code] * tu.DAY
    # Coverage counts people at their last dose; the first dose precedes it by one interval.
    first = max(full - interval, start)
    return Plan(vaccine, first, first + interval)


def covid19_immunization(sim: Any) -> Generator[Any, Any, None]:
    """SimPy process: decide at the programme start, then give the two doses.

    Needs `sim.env`, `sim.now`, `sim.person` and `sim.record_engine_immunization(code, series)`.
    C19_VACCINE_STATUS: "not_eligible" (born after the start, or no dose within the period the
    figures cover — including people who never take it up), "waiting" (scheduled), "vaccinated"
    (first dose given); C19_FULLY_VACCINATED turns true at the second dose.
    """
    person = sim.person
    if person.birth >= PROGRAM_START:
        person.set("C19_VACCINE_STATUS", "not_eligible")
        return
    if sim.now < PROGRAM_START:
        yield sim.env.timeout(PROGRAM_START - sim.now)
    if not person.alive(sim.now):
        return
    rng = person.rng
    u = rng.random()
    plan = plan_vaccination(person.birth, u, rng.random() < PFIZER_SHARE)
    person.set("C19_FULLY_VACCINATED", False)
    if plan is None:
        # Not eligible within the period the figures cover, or never takes up the vaccine.
        person.set("C19_VACCINE_STATUS", "not_eligible")
        return
    person.set("C19_VACCINE_STATUS", "waiting")
    person.set("C19_VACCINE", plan.vaccine.code)
    person.set("C19_SCHEDULED_FIRST_SHOT", plan.first)
    person.set("C19_SCHEDULED_SECOND_SHOT", plan.second)
    for series, at in ((1, plan.first), (2, plan.second)):
        if at > sim.now:
            yield sim.env.timeout(at - sim.now)
        if not person.alive(sim.now):
            return
        sim.record_engine_immunization(plan.vaccine, series)
        person.set("C19_VACCINE_STATUS", "vaccinated")
    person.set("C19_FULLY_VACCINATED", True)
