# ruff: noqa: SIM109  (numba: explicit comparisons compile to the plainest code, as kernel.py)
"""Vital signs computed by the engine (simulator/engine/vitals.py, engine-behaviour.md §5.2), for
the compiled kernel: the same numbers bit for bit, drawn from the same keyed streams.

The reference computes a group ("growth", "lipids", ...) once per instant and caches it; the
caller (the kernel) keeps that cache and the `VitalSign` overrides, and calls `compute_group`
when a group is stale. Everything the reference keeps on the person or on `Vitals` is an explicit
array here:

- `body` (float64[N_BODY], columns B_*) and `bulk` (float64[4]): person.body and person.bulk,
  made by `body_arrays`; `compute_group` writes body[B_WEIGHT_MULTIPLIER] as the reference
  writes body.weight_multiplier;
- attributes as tagged slots in ATTRIBUTES order (`attr_kind`, `attr_num`, `attr_ref`, the kinds
  of kernel.K_*); strings are described by `str_info` rows (`string_info`); `compute_group`
  writes the slots the reference sets and says which in its return value;
- `med_active` (MEDICATIONS order): an entry with that code is in person.present, not stopped;
- `drug_impact` (float64[4, 2], NaN until drawn): Vitals._drug_impact, per antihypertensive;
- `dep`, `has_dep`: the one vital sign a group reads through Vitals.raw (BMI for a diabetic's
  glucose, Weight for kidney, DEPENDENCY_OF). Called without it, compute_group stops where the
  reference reads it and returns NEEDS_DEPENDENCY, with nothing drawn or written; the caller
  resolves it as Vitals.raw does (an override, else the growth group of this instant) and calls
  again with it. So every error comes where the reference raises it.

Reference numbers that live in module constants (growth-chart tables, body-model parameters,
weight-management timings, lipid and glucose ranges, drug impacts) reach the jitted code through
`tables()` at run time rather than as frozen globals: numba's cache does not notice when another
module changes, and a stale constant would silently break bit-identity. Literals inside the
reference's methods are repeated here; tests/test_compiled_vitals.py catches any drift.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numba as nb
import numpy as np

from simulator.builtin import body as body_model
from simulator.builtin import weight_management as wm
from simulator.compiled import rng
from simulator.engine import randomness as r
from simulator.engine import timeutil as tu
from simulator.engine import vitals as ref
from simulator.population.growth_charts import growth_charts

# ---------------------------------------------------------------- names and ids

VITALS = (
    "Height", "Weight", "BMI", "Height Percentile", "Weight Percentile", "Head Circumference",
    "Head Circumference Percentile",
    "Total Cholesterol", "Triglycerides", "HDL", "LDL",
    "Blood Glucose", "Glucose",
    "Oxygen Saturation",
    "EGFR", "Microalbumin Creatinine Ratio", "Creatinine",
    "Urea Nitrogen", "Calcium", "Chloride", "Potassium", "Carbon Dioxide", "Sodium",
    "Heart Rate", "Respiration Rate",
    "Systolic Blood Pressure", "Diastolic Blood Pressure",
)
# The growth group also holds bmi_percentile, read by the computed attribute of that name; it is
# not a vital sign (Vitals.raw refuses it) and is absent before 24 and past 240 months (NaN, and
# compute_group's BMI_PERCENTILE_MEASURED flag unset: a NaN body gives a present NaN).
MEASURES = (*VITALS, "bmi_percentile")
(V_HEIGHT, V_WEIGHT, V_BMI, V_HEIGHT_PCT, V_WEIGHT_PCT, V_HEAD, V_HEAD_PCT,
 V_TOTAL_CHOL, V_TRIG, V_HDL, V_LDL,
 V_A1C, V_GLUCOSE,
 V_O2,
 V_EGFR, V_MCR, V_CREATININE,
 V_UREA, V_CALCIUM, V_CHLORIDE, V_POTASSIUM, V_CO2, V_SODIUM,
 V_HEART_RATE, V_RESP_RATE,
 V_SYSTOLIC, V_DIASTOLIC,
 V_BMI_PERCENTILE) = range(len(MEASURES))
N_OUT = len(MEASURES)

GROUPS = ("growth", "lipids", "glucose", "oxygen", "kidney", "metabolic", "rates", "bp")
G_GROWTH, G_LIPIDS, G_GLUCOSE, G_OXYGEN, G_KIDNEY, G_METABOLIC, G_RATES, G_BP = range(len(GROUPS))
_GROUP_SIZES = (7, 4, 2, 1, 3, 6, 2, 2)  # VITALS are listed group by group, in GROUPS order
# group of each MEASURES id
GROUP_OF = (*(g for g, size in enumerate(_GROUP_SIZES) for _ in range(size)), G_GROWTH)
# each group's stream (`vitals:<group>`) as rng.stream_key expects it: mix64 of the stream id
GROUP_STREAMS = np.array([r.mix64(r.stream_id(f"vitals:{g}")) for g in GROUPS], dtype=np.uint64)
BODY_STREAM = "vitals:body"
# The VITALS id each group may read through Vitals.raw (-1: none), and the draws the group has
# made by then: kidney reads Weight after eGFR and the albumin ratio. When resolving the
# dependency fails, the reference raises with those draws made (add them to the counter).
DEPENDENCY_OF = (-1, -1, V_BMI, -1, V_WEIGHT, -1, -1, -1)
DRAWS_BEFORE_DEPENDENCY = (0, 0, 0, 0, 2, 0, 0, 0)

# Vitals.read rounds to these decimals; names that are not engine-computed (values set by a
# VitalSign state only) round to 2.
DECIMALS = tuple(0 if name in ref._ROUND0 else 1 if name in ref._ROUND1 else 2 for name in VITALS)
# VitalSign overrides of these last until set again, of the others for one step (tu.STEP).
PERSISTENT_OVERRIDE = ref._PERSISTENT_OVERRIDE

ATTRIBUTES = (
    "gender",
    "diabetes_severity",
    "low_hdl",
    "high_total_chol",
    "diabetes",
    "prediabetes",
    "chf",
    "ckd",
    "hypertension",
    "hypertension_severe",
    "bp_baseline_true_SYSTOLIC",
    "bp_baseline_true_DIASTOLIC",
    "bp_baseline_false_SYSTOLIC",
    "bp_baseline_false_DIASTOLIC",
    wm.ACTIVE,
    "weight_loss_adherence",
    "weight_loss_percentage",
    "weight_management_start",
    "long_term_weight_loss",
)
(A_GENDER, A_SEVERITY, A_LOW_HDL, A_HIGH_CHOL, A_DIABETES, A_PREDIABETES, A_CHF, A_CKD,
 A_HYPERTENSION, A_HYPERTENSION_SEVERE, A_BP_TRUE_SYS, A_BP_TRUE_DIA, A_BP_FALSE_SYS,
 A_BP_FALSE_DIA, A_WM_ACTIVE, A_WM_ADHERENCE, A_WM_LOSS, A_WM_START,
 A_WM_LONG_TERM) = range(len(ATTRIBUTES))

# Tagged attribute kinds, as kernel.K_* / lower.K_*. K_CODE, K_ENTRY, K_PENDING (objects) and
# K_FORMAT (texts the lifecycle made: identifiers, names; never empty, "M", "F" or digits) and
# K_SERIES (a dict) all take the fall-through branches below: true, int() refused (read as 0),
# no arithmetic.
(K_NONE, K_BOOL, K_INT, K_FLOAT, K_STR, K_CODE, K_ENTRY, K_PENDING, K_OTHER, K_FORMAT, K_LIST,
 K_SERIES) = range(12)

# str_info columns and the string classes the computation tells apart
SI_CLASS, SI_INT = range(2)
S_EMPTY, S_M, S_F, S_OTHER = range(4)

# Antihypertensives in the reference's own iteration order (a set: see MEDICATIONS below), then
# the diabetes drugs in their dict order.
ANTIHYPERTENSIVES = tuple(ref.ANTIHYPERTENSIVES)
DIABETES_DRUGS = tuple(ref.DIABETES_DRUG_IMPACT)
STATINS = tuple(ref.STATIN_TOTAL_CHOLESTEROL_CUT)
# med_active columns. The reference iterates a *set* of strings, whose order depends on
# PYTHONHASHSEED; it decides which drug's impact is drawn first and the order of a float sum,
# so the order is data taken from the reference module in this process, not compiled in.
MEDICATIONS = ANTIHYPERTENSIVES + DIABETES_DRUGS + STATINS
N_ANTIHYPERTENSIVES = len(ANTIHYPERTENSIVES)
N_BEFORE_STATINS = N_ANTIHYPERTENSIVES + len(DIABETES_DRUGS)

# body columns
(B_SEX, B_Z_HEIGHT, B_Z_WEIGHT_INFANT, B_Z_HEAD, B_BMI_START, B_BMI_CHILD, B_BMI_ADULT,
 B_WEIGHT_MULTIPLIER, B_EXTRA_KG) = range(9)
N_BODY = 9
SEX_M, SEX_F, SEX_OTHER = 0, 1, -1  # body[B_SEX]; charts refuse any sex but M and F

# compute_group's return value: >= 0 a bitmask of the ATTRIBUTES slots it wrote (bit i =
# ATTRIBUTES[i]) plus the flag below; < 0 the exception the reference raises at that point (the
# kernel faults).
BMI_PERCENTILE_MEASURED = 1 << 62  # growth: bmi_percentile is in the group (24 to 240 months)
NEEDS_DEPENDENCY = -100  # call again with has_dep and the value of DEPENDENCY_OF[group]
ERR_TYPE = -1  # TypeError: arithmetic on a value that is not a number
ERR_KEY = -2  # KeyError: weight_loss_percentage or weight_management_start unset
ERR_OVERFLOW = -3  # OverflowError: int() of an infinite diabetes_severity or ckd
ERR_VALUE = -4  # ValueError: a growth chart given a sex or a percentile it refuses
ERR_UNSUPPORTED = -5  # a K_OTHER value whose truth or number matters (a list, a huge int...)

# charts (index into VitalTables.charts)
C_LENGTH_INFANT, C_WEIGHT_INFANT, C_HEAD_INFANT, C_STATURE, C_BMI = range(5)
_CHARTS = ("length_infant", "weight_infant", "head_infant", "stature", "bmi")

# params layout (VitalTables.params)
P_CHILD_MU = 0  # 3 rows of (lo, hi, mu): body._CHILD_MU
P_ADULT_MEDIAN = 9  # [sex][3 anchors] of (age, median): body._ADULT_MEDIANS, M then F
P_CHILD_TRACKING = 21
P_ADULT_TRACKING = 22
P_ADULT_LN_SD = 23
P_TWO = 24  # 2.0, read at run time so that LLVM keeps pow(x, 2.0) a libm call (see _sq)
P_LOSS_YEARS = 25
P_REGAIN_END_YEARS = 26
P_T = 27  # 6 triglyceride bounds
P_C = 33  # 6 total-cholesterol bounds
P_H = 39  # 6 HDL bounds
P_G = 45  # 4 glucose bounds
P_A1C_IMPACT = 49  # HbA1c impact per DIABETES_DRUGS
P_BP_NORMAL = P_A1C_IMPACT + len(DIABETES_DRUGS)  # normotensive systolic lo, hi, diastolic lo, hi
P_STATIN_CUT = P_BP_NORMAL + 4  # total cholesterol share removed per STATINS
P_HIGH_CHOL = P_STATIN_CUT + len(STATINS)  # HIGH_CHOL_POINTS: the ages, then the shares
N_HIGH_CHOL = len(ref.HIGH_CHOL_POINTS)
N_PARAMS = P_HIGH_CHOL + 2 * N_HIGH_CHOL

# Integer constants as numpy int64: numba compiles a function once per distinct Python int
# literal passed to it, once in all for int64 values.
YEAR_365 = tu.YEAR_365
HALF_DAY = 12 * tu.HOUR
for _name, _value in list(globals().items()):
    if _name.isupper() and type(_value) is int:
        globals()[_name] = np.int64(_value)

TRUE, FALSE = np.bool_(True), np.bool_(False)  # not literals either
_SQRT2 = math.sqrt(2.0)  # statistics._SQRT2
_TWO_PI = 2.0 * math.pi  # randomness._TWO_PI


class VitalTables(NamedTuple):
    charts: np.ndarray  # float64[5 charts, 2 sexes (M, F), max rows, 4]: age (months), L, M, S
    charts_n: np.ndarray  # int64[5]: rows of each chart
    params: np.ndarray  # float64[N_PARAMS], P_* layout


@functools.cache
def tables() -> VitalTables:
    """The growth charts and the reference's module constants, as the jitted code reads them."""
    gc = growth_charts()
    arrays = [gc.arrays(name) for name in _CHARTS]
    rows = max(len(ages) for ages, _ in arrays)
    charts = np.zeros((len(_CHARTS), 2, rows, 4))
    charts_n = np.zeros(len(_CHARTS), dtype=np.int64)
    for c, (ages, lms) in enumerate(arrays):
        n = len(ages)
        charts_n[c] = n
        charts[c, :, :n, 0] = ages
        charts[c, :, :n, 1:] = lms
    params = np.zeros(N_PARAMS)
    params[P_CHILD_MU:P_CHILD_MU + 9] = [v for row in body_model._CHILD_MU for v in row]
    params[P_ADULT_MEDIAN:P_ADULT_MEDIAN + 12] = [
        v for sex in ("M", "F") for anchor in body_model._ADULT_MEDIANS[sex] for v in anchor]
    params[P_CHILD_TRACKING] = body_model.CHILD_TRACKING
    params[P_ADULT_TRACKING] = body_model.ADULT_TRACKING
    params[P_ADULT_LN_SD] = body_model.ADULT_LN_SD
    params[P_TWO] = 2.0
    params[P_LOSS_YEARS] = wm.LOSS_YEARS
    params[P_REGAIN_END_YEARS] = wm.REGAIN_END_YEARS
    params[P_T:P_T + 6] = ref._T
    params[P_C:P_C + 6] = ref._C
    params[P_H:P_H + 6] = ref._H
    params[P_G:P_G + 4] = ref._G
    params[P_A1C_IMPACT:P_A1C_IMPACT + len(DIABETES_DRUGS)] = list(ref.DIABETES_DRUG_IMPACT.values())
    params[P_BP_NORMAL:P_BP_NORMAL + 4] = [*ref.NORMAL_SYSTOLIC, *ref.NORMAL_DIASTOLIC]
    params[P_STATIN_CUT:P_STATIN_CUT + len(STATINS)] = list(
        ref.STATIN_TOTAL_CHOLESTEROL_CUT.values())
    params[P_HIGH_CHOL:P_HIGH_CHOL + 2 * N_HIGH_CHOL] = [
        *(a for a, _ in ref.HIGH_CHOL_POINTS), *(v for _, v in ref.HIGH_CHOL_POINTS)]
    # left writable (shared: do not change them): a read-only array is another numba type, so
    # another compilation of every function it reaches
    return VitalTables(charts, charts_n, params)


