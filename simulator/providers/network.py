"""Provider organizations and clinicians near the patient (engine-behaviour.md §7).

THE NETWORK IS SYNTHETIC. No offline list of real US health-care facilities is available, so
each state's organizations and clinicians are invented, deterministically, and placed at real
ZIP codes (real city, county and coordinates from the `zipcodes` package; see
`simulator.providers.generate` for the placement rules). Names, addresses, telephone numbers and
NPIs are made up; NPIs are well-formed (10 digits, valid check digit) but were not checked
against the real NPI registry, so one may match a real provider's number by chance.

Provider choice: `nearest` returns the closest organization offering the encounter class, by
equirectangular distance (longitude differences scaled by the cosine of the patient's latitude),
falling back to the nearest hospital when no organization offers the class (as Synthea does with
`generate.providers.default_to_hospital_on_failure=true`). VA facilities only serve veterans.
The patient's coordinate is rounded to 3 decimals (about 100 m) and results are cached on the
rounded coordinate, so the answer never depends on the order of calls.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import cache

import numpy as np

from simulator.providers.generate import build, staff
from simulator.providers.model import GENERAL_PRACTICE, Clinician, Organization, canonical_specialty

_CACHE_LIMIT = 200_000
_Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]  # organization indexes, lats, lons


class ProviderNetwork:
    """One state's organizations and clinicians.

    `staff(org)` gives an organization's clinicians; it is called at most once per organization,
    when first needed, so a run only pays for the clinicians it meets.
    """

    def __init__(self, state: str, organizations: Iterable[Organization],
                 staff: Callable[[Organization], Sequence[Clinician]]) -> None:
        self.state = state
        self.organizations: list[Organization] = list(organizations)
        self._staff_of = staff
        self._org_by_id = {o.id: o for o in self.organizations}
        if len(self._org_by_id) != len(self.organizations):
            raise ValueError("organization ids are not unique")
        self._staff: dict[str, dict[str, tuple[Clinician, ...]]] = {}
        self._members: dict[str, tuple[Clinician, ...]] = {}
        self._all_clinicians: list[Clinician] | None = None
        self._clinician_by_id: dict[str, Clinician] | None = None
        self._lat = np.array([o.lat for o in self.organizations], dtype=np.float64)
        self._lon = np.array([o.lon for o in self.organizations], dtype=np.float64)
        self._candidates: dict[tuple[str, bool], _Candidates] = {}
        self._nearest_cache: dict[tuple[float, float, str, bool], Organization] = {}

    @classmethod
    def from_clinicians(cls, state: str, organizations: Iterable[Organization],
                        clinicians: Iterable[Clinician]) -> ProviderNetwork:
        """A network from explicit lists (clinicians grouped by their organization_id)."""
        by_org: dict[str, list[Clinician]] = defaultdict(list)
        for c in clinicians:
            by_org[c.organization_id].append(c)
        return cls(state, organizations, lambda o: by_org.get(o.id, ()))

    # -- lookups -------------------------------------------------------------------------------

    @property
    def clinicians(self) -> list[Clinician]:
        """Every clinician, organization by organization in network order (staffs them all)."""
        if self._all_clinicians is None:
            self._all_clinicians = [c for o in self.organizations for c in self.clinicians_of(o)]
        return self._all_clinicians

    def organization(self, org_id: str) -> Organization:
        return self._org_by_id[org_id]

    def clinician_by_id(self, cid: str) -> Clinician:
        if self._clinician_by_id is None:
            self._clinician_by_id = {c.id: c for c in self.clinicians}
        return self._clinician_by_id[cid]

    def clinicians_of(self, organization: Organization) -> tuple[Clinician, ...]:
        """Every clinician of an organization, in the order `staff` gave them."""
        members = self._members.get(organization.id)
        if members is None:
            self._hire(organization)
            members = self._members[organization.id]
        return members

    def clinician(self, organization: Organization, specialty: str, u: float) -> Clinician:
        """The clinician of `specialty` at `organization` picked by u in [0, 1).

        Falls back to general practice, which every organization has.
        """
        staff = self._staff.get(organization.id)
        if staff is None:
            staff = self._hire(organization)
        group = staff.get(specialty) or staff.get(canonical_specialty(specialty)) \
            or staff[GENERAL_PRACTICE]
        n = len(group)
        return group[min(max(int(u * n), 0), n - 1)]

    def _hire(self, organization: Organization) -> dict[str, tuple[Clinician, ...]]:
        members = tuple(self._staff_of(organization))
        grouped: dict[str, list[Clinician]] = defaultdict(list)
        for c in members:
            if c.organization_id != organization.id:
                raise ValueError(f"clinician {c.id} does not belong to {organization.name!r}")
            grouped[c.specialty].append(c)
        if GENERAL_PRACTICE not in grouped:
            raise ValueError(f"organization {organization.name!r} has no {GENERAL_PRACTICE} "
                             "clinician")
        staff = {s: tuple(cs) for s, cs in grouped.items()}
        self._members[organization.id] = members
        self._staff[organization.id] = staff
        return staff

    # -- nearest provider ----------------------------------------------------------------------

    def nearest(self, lat: float, lon: float, encounter_class: str,
                veteran: bool = False) -> Organization:
        """Nearest organization offering `encounter_class` (else the nearest hospital)."""
        key = (round(lat, 3), round(lon, 3), encounter_class, veteran)
        found = self._nearest_cache.get(key)
        if found is not None:
            return found
        indexes, lats, lons = self._offering(encounter_class, veteran)
        qlat, qlon = key[0], key[1]
        dlat = lats - qlat
        dlon = lons - qlon
        dlon *= math.cos(math.radians(qlat))
        dlat *= dlat
        dlon *= dlon
        dlat += dlon
        found = self.organizations[int(indexes[int(dlat.argmin())])]
        if len(self._nearest_cache) >= _CACHE_LIMIT:
            self._nearest_cache.clear()
        self._nearest_cache[key] = found
        return found

    def _offering(self, encounter_class: str, veteran: bool) -> _Candidates:
        key = (encounter_class, veteran)
        candidates = self._candidates.get(key)
        if candidates is None:
            chosen = [i for i, o in enumerate(self.organizations)
                      if encounter_class in o.services and (veteran or o.kind != "va")]
            if not chosen:
                chosen = [i for i, o in enumerate(self.organizations) if o.kind == "hospital"]
            if not chosen:
                raise LookupError(f"no organization offers {encounter_class!r} and no hospital")
            idx = np.array(chosen, dtype=np.intp)
            candidates = (idx, self._lat[idx], self._lon[idx])
            self._candidates[key] = candidates
        return candidates


def _normalise_state(state: str) -> tuple[str, str]:
    import us

    found = us.states.lookup(state.strip())
    if found is None or not found.fips:
        raise ValueError(f"unknown US state {state!r}")
    return found.abbr, found.fips


def provider_network(state_abbreviation: str) -> ProviderNetwork:
    """The synthetic provider network of a state (abbreviation or name), built once per process."""
    abbreviation, fips = _normalise_state(state_abbreviation)
    return _network(abbreviation, fips)


@cache
def _network(abbreviation: str, fips: str) -> ProviderNetwork:
    return ProviderNetwork(abbreviation, build(abbreviation, fips), staff)
