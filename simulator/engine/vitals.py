"""Vital signs and routine lab values computed by the engine (engine-behaviour.md §5.2).

Values are computed lazily when something reads them, and cached per instant so that one
panel read at one time is consistent (LDL = total − HDL − triglycerides/5). A `VitalSign`
state replaces the engine's value: for blood pressure, growth and ejection fraction until it
is set again; for signs the engine recomputes every step, for one step (7 days).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.builtin.body import Body, measures
from simulator.builtin.weight_management import weight_multiplier
from simulator.engine import timeutil as tu
from simulator.engine.randomness import Stream, round_half_up, stream_id

if TYPE_CHECKING:
    from simulator.engine.person import Person

# Antihypertensives named in Synthea's hypertension modules (RxNorm) → class. Typical
# standard-dose monotherapy lowers blood pressure by about 9/5.5 mmHg (Law MR et al., BMJ
# 2009;338:b1665); each person's response is drawn around that once per drug.
# A tuple, not a set: the order decides which drug gets which draws (and the float sum), so
# it must not depend on the process's string hashing.
ANTIHYPERTENSIVES = ("308136", "314076", "310798", "979485")
# Normotensive baselines (mmHg): uniform ranges centred on the NHANES 2001-2008 means of
# normotensive adults, 116/69 (Wright JD et al., Mean Systolic and Diastolic Blood Pressure in
# Adults Aged 18 and Over in the United States, 2001-2008, NHSR No. 35, 2011). Synthea's
# 100-139 / 70-89 puts a sixth of normotensive readings at >= 140/90, so measured hypertension
# would be far above the survey's.
NORMAL_SYSTOLIC = (100, 132)
NORMAL_DIASTOLIC = (60, 78)
# HbA1c (%) impact of active diabetes drugs (engine-behaviour.md §5.2).
DIABETES_DRUG_IMPACT = {"860975": -1.5, "897122": -0.5, "1373463": -0.5, "106892": -3.0, "865098": -6.0}
# Share of total cholesterol an active statin removes: atorvastatin 40 mg -37%, 80 mg -45%
# (Lipitor prescribing information, Table 6: dose response in primary hyperlipidemia, pooled
# placebo-controlled studies). Two statins at once take the stronger one.
STATIN_TOTAL_CHOLESTEROL_CUT = {"617311": 0.37, "259255": 0.45}
# The share of people whose untreated total cholesterol is high (>= 240 mg/dL) by age: linear
# between these (age, share) points and flat outside them. With statins lowering the treated,
# measured prevalence follows NHANES 2015-2018's 7.5% / 15.7% / 11.4% at 20-39 / 40-59 / 60+
# (Carroll MD, Fryar CD, NCHS Data Brief 363, 2020); the points are calibrated to that.
HIGH_CHOL_POINTS = ((20.0, 0.04), (40.0, 0.11), (55.0, 0.23))


def high_chol_share(age: float) -> float:
    """The share of people of this age (years) whose untreated total cholesterol is high."""
    a0, share = HIGH_CHOL_POINTS[0]
    if age <= a0:
        return share
    for a1, next_share in HIGH_CHOL_POINTS[1:]:
        if age < a1:
            return share + (next_share - share) * (age - a0) / (a1 - a0)
        a0, share = a1, next_share
    return share

_ROUND0 = {"Systolic Blood Pressure", "Diastolic Blood Pressure", "Heart Rate", "Respiration Rate"}
_ROUND1 = {"Height", "Weight"}
_PERSISTENT_OVERRIDE = {
    "Systolic Blood Pressure",
    "Diastolic Blood Pressure",
    "Height",
    "Weight",
    "BMI",
    "Height Percentile",
    "Weight Percentile",
    "Head Circumference",
    "Head Circumference Percentile",
    "Left ventricular Ejection fraction",
}

_T = [100, 150, 199, 499, 550, 600]
_C = [160, 200, 239, 259, 279, 300]
_H = [80, 59, 40, 20, 10, 0]
_G = [64, 100, 125, 200]


BODY_STREAM = stream_id("vitals:body")  # the body's z-scores and bulk uniforms, drawn once


class VitalNotSet(LookupError):
    pass


class Vitals:
    """Vital-sign values of one person."""

    def __init__(self, person: Person) -> None:
        self.person = person
        rng = person.stream(BODY_STREAM)
        self._cache: dict[str, tuple[int, dict[str, float]]] = {}
        # (source, set time, persistent) of values set by VitalSign states
        self._overrides: dict[str, tuple[Callable[[int], float], int, bool]] = {}
        if person.body is None:  # people made outside the population sampler (tests)
            person.body = Body(person.gender or "M", *(rng.gauss(0.0, 1.0) for _ in range(6)))
        if person.bulk is None:
            person.bulk = tuple(rng.random() for _ in range(4))
        self.body: Body = person.body
        self.rng: Stream = rng  # the stream of the group being computed (group())
        self._drug_impact: dict[str, tuple[float, float]] = {}

    # ------------------------------------------------------------ public

    def override(self, name: str, source: Callable[[int], float], now: int) -> None:
        self._overrides[name] = (source, now, name in _PERSISTENT_OVERRIDE)

    def read(self, name: str, now: int) -> float:
        value = self.raw(name, now)
        if name in _ROUND0:
            return round_half_up(value, 0)
        if name in _ROUND1:
            return round_half_up(value, 1)
        return round_half_up(value, 2)

    def raw(self, name: str, now: int) -> float:
        ov = self._overrides.get(name)
        if ov is not None:
            source, since, persistent = ov
            if persistent or now < since + tu.STEP:
                return source(now)
            del self._overrides[name]
        group = _GROUP_OF.get(name)
        if group is None:
            raise VitalNotSet(f"vital sign {name!r} has not been set")
        value = self.group(group, now).get(name)
        if value is None:
            raise VitalNotSet(f"vital sign {name!r} is not measured at this age")
        return value

    def group(self, group: str, now: int) -> dict[str, float]:
        """All values of one group ("growth", "lipids", ...) at `now`, computed once per instant;
        the growth group also holds measures that are not vital signs (`bmi_percentile`)."""
        cached = self._cache.get(group)
        if cached is None or cached[0] != now:
            self.rng = self.person.stream(_STREAMS[group])
            cached = (now, _COMPUTE[group](self, now))
            self._cache[group] = cached
        return cached[1]

    # ------------------------------------------------------------ groups

    def _age(self, now: int) -> float:
        return (now - self.person.birth) / tu.YEAR_365

    def _severity(self) -> int:
        try:
            k = int(self.person.get("diabetes_severity", 0) or 0)
        except (TypeError, ValueError):
            k = 0
        return min(max(k, 0), 4)

    def _growth(self, now: int) -> dict[str, float]:
        age = max(now - self.person.birth, 0) / tu.YEAR_365
        attributes = self.person.attributes
        if age >= 20 and attributes.get("active_weight_management"):
            self.body.weight_multiplier = weight_multiplier(attributes, now)
        else:
            self.body.weight_multiplier = 1.0
        return measures(self.body, age)

    def _lipids(self, now: int) -> dict[str, float]:
        p = self.person
        rng = self.rng
        k = self._severity()
        trig = _T[k] + (_T[k + 1] - _T[k]) * rng.random()
        if k == 0:
            assert p.bulk is not None
            low = p.get("low_hdl")
            if low is None:
                low = p.bulk[2] < (0.085 if p.gender == "F" else 0.266)
                p.set("low_hdl", low)
            # decided again at each reading until it is true: the share rises with age, and a
            # person's own uniform keeps the decision monotone
            high = p.get("high_total_chol")
            if high is None or not high:
                now_high = p.bulk[3] < high_chol_share(self._age(now))
                if high is None or now_high:
                    p.set("high_total_chol", now_high)
                high = now_high
            hdl = rng.gauss(30, 3) if low else rng.gauss(55, 5)
            total = rng.gauss(280, 20) if high else rng.gauss(170, 30)
        else:
            total = _C[k] + (_C[k + 1] - _C[k]) * rng.random()
            hdl = _H[k] + (_H[k + 1] - _H[k]) * rng.random()
        cut = 0.0
        for code, share in STATIN_TOTAL_CHOLESTEROL_CUT.items():
            med = p.present.get(code)
            if med is not None and med.stop is None:
                cut = max(cut, share)
        total *= 1.0 - cut
        return {
            "Total Cholesterol": total,
            "Triglycerides": trig,
            "HDL": hdl,
            "LDL": total - hdl - 0.2 * trig,
        }

    def _glucose(self, now: int) -> dict[str, float]:
        p = self.person
        rng = self.rng
        diabetic = p.get("diabetes") is True
        prediabetic = p.get("prediabetes") is True
        if diabetic:
            bmi = self.raw("BMI", now)
            a1c = 12.0 if bmi > 48 else 6.6 if bmi <= 27 else bmi / 4.0
        elif prediabetic:
            a1c = 5.8 + 0.6 * rng.random()
        else:
            a1c = 5.0 + 0.7 * rng.random()
        if diabetic or prediabetic:
            for code, impact in DIABETES_DRUG_IMPACT.items():
                med = p.present.get(code)
                if med is not None and med.stop is None:
                    a1c += impact
        k = min(self._severity(), 2)
        glucose = _G[k] + (_G[k + 1] - _G[k]) * rng.random()
        return {"Blood Glucose": a1c, "Glucose": glucose}

    def _oxygen(self, now: int) -> dict[str, float]:
        rng = self.rng
        if self.person.get("chf") is not None:
            return {"Oxygen Saturation": float(int(75 + 14 * rng.random()))}
        return {"Oxygen Saturation": float(int(90 + 9 * rng.random()))}

    def _kidney(self, now: int) -> dict[str, float]:
        p = self.person
        rng = self.rng
        ckd = p.get("ckd")
        ranges = {1: (60, 90), 2: (30, 59), 3: (15, 29), 4: (1, 15)}
        try:
            stage = int(ckd) if ckd is not None else 0
        except (TypeError, ValueError):
            stage = 0
        lo, hi = ranges.get(stage, (56, 161) if p.gender == "F" else (77, 160))
        egfr = lo + (hi - lo) * rng.random()
        mcr_ranges = {1: (17, 30), 2: (30, 300), 3: (300, 600), 4: (300, 600)}
        mlo, mhi = mcr_ranges.get(stage, (0, 17))
        mcr = mlo + (mhi - mlo) * rng.random()
        age = self._age(now)
        weight = self.raw("Weight", now)
        creat = (140 - age) * weight / (72 * min(max(egfr, 1.0), 100.0))
        if p.gender == "F":
            creat *= 0.85
        return {"EGFR": egfr, "Microalbumin Creatinine Ratio": mcr, "Creatinine": max(creat, 0.1)}

    def _metabolic(self, now: int) -> dict[str, float]:
        rng = self.rng
        return {
            "Urea Nitrogen": 7 + 13 * rng.random(),
            "Calcium": 8.5 + 1.7 * rng.random(),
            "Chloride": 101 + 10 * rng.random(),
            "Potassium": 3.7 + 1.5 * rng.random(),
            "Carbon Dioxide": 20 + 9 * rng.random(),
            "Sodium": 136 + 8 * rng.random(),
        }

    def _rates(self, now: int) -> dict[str, float]:
        rng = self.rng

        def bounded(lo: float, hi: float) -> float:
            mean = lo + (hi - lo) * rng.random()
            for _ in range(20):
                v = rng.gauss(mean, 1.0)
                if lo <= v <= hi:
                    return v
            return mean

        return {"Heart Rate": bounded(60, 100), "Respiration Rate": bounded(12, 16)}

    def _blood_pressure(self, now: int) -> dict[str, float]:
        p = self.person
        rng = self.rng
        hyper = p.get("hypertension") is True
        severe = p.get("hypertension_severe") is True
        sex_shift = 1.0 if p.gender == "M" else -1.0
        values = {}
        for which, normal, high, very_high, amp in (
            ("SYSTOLIC", NORMAL_SYSTOLIC, (140, 160), (160, 200), 8.0),
            ("DIASTOLIC", NORMAL_DIASTOLIC, (90, 120), (90, 120), 5.0),
        ):
            key = f"bp_baseline_{'true' if hyper else 'false'}_{which}"
            base = p.get(key)
            if base is None:
                lo, hi = (very_high if severe else high) if hyper else normal
                assert p.bulk is not None
                u = p.bulk[0 if which == "SYSTOLIC" else 1]
                base = lo + (hi - lo) * u + sex_shift
                p.attributes[key] = base
            drug = 0.0
            for code in ANTIHYPERTENSIVES:
                med = p.present.get(code)
                if med is not None and med.stop is None:
                    impact = self._drug_impact.get(code)
                    if impact is None:
                        impact = (5 + 8 * rng.random(), 3 + 5 * rng.random())
                        self._drug_impact[code] = impact
                    drug -= impact[0] if which == "SYSTOLIC" else impact[1]
            sign = 1.0 if (now // (12 * tu.HOUR)) % 2 == 0 else -1.0
            values[which] = max(base + drug + sign * abs(rng.gauss(0, 1)) * amp, 40.0)
        return {
            "Systolic Blood Pressure": values["SYSTOLIC"],
            "Diastolic Blood Pressure": values["DIASTOLIC"],
        }


_COMPUTE: dict[str, Callable[[Vitals, int], dict[str, float]]] = {
    "growth": Vitals._growth,
    "lipids": Vitals._lipids,
    "glucose": Vitals._glucose,
    "oxygen": Vitals._oxygen,
    "kidney": Vitals._kidney,
    "metabolic": Vitals._metabolic,
    "rates": Vitals._rates,
    "bp": Vitals._blood_pressure,
}
_STREAMS = {group: stream_id(f"vitals:{group}") for group in _COMPUTE}
_GROUP_OF = {
    **dict.fromkeys(
        ("Height", "Weight", "BMI", "Height Percentile", "Weight Percentile", "Head Circumference",
         "Head Circumference Percentile"),
        "growth",
    ),
    **dict.fromkeys(("Total Cholesterol", "Triglycerides", "HDL", "LDL"), "lipids"),
    **dict.fromkeys(("Blood Glucose", "Glucose"), "glucose"),
    "Oxygen Saturation": "oxygen",
    **dict.fromkeys(("EGFR", "Microalbumin Creatinine Ratio", "Creatinine"), "kidney"),
    **dict.fromkeys(
        ("Urea Nitrogen", "Calcium", "Chloride", "Potassium", "Carbon Dioxide", "Sodium"), "metabolic"
    ),
    **dict.fromkeys(("Heart Rate", "Respiration Rate"), "rates"),
    **dict.fromkeys(("Systolic Blood Pressure", "Diastolic Blood Pressure"), "bp"),
}
