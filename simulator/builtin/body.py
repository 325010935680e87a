"""Height, weight, BMI and head circumference over a lifetime (engine-behaviour.md §4.3.2 step 2).

A person's body is a handful of numbers drawn once in bulk (`population.sampler`): a height
z-score kept for life, infant weight and head z-scores, and three standard normals that drive
the BMI path. Every measurement is then a pure function of age, so it can be read at any
instant without stepping through the years:

- under 2: CDC 2000 infant charts (length-, weight-for-age, head circumference-for-age);
- 2–19: stature-for-age, and BMI-for-age at z = mu(age) + u(age), where u is a unit-variance
  autoregressive path (BMI rank tracks through childhood, yearly correlation 0.9) and mu(age)
  shifts the CDC 2000 reference so that the share at or above the 95th percentile (obesity)
  matches NHANES 2017–2018;
- 20+: the adult height reached at 20 months 240; ln BMI = ln median(age, sex) + 0.22·u(age),
  with the median set so that the share with BMI ≥ 30 matches NHANES 2015–2016 by age group and
  u an autoregressive path (yearly correlation 0.97) continuing the child's.

Sources:
- Fryar CD, Carroll MD, Afful J. Prevalence of overweight, obesity, and severe obesity among
  children and adolescents aged 2–19 years: United States, 1963–1965 through 2017–2018. NCHS
  Health E-Stats, 2020: obesity 13.4 % (2–5 y), 20.3 % (6–11 y), 21.2 % (12–19 y).
- Hales CM, Carroll MD, Fryar CD, Ogden CL. Prevalence of obesity among adults and youth:
  United States, 2015–2016. NCHS Data Brief No. 288, 2017: men 34.8 % (20–39), 40.8 % (40–59);
  women 36.5 % (20–39), 44.7 % (40–59); 41.0 % aged 60 and over.
- The spread of adult ln BMI (0.22) is chosen so that, with those prevalences, the mean adult
  BMI comes out near the NHANES 2015–2016 means (29.1 men, 29.6 women, Fryar et al. NHSR 122).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from simulator.population.growth_charts import GrowthCharts, growth_charts

_N = NormalDist()
CHILD_OBESITY = ((2.0, 5.99, 0.134), (6.0, 11.99, 0.203), (12.0, 20.0, 0.212))
ADULT_OBESITY = {"M": ((30.0, 0.348), (50.0, 0.408), (70.0, 0.410)),
                 "F": ((30.0, 0.365), (50.0, 0.447), (70.0, 0.410))}
ADULT_LN_SD = 0.22
CHILD_TRACKING = 0.9  # yearly correlation of BMI z in childhood
ADULT_TRACKING = 0.97
OBESE_Z = _N.inv_cdf(0.95)


@dataclass(slots=True)
class Body:
    sex: str
    z_height: float
    z_weight_infant: float
    z_head: float
    bmi_start: float  # u at age 2
    bmi_child: float  # innovation of the child path
    bmi_adult: float  # innovation of the adult path
    weight_multiplier: float = 1.0  # weight management (modules / weight-loss process)
    extra_kg: float = 0.0


# Mean BMI z in childhood per age group, so that P(z ≥ z95) equals the NHANES obesity share.
_CHILD_MU = tuple((lo, hi, OBESE_Z - _N.inv_cdf(1.0 - p)) for lo, hi, p in CHILD_OBESITY)


def _child_mu(age: float) -> float:
    for lo, hi, mu in _CHILD_MU:
        if lo <= age <= hi:
            return mu
    return _CHILD_MU[-1][2]


def _ar_path(start: float, innovation: float, rho: float, years: float) -> float:
    r = rho ** max(years, 0.0)
    return start * r + math.sqrt(max(1.0 - r * r, 0.0)) * innovation


# NHANES measures BMI after whatever weight management people do, while the built-in weight
# management (weight_management.py) lowers the modelled weight further. Its effect was measured
# once: adults 20-80 with BMI >= 30 at their latest visit, 29.9 % with it and 37.6 % without
# (600 people, seed 1, tests' run_modules with the vital-signs module). So the paths are set to
# the NHANES share divided by that retention, and the share measured after management is NHANES's.
WEIGHT_MANAGEMENT_RETENTION = 0.299 / 0.376

# Adult median BMI at the anchor ages, so that P(BMI ≥ 30) before weight management is the NHANES
# obesity share over the retention.
_ADULT_MEDIANS = {
    sex: tuple((a, 30.0 * math.exp(-ADULT_LN_SD * _N.inv_cdf(1.0 - min(p / WEIGHT_MANAGEMENT_RETENTION,
                                                                        0.95))))
               for a, p in anchors)
    for sex, anchors in ADULT_OBESITY.items()}


def _adult_median(sex: str, age: float) -> float:
    medians = _ADULT_MEDIANS["F" if sex == "F" else "M"]
    if age <= medians[0][0]:
        return medians[0][1]
    for (a0, m0), (a1, m1) in zip(medians, medians[1:], strict=False):
        if age <= a1:
            return m0 + (m1 - m0) * (age - a0) / (a1 - a0)
    return medians[-1][1]


# Percentiles are read off the growth charts between z = -3 and +3: the LMS curves' tails break
# down beyond (at z = -3.7, the old limit, a birth weight came out at 0.2 kg).
CHART_P_LIMIT = 0.00135


def _clamp_p(z: float) -> float:
    return min(max(_N.cdf(z), CHART_P_LIMIT), 1.0 - CHART_P_LIMIT)


def _bmi_on_chart(charts: GrowthCharts, sex: str, months: float, z: float) -> float:
    """BMI-for-age at z. The LMS curves' skew breaks down far out in the upper tail (L < 0), so
    beyond |z| = 2 the value is extended linearly with the spacing between z = 1 and z = 2, in
    the spirit of the CDC's extended BMI-for-age method for severe obesity."""
    if -2.0 <= z <= 2.0:
        return charts.value("bmi", sex, months, _N.cdf(z))
    edge = 2.0 if z > 0 else -2.0
    at_edge = charts.value("bmi", sex, months, _N.cdf(edge))
    inner = charts.value("bmi", sex, months, _N.cdf(edge / 2.0))
    return max(at_edge + (abs(z) - 2.0) * abs(at_edge - inner), 10.0)


