"""Routine immunizations given at every engine-created encounter (engine-behaviour.md §4.7).

The schedule is Synthea's (ages in whole months, first calendar year a vaccine was in use).
Codes and displays are the CDC CVX code set ("CVX" here; the FHIR exporter maps it to
http://hl7.org/fhir/sid/cvx). Every code below was checked against CDC's CVX table:
  * CDC IIS "Mapping CVX to Vaccine Groups", https://www2a.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=vg
    (03 MMR, 08 Hep B adolescent or pediatric, 10 IPV, 21 varicella, 121 zoster);
  * CDC's cvx.txt code file (https://www2.cdc.gov/vaccines/iis/iisstandards/downloads/cvx.txt) as
    copied into public repositories: a JSON copy of the 2012-era file (20 DTaP, 33, 43 Hep B adult,
    49 Hib (PRP-OMP), 52 Hep A adult, 62 HPV quadrivalent, 83 Hep A ped/adol 2 dose, 114
    meningococcal MCV4P, 115 Tdap, 119 rotavirus monovalent, 133 Pneumococcal conjugate PCV 13),
    a 2024 extract (140 "Influenza, split virus, trivalent, PF", the 2024 name of code 140) and
    OpenEMR's code-set update script (113 "Td (adult), 5 Lf tetanus toxoid, preservative free,
    adsorbed").
Displays are kept exactly as in the reference table so exported records match Synthea's; for 33
and 121 they are CDC's *full* names rather than the short descriptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.engine import timeutil as tu
from simulator.payers.prices import IMMUNIZATION_COST
from simulator.record import Code, Immunization

if TYPE_CHECKING:
    from simulator.record import Encounter

ATTRIBUTE = "immunizations"
# A dose more than this many months overdue is no longer offered (catch-up window).
CATCH_UP_MONTHS = 48


@dataclass(frozen=True)
class Vaccine:
    key: str
    code: Code
    ages_months: tuple[int, ...]
    first_available_year: int

    @property
    def available_from(self) -> int:
        return tu.ymd_ms(self.first_available_year, 1, 1)


def _v(key: str, cvx: str, display: str, ages: tuple[int, ...], year: int) -> Vaccine:
    return Vaccine(key, Code("CVX", cvx, display), ages, year)


SCHEDULE: tuple[Vaccine, ...] = (
    _v("hepb", "08", "Hep B, adolescent or pediatric", (0, 1, 6), 1981),
    _v("hepb_adult", "43", "Hep B, adult", (240, 241, 246), 1981),
    _v("rv_mono", "119", "rotavirus, monovalent", (2, 4), 2006),
    _v("dtap", "20", "DTaP", (2, 4, 6, 15, 48), 1997),
    _v("hib", "49", "Hib (PRP-OMP)", (2, 4, 12), 1977),
    _v("pcv13", "133", "Pneumococcal conjugate PCV 13", (2, 4, 6, 12, 780), 2010),
    _v("ipv", "10", "IPV", (2, 4, 6, 48), 1955),
    _v("flu", "140", "Influenza, split virus, trivalent, PF", tuple(range(6, 1207, 12)), 1945),
    _v("mmr", "03", "MMR", (12, 48), 1971),
    _v("var", "21", "varicella", (12, 48), 1984),
    _v("hepa", "83", "Hep A, ped/adol, 2 dose", (12, 24), 1995),
    _v("hepa_adult", "52", "Hep A, adult", (480, 486), 1996),
    _v("men", "114", "meningococcal MCV4P", (132, 192, 252), 2005),
    _v("tdap", "115", "Tdap", (132,), 2005),
    _v("hpv", "62", "HPV, quadrivalent", (132, 134, 138), 2006),
    _v("td", "113", "Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed",
       (252, 372, 492, 612, 732, 852, 972, 1092), 1992),
    _v("zoster", "121", "zoster vaccine, live", (600, 606), 2006),
    _v("ppsv23", "33", "pneumococcal polysaccharide vaccine, 23 valent", (792,), 1983),
)
BY_KEY: dict[str, Vaccine] = {v.key: v for v in SCHEDULE}


def is_due(vaccine: Vaccine, birth: int, now: int, doses: list[int]) -> bool:
    """The five-step rule of §4.7 for one vaccine, given the times of the doses already had."""
    if now < vaccine.available_from or len(doses) >= len(vaccine.ages_months):
        return False
    age = tu.age_months(birth, now)
    remaining = [m for m in vaccine.ages_months if age - m < CATCH_UP_MONTHS]
    if not remaining:
        return False
    # A previous dose counts against the earliest remaining slot only if it was given at or
    # after that slot's age and within its catch-up window (for past doses the window test is
    # implied by the filter above; it is kept to state the rule as written).
    for dose in sorted(doses):
        at = tu.age_months(birth, dose)
        if at >= remaining[0] and at - remaining[0] < CATCH_UP_MONTHS:
            remaining.pop(0)
            if not remaining:
                return False
    return age >= remaining[0]


def due_vaccines(birth: int, now: int, given: Mapping[str, list[int]]) -> list[Vaccine]:
    """Vaccines of the schedule due at `now`, in schedule order."""
    return [v for v in SCHEDULE if is_due(v, birth, now, list(given.get(v.key, ())))]


def give_immunizations(sim: Any, encounter: Encounter) -> None:
    """Record every due dose in `encounter` and remember it in the `immunizations` attribute.

    `sim` needs only `.person` and `.now` (a PersonSim, or a test double).
    """
    person = sim.person
    now = sim.now
    given: dict[str, list[int]] = person.attributes.setdefault(ATTRIBUTE, {})
    for vaccine in due_vaccines(person.birth, now, given):
        doses = given.setdefault(vaccine.key, [])
        encounter.immunizations.append(
            Immunization(
                id=person.rng.uuid(),
                start=now,
                codes=[vaccine.code],
                name=vaccine.key,
                series=len(doses) + 1,
                cost=IMMUNIZATION_COST,
            )
        )
        doses.append(now)
