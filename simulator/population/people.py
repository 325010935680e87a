"""From bulk draws to `Person` objects: who each person is when the modules first see them.

`Population.draw(indices)` samples a shard in one numba call (`sampler.draw`); `person(...)`
turns one row into a Person with the demographic, identity, location and social attributes
that engine-behaviour.md §4.3.1, §5.1 and §6 list, plus the natural-death instant and the body
trajectory that the lifecycle and vital signs use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.builtin.body import Body
from simulator.engine import timeutil as tu
from simulator.engine.person import Person
from simulator.engine.randomness import person_seed
from simulator.population import sampler as s
from simulator.population.geography import LANGUAGES, foreign_birthplaces
from simulator.population.names import LANGUAGE_LOCALE, LOCALES, locale_names, numbered

POVERTY_LEVEL = 17_550  # engine-behaviour.md §6.2 step 6
HIGH_INCOME = 75_000
ADHERENCE_BASELINE = 0.05  # lifecycle.adherence.baseline (§4.3.1)
YEAR_MS = 365.2425 * tu.DAY


@dataclass(frozen=True, slots=True)
class PopulationOptions:
    seed: int
    reference_time: int
    state: str = "Massachusetts"
    city: str | None = None
    gender: str | None = None  # "M" | "F"
    min_age: int | None = None
    max_age: int | None = None
    natural_death: bool = True
    # the project's modules whose deaths natural death leaves out (module_mortality)
    deleted_causes: tuple[str, ...] = ()


class Population:
    def __init__(self, options: PopulationOptions) -> None:
        self.options = options
        self.tables = s.population_tables(
            options.state, options.reference_time, options.city, options.gender,
            options.min_age, options.max_age, options.deleted_causes,
        )
        from faker.providers.address.en_US import Provider as Addresses

        self._suffixes = Addresses.street_suffixes
        self._secondary = ("Apt.", "Suite", "Unit")
        self._foreign = foreign_birthplaces()

    def draw(self, indices: np.ndarray | list[int], attempt: int = 0) -> tuple[np.ndarray, np.ndarray]:
        return s.draw(self.tables, self.options.seed, np.asarray(indices, dtype=np.int64), attempt)

    def make(self, index: int, attempt: int = 0) -> Person:
        ints, floats = self.draw([index], attempt)
        return self.person(index, attempt, ints[0], floats[0])

    def person(self, index: int, attempt: int, row: np.ndarray, f: np.ndarray) -> Person:
        t = self.tables
        geo = t.geography
        birth = int(f[s.F_BIRTH])
        person = Person(index=index, seed=person_seed(self.options.seed, index, attempt), birth=birth,
                        attributes={})
        a = person.attributes
        sex = "F" if row[s.I_SEX] == 1 else "M"
        language = LANGUAGES[int(row[s.I_LANGUAGE])]
        a["id"] = person.rng.uuid()
        a["gender"] = sex
        a["race"] = s.RACES[int(row[s.I_RACE])]
        a["ethnicity"] = "hispanic" if row[s.I_HISPANIC] else "nonhispanic"
        a["first_language"] = language

        city = geo.cities[int(row[s.I_CITY])]
        zi = int(row[s.I_ZIP])
        a["state"] = t.state
        a["state_abbreviation"] = t.abbreviation
        a["city"] = city.name
        a["county"] = city.county
        a["fips"] = city.fips
        a["zip"] = city.zips[zi]
        a["lat"] = float(f[s.F_LAT])
        a["lon"] = float(f[s.F_LON])
        a["coordinate"] = (a["lat"], a["lon"])

        education = s.EDUCATION[int(row[s.I_EDUCATION])]
        income = int(row[s.I_INCOME_DOLLARS])
        a["education"] = education
        a["education_level"] = float(f[s.F_EDUCATION_LEVEL])
        a["income"] = income
        a["income_level"] = min(max((income - POVERTY_LEVEL) / (HIGH_INCOME - POVERTY_LEVEL), 0.0), 1.0)
        a["poverty_ratio"] = income / POVERTY_LEVEL
        a["occupation_level"] = float(f[s.F_OCCUPATION])
        score = 0.2 * a["income_level"] + 0.7 * a["education_level"] + 0.1 * a["occupation_level"]
        a["socioeconomic_score"] = score
        a["socioeconomic_category"] = "High" if score >= 0.66 else "Middle" if score >= 0.25 else "Low"
        for k, name in enumerate(s.SDOH):
            a[name] = bool(row[s.I_SDOH + k])

        names = locale_names(LOCALES[int(LANGUAGE_LOCALE[int(row[s.I_LANGUAGE])])])
        first_list = names.female if sex == "F" else names.male
        first = numbered(first_list.names[int(row[s.I_FIRST])])
        last = numbered(names.last.names[int(row[s.I_LAST])])
        a["first_name"] = first
        if row[s.I_MIDDLE] >= 0:
            a["middle_name"] = numbered(first_list.names[int(row[s.I_MIDDLE])])
        a["last_name"] = last
        a["name"] = f"{first} {last}"
        mother = names.female.names[int(row[s.I_MOTHER_FIRST])]
        mother_last = names.last.names[int(row[s.I_MOTHER_LAST])]
        father = names.male.names[int(row[s.I_FATHER_FIRST])]
        a["name_mother"] = f"{numbered(mother)} {numbered(mother_last)}"
        a["name_father"] = f"{numbered(father)} {last}"
        a["telecom"] = f"555-{int(row[s.I_PHONE_MID])}-{int(row[s.I_PHONE_LAST])}"
        street = locale_names("en_US").last.names[int(row[s.I_STREET_NAME])]
        address = f"{int(row[s.I_STREET_NUMBER])} {street} {self._suffixes[int(row[s.I_STREET_SUFFIX])]}"
        if row[s.I_SECONDARY] >= 0:
            kind = self._secondary[int(row[s.I_SECONDARY]) % len(self._secondary)]
            address += f" {kind} {int(row[s.I_SECONDARY])}"
        a["address"] = address
        a["identifier_ssn"] = f"999-{int(row[s.I_SSN_MID])}-{int(row[s.I_SSN_LAST])}"
        if row[s.I_MULTIPLE_BIRTH]:
            a["multiple_birth_status"] = int(row[s.I_MULTIPLE_BIRTH])
        foreign = int(row[s.I_FOREIGN_BIRTHPLACE])
        if foreign >= 0:
            bcity, region, country = self._foreign.places[int(row[s.I_LANGUAGE])][foreign]
            a["birth_city"], a["birth_state"], a["birth_country"] = bcity, region, country
        else:
            born = geo.cities[int(row[s.I_BIRTH_CITY])]
            a["birth_city"], a["birth_state"], a["birth_country"] = born.name, t.abbreviation, "US"
        a["birthplace"] = f"{a['birth_city']}, {a['birth_state']}, {a['birth_country']}"
        a["sexual_orientation"] = s.ORIENTATIONS[int(row[s.I_ORIENTATION])]
        a["RH_NEG"] = bool(row[s.I_RH_NEG])
        a["adherence probability"] = ADHERENCE_BASELINE
        a["active_weight_management"] = False

        person.body = Body(
            sex=sex,
            z_height=float(f[s.F_Z_HEIGHT]),
            z_weight_infant=float(f[s.F_Z_WEIGHT_INFANT]),
            z_head=float(f[s.F_Z_HEAD]),
            bmi_start=float(f[s.F_BMI_START]),
            bmi_child=float(f[s.F_BMI_CHILD]),
            bmi_adult=float(f[s.F_BMI_ADULT]),
        )
        person.bulk = (float(f[s.F_BP_SYSTOLIC]), float(f[s.F_BP_DIASTOLIC]),
                       float(f[s.F_LOW_HDL]), float(f[s.F_HIGH_CHOLESTEROL]))
        if self.options.natural_death:
            person.natural_death = birth + int(f[s.F_DEATH_AGE] * YEAR_MS)
        else:
            person.natural_death = None
        return person