def measures(body: Body, age_years: float, charts: GrowthCharts | None = None) -> dict[str, float]:
    """Height (cm), weight (kg), BMI, percentiles (0–100) and head circumference at an age."""
    charts = charts or growth_charts()
    sex = body.sex
    months = age_years * 12.0
    pct_height = _clamp_p(body.z_height)
    out: dict[str, float] = {}
    if months < 24.0:
        height = charts.value("length_infant", sex, months, pct_height)
        weight = charts.value("weight_infant", sex, months, _clamp_p(body.z_weight_infant))
        bmi = weight / (height / 100.0) ** 2
        weight_pct = _clamp_p(body.z_weight_infant)
    else:
        child_age = min(age_years, 20.0)
        height = charts.value("stature", sex, min(months, 240.0), pct_height)
        u_child = _ar_path(body.bmi_start, body.bmi_child, CHILD_TRACKING, child_age - 2.0)
        z_child = max(min(_child_mu(child_age) + u_child, 3.5), -3.5)
        bmi = _bmi_on_chart(charts, sex, min(months, 240.0), z_child)
        if age_years > 20.0:
            u = _ar_path(u_child, body.bmi_adult, ADULT_TRACKING, age_years - 20.0)
            adult = _adult_median(sex, age_years) * math.exp(ADULT_LN_SD * u)
            # the first adult decade blends from the child's chart value into the adult model
            blend = min((age_years - 20.0) / 10.0, 1.0)
            bmi = math.exp((1 - blend) * math.log(bmi) + blend * math.log(adult))
        weight = bmi * (height / 100.0) ** 2
        weight_pct = _clamp_p(z_child) if months <= 240.0 else 0.0
        if months <= 240.0:
            out["bmi_percentile"] = 100.0 * charts.percentile("bmi", sex, months, bmi)
    if body.weight_multiplier != 1.0 or body.extra_kg:
        weight = weight * body.weight_multiplier + body.extra_kg
        bmi = weight / (height / 100.0) ** 2
    out.update({
        "Height": height,
        "Weight": weight,
        "BMI": bmi,
        "Height Percentile": 100.0 * pct_height,
        "Weight Percentile": 100.0 * weight_pct,
    })
    # the charts end at 36 months, when the head has nearly finished growing
    out["Head Circumference"] = charts.value("head_infant", sex, min(months, 36.0), _clamp_p(body.z_head))
    out["Head Circumference Percentile"] = 100.0 * _clamp_p(body.z_head)
    return out