def _sex_code(sex: Any) -> int:
    return SEX_M if sex == "M" else SEX_F if sex == "F" else SEX_OTHER


def body_arrays(person: Any) -> tuple[np.ndarray, np.ndarray]:
    """person.body and person.bulk as arrays; when missing, made as Vitals.__init__ makes them
    (the same draws of the `vitals:body` stream, on a fresh stream: the person is not changed)."""
    stream = r.Stream(person.seed, r.stream_id(BODY_STREAM))
    b = person.body
    if b is None:
        b = body_model.Body(person.gender or "M", *(stream.gauss(0.0, 1.0) for _ in range(6)))
    bulk = person.bulk
    if bulk is None:
        bulk = tuple(stream.random() for _ in range(4))
    body = np.array([
        _sex_code(b.sex), b.z_height, b.z_weight_infant, b.z_head, b.bmi_start, b.bmi_child,
        b.bmi_adult, b.weight_multiplier, b.extra_kg], dtype=np.float64)
    return body, np.array(bulk, dtype=np.float64)


def _int_value(text: str) -> float:
    try:
        value = int(text)
    except ValueError:
        return math.nan
    return float(min(max(value, -(10**18)), 10**18))  # only its clamp to 0..4 is ever used


def string_info(strings: Sequence[str]) -> np.ndarray:
    """float64[len(strings), 2]: per string (row = the attr_ref of a K_STR slot) its class
    (S_EMPTY, S_M, S_F, S_OTHER) and int(text) (NaN when int() refuses it)."""
    info = np.zeros((max(len(strings), 1), 2))
    for i, text in enumerate(strings):
        info[i, SI_CLASS] = (S_EMPTY if text == "" else S_M if text == "M"
                             else S_F if text == "F" else S_OTHER)
        info[i, SI_INT] = _int_value(text)
    return info


