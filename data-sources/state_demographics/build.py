"""Build simulator/data/state_demographics.json from transcribed ACS 2018 1-year counts."""
import json, os

REPO = "https://github.com/gabrieljohndusing/NCNW-Project-Datasets/blob/16371eb031660b5dbc5af9008cb96379b060dce2/data-sets/census/bystate/acs-acs1-profile/data/2018/"
def src(table, what, state):
    f = f"acs-acs1-profile-2018-GROUP_{table}_DATA.csv"
    return (f"U.S. Census Bureau, ACS 2018 1-year Data Profile {table} ({what}), {state}; "
            f"https://data.census.gov/table/ACSDP1Y2018.{table} (state row as stored in {REPO}{f})")

ABBR = {'Alabama':'AL','Alaska':'AK','Arizona':'AZ','Arkansas':'AR','California':'CA','Colorado':'CO','Connecticut':'CT','Delaware':'DE','District of Columbia':'DC','Florida':'FL','Georgia':'GA','Hawaii':'HI','Idaho':'ID','Illinois':'IL','Indiana':'IN','Iowa':'IA','Kansas':'KS','Kentucky':'KY','Louisiana':'LA','Maine':'ME','Maryland':'MD','Massachusetts':'MA','Michigan':'MI','Minnesota':'MN','Mississippi':'MS','Missouri':'MO','Montana':'MT','Nebraska':'NE','Nevada':'NV','New Hampshire':'NH','New Jersey':'NJ','New Mexico':'NM','New York':'NY','North Carolina':'NC','North Dakota':'ND','Ohio':'OH','Oklahoma':'OK','Oregon':'OR','Pennsylvania':'PA','Rhode Island':'RI','South Carolina':'SC','South Dakota':'SD','Tennessee':'TN','Texas':'TX','Utah':'UT','Vermont':'VT','Virginia':'VA','Washington':'WA','West Virginia':'WV','Wisconsin':'WI','Wyoming':'WY'}
AGE_KEYS = ["0-4","5-9","10-14","15-19","20-24","25-34","35-44","45-54","55-59","60-64","65-74","75-84","85+"]
RACE_KEYS = ["white","black","native","asian","hawaiian","other"]
INC_KEYS = ["0-10","10-15","15-25","25-35","35-50","50-75","75-100","100-150","150-200","200+"]
EDU_KEYS = ["less_than_hs","hs_degree","some_college","bs_degree"]

def shares(keys, counts):
    """Round to 4 decimals, then put the rounding residue on the largest share so the group sums to 1."""
    tot = sum(counts)
    vals = [round(c / tot, 4) for c in counts]
    i = max(range(len(vals)), key=lambda k: vals[k])
    vals[i] = round(vals[i] + 1 - sum(vals), 4)
    return dict(zip(keys, vals))

def ints(s): return [int(x) for x in s.split(',')]
def load(name):
    p = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.txt")
    return {l.split('|')[0]: l.strip().split('|')[1:] for l in open(p)} if os.path.exists(p) else {}

dp05, dp03, sex, dp02, dp04 = load('dp05'), load('dp03'), load('sex'), load('dp02'), load('dp04')
states = {}
for name in sorted(dp05):
    pop, ages, a18, a65, race, hisp = dp05[name]
    pop = int(pop); ages = ints(ages); t18, m18, f18 = ints(a18); t65, m65, f65 = ints(a65)
    w, b, aian, asian, nhpi, other, two = ints(race)
    male, female = ints(sex[name][0])
    st = {"abbreviation": ABBR[name], "population": pop,
          "age": shares(AGE_KEYS, ages),
          "female_by_age": {"0-17": round((female - f18) / (pop - t18), 4),
                            "18-64": round((f18 - f65) / (t18 - t65), 4),
                            "65+": round(f65 / t65, 4), "all": round(female / pop, 4)},
          # "Some other race" and "Two or more races" both go to other.
          "race": shares(RACE_KEYS, [w, b, aian, asian, nhpi, other + two]),
          "hispanic": round(int(hisp) / pop, 4)}
    s = {"age": src("DP05", "SEX AND AGE, total population by age", name),
         "female_by_age": src("DP05", "SEX AND AGE: total, 18 years and over and 65 years and over by sex", name),
         "race": src("DP05", "RACE, one race", name),
         "hispanic": src("DP05", "HISPANIC OR LATINO AND RACE", name)}
    if name in dp03:
        lf, inc, hi = (ints(x) for x in dp03[name])
        st["income"] = shares(INC_KEYS, inc[1:])
        s["income"] = src("DP03", "INCOME AND BENEFITS, total households", name)
        st["sdoh"] = {"unemployed": round(lf[1] / lf[0], 4), "uninsured": round(hi[2] / hi[0], 4)}
        s["unemployed"] = src("DP03", "EMPLOYMENT STATUS, civilian labor force unemployed", name)
        s["uninsured"] = src("DP03", "HEALTH INSURANCE COVERAGE, civilian noninstitutionalized population, no health insurance coverage", name)
    if name in dp02:
        e = ints(dp02[name][0])  # 25+, <9th, 9-12 no diploma, HS, some college, associate, bachelor, graduate
        st["education"] = shares(EDU_KEYS, [e[1] + e[2], e[3], e[4] + e[5], e[6] + e[7]])
        s["education"] = src("DP02", "EDUCATIONAL ATTAINMENT, population 25 years and over", name)
    if name in dp04:
        occ, none = ints(dp04[name][0])
        st.setdefault("sdoh", {})["no_vehicle_access"] = round(none / occ, 4)
        s["no_vehicle_access"] = src("DP04", "VEHICLES AVAILABLE, occupied housing units, no vehicles available", name)
    st["sources"] = s
    states[name] = st