def read_decimals(name: str) -> int:
    """Vitals.read's decimals for any vital-sign name (2 for names the engine never computes)."""
    return 0 if name in ref._ROUND0 else 1 if name in ref._ROUND1 else 2


def new_drug_impact() -> np.ndarray:
    return np.full((N_ANTIHYPERTENSIVES, 2), np.nan)


def new_out() -> np.ndarray:
    return np.full(N_OUT, np.nan)


# ---------------------------------------------------------------- jitted helpers


@nb.njit(cache=True)
def _pmax(a: float, b: float) -> float:
    """Python's max(a, b): b only when b > a (so NaN in a stays)."""
    return b if b > a else a


@nb.njit(cache=True)
def _pmin(a: float, b: float) -> float:
    return b if b < a else a


@nb.njit(cache=True)
def _sq(x: float, params: np.ndarray) -> float:
    # Python's x ** 2 is libm pow(x, 2.0), which is not always x * x (glibc misrounds a few
    # near-halfway squares); an exponent LLVM cannot see keeps the pow call.
    return x ** params[P_TWO]


@nb.njit(cache=True)
def _draw(key: np.uint64, counter: np.ndarray) -> float:
    """Stream.random()."""
    counter[0] += 1
    return rng.uniform(key, counter[0])


@nb.njit(cache=True)
def _gauss(key: np.uint64, counter: np.ndarray, mu: float, sigma: float) -> float:
    """Stream.gauss: Box–Muller from two uniforms."""
    u1 = _draw(key, counter)
    u2 = _draw(key, counter)
    return mu + sigma * math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(_TWO_PI * u2)


@nb.njit(cache=True)
def _cdf(x: float) -> float:
    """statistics.NormalDist().cdf."""
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


@nb.njit(cache=True)
def _inv_cdf(p: float) -> float:
    """statistics.NormalDist().inv_cdf for 0 < p < 1: Wichura's AS241, with CPython's exact
    operation order (its C version and its Python fallback agree)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2.5090809287301226727e+3 * r +
                     3.3430575583588128105e+4) * r +
                     6.7265770927008700853e+4) * r +
                     4.5921953931549871457e+4) * r +
                     1.3731693765509461125e+4) * r +
                     1.9715909503065514427e+3) * r +
                     1.3314166789178437745e+2) * r +
                     3.3871328727963666080e+0) * q
        den = (((((((5.2264952788528545610e+3 * r +
                     2.8729085735721942674e+4) * r +
                     3.9307895800092710610e+4) * r +
                     2.1213794301586595867e+4) * r +
                     5.3941960214247511077e+3) * r +
                     6.8718700749205790830e+2) * r +
                     4.2313330701600911252e+1) * r +
                     1.0)
        return 0.0 + (num / den) * 1.0
    r = p if q <= 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r = r - 1.6
        num = (((((((7.74545014278341407640e-4 * r +
                     2.27238449892691845833e-2) * r +
                     2.41780725177450611770e-1) * r +
                     1.27045825245236838258e+0) * r +
                     3.64784832476320460504e+0) * r +
                     5.76949722146069140550e+0) * r +
                     4.63033784615654529590e+0) * r +
                     1.42343711074968357734e+0)
        den = (((((((1.05075007164441684324e-9 * r +
                     5.47593808499534494600e-4) * r +
                     1.51986665636164571966e-2) * r +
                     1.48103976427480074590e-1) * r +
                     6.89767334985100004550e-1) * r +
                     1.67638483018380384940e+0) * r +
                     2.05319162663775882187e+0) * r +
                     1.0)
    else:
        r = r - 5.0
        num = (((((((2.01033439929228813265e-7 * r +
                     2.71155556874348757815e-5) * r +
                     1.24266094738807843860e-3) * r +
                     2.65321895265761230930e-2) * r +
                     2.96560571828504891230e-1) * r +
                     1.78482653991729133580e+0) * r +
                     5.46378491116411436990e+0) * r +
                     6.65790464350110377720e+0)
        den = (((((((2.04426310338993978564e-15 * r +
                     1.42151175831644588870e-7) * r +
                     1.84631831751005468180e-5) * r +
                     7.86869131145613259100e-4) * r +
                     1.48753612908506148525e-2) * r +
                     1.36929880922735805310e-1) * r +
                     5.99832206555887937690e-1) * r +
                     1.0)
    x = num / den
    if q < 0.0:
        x = -x
    return 0.0 + x * 1.0


@nb.njit(cache=True)
def _chart(charts: np.ndarray, charts_n: np.ndarray, c: np.int64, sex: np.int64, months: float,
           x: float, is_percentile: bool) -> float:
    """GrowthCharts.value(chart, sex, months, x) (x a probability; NaN where it raises, which
    it alone can give), or with is_percentile GrowthCharts.percentile(chart, sex, months, x)
    (x a measurement; the caller checks x > 0, the one case where that raises)."""
    n = charts_n[c]
    t = charts[c, sex]
    if months <= t[0, 0]:
        L, M, S = t[0, 1], t[0, 2], t[0, 3]
    elif months >= t[n - 1, 0]:
        L, M, S = t[n - 1, 1], t[n - 1, 2], t[n - 1, 3]
    else:
        a, b = 0, n  # bisect_right(ages, months) - 1
        while a < b:
            mid = (a + b) // 2
            if months < t[mid, 0]:
                b = mid
            else:
                a = mid + 1
        i = a - 1
        w = (months - t[i, 0]) / (t[i + 1, 0] - t[i, 0])
        L = t[i, 1] + w * (t[i + 1, 1] - t[i, 1])
        M = t[i, 2] + w * (t[i + 1, 2] - t[i, 2])
        S = t[i, 3] + w * (t[i + 1, 3] - t[i, 3])
    if is_percentile:  # cdf(lms_zscore(L, M, S, x))
        if abs(L) < 1e-12:
            return _cdf(math.log(x / M) / S)
        return _cdf(math.expm1(L * math.log(x / M)) / (L * S))
    if not (0.0 < x < 1.0):
        return np.nan
    z = _inv_cdf(x)  # lms_value(L, M, S, z)
    if abs(L) < 1e-12:
        return M * math.exp(S * z)
    lsz = L * S * z
    if lsz <= -1.0:
        return 0.0 if L > 0.0 else math.inf
    return M * math.exp(math.log1p(lsz) / L)


@nb.njit(cache=True)
def _clamp_p(z: float) -> float:
    return _pmin(_pmax(_cdf(z), body_model.CHART_P_LIMIT), 1.0 - body_model.CHART_P_LIMIT)


@nb.njit(cache=True)
def _ar_path(start: float, innovation: float, rho: float, years: float) -> float:
    r = rho ** _pmax(years, 0.0)
    return start * r + math.sqrt(_pmax(1.0 - r * r, 0.0)) * innovation


@nb.njit(cache=True)
def _truth(kind: np.int64, num: float, sref: np.int64, str_info: np.ndarray) -> np.int64:
    """bool(value): 1 or 0; -1 when unknown (K_OTHER)."""
    if kind == K_NONE:
        return 0
    if kind == K_BOOL or kind == K_INT or kind == K_FLOAT:
        return 1 if num != 0.0 else 0  # NaN is true, as in Python
    if kind == K_STR:
        return 0 if str_info[sref, SI_CLASS] == S_EMPTY else 1
    if kind == K_OTHER:
        return -1
    return 1  # codes, entries: objects without __bool__ or __len__; K_FORMAT: non-empty texts


@nb.njit(cache=True)
def _int_of(kind: np.int64, num: float, sref: np.int64, str_info: np.ndarray) -> tuple:
    """(status, value): int(value) with TypeError and ValueError read as 0, as _severity and
    _kidney do; the value is only ever clamped to 0..4, so it is returned as a float."""
    if kind == K_NONE:
        return 0, 0.0
    if kind == K_BOOL or kind == K_INT:
        return 0, num
    if kind == K_FLOAT:
        if math.isnan(num):
            return 0, 0.0
        if math.isinf(num):
            return ERR_OVERFLOW, 0.0
        return 0, float(math.trunc(_pmin(_pmax(num, -1e18), 1e18)))
    if kind == K_STR:
        v = str_info[sref, SI_INT]
        return 0, (0.0 if math.isnan(v) else v)
    if kind == K_OTHER:
        return ERR_UNSUPPORTED, 0.0
    return 0, 0.0  # int() of a code or an entry (TypeError), of K_FORMAT text (ValueError): 0


@nb.njit(cache=True)
def _number(kind: np.int64) -> np.int64:
    """0 when the value takes part in float arithmetic, else the error the reference raises."""
    if kind == K_BOOL or kind == K_INT or kind == K_FLOAT:
        return 0
    if kind == K_OTHER:
        return ERR_UNSUPPORTED
    return ERR_TYPE


@nb.njit(cache=True)
def _severity(attr_kind: np.ndarray, attr_num: np.ndarray, attr_ref: np.ndarray,
              str_info: np.ndarray) -> tuple:
    """(status, k): Vitals._severity, diabetes_severity clamped to 0..4."""
    status, v = _int_of(attr_kind[A_SEVERITY], attr_num[A_SEVERITY], attr_ref[A_SEVERITY],
                        str_info)
    return status, np.int64(_pmin(_pmax(v, 0.0), 4.0))


@nb.njit(cache=True)
def _gender(attr_kind: np.ndarray, attr_ref: np.ndarray, str_info: np.ndarray) -> np.int64:
    """S_M, S_F or S_OTHER: person.gender compared with "M" and "F"."""
    if attr_kind[A_GENDER] != K_STR:
        return S_OTHER
    c = np.int64(str_info[attr_ref[A_GENDER], SI_CLASS])
    return c if c == S_M or c == S_F else S_OTHER


@nb.njit(cache=True)
def _is_true(attr_kind: np.ndarray, attr_num: np.ndarray, a: np.int64) -> bool:
    """person.get(name) is True"""
    return attr_kind[a] == K_BOOL and attr_num[a] != 0.0


# ---------------------------------------------------------------- groups


@nb.njit(cache=True)
def _growth(now: np.int64, birth: np.int64, body: np.ndarray, attr_kind: np.ndarray,
            attr_num: np.ndarray, attr_ref: np.ndarray, str_info: np.ndarray,
            charts: np.ndarray, charts_n: np.ndarray, params: np.ndarray,
            out: np.ndarray) -> np.int64:
    """Vitals._growth: weight_management.weight_multiplier, then body.measures."""
    age_years = _pmax(float(now - birth), 0.0) / YEAR_365
    multiplier = 1.0
    if age_years >= 20:
        active = _truth(attr_kind[A_WM_ACTIVE], attr_num[A_WM_ACTIVE], attr_ref[A_WM_ACTIVE],
                        str_info)
        if active < 0:
            return ERR_UNSUPPORTED
        if active == 1:
            adherent = _truth(attr_kind[A_WM_ADHERENCE], attr_num[A_WM_ADHERENCE],
                              attr_ref[A_WM_ADHERENCE], str_info)
            if adherent < 0:
                return ERR_UNSUPPORTED
            if adherent == 1:
                if attr_kind[A_WM_LOSS] == K_NONE or attr_kind[A_WM_START] == K_NONE:
                    return ERR_KEY
                status = _number(attr_kind[A_WM_START])
                if status != 0:
                    return status
                status = _number(attr_kind[A_WM_LOSS])
                if status != 0:
                    return status
                loss = attr_num[A_WM_LOSS]
                years = _pmax(float(now) - attr_num[A_WM_START], 0.0) / YEAR_365
                if years <= params[P_LOSS_YEARS]:
                    multiplier = 1.0 - loss * years / params[P_LOSS_YEARS]
                else:
                    long_term = _truth(attr_kind[A_WM_LONG_TERM], attr_num[A_WM_LONG_TERM],
                                       attr_ref[A_WM_LONG_TERM], str_info)
                    if long_term < 0:
                        return ERR_UNSUPPORTED
                    if long_term == 1:
                        multiplier = 1.0 - loss
                    else:
                        regained = _pmin(
                            (years - params[P_LOSS_YEARS])
                            / (params[P_REGAIN_END_YEARS] - params[P_LOSS_YEARS]), 1.0)
                        multiplier = 1.0 - loss * (1.0 - regained)
    body[B_WEIGHT_MULTIPLIER] = multiplier

    # body.measures
    sex = np.int64(body[B_SEX])
    if sex != SEX_M and sex != SEX_F:
        return ERR_VALUE
    months = age_years * 12.0
    pct_height = _clamp_p(body[B_Z_HEIGHT])
    bmi_percentile = np.nan
    if months < 24.0:
        height = _chart(charts, charts_n, C_LENGTH_INFANT, sex, months, pct_height, FALSE)
        weight = _chart(charts, charts_n, C_WEIGHT_INFANT, sex, months,
                        _clamp_p(body[B_Z_WEIGHT_INFANT]), FALSE)
        if math.isnan(height) or math.isnan(weight):
            return ERR_VALUE
        bmi = weight / _sq(height / 100.0, params)
        weight_pct = _clamp_p(body[B_Z_WEIGHT_INFANT])
    else:
        child_age = _pmin(age_years, 20.0)
        chart_months = _pmin(months, 240.0)
        height = _chart(charts, charts_n, C_STATURE, sex, chart_months, pct_height, FALSE)
        if math.isnan(height):
            return ERR_VALUE
        u_child = _ar_path(body[B_BMI_START], body[B_BMI_CHILD], params[P_CHILD_TRACKING],
                           child_age - 2.0)
        mu = params[P_CHILD_MU + 8]  # body._child_mu: the last group's past every range
        for j in range(3):
            lo = params[P_CHILD_MU + 3 * j]
            hi = params[P_CHILD_MU + 3 * j + 1]
            if lo <= child_age <= hi:
                mu = params[P_CHILD_MU + 3 * j + 2]
                break
        z_child = _pmax(_pmin(mu + u_child, 3.5), -3.5)
        # body._bmi_on_chart
        if -2.0 <= z_child <= 2.0:
            bmi = _chart(charts, charts_n, C_BMI, sex, chart_months, _cdf(z_child), FALSE)
            if math.isnan(bmi):
                return ERR_VALUE
        else:
            edge = 2.0 if z_child > 0 else -2.0
            at_edge = _chart(charts, charts_n, C_BMI, sex, chart_months, _cdf(edge), FALSE)
            inner = _chart(charts, charts_n, C_BMI, sex, chart_months, _cdf(edge / 2.0), FALSE)
            if math.isnan(at_edge) or math.isnan(inner):
                return ERR_VALUE
            bmi = _pmax(at_edge + (abs(z_child) - 2.0) * abs(at_edge - inner), 10.0)
        if age_years > 20.0:
            u = _ar_path(u_child, body[B_BMI_ADULT], params[P_ADULT_TRACKING], age_years - 20.0)
            # body._adult_median
            m0 = P_ADULT_MEDIAN + 6 * sex
            if age_years <= params[m0]:
                median = params[m0 + 1]
            else:
                median = params[m0 + 5]
                for j in range(2):
                    a0 = params[m0 + 2 * j]
                    v0 = params[m0 + 2 * j + 1]
                    a1 = params[m0 + 2 * j + 2]
                    v1 = params[m0 + 2 * j + 3]
                    if age_years <= a1:
                        median = v0 + (v1 - v0) * (age_years - a0) / (a1 - a0)
                        break
            adult = median * math.exp(params[P_ADULT_LN_SD] * u)
            blend = _pmin((age_years - 20.0) / 10.0, 1.0)
            bmi = math.exp((1 - blend) * math.log(bmi) + blend * math.log(adult))
        weight = bmi * _sq(height / 100.0, params)
        weight_pct = _clamp_p(z_child) if months <= 240.0 else 0.0
        if months <= 240.0:
            if bmi <= 0.0:
                return ERR_VALUE
            bmi_percentile = 100.0 * _chart(charts, charts_n, C_BMI, sex, months, bmi, TRUE)
    if body[B_WEIGHT_MULTIPLIER] != 1.0 or body[B_EXTRA_KG] != 0.0:
        weight = weight * body[B_WEIGHT_MULTIPLIER] + body[B_EXTRA_KG]
        bmi = weight / _sq(height / 100.0, params)
    head = _chart(charts, charts_n, C_HEAD_INFANT, sex, _pmin(months, 36.0),
                  _clamp_p(body[B_Z_HEAD]), FALSE)
    if math.isnan(head):
        return ERR_VALUE
    out[V_HEIGHT] = height
    out[V_WEIGHT] = weight
    out[V_BMI] = bmi
    out[V_HEIGHT_PCT] = 100.0 * pct_height
    out[V_WEIGHT_PCT] = 100.0 * weight_pct
    out[V_HEAD] = head
    out[V_HEAD_PCT] = 100.0 * _clamp_p(body[B_Z_HEAD])
    out[V_BMI_PERCENTILE] = bmi_percentile
    return BMI_PERCENTILE_MEASURED if 24.0 <= months <= 240.0 else np.int64(0)


@nb.njit(cache=True)
def _high_chol_share(age: float, params: np.ndarray) -> float:
    a0 = params[P_HIGH_CHOL]
    share = params[P_HIGH_CHOL + N_HIGH_CHOL]
    if age <= a0:
        return share
    for i in range(1, N_HIGH_CHOL):
        a1 = params[P_HIGH_CHOL + i]
        next_share = params[P_HIGH_CHOL + N_HIGH_CHOL + i]
        if age < a1:
            return share + (next_share - share) * (age - a0) / (a1 - a0)
        a0, share = a1, next_share
    return share


@nb.njit(cache=True)
def _lipids(now: np.int64, birth: np.int64, bulk: np.ndarray, attr_kind: np.ndarray,
            attr_num: np.ndarray, attr_ref: np.ndarray, str_info: np.ndarray,
            med_active: np.ndarray, key: np.uint64, counter: np.ndarray, params: np.ndarray,
            out: np.ndarray) -> np.int64:
    status, k = _severity(attr_kind, attr_num, attr_ref, str_info)
    if status != 0:
        return status
    written = np.int64(0)
    t0 = params[P_T + k]
    trig = t0 + (params[P_T + k + 1] - t0) * _draw(key, counter)
    if k == 0:
        if attr_kind[A_LOW_HDL] == K_NONE:
            low = 1 if bulk[2] < (0.085 if _gender(attr_kind, attr_ref, str_info) == S_F
                                  else 0.266) else 0
            attr_kind[A_LOW_HDL] = K_BOOL
            attr_num[A_LOW_HDL] = float(low)
            attr_ref[A_LOW_HDL] = 0
            written |= np.int64(1) << A_LOW_HDL
        else:
            low = _truth(attr_kind[A_LOW_HDL], attr_num[A_LOW_HDL], attr_ref[A_LOW_HDL], str_info)
        unset = attr_kind[A_HIGH_CHOL] == K_NONE
        high = 0 if unset else _truth(attr_kind[A_HIGH_CHOL], attr_num[A_HIGH_CHOL],
                                      attr_ref[A_HIGH_CHOL], str_info)
        if unset or high == 0:
            now_high = 1 if bulk[3] < _high_chol_share((now - birth) / YEAR_365, params) else 0
            if unset or now_high == 1:
                attr_kind[A_HIGH_CHOL] = K_BOOL
                attr_num[A_HIGH_CHOL] = float(now_high)
                attr_ref[A_HIGH_CHOL] = 0
                written |= np.int64(1) << A_HIGH_CHOL
            high = now_high
        if low < 0:
            return ERR_UNSUPPORTED
        hdl = _gauss(key, counter, 30.0, 3.0) if low == 1 else _gauss(key, counter, 55.0, 5.0)
        if high < 0:
            return ERR_UNSUPPORTED
        total = _gauss(key, counter, 280.0, 20.0) if high == 1 else _gauss(key, counter, 170.0, 30.0)
    else:
        c0 = params[P_C + k]
        total = c0 + (params[P_C + k + 1] - c0) * _draw(key, counter)
        h0 = params[P_H + k]
        hdl = h0 + (params[P_H + k + 1] - h0) * _draw(key, counter)
    cut = 0.0
    for j in range(len(STATINS)):
        if med_active[N_BEFORE_STATINS + j]:
            cut = max(cut, params[P_STATIN_CUT + j])
    total *= 1.0 - cut
    out[V_TOTAL_CHOL] = total
    out[V_TRIG] = trig
    out[V_HDL] = hdl
    out[V_LDL] = total - hdl - 0.2 * trig
    return written


@nb.njit(cache=True)
def _glucose(attr_kind: np.ndarray, attr_num: np.ndarray, attr_ref: np.ndarray,
             str_info: np.ndarray, med_active: np.ndarray, dep: float, has_dep: bool,
             key: np.uint64, counter: np.ndarray, params: np.ndarray,
             out: np.ndarray) -> np.int64:
    diabetic = _is_true(attr_kind, attr_num, A_DIABETES)
    prediabetic = _is_true(attr_kind, attr_num, A_PREDIABETES)
    if diabetic:
        if not has_dep:
            return NEEDS_DEPENDENCY
        bmi = dep
        a1c = 12.0 if bmi > 48 else 6.6 if bmi <= 27 else bmi / 4.0
    elif prediabetic:
        a1c = 5.8 + 0.6 * _draw(key, counter)
    else:
        a1c = 5.0 + 0.7 * _draw(key, counter)
    if diabetic or prediabetic:
        for j in range(len(DIABETES_DRUGS)):
            if med_active[N_ANTIHYPERTENSIVES + j]:
                a1c += params[P_A1C_IMPACT + j]
    status, k = _severity(attr_kind, attr_num, attr_ref, str_info)
    if status != 0:
        return status
    if k > 2:
        k = 2
    g0 = params[P_G + k]
    glucose = g0 + (params[P_G + k + 1] - g0) * _draw(key, counter)
    out[V_A1C] = a1c
    out[V_GLUCOSE] = glucose
    return 0


@nb.njit(cache=True)
def _kidney(now: np.int64, birth: np.int64, attr_kind: np.ndarray, attr_num: np.ndarray,
            attr_ref: np.ndarray, str_info: np.ndarray, dep: float, has_dep: bool,
            key: np.uint64, counter: np.ndarray, out: np.ndarray) -> np.int64:
    status, stage = _int_of(attr_kind[A_CKD], attr_num[A_CKD], attr_ref[A_CKD], str_info)
    if status != 0:
        return status
    drawn = counter[0]
    female = _gender(attr_kind, attr_ref, str_info) == S_F
    if stage == 1.0:
        lo, hi, mlo, mhi = 60.0, 90.0, 17.0, 30.0
    elif stage == 2.0:
        lo, hi, mlo, mhi = 30.0, 59.0, 30.0, 300.0
    elif stage == 3.0:
        lo, hi, mlo, mhi = 15.0, 29.0, 300.0, 600.0
    elif stage == 4.0:
        lo, hi, mlo, mhi = 1.0, 15.0, 300.0, 600.0
    elif female:
        lo, hi, mlo, mhi = 56.0, 161.0, 0.0, 17.0
    else:
        lo, hi, mlo, mhi = 77.0, 160.0, 0.0, 17.0
    egfr = lo + (hi - lo) * _draw(key, counter)
    mcr = mlo + (mhi - mlo) * _draw(key, counter)
    age = (now - birth) / YEAR_365
    if not has_dep:
        counter[0] = drawn  # the second call draws them again
        return NEEDS_DEPENDENCY
    weight = dep
    creat = (140 - age) * weight / (72 * _pmin(_pmax(egfr, 1.0), 100.0))
    if female:
        creat *= 0.85
    out[V_EGFR] = egfr
    out[V_MCR] = mcr
    out[V_CREATININE] = _pmax(creat, 0.1)
    return 0


@nb.njit(cache=True)
def _bounded(key: np.uint64, counter: np.ndarray, lo: float, hi: float) -> float:
    mean = lo + (hi - lo) * _draw(key, counter)
    for _ in range(20):
        v = _gauss(key, counter, mean, 1.0)
        if lo <= v <= hi:
            return v
    return mean


@nb.njit(cache=True)
def _blood_pressure(now: np.int64, bulk: np.ndarray, attr_kind: np.ndarray,
                    attr_num: np.ndarray, attr_ref: np.ndarray, str_info: np.ndarray,
                    med_active: np.ndarray, drug_impact: np.ndarray, key: np.uint64,
                    counter: np.ndarray, params: np.ndarray, out: np.ndarray) -> np.int64:
    hyper = _is_true(attr_kind, attr_num, A_HYPERTENSION)
    severe = _is_true(attr_kind, attr_num, A_HYPERTENSION_SEVERE)
    sex_shift = 1.0 if _gender(attr_kind, attr_ref, str_info) == S_M else -1.0
    written = np.int64(0)
    for which in range(2):  # systolic, diastolic
        a = (A_BP_TRUE_SYS if hyper else A_BP_FALSE_SYS) + which
        if attr_kind[a] == K_NONE:
            if which == 0:
                lo, hi = ((160.0, 200.0) if severe else (140.0, 160.0)) if hyper else (
                    params[P_BP_NORMAL], params[P_BP_NORMAL + 1])
            else:
                lo, hi = (90.0, 120.0) if hyper else (params[P_BP_NORMAL + 2],
                                                      params[P_BP_NORMAL + 3])
            base = lo + (hi - lo) * bulk[which] + sex_shift
            attr_kind[a] = K_FLOAT
            attr_num[a] = base
            attr_ref[a] = 0
            written |= np.int64(1) << a
        else:
            base = attr_num[a]
        drug = 0.0
        for j in range(N_ANTIHYPERTENSIVES):
            if med_active[j]:
                if math.isnan(drug_impact[j, 0]):
                    drug_impact[j, 0] = 5 + 8 * _draw(key, counter)
                    drug_impact[j, 1] = 3 + 5 * _draw(key, counter)
                drug -= drug_impact[j, which]
        status = _number(attr_kind[a])
        if status != 0:
            return status  # base + drug raises
        sign = 1.0 if (now // HALF_DAY) % 2 == 0 else -1.0
        amp = 8.0 if which == 0 else 5.0
        out[V_SYSTOLIC + which] = _pmax(
            base + drug + sign * abs(_gauss(key, counter, 0.0, 1.0)) * amp, 40.0)
    return written


# ---------------------------------------------------------------- entry points


@nb.njit(cache=True)
def compute_group(group: np.int64, now: np.int64, birth: np.int64, body: np.ndarray,
                  bulk: np.ndarray, attr_kind: np.ndarray, attr_num: np.ndarray,
                  attr_ref: np.ndarray, str_info: np.ndarray, med_active: np.ndarray,
                  drug_impact: np.ndarray, dep: float, has_dep: bool, key: np.uint64,
                  counter: np.ndarray, charts: np.ndarray, charts_n: np.ndarray,
                  params: np.ndarray, out: np.ndarray) -> np.int64:
    """Vitals._COMPUTE[group](now) into out[MEASURES id] (only the group's slots are written).

    Draws from the group's stream (key; counter[0] = draws made so far, advanced as Stream.n).
    Returns >= 0: the bitmask (1 << ATTRIBUTES index) of the attribute slots written (low_hdl and
    high_total_chol as Person.set writes them, which notifies; bp_baseline_* stored without a
    notification), with BMI_PERCENTILE_MEASURED for growth; NEEDS_DEPENDENCY: call again with
    has_dep and the value of DEPENDENCY_OF[group] (nothing was drawn or written); or an ERR_*
    code where the reference raises (draws and writes made before it stay made)."""
    if group == G_GROWTH:
        return _growth(now, birth, body, attr_kind, attr_num, attr_ref, str_info, charts,
                       charts_n, params, out)
    if group == G_LIPIDS:
        return _lipids(now, birth, bulk, attr_kind, attr_num, attr_ref, str_info, med_active, key,
                       counter, params, out)
    if group == G_GLUCOSE:
        return _glucose(attr_kind, attr_num, attr_ref, str_info, med_active, dep, has_dep, key,
                        counter, params, out)
    if group == G_OXYGEN:
        lo, span = (75.0, 14.0) if attr_kind[A_CHF] != K_NONE else (90.0, 9.0)
        out[V_O2] = float(np.int64(lo + span * _draw(key, counter)))
        return 0
    if group == G_KIDNEY:
        return _kidney(now, birth, attr_kind, attr_num, attr_ref, str_info, dep, has_dep, key,
                       counter, out)
    if group == G_METABOLIC:
        out[V_UREA] = 7 + 13 * _draw(key, counter)
        out[V_CALCIUM] = 8.5 + 1.7 * _draw(key, counter)
        out[V_CHLORIDE] = 101 + 10 * _draw(key, counter)
        out[V_POTASSIUM] = 3.7 + 1.5 * _draw(key, counter)
        out[V_CO2] = 20 + 9 * _draw(key, counter)
        out[V_SODIUM] = 136 + 8 * _draw(key, counter)
        return 0
    if group == G_RATES:
        out[V_HEART_RATE] = _bounded(key, counter, 60.0, 100.0)
        out[V_RESP_RATE] = _bounded(key, counter, 12.0, 16.0)
        return 0
    return _blood_pressure(now, bulk, attr_kind, attr_num, attr_ref, str_info, med_active,
                           drug_impact, key, counter, params, out)


@nb.njit(cache=True)
def round_read(value: float, decimals: np.int64) -> float:
    """randomness.round_half_up(value, decimals), as Vitals.read applies it (DECIMALS,
    read_decimals). A NaN or infinite value gives NaN: there math.floor raises in the
    reference, and the kernel should fault."""
    if not math.isfinite(value):
        return np.nan
    factor = 10.0 ** decimals
    return np.floor(value * factor + 0.5) / factor