US03 = REPO.replace("bystate", "us").replace("16371eb031660b5dbc5af9008cb96379b060dce2", "a3b896aae2c6175d390759e24685a87c3afbf656")
doc = {
    "description": ("Published state demographic figures that seed synthetic populations: U.S. Census Bureau "
                    "American Community Survey 2018 1-year Data Profiles (DP02, DP03, DP05) for the 50 "
                    "states and DC (Puerto Rico left out). Counts were transcribed from the Census API extract cited in each source and checked (groups add up to their published totals). Shares are fractions of the group total computed from the published "
                    "estimate counts, rounded to 4 decimals (rounding residue on the largest share). "
                    "female_by_age is the female share within each age group. States missing here are "
                    "unsourced; sdoh keys missing for a state fall back to national_sdoh."),
    "national_sdoh": {
        "unemployed": round(8115110 / 164898275, 4),
        "uninsured": round(28565542 / 322249485, 4),
        "no_vehicle_access": 0.086,
        "food_insecurity": 0.111,
        "severe_housing_cost_burden": 0.11,
        "sources": {
            "unemployed": "U.S. Census Bureau, ACS 2018 1-year DP03, United States, civilian labor force unemployed; https://data.census.gov/table/ACSDP1Y2018.DP03 (row as stored in " + US03 + "acs-acs1-profile-2018-GROUP_DP03_DATA.csv)",
            "uninsured": "U.S. Census Bureau, ACS 2018 1-year DP03, United States, no health insurance coverage; https://data.census.gov/table/ACSDP1Y2018.DP03 (row as stored in " + US03 + "acs-acs1-profile-2018-GROUP_DP03_DATA.csv)",
            "no_vehicle_access": "University of Nebraska Omaha, Governing story 'Vehicle availability for metros' (M. Kiper, 2020-11-11, from U.S. Census Bureau ACS): 8.6% of U.S. occupied housing units have no vehicle available; https://unomaha.edu/college-of-public-affairs-and-community-service/governing/stories/vehicle-availability-for-metros.php",
            "food_insecurity": "USDA ERS, Charts of Note 'Food insecurity in U.S. households varies across race and ethnicity' (2024-04-08): 11.1 percent of U.S. households food insecure, 2016-2021 (also the 2018 rate in Household Food Security in the United States in 2018, ERR-270); https://www.ers.usda.gov/data-products/charts-of-note/charts-of-note/?page=1&topicId=14875",
            "severe_housing_cost_burden": "County Health Rankings & Roadmaps, 2019 Key Findings Report: 11% of U.S. households spend more than half of their income on housing; https://www.countyhealthrankings.org/reports/2019-county-health-rankings-key-findings-report",
        },
    },
    "states": states,
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "simulator", "data", "state_demographics.json")
with open(out, "w") as fh:
    json.dump(doc, fh, indent=1)
    fh.write("\n")
print(len(states), "states;", sum('education' in s for s in states.values()), "with education;",
      sum('no_vehicle_access' in s.get('sdoh', {}) for s in states.values()), "with vehicles")
