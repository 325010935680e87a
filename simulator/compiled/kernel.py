"""The compiled engine's kernel: one person's life over the array program, in numba.

It is a faithful port of the reference engine (simulator.engine.simulation and .states): the
same SimPy event order — a heap of (time, priority, event id) with ids given in the order the
reference schedules them, URGENT process starts, NORMAL timeouts and succeeded events, LATE
ends of engine visits — the same states, the same draws from the same keyed streams. What it
does to the record goes to a journal that simulator.compiled.replay turns into a HealthRecord.

`P` is the program (lower.ProgramArrays), `W` the work buffers (buffers.Work): fixed-size
arrays that the kernel reports as too small (GROW) instead of resizing, so a person is lived
again with bigger ones.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from simulator.builtin import lifecycle as lc
from simulator.builtin import weight_management as wm
from simulator.compiled import cardio as cd
from simulator.compiled import civil
from simulator.compiled import expr as ex
from simulator.compiled import insurance as ins
from simulator.compiled import vitals as vt
from simulator.compiled.rng import bits, stream_key, uniform

NONE = np.iinfo(np.int64).min  # an unset instant or reference
URGENT, NORMAL, LATE = 0, 1, 2

# event kinds
EV_END, EV_STOP, EV_INIT, EV_RESUME, EV_TIMER, EV_WAKE, EV_DEATH, EV_ENC_END = range(8)

# scalar slots of W.n
(N_HEAP, N_EID, N_WAIT, N_NODE, N_ENTRY, N_ENC, N_J, N_HUSED, N_PRES, N_SYM, N_ENTERED,
 N_STOPTRIG, N_DEATH, N_LOCK, N_ENGENC, N_CHR, N_ERR, N_ERRSTATE, N_GROW, N_DEATH_SRC, N_BIRTH,
 N_END, N_FF, N_LASTW, N_LASTT, N_STOPPED, N_NOW, N_STAMP, N_ERRPROC, N_NATURAL,
 N_VACCINATED, N_C19_FIRST, N_C19_SECOND, N_C19_VACCINE, N_BMI_MEASURED, N_PLAN) = range(36)
N_SCALARS = 64

# growable buffers (W.n[N_GROW] says which)
G_HEAP, G_WAIT, G_NODE, G_ENTRY, G_ENC, G_J, G_HIST, G_SYM, G_DEPTH = range(9)

# faults (W.n[N_ERR]); the replay asks the reference engine for the message
F_NONE, F_FAULT, F_UNSUPPORTED = 0, 1, 2

# attribute kinds (lower.K_*)
(K_NONE, K_BOOL, K_INT, K_FLOAT, K_STR, K_CODE, K_ENTRY, K_PENDING, K_OTHER, K_FORMAT, K_LIST,
 K_SERIES) = range(12)

# constant slots of P.consts (lower.CONSTS)
(C_ENGINE_OWNER, C_ENGINE_NAME, C_FIRST_WELLNESS, C_WELLNESS, C_EMERGENCY, C_URGENTCARE,
 C_OUTPATIENT, C_VIRTUAL, C_AMBULATORY, C_WELL_CHILD, C_GENERAL_EXAM, C_EMERGENCY_VISIT,
 C_URGENT_VISIT, C_CHECKUP_VISIT, C_A_WELLNESS, C_A_EMERGENCY, C_A_URGENT, C_A_SYMPTOM_TOTAL,
 C_A_DEATHDATE, C_A_CAUSE, C_SIG_ATTR0, C_STREAM_ENGINE, C_STREAM_DEATH, C_ENGINE_PROC,
 C_TELEMED_EARLY, C_TELEMED_LATE, C_STOPPED_ADVICE, C_NO_FF, C_MAX_STATES, C_A_INSURANCE,
 C_S_MEDICAID, C_S_DUAL, C_S_NONE, C_CARE_CUTOFF, C_STREAM_BUILTIN0, C_NATURAL_CODE,
 C_WORLD_NETWORK, C_A_SMOKER, C_A_ALCOHOLIC, C_A_QUIT_SMOKING_AGE, C_A_QUIT_ALCOHOL_AGE,
 C_A_QUIT_SMOKING_P, C_A_QUIT_ALCOHOL_P, C_A_UNEMPLOYED, C_A_DRIVERS, C_A_PASSPORT, C_A_EDUCATION,
 C_A_SUFFIX, C_A_PREFIX, C_A_MARITAL, C_A_GENDER, C_A_LAST, C_A_MAIDEN, C_A_NAME, C_S_PHD,
 C_S_JD, C_S_MD, C_S_MR, C_S_MS, C_S_MRS, C_S_M, C_S_S, C_S_W, C_S_D, C_S_MALE, C_S_FEMALE,
 C_S_EMPTY, C_LAST_NAMES, C_IMMUNIZE, C_C19_START, C_A_C19_STATUS, C_A_C19_FULL, C_A_C19_VACCINE,
 C_A_C19_FIRST, C_A_C19_SECOND, C_S_NOT_ELIGIBLE, C_S_WAITING, C_S_VACCINATED, C_S_CVX0, C_S_CVX1,
 C_CODE_CVX0, C_CODE_CVX1, C_VACCINATION_VISIT, C_S_VACCINATION, C_STREAM_VITALS0,
 C_A_OSTEOPOROSIS, C_A_WM_ACTIVE, C_A_WM_CHANGE, C_LIFE0) = range(89)
# C_LIFE0 .. C_LIFE0 + 9: the life-event ages in months (lifecycle.life_events)
C_A_FACTS0 = C_LIFE0 + 10  # .. + 5: the slots of insurance.FACT_ATTRIBUTES
# weight management's attributes (builtin.weight_management)
(C_A_WM_TRIGGER, C_A_WM_PRE, C_A_WM_START, C_A_WM_ADHERENCE, C_A_WM_LOSS, C_A_WM_LONG,
 C_A_BMI_PCT) = range(C_A_FACTS0 + 6, C_A_FACTS0 + 13)
# what the cardiovascular risk attributes read (builtin.cardiovascular)
(C_A_DIABETES, C_A_HYPERTENSION, C_A_AF, C_A_BP_CONTROLLED, C_A_LVH, C_A_CHD, C_A_RACE,
 C_S_BLACK) = range(C_A_FACTS0 + 13, C_A_FACTS0 + 21)
N_CONSTS = C_A_FACTS0 + 21
# formatted attribute values (K_FORMAT: ref says which, the number fills it in; replay.py)
F_DRIVERS, F_PASSPORT, F_LAST_NAME, F_FULL_NAME = range(4)

# process kinds (PR_KIND); a built-in's stream is P.consts[C_STREAM_BUILTIN0 + kind]
P_ENGINE, P_MODULE, P_NATURAL_DEATH, P_LIFE_EVENTS, P_EMPLOYMENT, P_QUIT_SMOKING, \
    P_QUIT_ALCOHOLISM, P_COVID, P_INSURANCE, P_WEIGHT = range(10)

# process resume points
(PC_START, PC_ENTER, PC_DELAY, PC_GUARD, PC_LOCK, PC_WELLNESS, PC_FF_WAIT, PC_FF_BOUNDARY,
 PC_NEVER, PC_DONE, PC_AFTER, PC_EPISODE) = range(12)

# journal kinds (ops.J)
(J_ENCOUNTER, J_ENCOUNTER_END, J_ENCOUNTER_REASON, J_CONDITION, J_ALLERGY, J_ALLERGY_REACTION,
 J_TOUCH, J_END_ENTRY, J_MEDICATION, J_CHRONIC, J_PRESCRIBE, J_REASON_CODE, J_REASON_ENTRY,
 J_CAREPLAN, J_PROCEDURE, J_OBSERVATION, J_IMMUNIZATION, J_SUPPLY, J_RENEW, J_DEATH,
 J_PENDING, J_PANEL, J_REPORT, J_DEVICE, J_DEVICE_NUMBERS, J_IMAGING, J_IMAGING_SERIES,
 J_IMAGING_INSTANCE, J_VACCINATION, J_COVID_DOSE, J_PLAN, J_SERIES) = range(32)

# entry kinds (for isinstance checks)
E_CONDITION, E_ALLERGY, E_MEDICATION, E_CAREPLAN, E_PROCEDURE, E_OBSERVATION, E_IMMUNIZATION, \
    E_SUPPLY, E_DEVICE, E_IMAGING, E_REPORT = range(11)

# columns of the grouped work (W) and program (P) arrays
(H_TIME, H_PRIO, H_EID, H_KIND, H_A,) = range(5)  # H
(WT_PROC, WT_TRIG,) = range(2)  # WT
(ND_WAIT, ND_NEXT,) = range(2)  # ND
(KH_HEAD, KH_TAIL,) = range(2)  # KH
(E_KIND, E_CODE, E_TEXT, E_NAME, E_START, E_STOP, E_RECORDED, E_VKIND, E_VREF,) = range(9)  # E
(EN_CLASS, EN_OWNER, EN_NAME, EN_START, EN_STOP, EN_ENDED, EN_MAX, EN_RENEWED,) = range(8)  # EN
(HV_STATE, HV_NAME, HV_ENTERED, HV_EXITED, HV_DIAG,) = range(5)  # HV
(PR_KIND, PR_MODULE, PR_OWNER, PR_PC, PR_DEPTH, PR_WAIT, PR_HSTART, PR_HLEN, PR_HCAP, PR_N, PR_NK, PR_T1, PR_STEPS, PR_LEAVE, PR_WAKE, PR_G, PR_J, PR_X0, PR_X1,) = range(19)  # PR
(FR_MOD, FR_STATE, FR_HBASE, FR_VISIT, FR_LOOPTIME, FR_LOOPCOUNT,) = range(6)  # FR
(FFI_T, FFI_KEYS,) = range(2)  # FFI
(A_KIND, A_REF,) = range(2)  # A
(PRS_PR_ENTRY, PRS_PR_LIST, PRS_CH_ENTRY, PRS_CH_LIST, PRS_LO_ENC, PRS_LO_ENTRY,) = range(6)  # PRS
(SY_NAME, SY_SOURCE, SY_VALUE, SY_TIME, SY_ADDR,) = range(5)  # SY
(OW_ME, OW_WFLAG, OW_WJOINED,) = range(3)  # OW
(S_TYPE, S_MODULE, S_NAME, S_TRANS, S_I0, S_F0, S_PERIOD, S_PROFILE, S_HIST,) = range(9)  # S
(TR_KIND, TR_O0, TR_ON, TR_AUX,) = range(4)  # TR
(OPT_TARGET, OPT_COND, OPT_ATTR, OPT_D0, OPT_DN,) = range(5)  # OPT
(DEP_K0, DEP_KN, DEP_F0, DEP_FN, DEP_POLL,) = range(5)  # DEP
(DK_KIND, DK_ROUND,) = range(2)  # DK
(LT_NCOLS, LT_C0, LT_HAS_AGE, LT_HAS_TIME, LT_K0, LT_NKEYS,) = range(6)  # LT
(LK_CELL0, LK_ROW0, LK_NROWS,) = range(3)  # LK
(LCELL_STR, LCELL_INT_OK, LCELL_FLOAT_OK, LCELL_BOOL_OK, LCELL_TRUE,) = range(5)  # LCELL
(LR_AGE_LO, LR_AGE_HI, LR_TIME_LO, LR_TIME_HI, LR_P0, LR_MAX_END,) = range(6)  # LR
(VAX_N, VAX_AGE0, VAX_FROM,) = range(3)  # VAX
(MOD_INITIAL, MOD_OWNER,) = range(2)  # MOD
(CLI_CL0, CLI_CLN,) = range(2)  # CLI
(CODES_CODE_TEXT_OF, CODES_CODE_KEY,) = range(2)  # CODES

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000
SECOND = 1000
WEEK = 7 * DAY
YEAR_365 = 365 * DAY
MAX_PER_INSTANT = 20_000


# Every integer constant above becomes a numpy int64: numba compiles a function once per
# distinct *Python* int literal passed to it (as a Literal type), but once for int64 values.
ZERO, ONE, TWO, THREE, FOUR, NEG1, NEG2 = 0, 1, 2, 3, 4, -1, -2
TRUE, FALSE = np.bool_(True), np.bool_(False)
SIG_PRESENT, SIG_LOCK, SIG_ENGINE_ENCOUNTER, SIG_CHRONIC, SIG_SYMPTOM_ANY = range(5)  # lower.SIG_*
for _name, _value in list(globals().items()):
    if _name.isupper() and type(_value) is int:
        globals()[_name] = np.int64(_value)


# builtin.weight_management's figures
WM_START_AGE = wm.START_AGE
WM_ADULT_AGE = wm.ADULT_AGE
WM_ADULT_BMI = wm.ADULT_BMI_THRESHOLD
WM_CHILD_PERCENTILE = wm.CHILD_PERCENTILE_THRESHOLD
WM_START_P = wm.START_PROBABILITY
WM_ADHERENCE_P = wm.ADHERENCE_PROBABILITY
WM_LONG_TERM_P = wm.LONG_TERM_PROBABILITY
WM_LOSS_LOW, WM_LOSS_HIGH = wm.LOSS_RANGE
WM_CHILD_Z = wm.CHILD_BMI_Z_CHANGE
WM_LOSS_MS = int(wm.LOSS_YEARS * YEAR_365)
WM_REGAIN_END_MS = int(wm.REGAIN_END_YEARS * YEAR_365)


# ---------------------------------------------------------------- growth and faults


@nb.njit(cache=True)
def grow(W, which):
    if W.n[N_GROW] < 0:
        W.n[N_GROW] = which
    return False


@nb.njit(cache=True)
def fault(W, kind, state):
    if W.n[N_ERR] == F_NONE:
        W.n[N_ERR] = kind
        W.n[N_ERRSTATE] = state


@nb.njit(cache=True)
def failed(W):
    # one expression, no branch: numba's pruning then drops the reference count of W
    return (W.n[N_ERR] != F_NONE) | (W.n[N_GROW] >= 0)


# ---------------------------------------------------------------- random draws


@nb.njit(cache=True)
def draw(P, W, stream):
    """The next uniform of a stream (a state's global id, or a built-in's slot after them)."""
    W.sc[stream] += 1
    return uniform(stream_key(W.pkey[0], P.mixed[stream]), W.sc[stream])


@nb.njit(cache=True)
def draw_bits(P, W, stream):
    W.sc[stream] += 1
    return bits(stream_key(W.pkey[0], P.mixed[stream]), W.sc[stream])


@nb.njit(cache=True)
def gauss(P, W, stream):
    u1 = draw(P, W, stream)
    u2 = draw(P, W, stream)
    return 0.0 + 1.0 * math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit(cache=True)
def sample(P, W, d, stream):
    """randomness.sample_distribution of distribution row d."""
    kind = P.DK[d, DK_KIND]
    p = P.d_p[d]
    if kind == 0:
        value = p[0]
    elif kind == 1:
        value = p[1] + (p[2] - p[1]) * draw(P, W, stream)
    elif kind == 2:
        value = p[3] + p[4] * gauss(P, W, stream)
        if p[8] != 0.0 and value < p[5]:
            value = p[5]
        if p[9] != 0.0 and value > p[6]:
            value = p[6]
    elif kind == 3:
        value = 1.0 - p[3] * math.log(1.0 - draw(P, W, stream))
    else:
        lo = p[5]
        mode = p[7]
        hi = p[6]
        u = draw(P, W, stream)
        f = (mode - lo) / (hi - lo) if hi != lo else 0.0
        if u < f:
            value = lo + math.sqrt(u * (hi - lo) * (mode - lo))
        else:
            value = hi - math.sqrt((1.0 - u) * (hi - lo) * (hi - mode))
    if P.DK[d, DK_ROUND] != 0:
        value = float(math.floor(value + 0.5))
    return value


@nb.njit(cache=True)
def round_half_up(value, decimals):
    factor = 10.0 ** decimals
    return math.floor(value * factor + 0.5) / factor


@nb.njit(cache=True)
def uuid_halves(P, W, stream):
    hi = draw_bits(P, W, stream)
    lo = draw_bits(P, W, stream)
    return np.int64(hi), np.int64(lo)


# ---------------------------------------------------------------- time units


@nb.njit(cache=True)
def fractional_ms(q, unit):
    """timeutil.fractional_ms; unit as lower.UNITS."""
    if unit == 0:
        return np.int64(math.floor(365.25 * q)) * DAY
    if unit == 1:
        return np.int64(math.floor(30 * q)) * DAY
    if unit == 2:
        return np.int64(math.floor(7 * q)) * DAY
    if unit == 3:
        return np.int64(math.floor(24 * q)) * HOUR
    if unit == 4:
        return np.int64(math.floor(60 * q)) * MINUTE
    if unit == 5:
        return np.int64(math.floor(60 * q)) * SECOND
    return np.int64(math.floor(1000 * q))


@nb.njit(cache=True)
def integer_ms(q, unit):
    """timeutil.integer_ms."""
    n = np.int64(int(q))
    if unit == 0:
        return n * 365 * DAY
    if unit == 1:
        return n * 30 * DAY
    if unit == 2:
        return n * WEEK
    if unit == 3:
        return n * DAY
    if unit == 4:
        return n * HOUR
    if unit == 5:
        return n * MINUTE
    return n * SECOND


# ---------------------------------------------------------------- the event heap


# The heap functions take the heap array itself, not W: reading an array out of W costs a
# reference count increment and decrement, which on this path cost more than the comparisons.


@nb.njit(cache=True)
def _less(H, i, j):
    if H[i, H_TIME] != H[j, H_TIME]:
        return H[i, H_TIME] < H[j, H_TIME]
    if H[i, H_PRIO] != H[j, H_PRIO]:
        return H[i, H_PRIO] < H[j, H_PRIO]
    return H[i, H_EID] < H[j, H_EID]


@nb.njit(cache=True)
def _swap(H, i, j):
    for c in range(H.shape[1]):
        H[i, c], H[j, c] = H[j, c], H[i, c]


@nb.njit(cache=True)
def schedule(W, time, prio, kind, a):
    """env.schedule: every scheduled event takes the next event id, as in SimPy."""
    counters = W.n
    H = W.H
    n = counters[N_HEAP]
    if n >= H.shape[0]:
        return grow(W, G_HEAP)
    H[n, H_TIME] = time
    H[n, H_PRIO] = prio
    H[n, H_EID] = counters[N_EID]
    H[n, H_KIND] = kind
    H[n, H_A] = a
    counters[N_EID] += 1
    counters[N_HEAP] = n + 1
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if _less(H, i, parent):
            _swap(H, i, parent)
            i = parent
        else:
            break
    return True


@nb.njit(cache=True)
def pop_event(W):
    """Removes the first event; returns its (time, kind, a)."""
    H = W.H
    time = H[0, H_TIME]
    kind = H[0, H_KIND]
    a = H[0, H_A]
    n = W.n[N_HEAP] - 1
    W.n[N_HEAP] = n
    if n > 0:
        _swap(H, ZERO, n)
        i = 0
        while True:
            left = 2 * i + 1
            if left >= n:
                break
            best = left
            right = left + 1
            if right < n and _less(H, right, left):
                best = right
            if _less(H, best, i):
                _swap(H, best, i)
                i = best
            else:
                break
    return time, kind, a


# ---------------------------------------------------------------- waits and signals


@nb.njit(cache=True)
def new_wait(W, proc):
    w = W.n[N_WAIT]
    if w >= W.WT.shape[0]:
        grow(W, G_WAIT)
        return -1
    W.WT[w, WT_PROC] = proc
    W.WT[w, WT_TRIG] = 0
    W.n[N_WAIT] = w + 1
    return w


@nb.njit(cache=True)
def watch(W, key, w):
    node = W.n[N_NODE]
    if node >= W.ND.shape[0]:
        return grow(W, G_NODE)
    W.ND[node, ND_WAIT] = w
    W.ND[node, ND_NEXT] = -1
    if W.KH[key, KH_HEAD] < 0:
        W.KH[key, KH_HEAD] = node
    else:
        W.ND[W.KH[key, KH_TAIL], ND_NEXT] = node
    W.KH[key, KH_TAIL] = node
    W.n[N_NODE] = node + 1
    return True


@nb.njit(cache=True)
def succeed(W, w, now):
    """event.succeed() on a wait that has not been triggered: scheduled NORMAL now."""
    if W.WT[w, WT_TRIG] == 0:
        W.WT[w, WT_TRIG] = 1
        schedule(W, now, NORMAL, EV_WAKE, w)


@nb.njit(cache=True)
def notify(W, key, now):
    node = W.KH[key, KH_HEAD]
    W.KH[key, KH_HEAD] = -1
    while node >= 0:
        succeed(W, W.ND[node, ND_WAIT], now)
        node = W.ND[node, ND_NEXT]


@nb.njit(cache=True)
def wait_for(W, proc, keys, at, now):
    """PersonSim.wait_for: a wait that any key's signal or instant `at` (NONE: never)
    succeeds."""
    w = new_wait(W, proc)
    if w < 0:
        return -1
    for k in keys:
        watch(W, k, w)
    if at != NONE:
        schedule(W, at if at > now else now, NORMAL, EV_TIMER, w)
    W.PR[proc, PR_WAIT] = w
    return w


# ---------------------------------------------------------------- attributes


@nb.njit(cache=True)
def attr_signal(P, slot):
    return P.consts[C_SIG_ATTR0] + slot


@nb.njit(cache=True)
def set_attr(P, W, slot, kind, num, ref, now):
    """Person.set: None deletes (and signals only if it was set)."""
    if kind == K_NONE:
        if W.A[slot, A_KIND] != K_NONE:
            W.A[slot, A_KIND] = K_NONE
            notify(W, attr_signal(P, slot), now)
        return
    W.A[slot, A_KIND] = kind
    W.a_num[slot] = num
    W.A[slot, A_REF] = ref
    notify(W, attr_signal(P, slot), now)


@nb.njit(cache=True)
def get_attr(P, W, slot, now):
    """Attributes.get: the value, or the computed one (person.Attributes.computed) when
    unset: AGE, AGE_MONTHS, days_until_death, probability_of_fall_injury, bmi_percentile."""
    kind = W.A[slot, A_KIND]
    if kind != K_NONE:
        return kind, W.a_num[slot], W.A[slot, A_REF]
    computed = P.a_computed[slot]
    if computed == 0:
        return K_NONE, 0.0, ZERO
    birth = W.n[N_BIRTH]
    if computed == 1:
        return K_INT, float(civil.age_years(birth, now)), ZERO
    if computed == 2:
        return K_INT, float(civil.age_months(birth, now)), ZERO
    if computed == 3:  # days_until_death
        death = W.n[N_DEATH]
        if death == NONE:
            return K_NONE, 0.0, ZERO
        return K_INT, float(max(death - now, 0) // DAY), ZERO
    if computed == 4:  # probability_of_fall_injury (builtin.fall_risk, no interventions)
        if civil.age_years(birth, now) < 65:
            return K_NONE, 0.0, ZERO
        k, num, ref = get_attr_stored(W, P.consts[C_A_OSTEOPOROSIS])
        osteoporosis = truthy(k, num, ref, P.consts[C_S_EMPTY])
        return K_FLOAT, (0.06 if osteoporosis else 0.035) * (1.0 - 0.02 * 0), ZERO
    if computed >= 6:
        return cardio_attribute(P, W, computed - 6, now)
    # bmi_percentile: the growth group's, between 2 and 20, less a managed child's offset
    age = civil.age_years(birth, now)
    if not 2 <= age < 20:
        return K_NONE, 0.0, ZERO
    if not vital_group(P, W, vt.G_GROWTH, now, NEG1) or W.n[N_BMI_MEASURED] == 0:
        return K_NONE, 0.0, ZERO
    value = W.vout[vt.V_BMI_PERCENTILE]
    offset = 0.0
    k, num, ref = get_attr_stored(W, P.consts[C_A_WM_ACTIVE])
    if truthy(k, num, ref, P.consts[C_S_EMPTY]):
        k, num, ref = get_attr_stored(W, P.consts[C_A_WM_CHANGE])
        if truthy(k, num, ref, P.consts[C_S_EMPTY]):
            if k != K_INT and k != K_FLOAT and k != K_BOOL:
                fault(W, F_UNSUPPORTED, NEG1)
                return K_NONE, 0.0, ZERO
            offset = num
    value = value - offset
    return K_FLOAT, 0.0 if value < 0.0 else value, ZERO  # Python's max(value, 0.0)


@nb.njit(cache=True)
def stored_flag(P, W, slot):
    """bool(person.get(name, False)) of an attribute that is never computed."""
    kind, num, ref = get_attr_stored(W, slot)
    return truthy(kind, num, ref, P.consts[C_S_EMPTY])


@nb.njit(cache=True)
def cardio_attribute(P, W, which, now):
    """builtin.cardiovascular.cardiovascular_attributes(...)[CARDIO_ATTRIBUTES[which]]: the
    same flags and vital-sign reads in the same order, then compiled.cardio.risks. It reads
    the stored attributes only (none of them is computed): get_attr calls this, and numba
    cannot load recursive functions from its cache (a segfault)."""
    k = P.consts
    age = civil.age_years(W.n[N_BIRTH], now)
    kind, _, ref = get_attr_stored(W, k[C_A_GENDER])
    female = kind == K_STR and ref == k[C_S_FEMALE]
    smoker = stored_flag(P, W, k[C_A_SMOKER])
    diabetic = stored_flag(P, W, k[C_A_DIABETES])
    treated = stored_flag(P, W, k[C_A_HYPERTENSION])
    sbp, total_chol, hdl, bmi = math.nan, math.nan, math.nan, math.nan
    if age >= cd.ASCVD_MIN_AGE:
        ok, sbp = read_vital(P, W, vt.V_SYSTOLIC, now, NEG1)
        if not ok:
            return K_NONE, 0.0, ZERO
    black = False
    if cd.ASCVD_MIN_AGE <= age <= cd.ASCVD_MAX_AGE:
        kind, _, ref = get_attr_stored(W, k[C_A_RACE])
        black = kind == K_STR and ref == k[C_S_BLACK]
        ok, total_chol = read_vital(P, W, vt.V_TOTAL_CHOL, now, NEG1)
        if not ok:
            return K_NONE, 0.0, ZERO
        ok, hdl = read_vital(P, W, vt.V_HDL, now, NEG1)
        if not ok:
            return K_NONE, 0.0, ZERO
    has_af = get_attr_stored(W, k[C_A_AF])[0] != K_NONE
    bp_controlled = False
    if age >= cd.AF_MIN_AGE and not has_af:
        ok, bmi = read_vital(P, W, vt.V_BMI, now, NEG1)
        if not ok:
            return K_NONE, 0.0, ZERO
        bp_controlled = stored_flag(P, W, k[C_A_BP_CONTROLLED])
    out = cd.risks(age, female, black, smoker, diabetic, treated, has_af, bp_controlled,
                   stored_flag(P, W, k[C_A_LVH]), stored_flag(P, W, k[C_A_CHD]),
                   stored_flag(P, W, k[C_A_AF]), sbp, total_chol, hdl, bmi)
    return K_FLOAT, out[which], ZERO


@nb.njit(cache=True)
def get_attr_stored(W, slot):
    return W.A[slot, A_KIND], W.a_num[slot], W.A[slot, A_REF]


@nb.njit(cache=True)
def compare(P, W, lk, ln, lr, op, rk, rn, rr, state):
    """logic.compare of (kind, number, ref) values; a fault for what it cannot compare."""
    if op == 6:
        return lk == K_NONE
    if op == 7:
        return lk != K_NONE
    if lk == K_NONE:
        return False
    if lk == K_LIST or rk == K_LIST or lk == K_SERIES or rk == K_SERIES:  # sampled data
        fault(W, F_FAULT, state)  # logic.compare: a ComparisonError
        return False
    if lk == K_FORMAT or rk == K_FORMAT:  # a text the lifecycle made (an identifier, a name)
        fault(W, F_UNSUPPORTED, state)
        return False
    if lk == K_BOOL or rk == K_BOOL:
        if lk == K_BOOL and rk == K_BOOL:
            return (ln == rn) if op == 0 else (ln != rn)
        fault(W, F_FAULT, state)
        return False
    lnum = lk == K_INT or lk == K_FLOAT
    rnum = rk == K_INT or rk == K_FLOAT
    if lnum and rnum:
        a = ln
        b = rn
    elif lk == K_STR and rk == K_STR:
        if op == 0:
            return lr == rr
        if op == 1:
            return lr != rr
        a = float(text_order(W, lr, rr))
        b = 0.0
    elif lk == K_CODE and rk == K_CODE:
        same = P.CODES[lr, CODES_CODE_KEY] == P.CODES[rr, CODES_CODE_KEY]
        if op == 0:
            return same
        if op == 1:
            return not same
        return False
    else:
        fault(W, F_FAULT, state)
        return False
    if op == 0:
        return a == b
    if op == 1:
        return a != b
    if op == 2:
        return a < b
    if op == 3:
        return a <= b
    if op == 4:
        return a > b
    return a >= b


@nb.njit(cache=True)
def text_order(W, a, b):
    """-1, 0 or 1 as Python orders texts a and b (string ids): by code points."""
    sa = W.str_off[a, 0]
    la = W.str_off[a, 1]
    sb = W.str_off[b, 0]
    lb = W.str_off[b, 1]
    for i in range(min(la, lb)):
        ca = W.str_cp[sa + i]
        cb = W.str_cp[sb + i]
        if ca != cb:
            return -1 if ca < cb else 1
    return -1 if la < lb else (1 if la > lb else 0)


@nb.njit(cache=True)
def named_probability(P, W, o, now):
    """program.probability of option o: a number, or a named attribute (its default)."""
    slot = P.OPT[o, OPT_ATTR]
    if slot < 0:
        return P.o_prob[o]
    kind, num, _ = get_attr(P, W, slot, now)
    if kind == K_INT or kind == K_FLOAT:
        return num
    return P.o_prob[o]


# ---------------------------------------------------------------- the record's present set


@nb.njit(cache=True)
def ordered_put(W, entry_col, list_col, count, text, entry):
    """dict[text] = entry in an insertion-ordered map kept in two columns of W.PRS (the entry
    per code text, and the texts in insertion order): a new key goes last, an old one stays."""
    if W.PRS[text, entry_col] < 0:
        W.PRS[W.n[count], list_col] = text
        W.n[count] += 1
    W.PRS[text, entry_col] = entry


@nb.njit(cache=True)
def ordered_del(W, entry_col, list_col, count, text):
    """del dict[text] in such a map: later keys move up one place."""
    W.PRS[text, entry_col] = -1
    n = W.n[count]
    for i in range(n):
        if W.PRS[i, list_col] == text:
            for j in range(i, n - 1):
                W.PRS[j, list_col] = W.PRS[j + 1, list_col]
            W.n[count] = n - 1
            return


@nb.njit(cache=True)
def present_add(W, entry, now):
    """PersonSim.present_add: person.present[code] = entry, then the signal."""
    ordered_put(W, PRS_PR_ENTRY, PRS_PR_LIST, N_PRES, W.E[entry, E_TEXT], entry)
    notify(W, SIG_PRESENT, now)


@nb.njit(cache=True)
def present_del(W, text):
    ordered_del(W, PRS_PR_ENTRY, PRS_PR_LIST, N_PRES, text)


@nb.njit(cache=True)
def chronic_set(W, entry):
    ordered_put(W, PRS_CH_ENTRY, PRS_CH_LIST, N_CHR, W.E[entry, E_TEXT], entry)


@nb.njit(cache=True)
def chronic_del(W, text):
    ordered_del(W, PRS_CH_ENTRY, PRS_CH_LIST, N_CHR, text)


# ---------------------------------------------------------------- symptoms


@nb.njit(cache=True)
def symptom_value(W, name):
    best = 0
    found = False
    for i in range(W.n[N_SYM]):
        if W.SY[i, SY_NAME] == name and W.SY[i, SY_ADDR] == 0 and (not found or W.SY[i, SY_VALUE] > best):
            best = W.SY[i, SY_VALUE]
            found = True
    return best


@nb.njit(cache=True)
def symptom_total(W):
    """Sum over symptom names (in first-seen order) of each name's largest open value."""
    total = 0
    n = W.n[N_SYM]
    for i in range(n):
        first = True
        for j in range(i):
            if W.SY[j, SY_NAME] == W.SY[i, SY_NAME]:
                first = False
                break
        if first:
            total += symptom_value(W, W.SY[i, SY_NAME])
    return total


@nb.njit(cache=True)
def set_symptom(P, W, name, source, value, now):
    n = W.n[N_SYM]
    found = -1
    for i in range(n):
        if W.SY[i, SY_NAME] == name and W.SY[i, SY_SOURCE] == source:
            found = i
            break
    if found < 0:
        if n >= W.SY.shape[0]:
            grow(W, G_SYM)
            return
        found = n
        W.SY[n, SY_NAME] = name
        W.SY[n, SY_SOURCE] = source
        W.n[N_SYM] = n + 1
    W.SY[found, SY_VALUE] = value
    W.SY[found, SY_TIME] = now
    W.SY[found, SY_ADDR] = 0
    notify(W, P.consts[C_SIG_ATTR0] + P.n_attr + name, now)
    notify(W, SIG_SYMPTOM_ANY, now)


@nb.njit(cache=True)
def address_largest_symptom(W):
    """Person.address_largest_symptom: names in first-seen order, sources in order; the first
    strictly largest open value is addressed."""
    n = W.n[N_SYM]
    best = -1
    for i in range(n):
        first = True
        for j in range(i):
            if W.SY[j, SY_NAME] == W.SY[i, SY_NAME]:
                first = False
                break
        if not first:
            continue
        for k in range(n):
            if W.SY[k, SY_NAME] == W.SY[i, SY_NAME] and W.SY[k, SY_ADDR] == 0:
                if best < 0 or W.SY[k, SY_VALUE] > W.SY[best, SY_VALUE]:
                    best = k
    if best >= 0:
        W.SY[best, SY_ADDR] = 1


# ---------------------------------------------------------------- the journal


@nb.njit(cache=True)
def journal(W, kind, time, a, b, c, d, e, hi, lo, x):
    n = W.n[N_J]
    if n >= W.j.shape[0]:
        return grow(W, G_J)
    row = W.j[n]
    row[0] = kind
    row[1] = time
    row[2] = a
    row[3] = b
    row[4] = c
    row[5] = d
    row[6] = e
    row[7] = hi
    row[8] = lo
    W.jf[n] = x
    W.n[N_J] = n + 1
    return True


# ---------------------------------------------------------------- entries and encounters


@nb.njit(cache=True)
def new_entry(P, W, kind, code, start, stop, recorded):
    """An entry of the kernel's entry table; `code` is its first code's id."""
    e = W.n[N_ENTRY]
    if e >= W.E.shape[0]:
        grow(W, G_ENTRY)
        return -1
    W.E[e, E_KIND] = kind
    W.E[e, E_CODE] = code
    W.E[e, E_TEXT] = P.CODES[code, CODES_CODE_TEXT_OF]
    W.E[e, E_NAME] = -1
    W.E[e, E_START] = start
    W.E[e, E_STOP] = stop
    W.E[e, E_RECORDED] = recorded
    W.E[e, E_VKIND] = K_NONE
    W.n[N_ENTRY] = e + 1
    return e


@nb.njit(cache=True)
def new_encounter(P, W, cls, codes, owner, name, stream, now):
    """PersonSim._new_encounter: its id drawn from the current stream, appended."""
    c = W.n[N_ENC]
    if c >= W.EN.shape[0]:
        grow(W, G_ENC)
        return -1
    hi, lo = uuid_halves(P, W, stream)
    clinician = draw(P, W, stream) if P.consts[C_WORLD_NETWORK] != 0 else 0.0
    W.EN[c, EN_CLASS] = cls
    W.EN[c, EN_OWNER] = owner
    W.EN[c, EN_NAME] = name
    W.EN[c, EN_START] = now
    W.EN[c, EN_STOP] = NONE
    W.EN[c, EN_ENDED] = 0
    W.EN[c, EN_MAX] = NONE
    W.EN[c, EN_RENEWED] = 0
    W.n[N_ENC] = c + 1
    journal(W, J_ENCOUNTER, now, c, cls, owner, codes, name, hi, lo, clinician)
    return c


@nb.njit(cache=True)
def current_encounter(P, W, stream, now):
    """The newest encounter, or a 'First Wellness' one made for an entry before any visit."""
    if W.n[N_ENC] > 0:
        return W.n[N_ENC] - 1
    k = P.consts
    c = new_encounter(P, W, k[C_WELLNESS], k[C_WELL_CHILD], k[C_ENGINE_OWNER],
                      k[C_FIRST_WELLNESS], stream, now)
    if c >= 0:
        W.EN[c, EN_ENDED] = 1
        W.EN[c, EN_STOP] = W.EN[c, EN_START] + 15 * MINUTE
        journal(W, J_ENCOUNTER_END, now, c, W.EN[c, EN_STOP], NEG1, ZERO, ZERO, ZERO, ZERO, 0.0)
    return c


@nb.njit(cache=True)
def record_in(P, W, entry, grouped_stop, stream, now):
    """PersonSim.record_entry: into the current encounter; `grouped_stop` is the entry's stop
    when its group counts for the encounter's end (observations, procedures, supplies...)."""
    c = current_encounter(P, W, stream, now)
    if c >= 0 and grouped_stop != NONE and (W.EN[c, EN_MAX] == NONE or grouped_stop > W.EN[c, EN_MAX]):
        W.EN[c, EN_MAX] = grouped_stop
    return c


@nb.njit(cache=True)
def end_encounter(P, W, c, discharge, at, now):
    """PersonSim.end_encounter (at NONE: now)."""
    if W.EN[c, EN_ENDED] != 0:
        return
    stop = W.EN[c, EN_START] + P.str_minutes[W.EN[c, EN_CLASS]] * MINUTE
    if W.EN[c, EN_MAX] != NONE and W.EN[c, EN_MAX] > stop:
        stop = W.EN[c, EN_MAX]
    end = now if at == NONE else at
    if end > stop:
        stop = end
    W.EN[c, EN_STOP] = stop
    W.EN[c, EN_ENDED] = 1
    journal(W, J_ENCOUNTER_END, now, c, stop, discharge, ONE, ZERO, ZERO, ZERO, 0.0)


@nb.njit(cache=True)
def release_lock(W, now):
    W.n[N_LOCK] = -1
    notify(W, SIG_LOCK, now)


@nb.njit(cache=True)
def end_module_encounter(P, W, owner, discharge, now):
    c = W.OW[owner, OW_ME]
    if c >= 0:
        W.OW[owner, OW_ME] = -1
        end_encounter(P, W, c, discharge, NONE, now)
    if W.n[N_LOCK] == owner:
        release_lock(W, now)


@nb.njit(cache=True)
def end_entry(P, W, entry, reason, now):
    """PersonSim.end_entry; `reason` is kept only by kinds with a stop reason."""
    if W.E[entry, E_STOP] == NONE:
        W.E[entry, E_STOP] = now
    journal(W, J_END_ENTRY, now, entry, reason, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
    text = W.E[entry, E_TEXT]
    if W.PRS[text, PRS_PR_ENTRY] == entry:
        present_del(W, text)
    if W.E[entry, E_KIND] == E_MEDICATION and W.PRS[text, PRS_CH_ENTRY] == entry:
        chronic_del(W, text)
        notify(W, SIG_CHRONIC, now)
    notify(W, SIG_PRESENT, now)


@nb.njit(cache=True)
def renew_chronic(P, W, c, stream, now):
    """PersonSim.renew_chronic_medications at a wellness visit a module joins."""
    if W.EN[c, EN_RENEWED] != 0 or W.n[N_CHR] == 0:
        return
    W.EN[c, EN_RENEWED] = 1
    n = W.n[N_CHR]
    olds = W.PRS[:n, PRS_CH_LIST].copy()
    for i in range(n):
        old = W.PRS[olds[i], PRS_CH_ENTRY]
        end_entry(P, W, old, P.consts[C_STOPPED_ADVICE], now)
        hi, lo = uuid_halves(P, W, stream)
        e = new_entry(P, W, E_MEDICATION, W.E[old, E_CODE], now, NONE, ONE)
        if e < 0:
            return
        W.E[e, E_NAME] = W.E[old, E_NAME]
        cc = record_in(P, W, e, NONE, stream, now)
        journal(W, J_RENEW, now, e, old, cc, ZERO, ZERO, hi, lo, 0.0)
        present_add(W, e, now)
        chronic_set(W, e)
    notify(W, SIG_CHRONIC, now)


@nb.njit(cache=True)
def record_death(P, W, when, cause, source, now):
    """PersonSim.record_death: the earliest death counts; the stop is scheduled."""
    death = W.n[N_DEATH]
    if death != NONE and death <= when:
        return
    W.n[N_DEATH_SRC] = source
    W.n[N_DEATH] = when
    k = P.consts
    W.A[k[C_A_DEATHDATE], A_KIND] = K_INT
    W.a_num[k[C_A_DEATHDATE]] = float(when)
    if cause >= 0:
        W.A[k[C_A_CAUSE], A_KIND] = K_CODE
        W.A[k[C_A_CAUSE], A_REF] = cause
    else:
        W.A[k[C_A_CAUSE], A_KIND] = K_NONE
    journal(W, J_DEATH, now, when, cause, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
    if when <= now:
        trigger_stop(W, now)
    else:
        schedule(W, when, URGENT, EV_DEATH, when)


@nb.njit(cache=True)
def trigger_stop(W, now):
    if W.n[N_STOPTRIG] == 0:
        W.n[N_STOPTRIG] = 1
        schedule(W, now, URGENT, EV_STOP, ZERO)


# ---------------------------------------------------------------- history


@nb.njit(cache=True)
def move_history(W, proc, n):
    """Moves a full history to the end of the pool, twice as large; False when the pool
    must grow."""
    cap = W.PR[proc, PR_HCAP] * 2
    used = W.n[N_HUSED]
    if used + cap > W.HV.shape[0]:
        return grow(W, G_HIST)
    start = W.PR[proc, PR_HSTART]
    W.HV[used:used + n, :] = W.HV[start:start + n, :]
    W.PR[proc, PR_HSTART] = used
    W.PR[proc, PR_HCAP] = cap
    W.n[N_HUSED] = used + cap
    return True


@nb.njit(cache=True)
def push_visit(P, W, proc, g, now):
    """Appends a visit to the process's history (a Delay looping on itself replaces its
    previous visit); returns its index or -1."""
    # called once per state entered: no array is held in a local, and the rare move is a
    # call of its own (the reference counts of P and W themselves remain: a pair per call)
    depth = W.PR[proc, PR_DEPTH]
    n = W.PR[proc, PR_HLEN]
    start = W.PR[proc, PR_HSTART]
    if (n > W.FR[proc, depth, FR_HBASE]) & (W.HV[start + n - 1, HV_STATE] == g) & (
            P.S[g, S_TYPE] == 4):
        i = start + n - 1
    else:
        if n >= W.PR[proc, PR_HCAP]:
            if not move_history(W, proc, n):
                return -1
            start = W.PR[proc, PR_HSTART]
        i = start + n
        W.PR[proc, PR_HLEN] = n + 1
    W.HV[i, HV_STATE] = g
    W.HV[i, HV_NAME] = P.S[g, S_NAME]
    W.HV[i, HV_ENTERED] = now
    W.HV[i, HV_EXITED] = NONE
    W.HV[i, HV_DIAG] = 0
    W.FR[proc, depth, FR_VISIT] = i - start
    return i


@nb.njit(cache=True)
def in_history(W, proc, name):
    """Whether a visit of the running frame has this name."""
    depth = W.PR[proc, PR_DEPTH]
    start = W.PR[proc, PR_HSTART]
    for i in range(W.FR[proc, depth, FR_HBASE], W.PR[proc, PR_HLEN]):
        if W.HV[start + i, HV_NAME] == name:
            return True
    return False


@nb.njit(cache=True)
def prior_state(W, proc, name, since, within, now):
    depth = W.PR[proc, PR_DEPTH]
    start = W.PR[proc, PR_HSTART]
    base = W.FR[proc, depth, FR_HBASE]
    for i in range(W.PR[proc, PR_HLEN] - 1, base - 1, -1):
        v = start + i
        if within >= 0 and W.HV[v, HV_EXITED] != NONE and W.HV[v, HV_EXITED] <= now - within:
            return False
        if since >= 0 and W.HV[v, HV_NAME] == since:
            return False
        if W.HV[v, HV_NAME] == name:
            return True
    return False


# ---------------------------------------------------------------- conditions


@nb.njit(cache=True)
def test(P, W, proc, pc, now, state):
    """Runs condition bytecode from pc; a fault stops with False."""
    sp = 0
    while True:
        op = P.code[pc]
        if op == 0:
            return W.stack[sp - 1] != 0
        if op == 1:
            W.stack[sp] = 1
            sp += 1
            pc += 1
        elif op == 2:
            W.stack[sp] = 0
            sp += 1
            pc += 1
        elif op == 3:
            W.stack[sp - 1] = 1 - W.stack[sp - 1]
            pc += 1
        elif op == 4:
            sp -= 1
            pc += 1
        elif op == 5:
            pc = P.code[pc + 1] if W.stack[sp - 1] == 0 else pc + 2
        elif op == 6:
            pc = P.code[pc + 1] if W.stack[sp - 1] != 0 else pc + 2
        elif op == 7 or op == 8:
            count = P.code[pc + 1]
            hits = 0
            for i in range(count):
                hits += W.stack[sp - 1 - i]
            sp -= count
            if op == 7:
                W.stack[sp] = 1 if hits >= P.code[pc + 2] else 0
            else:
                W.stack[sp] = 1 if hits <= P.code[pc + 2] else 0
            sp += 1
            pc += 3
        elif op == 9:
            kind, _, ref = get_attr(P, W, P.code[pc + 1], now)
            W.stack[sp] = 1 if kind == K_STR and ref == P.code[pc + 2] else 0
            sp += 1
            pc += 3
        elif op == 10:
            kind, _, ref = get_attr(P, W, P.code[pc + 1], now)
            W.stack[sp] = 1 if kind == K_STR and W.str_lower[ref] == P.code[pc + 2] else 0
            sp += 1
            pc += 3
        elif op == 11:
            if P.code[pc + 1] == 12:
                age = civil.age_years(W.n[N_BIRTH], now)
            else:
                age = civil.age_months(W.n[N_BIRTH], now)
            ok = compare(P, W, K_INT, float(age), ZERO, P.code[pc + 2], K_FLOAT, P.cf[P.code[pc + 3]], ZERO,
                         state)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 4
        elif op == 12 or op == 13 or op == 14:
            if op == 12:
                left = float(civil.year_of(now))
            elif op == 13:
                left = float(civil.month_of(now))
            else:
                left = float(now)
            ok = compare(P, W, K_INT, left, ZERO, P.code[pc + 1], K_FLOAT, P.cf[P.code[pc + 2]], ZERO, state)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 3
        elif op == 15:
            value = float(symptom_value(W, P.code[pc + 1]))
            ok = compare(P, W, K_INT, value, ZERO, P.code[pc + 2], K_FLOAT, P.cf[P.code[pc + 3]], ZERO, state)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 4
        elif op == 16:
            lk, ln, lr = get_attr(P, W, P.code[pc + 1], now)
            ok = compare(P, W, lk, ln, lr, P.code[pc + 2], P.code[pc + 3], P.cf[P.code[pc + 4]],
                         P.code[pc + 5], state)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 6
        elif op == 17:
            within = np.int64(P.cf[P.code[pc + 3]])
            ok = prior_state(W, proc, P.code[pc + 1], P.code[pc + 2], within, now)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 4
        elif op == 18:
            must_open = P.code[pc + 1]
            count = P.code[pc + 2]
            ok = False
            for i in range(count):
                e = W.PRS[P.code[pc + 3 + i], PRS_PR_ENTRY]
                if e >= 0 and (must_open == 0 or W.E[e, E_STOP] == NONE):
                    ok = True
                    break
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 3 + count
        elif op == 19:
            must_open = P.code[pc + 1]
            kind, _, ref = get_attr(P, W, P.code[pc + 2], now)
            ok = False
            if kind == K_ENTRY:
                e = W.PRS[W.E[ref, E_TEXT], PRS_PR_ENTRY]
                ok = e >= 0 and (must_open == 0 or W.E[e, E_STOP] == NONE)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 3
        elif op == 22:
            ok, value = read_vital(P, W, P.code[pc + 1], now, state)
            if not ok:
                return False
            ok = compare(P, W, K_FLOAT, value, 0, P.code[pc + 2], K_FLOAT, P.cf[P.code[pc + 3]], 0,
                         state)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc += 4
        elif op == 20 or op == 21:
            oper = P.code[pc + 1]
            if op == 20:
                count = P.code[pc + 5]
                e = -1
                for i in range(count):
                    e = W.PRS[P.code[pc + 6 + i], PRS_LO_ENTRY]
                    if e >= 0:
                        break
                found = e >= 0
                value_kind = K_NONE
                pc_next = pc + 6 + count
            else:
                kind, _, ref = get_attr(P, W, P.code[pc + 5], now)
                found = kind != K_NONE
                e = ref if kind == K_ENTRY else -1
                value_kind = K_NONE
                pc_next = pc + 6
                if not found:
                    W.stack[sp] = 0
                    sp += 1
                    pc = pc_next
                    continue
            if oper == 6 or oper == 7:
                ok = found if oper == 7 else not found
            elif not found:
                fault(W, F_FAULT, state)
                return False
            else:
                if e >= 0 and W.E[e, E_KIND] == E_OBSERVATION:
                    value_kind = W.E[e, E_VKIND]
                ok = compare(P, W, value_kind, W.e_vnum[e] if e >= 0 else 0.0,
                             W.E[e, E_VREF] if e >= 0 else 0, oper, P.code[pc + 2],
                             P.cf[P.code[pc + 3]], P.code[pc + 4], state)
            W.stack[sp] = 1 if ok else 0
            sp += 1
            pc = pc_next
        else:
            fault(W, F_UNSUPPORTED, state)
            return False
        if W.n[N_ERR] != F_NONE:
            return False


# ---------------------------------------------------------------- reasons


@nb.njit(cache=True)
def resolve_reason(P, W, proc, name, slot, fallback, all_entries):
    """states._resolve_reason into W.rbuf rows (0 code, 1 entry: all its codes, 2 entry: its
    first code); returns the row count."""
    if name < 0:
        return 0
    if slot >= 0 and W.A[slot, A_KIND] != K_NONE:
        kind = W.A[slot, A_KIND]
        if kind == K_ENTRY:
            W.rbuf[0, 0] = 1
            W.rbuf[0, 1] = W.A[slot, A_REF]
            return 1
        if kind == K_CODE:
            W.rbuf[0, 0] = 0
            W.rbuf[0, 1] = W.A[slot, A_REF]
            return 1
        return 0
    if in_history(W, proc, name):
        n = 0
        for i in range(W.n[N_PRES]):
            e = W.PRS[W.PRS[i, PRS_PR_LIST], PRS_PR_ENTRY]
            if W.E[e, E_NAME] == name:
                if n >= W.rbuf.shape[0]:
                    break
                W.rbuf[n, 0] = 1 if all_entries else 2
                W.rbuf[n, 1] = e
                n += 1
                if not all_entries:
                    return 1
        return n
    if fallback >= 0:
        W.rbuf[0, 0] = 0
        W.rbuf[0, 1] = fallback
        return 1
    return 0


@nb.njit(cache=True)
def journal_reasons(W, target, count, dedupe, now):
    for i in range(count):
        if W.rbuf[i, 0] == 0:
            journal(W, J_REASON_CODE, now, target, W.rbuf[i, 1], dedupe, ZERO, ZERO, ZERO, ZERO, 0.0)
        else:
            journal(W, J_REASON_ENTRY, now, target, W.rbuf[i, 1], dedupe,
                    1 if W.rbuf[i, 0] == 2 else 0, ZERO, ZERO, ZERO, 0.0)


# ---------------------------------------------------------------- diagnoses


@nb.njit(cache=True)
def first_code(P, code_list):
    return P.cl[P.CLI[code_list, CLI_CL0]]


@nb.njit(cache=True)
def diagnose(P, W, proc, g, visit, stream, now):
    """states._diagnose of the ConditionOnset/AllergyOnset g visited at history index visit."""
    W.HV[visit, HV_DIAG] = 1
    i0 = P.S[g, S_I0]
    codes = P.pi[i0]
    text = P.pi[i0 + 1]
    assign = P.pi[i0 + 3]
    existing = W.PRS[text, PRS_PR_ENTRY]
    if P.S[g, S_TYPE] == 13:  # AllergyOnset
        if existing >= 0:
            e = existing
            journal(W, J_TOUCH, now, e, g, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
        else:
            nreact = P.pi[i0 + 4]
            k = i0 + 5
            f = P.S[g, S_F0]
            levels = W.rbuf[:, 1]
            for r in range(nreact):
                u = draw(P, W, stream)
                total = 0.0
                level = 0
                nsev = P.pi[k]
                for s in range(nsev):
                    total += P.pf[f + s]
                    if u < total:
                        level = P.pi[k + 1 + s]
                        break
                levels[r] = level
                k += 1 + nsev
                f += nsev
            hi, lo = uuid_halves(P, W, stream)
            e = new_entry(P, W, E_ALLERGY, first_code(P, codes), now, NONE, ONE)
            if e < 0:
                return
            c = record_in(P, W, e, NONE, stream, now)
            journal(W, J_ALLERGY, now, e, g, c, ZERO, ZERO, hi, lo, 0.0)
            for r in range(nreact):
                if levels[r] != 0:
                    journal(W, J_ALLERGY_REACTION, now, e, r, levels[r], g, ZERO, ZERO, ZERO, 0.0)
            present_add(W, e, now)
    else:
        if existing >= 0:
            e = existing
            journal(W, J_TOUCH, now, e, g, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
        else:
            hi, lo = uuid_halves(P, W, stream)
            e = new_entry(P, W, E_CONDITION, first_code(P, codes), now, NONE, ONE)
            if e < 0:
                return
            c = record_in(P, W, e, NONE, stream, now)
            journal(W, J_CONDITION, now, e, g, c, ZERO, ZERO, hi, lo, 0.0)
            present_add(W, e, now)
    W.E[e, E_NAME] = P.S[g, S_NAME]
    if assign >= 0:
        set_attr(P, W, assign, K_ENTRY, 0.0, e, now)


@nb.njit(cache=True)
def diagnose_pending(P, W, proc, g, stream, now):
    """states._diagnose_pending: at a targeted Encounter, onsets waiting for it."""
    if P.pi[P.S[g, S_I0] + 7] == 0:
        return
    name = P.S[g, S_NAME]
    depth = W.PR[proc, PR_DEPTH]
    start = W.PR[proc, PR_HSTART]
    base = W.FR[proc, depth, FR_HBASE]
    for i in range(W.PR[proc, PR_HLEN] - 2, base - 1, -1):
        v = start + i
        past = W.HV[v, HV_STATE]
        ptype = P.S[past, S_TYPE]
        if W.HV[v, HV_NAME] == name and ptype == 9:
            break
        if W.HV[v, HV_DIAG] != 0 or (ptype != 11 and ptype != 13):
            continue
        if P.pi[P.S[past, S_I0] + 2] == name:
            diagnose(P, W, proc, past, v, stream, now)


# ---------------------------------------------------------------- ending entries


@nb.njit(cache=True)
def end_selected(P, W, g, now):
    """states._end_selected for ConditionEnd, AllergyEnd, MedicationEnd and CarePlanEnd."""
    i0 = P.S[g, S_I0]
    mode = P.pi[i0]
    kind = P.pi[i0 + 2]  # 0 any entry, 1 medications, 2 care plans
    reason = P.pi[i0 + 3]
    if mode == 0:
        name = P.pi[i0 + 1]
        for i in range(W.n[N_PRES]):
            e = W.PRS[W.PRS[i, PRS_PR_LIST], PRS_PR_ENTRY]
            ek = W.E[e, E_KIND]
            if W.E[e, E_NAME] == name and (kind == 0 or (kind == 1 and ek == E_MEDICATION)
                                           or (kind == 2 and ek == E_CAREPLAN)
                                           or (kind == 3 and ek == E_DEVICE)):
                end_entry(P, W, e, reason, now)
                return
        return
    if mode == 1:
        k, _, ref = get_attr(P, W, P.pi[i0 + 1], now)
        if k == K_ENTRY:
            live = W.PRS[W.E[ref, E_TEXT], PRS_PR_ENTRY]
            end_entry(P, W, live if live >= 0 else ref, reason, now)
        return
    for i in range(P.pi[i0 + 1]):
        e = W.PRS[P.pi[i0 + 4 + i], PRS_PR_ENTRY]
        if e >= 0:
            end_entry(P, W, e, reason, now)


# ---------------------------------------------------------------- lookup tables


@nb.njit(cache=True)
def lookup_key(P, W, tab):
    """The table's key the person's attributes render as (program.lookup_key): its index, -1
    when the table has no such key, -2 when an attribute column is not set."""
    ncols = P.LT[tab, LT_NCOLS]
    c0 = P.LT[tab, LT_C0]
    for c in range(ncols):
        if W.A[P.LTC[c0 + c], A_KIND] == K_NONE:
            return -2
    k0 = P.LT[tab, LT_K0]
    for key in range(k0, k0 + P.LT[tab, LT_NKEYS]):
        cell0 = P.LK[key, LK_CELL0]
        match = True
        for c in range(ncols):
            slot = P.LTC[c0 + c]
            kind = W.A[slot, A_KIND]
            cell = cell0 + c
            if kind == K_STR:
                match = P.LCELL[cell, LCELL_STR] == W.A[slot, A_REF]
            elif kind == K_BOOL:
                match = P.LCELL[cell, LCELL_BOOL_OK] != 0 and (
                    P.LCELL[cell, LCELL_TRUE] != 0) == (W.a_num[slot] != 0.0)
            elif kind == K_INT:
                match = P.LCELL[cell, LCELL_INT_OK] != 0 and P.LCELLF[cell, 0] == W.a_num[slot]
            elif kind == K_FLOAT:
                match = P.LCELL[cell, LCELL_FLOAT_OK] != 0 and P.LCELLF[cell, 1] == W.a_num[slot]
            else:
                match = False
            if not match:
                break
        if match:
            return key
    return -1


@nb.njit(cache=True)
def lookup_row(P, W, tab, key, now):
    """LookupTable.find: the row for the person's age and the instant, or -1."""
    age = civil.age_years(W.n[N_BIRTH], now)
    has_age = P.LT[tab, LT_HAS_AGE] != 0
    r0 = P.LK[key, LK_ROW0]
    n = P.LK[key, LK_NROWS]
    if P.LT[tab, LT_HAS_TIME] == 0:
        for r in range(r0, r0 + n):
            if not has_age or (P.LR[r, LR_AGE_LO] <= age <= P.LR[r, LR_AGE_HI]):
                return r
        return -1
    i = n - 1  # the last row starting at or before now (rows are sorted by start)
    while i >= 0 and P.LR[r0 + i, LR_TIME_LO] > now:
        i -= 1
    while i >= 0 and P.LR[r0 + i, LR_MAX_END] >= now:
        r = r0 + i
        if P.LR[r, LR_TIME_HI] >= now and (
                not has_age or (P.LR[r, LR_AGE_LO] <= age <= P.LR[r, LR_AGE_HI])):
            return r
        i -= 1
    return -1


@nb.njit(cache=True)
def next_time_boundary(P, key, time):
    """LookupTable.next_time_boundary: the first instant after `time` at which a row of the
    key starts or ends (NONE: none)."""
    r0 = P.LK[key, LK_ROW0]
    n = P.LK[key, LK_NROWS]
    i = 0
    while i < n and P.LR[r0 + i, LR_TIME_LO] <= time:
        i += 1
    best = P.LR[r0 + i, LR_TIME_LO] if i < n else NONE
    j = i - 1
    while j >= 0 and P.LR[r0 + j, LR_MAX_END] >= time:
        end = P.LR[r0 + j, LR_TIME_HI] + 1
        if end > time and (best == NONE or end < best):
            best = end
        j -= 1
    return best


# ---------------------------------------------------------------- vital signs
# engine.vitals.Vitals: groups computed once per instant (simulator.compiled.vitals), the
# VitalSign states' overrides, rounding on read. W.OV[v]: override kind (0 none, 1 constant,
# 2 range, 3 distribution), since, persistent, the VitalSign state (its stream), distribution;
# W.ovf[v]: constant, low, high.
OV_KIND, OV_SINCE, OV_PERSIST, OV_STATE, OV_DIST = range(5)


@nb.njit(cache=True)
def run_group(P, W, group, now, state, dep, has_dep):
    """One call of vitals.compute_group with the person's current attributes and medications;
    the attributes it wrote are stored (and signalled where Person.set would). Returns its
    result."""
    n = P.VATTR.shape[0]
    for i in range(n):
        slot = P.VATTR[i]
        W.vak[i] = W.A[slot, A_KIND]
        W.van[i] = W.a_num[slot]
        W.var[i] = W.A[slot, A_REF]
    for m in range(P.VMED.shape[0]):
        e = W.PRS[P.VMED[m], PRS_PR_ENTRY]
        W.vmed[m] = e >= 0 and W.E[e, E_STOP] == NONE
    stream = P.consts[C_STREAM_VITALS0] + group
    key = stream_key(W.pkey[0], P.mixed[stream])
    r = vt.compute_group(group, now, W.n[N_BIRTH], W.body, W.bulk, W.vak, W.van, W.var,
                         W.str_info, W.vmed, W.drug, dep, has_dep, key,
                         W.sc[stream:stream + 1], P.VCHARTS, P.VCHARTS_N, P.VPARAMS, W.vout)
    if r >= 0:
        for i in range(n):
            if r & (np.int64(1) << np.int64(i)):
                slot = P.VATTR[i]
                if P.VNOTIFY[i] != 0:
                    set_attr(P, W, slot, W.vak[i], W.van[i], W.var[i], now)
                else:
                    W.A[slot, A_KIND] = W.vak[i]
                    W.a_num[slot] = W.van[i]
                    W.A[slot, A_REF] = W.var[i]
        if group == vt.G_GROWTH:
            W.n[N_BMI_MEASURED] = 1 if (r & vt.BMI_PERCENTILE_MEASURED) != 0 else 0
        W.vtime[group] = now
    return r


@nb.njit(cache=True)
def vital_group(P, W, group, now, state):
    """The group's values at `now` into W.vout (computed at most once per instant); False
    after a fault. A group that needs BMI or Weight gets it as Vitals.raw would: a VitalSign
    state's value, else the growth group's."""
    if W.vtime[group] == now:
        return True
    r = run_group(P, W, group, now, state, 0.0, FALSE)
    if r == vt.NEEDS_DEPENDENCY:
        v = vt.DEPENDENCY_OF[group]
        ok, value = vital_override(P, W, v, now)
        if not ok:
            stream = P.consts[C_STREAM_VITALS0] + group
            if W.vtime[vt.G_GROWTH] != now:
                g = run_group(P, W, vt.G_GROWTH, now, state, 0.0, FALSE)
                if g < 0:
                    W.sc[stream] += vt.DRAWS_BEFORE_DEPENDENCY[group]
                    fault(W, F_UNSUPPORTED if g == vt.ERR_UNSUPPORTED else F_FAULT, state)
                    return False
            value = W.vout[v]
            if math.isnan(value):
                W.sc[stream] += vt.DRAWS_BEFORE_DEPENDENCY[group]
                fault(W, F_FAULT, state)
                return False
        r = run_group(P, W, group, now, state, value, TRUE)
    if r < 0:
        fault(W, F_UNSUPPORTED if r == vt.ERR_UNSUPPORTED else F_FAULT, state)
        return False
    return True


@nb.njit(cache=True)
def vital_override(P, W, v, now):
    """Vitals.raw's override part: (True, value) while a VitalSign state's value holds."""
    kind = W.OV[v, OV_KIND]
    if kind == 0:
        return False, 0.0
    if W.OV[v, OV_PERSIST] == 0 and now >= W.OV[v, OV_SINCE] + WEEK:
        W.OV[v, OV_KIND] = 0
        return False, 0.0
    g = W.OV[v, OV_STATE]
    if kind == 1:
        return True, W.ovf[v, 0]
    if kind == 2:
        low = W.ovf[v, 1]
        return True, low + (W.ovf[v, 2] - low) * draw(P, W, g)
    return True, sample(P, W, W.OV[v, OV_DIST], g)


@nb.njit(cache=True)
def read_vital(P, W, v, now, state):
    """PersonSim.read_vital: (ok, the value rounded as Vitals.read rounds it)."""
    ok, value = vital_override(P, W, v, now)
    if not ok:
        group = P.VGROUP[v]
        if group < 0 or not vital_group(P, W, group, now, state):
            fault(W, F_FAULT, state)  # never set, or the computation failed
            return False, 0.0
        value = W.vout[v]
        if math.isnan(value):
            fault(W, F_FAULT, state)  # not measured at this age
            return False, 0.0
    rounded = vt.round_read(value, P.VDEC[v])
    if math.isnan(rounded):
        fault(W, F_FAULT, state)
        return False, 0.0
    return True, rounded


# ---------------------------------------------------------------- expressions


@nb.njit(cache=True)
def expression(P, W, x, now, state):
    """expressions_runtime.evaluate_expression of expression row x: parameters resolved in
    order (the decimal age, a vital sign as read, or a stored attribute as a number or a
    boolean), then the bytecode (compiled.expr). Returns (kind, number) in K_* kinds; after a
    fault the kind is K_OTHER."""
    p0 = P.EXPR[x, 2]
    for i in range(P.EXPR[x, 3]):
        source = P.EXPRP[p0 + i, 0]
        ref = P.EXPRP[p0 + i, 1]
        if source == 0:
            W.xpk[i] = K_FLOAT
            W.xpn[i] = civil.age_decimal_years(W.n[N_BIRTH], now)
        elif source == 1:
            ok, value = read_vital(P, W, ref, now, state)
            if not ok:
                return K_OTHER, 0.0
            W.xpk[i] = K_FLOAT
            W.xpn[i] = value
        else:
            kind = W.A[ref, A_KIND]
            if kind == K_NONE:
                fault(W, F_FAULT, state)  # reads an attribute that is not set
                return K_OTHER, 0.0
            W.xpk[i] = K_FLOAT if kind == K_INT else kind
            W.xpn[i] = W.a_num[ref]
    kind, number = ex.evaluate(P.XCODE, P.XCONST, P.EXPR[x, 0], P.EXPR[x, 1], W.xpk, W.xpn,
                               W.xsk, W.xsn)
    if kind == ex.K_FAULT:
        fault(W, F_FAULT, state)
        return K_OTHER, 0.0
    if kind == ex.K_UNSUPPORTED:
        fault(W, F_UNSUPPORTED, state)
        return K_OTHER, 0.0
    return kind, number


# ---------------------------------------------------------------- transitions


@nb.njit(cache=True)
def pick(P, W, o0, on, stream, now):
    """program._pick over distributed options o0..o0+on."""
    u = draw(P, W, stream)
    total = 0.0
    for o in range(o0, o0 + on):
        total += named_probability(P, W, o, now)
        if u < total:
            return P.OPT[o, OPT_TARGET]
    return P.OPT[o0 + on - 1, OPT_TARGET]


@nb.njit(cache=True)
def type_of_care(P, W, o0, g, now):
    """program._compile_transition's type_of_care: odds by insurance and era."""
    k = P.consts
    kind, _, ref = get_attr(P, W, k[C_A_INSURANCE], now)
    if kind == K_NONE:
        high = True  # attributes.get("insurance_status", "none")
    else:
        high = kind == K_STR and (ref == k[C_S_MEDICAID] or ref == k[C_S_DUAL]
                                  or ref == k[C_S_NONE])
    u = draw(P, W, g)
    ambulatory = P.OPT[o0, OPT_TARGET]
    emergency = P.OPT[o0 + 1, OPT_TARGET]
    if now < k[C_CARE_CUTOFF]:
        return ambulatory if u < (0.65 if high else 0.75) else emergency
    a = 0.66 if high else 0.56
    e = 0.25 if high else 0.20
    if u < a:
        return ambulatory
    return emergency if u < a + e else P.OPT[o0 + 2, OPT_TARGET]


@nb.njit(cache=True)
def next_state(P, W, proc, g, now):
    """The state the transition of g chooses (-1 after a fault)."""
    t = P.S[g, S_TRANS]
    kind = P.TR[t, TR_KIND]
    o0 = P.TR[t, TR_O0]
    on = P.TR[t, TR_ON]
    if kind == 1:
        return P.OPT[o0, OPT_TARGET]
    if kind == 2:
        return pick(P, W, o0, on, g, now)
    if kind == 5:
        return type_of_care(P, W, o0, g, now)
    if kind == 6:
        tab = P.TR[t, TR_AUX]
        key = lookup_key(P, W, tab)
        if key == -2:
            fault(W, F_FAULT, g)  # an attribute the table needs is not set
            return -1
        row = lookup_row(P, W, tab, key, now) if key >= 0 else -1
        if row < 0:
            return pick(P, W, o0, on, g, now)
        u = draw(P, W, g)
        total = 0.0
        p0 = P.LR[row, LR_P0]
        for i in range(on):
            total += P.LP[p0 + i]
            if u < total:
                return P.OPT[o0 + on + i, OPT_TARGET]
        return P.OPT[o0 + 2 * on - 1, OPT_TARGET]
    if kind == 3:
        for o in range(o0, o0 + on):
            c = P.OPT[o, OPT_COND]
            if c < 0 or test(P, W, proc, c, now, g):
                return P.OPT[o, OPT_TARGET]
            if W.n[N_ERR] != F_NONE:
                return -1
        return P.OPT[o0 + on - 1, OPT_TARGET]
    # complex
    chosen = o0 + on - 1
    for o in range(o0, o0 + on):
        c = P.OPT[o, OPT_COND]
        if c < 0 or test(P, W, proc, c, now, g):
            chosen = o
            break
        if W.n[N_ERR] != F_NONE:
            return -1
    if P.OPT[chosen, OPT_TARGET] >= 0:
        return P.OPT[chosen, OPT_TARGET]
    if P.OPT[chosen, OPT_DN] == 0:
        fault(W, F_FAULT, g)
        return -1
    return pick(P, W, P.OPT[chosen, OPT_D0], P.OPT[chosen, OPT_DN], g, now)


# ---------------------------------------------------------------- fast-forward of hazard loops


@nb.njit(cache=True)
def earliest_flip(P, W, dep, now):
    best = NONE
    birth = W.n[N_BIRTH]
    f0 = P.DEP[dep, DEP_F0]
    for f in range(f0, f0 + P.DEP[dep, DEP_FN]):
        kind = P.flips[f, 0]
        at = NONE
        if kind == 0:
            for k in range(1, 4):
                months = P.flips[f, k]
                if months > 0:
                    t = civil.age_reached_ms(birth, months)
                    if t > now:
                        at = t
                        break
        elif kind == 1:
            if P.flips[f, 1] > now:
                at = P.flips[f, 1]
            elif P.flips[f, 2] > now:
                at = P.flips[f, 2]
        else:
            y, m, _ = civil.ymd(now)
            at = civil.ymd_ms(y + 1 if m == 12 else y, m % 12 + 1, 1)
        if at != NONE and (best == NONE or at < best):
            best = at
    return best


@nb.njit(cache=True)
def ff_options(P, W, proc, g, o0, on, now):
    """Adds distributed options' (target, probability) to the process's profile."""
    n = W.PR[proc, PR_N]
    for o in range(o0, o0 + on):
        if n >= W.FFI.shape[1]:
            fault(W, F_UNSUPPORTED, g)
            return
        W.FFI[proc, n, FFI_T] = P.OPT[o, OPT_TARGET]
        W.ff_p[proc, n] = named_probability(P, W, o, now)
        if P.OPT[o, OPT_ATTR] >= 0:
            W.FFI[proc, W.PR[proc, PR_NK], FFI_KEYS] = attr_signal(P, P.OPT[o, OPT_ATTR])
            W.PR[proc, PR_NK] += 1
        n += 1
    W.PR[proc, PR_N] = n


@nb.njit(cache=True)
def ff_profile(P, W, proc, g, now):
    """program.compile_profile's function: fills the process's (target, p) options and signal
    keys; returns (has a profile, horizon)."""
    W.PR[proc, PR_N] = 0
    W.PR[proc, PR_NK] = 0
    t = P.S[g, S_TRANS]
    kind = P.TR[t, TR_KIND]
    o0 = P.TR[t, TR_O0]
    on = P.TR[t, TR_ON]
    if kind == 1:
        W.FFI[proc, 0, FFI_T] = P.OPT[o0, OPT_TARGET]
        W.ff_p[proc, 0] = 1.0
        W.PR[proc, PR_N] = 1
        return True, NONE
    if kind == 2:
        ff_options(P, W, proc, g, o0, on, now)
        return True, NONE
    if kind == 6:
        tab = P.TR[t, TR_AUX]
        key = lookup_key(P, W, tab)
        if key == -2:
            return False, NONE
        birth = W.n[N_BIRTH]
        horizon = NONE
        if P.LT[tab, LT_HAS_AGE] != 0:
            horizon = civil.age_reached_ms(birth, (civil.age_years(birth, now) + 1) * 12)
        if P.LT[tab, LT_HAS_TIME] != 0 and key >= 0:
            boundary = next_time_boundary(P, key, now)
            if boundary != NONE and (horizon == NONE or boundary < horizon):
                horizon = boundary
        c0 = P.LT[tab, LT_C0]
        for c in range(P.LT[tab, LT_NCOLS]):
            W.FFI[proc, W.PR[proc, PR_NK], FFI_KEYS] = attr_signal(P, P.LTC[c0 + c])
            W.PR[proc, PR_NK] += 1
        row = lookup_row(P, W, tab, key, now) if key >= 0 else -1
        if row < 0:
            ff_options(P, W, proc, g, o0, on, now)
            return True, horizon
        p0 = P.LR[row, LR_P0]
        for i in range(on):
            W.FFI[proc, i, FFI_T] = P.OPT[o0 + on + i, OPT_TARGET]
            W.ff_p[proc, i] = P.LP[p0 + i]
        W.PR[proc, PR_N] = on
        return True, horizon
    dep = P.S[g, S_PROFILE] - 1
    chosen = o0 + on - 1
    for o in range(o0, o0 + on):
        c = P.OPT[o, OPT_COND]
        if c < 0 or test(P, W, proc, c, now, g):
            chosen = o
            break
        if W.n[N_ERR] != F_NONE:
            return False, NONE
    horizon = earliest_flip(P, W, dep, now)
    k0 = P.DEP[dep, DEP_K0]
    for k in range(k0, k0 + P.DEP[dep, DEP_KN]):
        W.FFI[proc, W.PR[proc, PR_NK], FFI_KEYS] = P.dep_keys[k]
        W.PR[proc, PR_NK] += 1
    if P.OPT[chosen, OPT_TARGET] >= 0:
        W.FFI[proc, 0, FFI_T] = P.OPT[chosen, OPT_TARGET]
        W.ff_p[proc, 0] = 1.0
        W.PR[proc, PR_N] = 1
        return True, horizon
    if kind == 3 or P.OPT[chosen, OPT_DN] == 0:
        return False, NONE
    ff_options(P, W, proc, g, P.OPT[chosen, OPT_D0], P.OPT[chosen, OPT_DN], now)
    return True, horizon


@nb.njit(cache=True)
def outcome_probabilities(W, proc):
    """program.outcome_probabilities, in place."""
    n = W.PR[proc, PR_N]
    covered = 0.0
    total = 0.0
    for i in range(n):
        p = W.ff_p[proc, i]
        total += p
        hi = total if total < 1.0 else 1.0
        out = 0.0
        if hi > covered:
            out = hi - covered
            covered = hi
        W.ff_p[proc, i] = out
    rest = 1.0 - covered
    W.ff_p[proc, n - 1] += rest if rest > 0.0 else 0.0


# skip results
FF_TARGET, FF_BLOCKED, FF_AGAIN = 0, 1, 2


@nb.njit(cache=True)
def ff_begin(P, W, proc, g, now):
    """The first half of PersonSim._skip_hazard_loop: returns (FF_TARGET, state) or
    (FF_BLOCKED, -1) while it waits."""
    ok, horizon = ff_profile(P, W, proc, g, now)
    if W.n[N_ERR] != F_NONE:
        return FF_TARGET, -1
    if not ok:
        return FF_TARGET, g
    outcome_probabilities(W, proc)
    n = W.PR[proc, PR_N]
    p_self = 0.0
    for i in range(n):
        if W.FFI[proc, i, FFI_T] == g:
            p_self += W.ff_p[proc, i]
    d = P.S[g, S_PERIOD]
    t1 = now
    limit = NONE
    if horizon != NONE:
        limit = (horizon - t1 - 1) // d
        if limit <= 0:
            return FF_TARGET, g
    q = 1.0 - p_self
    returns = NONE
    if q <= 1e-12:
        returns = NONE
    elif q >= 1.0:
        returns = 0
    else:
        returns = np.int64(math.log(1.0 - draw(P, W, g)) / math.log1p(-q))
    if returns != NONE and (limit == NONE or returns + 1 <= limit):
        steps = returns + 1
        leaving = 1
    else:
        steps = limit
        leaving = 0
    wake = NONE if steps == NONE else t1 + steps * d
    W.PR[proc, PR_T1] = t1
    W.PR[proc, PR_STEPS] = steps
    W.PR[proc, PR_LEAVE] = leaving
    W.PR[proc, PR_WAKE] = wake
    W.PR[proc, PR_G] = g
    if wake == NONE and W.PR[proc, PR_NK] == 0:
        W.PR[proc, PR_PC] = PC_NEVER
        return FF_BLOCKED, -1
    if wait_for(W, proc, W.FFI[proc, :W.PR[proc, PR_NK], FFI_KEYS], wake, now) < 0:
        return FF_TARGET, -1
    W.PR[proc, PR_PC] = PC_FF_WAIT
    return FF_BLOCKED, -1


@nb.njit(cache=True)
def ff_visit(W, proc, entered, exited):
    v = W.PR[proc, PR_HSTART] + W.FR[proc, W.PR[proc, PR_DEPTH], FR_VISIT]
    W.HV[v, HV_ENTERED] = entered
    W.HV[v, HV_EXITED] = exited


@nb.njit(cache=True)
def ff_woken(P, W, proc, now):
    """The second half, after the wait: (FF_TARGET, state), (FF_AGAIN, -1) to evaluate the
    transition again, or (FF_BLOCKED, -1) while it waits for the next boundary."""
    g = W.PR[proc, PR_G]
    d = P.S[g, S_PERIOD]
    t1 = W.PR[proc, PR_T1]
    wake = W.PR[proc, PR_WAKE]
    if wake == NONE or now < wake:
        j = -((-(now - t1)) // d)
        if j < 1:
            j = 1
        boundary = t1 + j * d
        W.PR[proc, PR_J] = j
        if boundary > now:
            schedule(W, boundary, NORMAL, EV_RESUME, proc)
            W.PR[proc, PR_PC] = PC_FF_BOUNDARY
            return FF_BLOCKED, -1
        return ff_boundary(P, W, proc, now)
    steps = W.PR[proc, PR_STEPS]
    leaving = W.PR[proc, PR_LEAVE]
    W.stats[4] += steps - 1 if leaving else steps
    ff_visit(W, proc, now - d, now)
    if not leaving:
        return FF_TARGET, g
    total = 0.0
    n = W.PR[proc, PR_N]
    last = -1
    for i in range(n):
        if W.FFI[proc, i, FFI_T] != g and W.ff_p[proc, i] > 0:
            total += W.ff_p[proc, i]
            last = W.FFI[proc, i, FFI_T]
    u = draw(P, W, g) * total
    for i in range(n):
        if W.FFI[proc, i, FFI_T] != g and W.ff_p[proc, i] > 0:
            u -= W.ff_p[proc, i]
            if u < 0:
                return FF_TARGET, W.FFI[proc, i, FFI_T]
    return FF_TARGET, last


@nb.njit(cache=True)
def ff_boundary(P, W, proc, now):
    g = W.PR[proc, PR_G]
    d = P.S[g, S_PERIOD]
    j = W.PR[proc, PR_J]
    boundary = W.PR[proc, PR_T1] + j * d
    W.stats[4] += j - 1
    ff_visit(W, proc, boundary - d, boundary)
    return FF_AGAIN, -1


# ---------------------------------------------------------------- observations and friends


@nb.njit(cache=True)
def record_observation(W, e, c):
    """PersonSim.record_observation's index: the newest encounter wins, and within one
    encounter the first observation recorded."""
    text = W.E[e, E_TEXT]
    if W.PRS[text, PRS_LO_ENTRY] < 0 or W.PRS[text, PRS_LO_ENC] < c:
        W.PRS[text, PRS_LO_ENC] = c
        W.PRS[text, PRS_LO_ENTRY] = e


@nb.njit(cache=True)
def make_observation(P, W, spec, name, now):
    """states._make_observation of the Observation (or panel/report child) `spec`, drawing
    from the stream of state `name` (the state being run), then record_observation."""
    kind, num, ref = observation_value(P, W, spec, name, now)
    if W.n[N_ERR] != F_NONE:
        return -1
    hi, lo = uuid_halves(P, W, name)
    e = new_entry(P, W, E_OBSERVATION, first_code(P, P.pi[P.S[spec, S_I0]]), now, now, ONE)
    if e < 0:
        return -1
    if kind == K_LIST:  # the samples: the series the attributes hold now, in their order
        ref = e
        i0 = P.S[spec, S_I0]
        for j in range(P.pi[i0 + 3]):
            slot = P.pi[i0 + 6 + j]
            if W.A[slot, A_KIND] == K_SERIES:
                journal(W, J_SERIES, now, e, W.A[slot, A_REF], ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
    W.E[e, E_VKIND] = kind
    W.E[e, E_VREF] = ref
    W.e_vnum[e] = num
    c = record_in(P, W, e, now, name, now)
    journal(W, J_OBSERVATION, now, e, spec, c, kind, ref, hi, lo, num)
    record_observation(W, e, W.n[N_ENC] - 1)
    return e


@nb.njit(cache=True)
def multi_observation(P, W, g, now):
    """states.multi_observation: children recorded then moved into the panel, and hidden
    again from Observation conditions."""
    i0 = P.S[g, S_I0]
    n = P.pi[i0 + 1]
    saved = np.empty((n, 3), dtype=np.int64)
    for i in range(n):
        text = P.CODES[first_code(P, P.pi[P.S[P.pi[i0 + 2 + i], S_I0]]), CODES_CODE_TEXT_OF]
        saved[i, 0] = text
        saved[i, 1] = W.PRS[text, PRS_LO_ENC]
        saved[i, 2] = W.PRS[text, PRS_LO_ENTRY]
    for i in range(n):
        if make_observation(P, W, P.pi[i0 + 2 + i], g, now) < 0:
            return
    c = current_encounter(P, W, g, now)
    for i in range(n):
        W.PRS[saved[i, 0], PRS_LO_ENC] = saved[i, 1]
        W.PRS[saved[i, 0], PRS_LO_ENTRY] = saved[i, 2]
    hi, lo = uuid_halves(P, W, g)
    e = new_entry(P, W, E_OBSERVATION, first_code(P, P.pi[i0]), now, now, ONE)
    if e < 0:
        return
    record_in(P, W, e, now, g, now)
    journal(W, J_PANEL, now, e, g, c, n, ZERO, hi, lo, 0.0)
    record_observation(W, e, W.n[N_ENC] - 1)


@nb.njit(cache=True)
def int_between(P, W, low, high, stream):
    return low + np.int64(draw(P, W, stream) * (high - low + 1))


@nb.njit(cache=True)
def bits63(P, W, stream):
    return np.int64(draw_bits(P, W, stream) >> np.uint64(1))


@nb.njit(cache=True)
def device(P, W, g, now):
    """states.device: identifier, lot and serial digits drawn in the reference's order."""
    i0 = P.S[g, S_I0]
    di = bits63(P, W, g)
    lot_n = int_between(P, W, FOUR, np.int64(19), g)
    lot = bits63(P, W, g)
    serial_n = int_between(P, W, FOUR, np.int64(19), g)
    serial = bits63(P, W, g)
    hi, lo = uuid_halves(P, W, g)
    e = new_entry(P, W, E_DEVICE, P.pi[i0], now, NONE, ONE)
    if e < 0:
        return
    W.E[e, E_NAME] = P.S[g, S_NAME]
    c = record_in(P, W, e, NONE, g, now)
    journal(W, J_DEVICE, now, e, g, c, di, ZERO, hi, lo, 0.0)
    journal(W, J_DEVICE_NUMBERS, now, e, lot_n, lot, serial_n, serial, ZERO, ZERO, 0.0)
    present_add(W, e, now)
    if P.pi[i0 + 1] >= 0:
        set_attr(P, W, P.pi[i0 + 1], K_ENTRY, 0.0, e, now)


@nb.njit(cache=True)
def imaging_study(P, W, g, now):
    """states.imaging_study: series and instance counts, then each instance's and series'
    DICOM uid salt, then the study's id and uid salt; then its 30-minute procedure."""
    i0 = P.S[g, S_I0]
    code = P.pi[i0]
    lo_series = P.pi[i0 + 1]
    hi_series = P.pi[i0 + 2]
    n_specs = P.pi[i0 + 3]
    if lo_series > 0 and hi_series >= lo_series:
        count = int_between(P, W, lo_series, hi_series, g)
        same = True
    else:
        count = n_specs
        same = False
    # rows: series spec, instance count (negative: copies of the first instance spec), series
    # salt, first salt row; per series the reference draws the count, then the instances'
    # uid salts, then the series' salt
    series = np.empty((count, 4), dtype=np.int64)
    most = 1
    for spec in range(n_specs):
        k0 = i0 + 4 + 3 * spec
        most = max(most, P.pi[k0 + 1], P.pi[k0 + 2])
    salts = np.empty(count * most, dtype=np.int64)
    total = 0
    for i in range(count):
        spec = 0 if same else i
        series[i, 0] = spec
        series[i, 3] = total
        k0 = i0 + 4 + 3 * spec
        lo_inst = P.pi[k0]
        hi_inst = P.pi[k0 + 1]
        if lo_inst > 0 and hi_inst >= lo_inst:
            series[i, 1] = -int_between(P, W, lo_inst, hi_inst, g)
        else:
            series[i, 1] = P.pi[k0 + 2]
        for j in range(abs(series[i, 1])):
            salts[total + j] = int_between(P, W, np.int64(10_000_000), np.int64(99_999_999), g)
        total += abs(series[i, 1])
        series[i, 2] = int_between(P, W, np.int64(10_000_000), np.int64(99_999_999), g)
    hi, lo = uuid_halves(P, W, g)
    study_salt = int_between(P, W, np.int64(10_000_000), np.int64(99_999_999), g)
    e = new_entry(P, W, E_IMAGING, code, now, now, ONE)
    if e < 0:
        return
    c = record_in(P, W, e, now, g, now)
    journal(W, J_IMAGING, now, e, g, c, study_salt, ZERO, hi, lo, 0.0)
    for i in range(count):
        n = series[i, 1]
        journal(W, J_IMAGING_SERIES, now, e, series[i, 0], n, series[i, 2], ZERO, ZERO, ZERO,
                0.0)
        for j in range(abs(n)):
            journal(W, J_IMAGING_INSTANCE, now, e, ZERO if n < 0 else np.int64(j),
                    salts[series[i, 3] + j], ZERO, ZERO, ZERO, ZERO, 0.0)
    hi, lo = uuid_halves(P, W, g)
    stop = now + 30 * MINUTE
    p = new_entry(P, W, E_PROCEDURE, code, now, stop, ONE)
    if p < 0:
        return
    W.E[p, E_NAME] = P.S[g, S_NAME]
    c = record_in(P, W, p, stop, g, now)
    journal(W, J_PROCEDURE, now, p, g, c, stop, ZERO, hi, lo, 0.0)
    present_add(W, p, now)


# ---------------------------------------------------------------- states

# execute() results
X_DONE, X_BLOCKED, X_GENERATOR, X_CALL, X_STOP = 0, 1, 2, 3, 4


@nb.njit(cache=True)
def guard_wait(P, W, proc, g, now):
    """states._guard_wait, one round: wait for a signal or the next flip (or a weekly poll)."""
    i0 = P.S[g, S_I0]
    dep = P.pi[i0 + 1]
    at = earliest_flip(P, W, dep, now)
    if P.DEP[dep, DEP_POLL] != 0:
        poll = now + WEEK
        if at == NONE or poll < at:
            at = poll
    k0 = P.DEP[dep, DEP_K0]
    kn = P.DEP[dep, DEP_KN]
    if kn == 0 and at == NONE:
        W.PR[proc, PR_PC] = PC_NEVER
        return
    wait_for(W, proc, P.dep_keys[k0:k0 + kn], at, now)
    W.PR[proc, PR_PC] = PC_GUARD


@nb.njit(cache=True)
def open_encounter(P, W, proc, g, owner, now):
    """states._open_encounter."""
    i0 = P.S[g, S_I0]
    if W.n[N_LOCK] == owner:
        end_module_encounter(P, W, owner, NEG1, now)
    cls = P.pi[i0 + 1]
    tele = P.pi[i0 + 2]
    k = P.consts
    if tele == 1:
        cls = k[C_VIRTUAL]
    elif tele == 2 and now >= k[C_TELEMED_EARLY]:
        u = draw(P, W, g)
        if u <= (0.004 if now < k[C_TELEMED_LATE] else 0.15):
            cls = k[C_VIRTUAL]
    c = new_encounter(P, W, cls, P.pi[i0 + 6], owner, P.S[g, S_NAME], g, now)
    if c < 0:
        return
    W.n[N_LOCK] = owner
    W.OW[owner, OW_ME] = c
    diagnose_pending(P, W, proc, g, g, now)
    n = resolve_reason(P, W, proc, P.pi[i0 + 3], P.pi[i0 + 4], P.pi[i0 + 5], FALSE)
    if n > 0:
        kind = W.rbuf[0, 0]
        code = W.rbuf[0, 1] if kind == 0 else W.E[W.rbuf[0, 1], E_CODE]
        journal(W, J_ENCOUNTER_REASON, now, c, code, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)


@nb.njit(cache=True)
def try_wellness(P, W, proc, g, owner, now):
    """states._wellness_encounter, one round: join the engine's open visit if this module has
    not joined it yet."""
    c = W.n[N_ENGENC]
    if c >= 0 and W.OW[owner, OW_WFLAG] == 0 and W.OW[owner, OW_WJOINED] != c:
        W.OW[owner, OW_WFLAG] = 1
        W.OW[owner, OW_WJOINED] = c
        diagnose_pending(P, W, proc, g, g, now)
        renew_chronic(P, W, c, g, now)
        return True
    wait_for(W, proc, P.sig_engine[:], NONE, now)
    W.PR[proc, PR_PC] = PC_WELLNESS
    return False


@nb.njit(cache=True)
def observation_value(P, W, g, stream, now):
    """(kind, number, ref) of an Observation's value; a fault for a non-finite number."""
    i0 = P.S[g, S_I0]
    f0 = P.S[g, S_F0]
    mode = P.pi[i0 + 2]
    if mode == 0:
        value = P.pf[f0 + 1] + (P.pf[f0 + 2] - P.pf[f0 + 1]) * draw(P, W, stream)
        if P.pi[i0 + 5] >= 0:
            value = round_half_up(value, P.pi[i0 + 5])
        kind, num, ref = K_FLOAT, value, 0
    elif mode == 1:
        kind, num, ref = P.pi[i0 + 3], P.pf[f0], P.pi[i0 + 4]
    elif mode == 2:
        kind, num, ref = K_FLOAT, sample(P, W, P.pi[i0 + 4], stream), 0
    elif mode == 3:
        kind, num, ref = get_attr(P, W, P.pi[i0 + 4], now)
        if kind == K_ENTRY:
            fault(W, F_UNSUPPORTED, stream)
    elif mode == 6:
        kind, num = expression(P, W, P.pi[i0 + 4], now, stream)
        ref = 0
        if kind == K_OTHER:
            return kind, num, ref
    elif mode == 5:
        ok, value = read_vital(P, W, P.pi[i0 + 4], now, stream)
        kind, num, ref = K_FLOAT, value, 0
        if not ok:
            return kind, num, ref
    elif mode == 7:  # sampled data: the series the attributes hold (make_observation)
        kind, num, ref = K_LIST, 0.0, 0
        for j in range(P.pi[i0 + 3]):
            if get_attr(P, W, P.pi[i0 + 6 + j], now)[0] == K_OTHER:
                fault(W, F_UNSUPPORTED, stream)  # a value from outside: maybe a series
    else:
        kind, num, ref = K_CODE, 0.0, P.pi[i0 + 4]
    if kind == K_FLOAT and not math.isfinite(num):
        fault(W, F_FAULT, stream)
    return kind, num, ref


@nb.njit(cache=True)
def inert(t):
    """Whether entering a state of type t does nothing: Initial, Terminal, Simple,
    Physiology."""
    return t <= 2 or t == 8


@nb.njit(cache=True)
def execute(P, W, proc, g, owner, now):
    """What entering state g does (states.EXECUTORS)."""
    t = P.S[g, S_TYPE]
    i0 = P.S[g, S_I0]
    f0 = P.S[g, S_F0]
    if inert(t):
        return X_DONE
    if t == 3:  # Guard
        if test(P, W, proc, P.pi[i0], now, g):
            return X_DONE
        if W.n[N_ERR] != F_NONE:
            return X_STOP
        guard_wait(P, W, proc, g, now)
        return X_BLOCKED
    if t == 4:  # Delay
        mode = P.pi[i0]
        if mode == 0:
            duration = P.pi[i0 + 3]
        elif mode == 1:
            q = P.pf[f0] + (P.pf[f0 + 1] - P.pf[f0]) * draw(P, W, g)
            duration = fractional_ms(q, P.pi[i0 + 1])
        else:
            duration = integer_ms(sample(P, W, P.pi[i0 + 2], g), P.pi[i0 + 1])
        if duration <= 0:
            return X_DONE
        schedule(W, now + duration, NORMAL, EV_RESUME, proc)
        W.PR[proc, PR_PC] = PC_DELAY
        return X_BLOCKED
    if t == 5:  # SetAttribute
        slot = P.pi[i0]
        mode = P.pi[i0 + 1]
        if mode == 1:
            value = P.pf[f0 + 1] + (P.pf[f0 + 2] - P.pf[f0 + 1]) * draw(P, W, g)
            if P.pi[i0 + 5] >= 0:
                value = round_half_up(value, P.pi[i0 + 5])
            set_attr(P, W, slot, K_FLOAT, value, ZERO, now)
        elif mode == 2:
            set_attr(P, W, slot, K_FLOAT, sample(P, W, P.pi[i0 + 4], g), ZERO, now)
        elif mode == 3:
            set_attr(P, W, slot, K_CODE, 0.0, P.pi[i0 + 3], now)
        elif mode == 5:
            kind, number = expression(P, W, P.pi[i0 + 4], now, g)
            if kind == K_OTHER:
                return X_STOP
            set_attr(P, W, slot, kind, number, ZERO, now)
        elif mode == 6:  # series data: (period, the lowered series)
            set_attr(P, W, slot, K_SERIES, P.pf[f0], P.pi[i0 + 3], now)
        elif mode == 4 and W.A[P.pi[i0 + 4], A_KIND] != K_NONE:
            src = P.pi[i0 + 4]
            set_attr(P, W, slot, W.A[src, A_KIND], W.a_num[src], W.A[src, A_REF], now)
        else:
            set_attr(P, W, slot, P.pi[i0 + 2], P.pf[f0], P.pi[i0 + 3], now)
        return X_DONE
    if t == 6:  # Counter
        slot = P.pi[i0]
        kind, num, _ = get_attr(P, W, slot, now)
        if kind == K_NONE or kind == K_BOOL:
            number = 0.0
        elif kind == K_INT or kind == K_FLOAT:
            number = num
        else:
            fault(W, F_FAULT if kind != K_STR else F_UNSUPPORTED, g)
            return X_STOP
        if P.pi[i0 + 1] > 0:
            number = number + P.pf[f0]
        else:
            number = number - P.pf[f0]
        set_attr(P, W, slot, K_FLOAT, number, ZERO, now)
        return X_DONE
    if t == 7:  # CallSubmodule
        depth = W.PR[proc, PR_DEPTH] + 1
        if depth >= W.FR.shape[1]:
            grow(W, G_DEPTH)
            return X_STOP
        m = P.pi[i0]
        W.PR[proc, PR_DEPTH] = depth
        W.FR[proc, depth, FR_MOD] = m
        W.FR[proc, depth, FR_STATE] = P.MOD[m, MOD_INITIAL]
        W.FR[proc, depth, FR_HBASE] = W.PR[proc, PR_HLEN]
        W.FR[proc, depth, FR_LOOPTIME] = NONE
        W.FR[proc, depth, FR_LOOPCOUNT] = 0
        return X_CALL
    if t == 9:  # Encounter
        if P.pi[i0] != 0:
            if try_wellness(P, W, proc, g, owner, now):
                return X_GENERATOR
            return X_BLOCKED
        lock = W.n[N_LOCK]
        if lock >= 0 and lock != owner:
            wait_for(W, proc, P.sig_lock[:], NONE, now)
            W.PR[proc, PR_PC] = PC_LOCK
            return X_BLOCKED
        open_encounter(P, W, proc, g, owner, now)
        return X_DONE
    if t == 10:  # EncounterEnd
        if W.n[N_LOCK] == owner and W.OW[owner, OW_ME] >= 0:
            end_module_encounter(P, W, owner, P.pi[i0], now)
        else:
            W.OW[owner, OW_WFLAG] = 0
        return X_DONE
    if t == 11 or t == 13:  # ConditionOnset, AllergyOnset
        target = P.pi[i0 + 2]
        owned = W.OW[owner, OW_ME]
        if target < 0 or (W.n[N_LOCK] == owner and owned >= 0 and W.EN[owned, EN_NAME] == target):
            depth = W.PR[proc, PR_DEPTH]
            diagnose(P, W, proc, g, W.PR[proc, PR_HSTART] + W.FR[proc, depth, FR_VISIT], g, now)
        elif P.pi[i0 + 3] >= 0:
            e = new_entry(P, W, E_CONDITION, first_code(P, P.pi[i0]), now, NONE, ZERO)
            if e < 0:
                return X_STOP
            W.E[e, E_NAME] = P.S[g, S_NAME]
            journal(W, J_PENDING, now, e, g, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
            set_attr(P, W, P.pi[i0 + 3], K_ENTRY, 0.0, e, now)
        return X_DONE
    if t == 12 or t == 14 or t == 16 or t == 18:  # the ends
        end_selected(P, W, g, now)
        return X_DONE
    if t == 15:  # MedicationOrder
        codes = P.pi[i0]
        text = P.pi[i0 + 1]
        chronic = P.pi[i0 + 5]
        admin = P.pi[i0 + 6]
        assign = P.pi[i0 + 7]
        nr = resolve_reason(P, W, proc, P.pi[i0 + 2], P.pi[i0 + 3], P.pi[i0 + 4], TRUE)
        made0 = -1
        made1 = -1
        if admin != 0:
            hi, lo = uuid_halves(P, W, g)
            e = new_entry(P, W, E_MEDICATION, first_code(P, codes), now, now, ONE)
            if e < 0:
                return X_STOP
            c = record_in(P, W, e, NONE, g, now)
            journal(W, J_MEDICATION, now, e, g, c, ONE, ZERO, hi, lo, 0.0)
            made0 = e
        if admin == 0 or chronic != 0:
            existing = W.PRS[text, PRS_PR_ENTRY]
            if existing >= 0 and W.E[existing, E_KIND] == E_MEDICATION and W.E[existing, E_STOP] == NONE:
                med = existing
            else:
                hi, lo = uuid_halves(P, W, g)
                med = new_entry(P, W, E_MEDICATION, first_code(P, codes), now, NONE, ONE)
                if med < 0:
                    return X_STOP
                c = record_in(P, W, med, NONE, g, now)
                journal(W, J_MEDICATION, now, med, g, c, ZERO, ZERO, hi, lo, 0.0)
                present_add(W, med, now)
            if chronic != 0:
                journal(W, J_CHRONIC, now, med, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
                chronic_set(W, med)
                notify(W, SIG_CHRONIC, now)
            made1 = med
        for e in (made0, made1):
            if e >= 0:
                W.E[e, E_NAME] = P.S[g, S_NAME]
                journal(W, J_TOUCH, now, e, g, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
                journal_reasons(W, e, nr, ONE, now)
                journal(W, J_PRESCRIBE, now, e, g, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
        last = made1 if made1 >= 0 else made0
        if assign >= 0:
            set_attr(P, W, assign, K_ENTRY, 0.0, last, now)
        return X_DONE
    if t == 17:  # CarePlanStart
        codes = P.pi[i0]
        text = P.pi[i0 + 1]
        existing = W.PRS[text, PRS_PR_ENTRY]
        if existing >= 0 and W.E[existing, E_KIND] == E_CAREPLAN and W.E[existing, E_STOP] == NONE:
            plan = existing
        else:
            hi, lo = uuid_halves(P, W, g)
            plan = new_entry(P, W, E_CAREPLAN, first_code(P, codes), now, NONE, ONE)
            if plan < 0:
                return X_STOP
            c = record_in(P, W, plan, NONE, g, now)
            journal(W, J_CAREPLAN, now, plan, g, c, ZERO, ZERO, hi, lo, 0.0)
            present_add(W, plan, now)
        W.E[plan, E_NAME] = P.S[g, S_NAME]
        journal(W, J_TOUCH, now, plan, g, ZERO, ZERO, ZERO, ZERO, ZERO, 0.0)
        nr = resolve_reason(P, W, proc, P.pi[i0 + 2], P.pi[i0 + 3], P.pi[i0 + 4], TRUE)
        journal_reasons(W, plan, nr, ONE, now)
        if P.pi[i0 + 5] >= 0:
            set_attr(P, W, P.pi[i0 + 5], K_ENTRY, 0.0, plan, now)
        return X_DONE
    if t == 19:  # Procedure
        codes = P.pi[i0]
        mode = P.pi[i0 + 6]
        duration = NONE
        if mode == 1:
            q = P.pf[f0] + (P.pf[f0 + 1] - P.pf[f0]) * draw(P, W, g)
            duration = fractional_ms(q, P.pi[i0 + 7])
        elif mode == 2:
            duration = fractional_ms(sample(P, W, P.pi[i0 + 8], g), P.pi[i0 + 7])
        hi, lo = uuid_halves(P, W, g)
        stop = now + (duration if duration != NONE else 15 * MINUTE)
        e = new_entry(P, W, E_PROCEDURE, first_code(P, codes), now, stop, ONE)
        if e < 0:
            return X_STOP
        W.E[e, E_NAME] = P.S[g, S_NAME]
        c = record_in(P, W, e, stop, g, now)
        journal(W, J_PROCEDURE, now, e, g, c, stop, ZERO, hi, lo, 0.0)
        present_add(W, e, now)
        nr = resolve_reason(P, W, proc, P.pi[i0 + 2], P.pi[i0 + 3], P.pi[i0 + 4], TRUE)
        journal_reasons(W, e, nr, ZERO, now)
        if P.pi[i0 + 5] >= 0:
            set_attr(P, W, P.pi[i0 + 5], K_ENTRY, 0.0, e, now)
        if duration != NONE and duration > 0:
            schedule(W, now + duration, NORMAL, EV_RESUME, proc)
            W.PR[proc, PR_PC] = PC_DELAY
            return X_BLOCKED
        return X_DONE
    if t == 20:  # Observation
        make_observation(P, W, g, g, now)
        return X_STOP if failed(W) else X_DONE
    if t == 25:  # MultiObservation
        multi_observation(P, W, g, now)
        return X_STOP if failed(W) else X_DONE
    if t == 26:  # DiagnosticReport
        n = P.pi[i0 + 1]
        for i in range(n):
            if make_observation(P, W, P.pi[i0 + 2 + i], g, now) < 0:
                return X_STOP
        hi, lo = uuid_halves(P, W, g)
        e = new_entry(P, W, E_REPORT, first_code(P, P.pi[i0]), now, now, ONE)
        if e < 0:
            return X_STOP
        c = record_in(P, W, e, now, g, now)
        journal(W, J_REPORT, now, e, g, c, n, ZERO, hi, lo, 0.0)
        return X_DONE
    if t == 27:  # ImagingStudy
        imaging_study(P, W, g, now)
        return X_STOP if failed(W) else X_DONE
    if t == 28:  # Device
        device(P, W, g, now)
        return X_STOP if failed(W) else X_DONE
    if t == 30:  # VitalSign: the value holds from now on (a week, or for good)
        v = P.pi[i0]
        kind = P.pi[i0 + 1]
        constant = P.pf[f0]
        if kind == 4:  # an expression, evaluated once: its value holds
            rk, number = expression(P, W, P.pi[i0 + 2], now, g)
            if rk == K_OTHER:
                return X_STOP
            if rk == K_NONE:
                fault(W, F_FAULT, g)  # float(None)
                return X_STOP
            kind = 1
            constant = number
        W.OV[v, OV_KIND] = kind
        W.OV[v, OV_SINCE] = now
        W.OV[v, OV_PERSIST] = P.VPERSIST[v]
        W.OV[v, OV_STATE] = g
        W.OV[v, OV_DIST] = P.pi[i0 + 2]
        W.ovf[v, 0] = constant
        W.ovf[v, 1] = P.pf[f0 + 1]
        W.ovf[v, 2] = P.pf[f0 + 2]
        return X_DONE
    if t == 29:  # DeviceEnd
        end_selected(P, W, g, now)
        return X_DONE
    if t == 21:  # Vaccine
        hi, lo = uuid_halves(P, W, g)
        e = new_entry(P, W, E_IMMUNIZATION, first_code(P, P.pi[i0]), now, NONE, ONE)
        if e < 0:
            return X_STOP
        c = record_in(P, W, e, NONE, g, now)
        journal(W, J_IMMUNIZATION, now, e, g, c, ZERO, ZERO, hi, lo, 0.0)
        return X_DONE
    if t == 22:  # SupplyList
        for i in range(P.pi[i0]):
            hi, lo = uuid_halves(P, W, g)
            e = new_entry(P, W, E_SUPPLY, ZERO, now, now, ONE)
            if e < 0:
                return X_STOP
            c = record_in(P, W, e, now, g, now)
            journal(W, J_SUPPLY, now, e, g, c, i, ZERO, hi, lo, 0.0)
        return X_DONE
    if t == 23:  # Symptom
        if draw(P, W, g) > P.pf[f0]:
            return X_DONE
        mode = P.pi[i0 + 2]
        if mode == 0:
            value = np.int64(P.pf[f0 + 1])
        elif mode == 1:
            value = np.int64(P.pf[f0 + 2] + (P.pf[f0 + 3] - P.pf[f0 + 2]) * draw(P, W, g))
        elif mode == 2:
            value = np.int64(sample(P, W, P.pi[i0 + 3], g))
        else:
            value = 0
        source = P.pi[i0 + 1]
        set_symptom(P, W, P.pi[i0], source if source >= 0 else owner, value, now)
        return X_DONE
    if t == 24:  # Death
        mode = P.pi[i0]
        cause = -1
        if mode == 1:
            cause = P.pi[i0 + 1]
        elif mode == 2:
            if in_history(W, proc, P.pi[i0 + 1]):
                for i in range(W.n[N_PRES]):
                    e = W.PRS[W.PRS[i, PRS_PR_LIST], PRS_PR_ENTRY]
                    if W.E[e, E_NAME] == P.pi[i0 + 1]:
                        cause = W.E[e, E_CODE]
                        break
            else:
                cause = P.pi[i0 + 2]
        elif mode == 3:
            kind, _, ref = get_attr(P, W, P.pi[i0 + 1], now)
            if kind == K_NONE:
                fault(W, F_FAULT, g)
                return X_STOP
            if kind == K_ENTRY:
                cause = W.E[ref, E_CODE]
            elif kind == K_CODE:
                cause = ref
        when = now
        tmode = P.pi[i0 + 3]
        if tmode == 1:
            when += P.pi[i0 + 4]
        elif tmode == 2:
            q = P.pf[f0] + (P.pf[f0 + 1] - P.pf[f0]) * draw(P, W, g)
            when += fractional_ms(q, P.pi[i0 + 5])
        record_death(P, W, when if when > now else now, cause, g, now)
        return X_DONE
    fault(W, F_UNSUPPORTED, g)
    return X_STOP


# ---------------------------------------------------------------- module processes


@nb.njit(cache=True)
def top_state(W, proc):
    return W.FR[proc, W.PR[proc, PR_DEPTH], FR_STATE]


@nb.njit(cache=True)
def start_frame(P, W, proc, loop_time):
    """The process's module from its Initial state, in its first frame; `loop_time` is the
    instant its same-instant loop count starts from (NONE: the first entry starts one)."""
    m = W.PR[proc, PR_MODULE]
    W.PR[proc, PR_DEPTH] = 0
    W.FR[proc, 0, FR_MOD] = m
    W.FR[proc, 0, FR_STATE] = P.MOD[m, MOD_INITIAL]
    W.FR[proc, 0, FR_HBASE] = 0
    W.FR[proc, 0, FR_LOOPTIME] = loop_time
    W.FR[proc, 0, FR_LOOPCOUNT] = 0


@nb.njit(cache=True)
def run_module(P, W, proc, now):
    """Runs a module's process (PersonSim.run_frame, frames as a stack) until it waits or
    ends."""
    # no array is held in a local: see docs/architecture.md on reference counts
    owner = W.PR[proc, PR_OWNER]
    pc = W.PR[proc, PR_PC]
    reread = True
    snapshot = NONE
    if pc == PC_START:
        start_frame(P, W, proc, NONE)
        pc = PC_ENTER
    elif pc == PC_DELAY:
        pc = PC_AFTER
    elif pc == PC_GUARD:
        g = top_state(W, proc)
        if test(P, W, proc, P.pi[P.S[g, S_I0]], now, g):
            pc = PC_AFTER
        else:
            if W.n[N_ERR] == F_NONE:
                guard_wait(P, W, proc, g, now)
            return
    elif pc == PC_LOCK:
        g = top_state(W, proc)
        lock = W.n[N_LOCK]
        if lock >= 0 and lock != owner:
            wait_for(W, proc, P.sig_lock[:], NONE, now)
            W.PR[proc, PR_PC] = PC_LOCK
            return
        open_encounter(P, W, proc, g, owner, now)
        pc = PC_AFTER
    elif pc == PC_WELLNESS:
        g = top_state(W, proc)
        if not try_wellness(P, W, proc, g, owner, now):
            return
        pc = PC_AFTER
    elif pc == PC_FF_WAIT or pc == PC_FF_BOUNDARY:
        if pc == PC_FF_WAIT:
            result, target = ff_woken(P, W, proc, now)
        else:
            result, target = ff_boundary(P, W, proc, now)
        if result == FF_BLOCKED or failed(W):
            return
        if not after_skip(P, W, proc, result, target, now):
            return
        pc = PC_ENTER
    else:  # PC_NEVER, PC_DONE
        return
    while True:
        if failed(W):
            return
        depth = W.PR[proc, PR_DEPTH]
        g = W.FR[proc, depth, FR_STATE]
        if pc == PC_ENTER:
            if W.FR[proc, depth, FR_LOOPTIME] != now:
                W.FR[proc, depth, FR_LOOPTIME] = now
                W.FR[proc, depth, FR_LOOPCOUNT] = 0
            W.FR[proc, depth, FR_LOOPCOUNT] += 1
            if W.FR[proc, depth, FR_LOOPCOUNT] > MAX_PER_INSTANT:
                fault(W, F_FAULT, g)
                return
            W.n[N_ENTERED] += 1
            if W.n[N_ENTERED] > P.consts[C_MAX_STATES]:
                fault(W, F_FAULT, g)
                return
            snapshot = W.n[N_DEATH]
            if snapshot != NONE and snapshot <= now:
                W.PR[proc, PR_PC] = PC_DONE
                return
            if P.S[g, S_HIST] != 0 and push_visit(P, W, proc, g, now) < 0:
                return
            t = P.S[g, S_TYPE]
            W.stats[t] += 1
            # a call costs reference counts on P and W: the states that do nothing on entry
            # (about half of those entered) are not called
            x = X_DONE if inert(t) else execute(P, W, proc, g, owner, now)
            if x == X_STOP or failed(W):
                return
            if x == X_BLOCKED:
                return
            if x == X_CALL:
                continue  # pc stays PC_ENTER: the submodule's Initial
            reread = x == X_GENERATOR
            pc = PC_AFTER
        # PC_AFTER: the state has run
        death = W.n[N_DEATH] if reread else snapshot
        reread = True
        if death != NONE and death <= now:
            W.PR[proc, PR_PC] = PC_DONE
            return
        if P.S[g, S_HIST] != 0:
            v = W.PR[proc, PR_HSTART] + W.FR[proc, depth, FR_VISIT]
            if W.HV[v, HV_EXITED] == NONE:
                W.HV[v, HV_EXITED] = now
        if P.S[g, S_TRANS] < 0:  # Terminal: the frame returns
            if depth == 0:
                if W.n[N_LOCK] == owner:
                    end_module_encounter(P, W, owner, NEG1, now)
                W.PR[proc, PR_PC] = PC_DONE
                return
            W.PR[proc, PR_DEPTH] = depth - 1
            caller = W.FR[proc, depth - 1, FR_STATE]
            cv = W.PR[proc, PR_HSTART] + W.FR[proc, depth - 1, FR_VISIT]
            entered = W.HV[cv, HV_ENTERED]
            # the caller's history gets the submodule's visits (already in place) and the
            # call again, marking the return
            n = W.PR[proc, PR_HLEN]
            if n >= W.PR[proc, PR_HCAP]:
                keep = W.FR[proc, depth - 1, FR_VISIT]
                if push_visit(P, W, proc, caller, now) < 0:  # moves the history, then fixed up
                    return
                W.FR[proc, depth - 1, FR_VISIT] = keep
            else:
                W.PR[proc, PR_HLEN] = n + 1
            i = W.PR[proc, PR_HSTART] + W.PR[proc, PR_HLEN] - 1
            W.HV[i, HV_STATE] = caller
            W.HV[i, HV_NAME] = P.S[caller, S_NAME]
            W.HV[i, HV_ENTERED] = entered
            W.HV[i, HV_EXITED] = now
            W.HV[i, HV_DIAG] = 0
            continue  # PC_AFTER of the CallSubmodule (death read again)
        t = P.S[g, S_TRANS]
        if P.TR[t, TR_KIND] == 1:  # next_state's direct transition, without the call
            target = P.OPT[P.TR[t, TR_O0], OPT_TARGET]
        else:
            target = next_state(P, W, proc, g, now)
            if failed(W):
                return
        if target == g and P.S[g, S_PROFILE] > 0 and P.consts[C_NO_FF] == 0:
            result, target = ff_begin(P, W, proc, g, now)
            if result == FF_BLOCKED or failed(W):
                return
            if not after_skip(P, W, proc, result, target, now):
                return
        else:
            W.FR[proc, depth, FR_STATE] = target
        pc = PC_ENTER


@nb.njit(cache=True)
def after_skip(P, W, proc, result, target, now):
    """The rest of the fast-forward loop in run_frame after a skip returned; False when the
    process waits or ends."""
    depth = W.PR[proc, PR_DEPTH]
    g = W.FR[proc, depth, FR_STATE]
    while True:
        death = W.n[N_DEATH]
        if death != NONE and death <= now:
            W.PR[proc, PR_PC] = PC_DONE
            return False
        if result == FF_TARGET:
            W.FR[proc, depth, FR_STATE] = target
            return True
        target = next_state(P, W, proc, g, now)
        if failed(W):
            return False
        if target != g:
            W.FR[proc, depth, FR_STATE] = target
            return True
        result, target = ff_begin(P, W, proc, g, now)
        if result == FF_BLOCKED or failed(W):
            return False


# ---------------------------------------------------------------- the engine's visits


@nb.njit(cache=True)
def wellness_interval(birth, at, chronic):
    months = civil.age_months(birth, at)
    days = 30
    if months >= 0:
        days = 30
    if months >= 2:
        days = 60
    if months >= 6:
        days = 90
    if months >= 18:
        days = 180
    if months >= 48:
        days = 365
    if months >= 240:
        days = 3 * 365
    if months >= 480:
        days = 2 * 365
    if months >= 600:
        days = 365
    if chronic and days > 365:
        days = 365
    return days * DAY


@nb.njit(cache=True)
def next_wellness_due(birth, last, chronic):
    """simulation.next_wellness_due."""
    if last == NONE:
        return birth
    t = last
    bands = (0, 2, 6, 18, 48, 240, 480, 600)
    while True:
        due = last + wellness_interval(birth, t, chronic)
        months = civil.age_months(birth, t)
        boundary = -1
        for m in bands:
            if m > months:
                boundary = m
                break
        if boundary < 0:
            return due if due > t else t
        boundary_at = civil.age_reached_ms(birth, boundary)
        if due <= boundary_at:
            return due if due > t else t
        t = boundary_at


@nb.njit(cache=True)
def start_engine_encounter(P, W, cls, code_list, flag, stream, now):
    k = P.consts
    c = new_encounter(P, W, cls, code_list, k[C_ENGINE_OWNER], k[C_ENGINE_NAME], stream, now)
    if c < 0:
        return c
    W.n[N_LOCK] = k[C_ENGINE_OWNER]
    W.n[N_ENGENC] = c
    W.A[flag, A_KIND] = K_BOOL
    W.a_num[flag] = 1.0
    notify(W, SIG_ENGINE_ENCOUNTER, now)
    schedule(W, now, LATE, EV_ENC_END, c)
    return c


@nb.njit(cache=True)
def end_engine_encounter(P, W, c, now):
    k = P.consts
    end_encounter(P, W, c, NEG1, NONE, now)
    W.A[k[C_A_WELLNESS], A_KIND] = K_NONE
    W.A[k[C_A_EMERGENCY], A_KIND] = K_NONE
    W.A[k[C_A_URGENT], A_KIND] = K_NONE
    if W.n[N_ENGENC] == c:
        W.n[N_ENGENC] = -1
    if W.n[N_LOCK] == k[C_ENGINE_OWNER]:
        release_lock(W, now)


@nb.njit(cache=True)
def run_engine(P, W, proc, now):
    """PersonSim._engine_encounters, from wherever it waited to its next wait."""
    k = P.consts
    stream = k[C_STREAM_ENGINE]
    birth = W.n[N_BIRTH]
    due = next_wellness_due(birth, W.n[N_LASTW], W.n[N_CHR] > 0)
    if W.n[N_LOCK] < 0:
        if due <= now:
            if civil.age_years(birth, now) < 18:
                code = k[C_WELL_CHILD]
            else:
                code = k[C_GENERAL_EXAM]
            c = start_engine_encounter(P, W, k[C_WELLNESS], code, k[C_A_WELLNESS], stream, now)
            if k[C_IMMUNIZE] != 0 and c >= 0:
                give_immunizations(P, W, c, stream, now)
            W.n[N_LASTW] = now
            wait_for(W, proc, P.sig_lock[:], NONE, now)
            return
        total = symptom_total(W)
        if total != W.n[N_LASTT] and total > 300:
            W.n[N_LASTT] = total
            slot = k[C_A_SYMPTOM_TOTAL]
            W.A[slot, A_KIND] = K_INT
            W.a_num[slot] = float(total)
            address_largest_symptom(W)
            if total > 500:
                c = start_engine_encounter(P, W, k[C_EMERGENCY], k[C_EMERGENCY_VISIT],
                                           k[C_A_EMERGENCY], stream, now)
            elif total > 350:
                c = start_engine_encounter(P, W, k[C_URGENTCARE], k[C_URGENT_VISIT],
                                           k[C_A_URGENT], stream, now)
            else:
                c = start_engine_encounter(P, W, k[C_OUTPATIENT], k[C_CHECKUP_VISIT],
                                           k[C_A_WELLNESS], stream, now)
            if k[C_IMMUNIZE] != 0 and c >= 0:
                give_immunizations(P, W, c, stream, now)
            wait_for(W, proc, P.sig_lock[:], NONE, now)
            return
        wait_for(W, proc, P.sig_chronic_symptom[:], due, now)
    else:
        wait_for(W, proc, P.sig_lock[:], NONE, now)


# ---------------------------------------------------------------- the built-in lifecycle
# builtin.lifecycle's processes, step by step: PR_PC is how far a process has got, PR_X0 what
# it keeps between steps.

LIFE_SMOKING, LIFE_DRIVERS, LIFE_ADULT, LIFE_PASSPORT, LIFE_ALCOHOL, LIFE_MARRIAGE, \
    LIFE_SUFFIX, LIFE_MARRIAGE_35, LIFE_MARRIAGE_45, LIFE_MARRIAGE_55, LIFE_DONE = range(11)
# consts[C_LIFE0 + i]: the life-event ages in months (the drivers licence 1 ms after 16)
QUIT_SMOKING_PER_STEP = lc.QUIT_SMOKING_PER_STEP
QUIT_ALCOHOLISM_PER_STEP = lc.QUIT_ALCOHOLISM_PER_STEP
EMPLOYMENT_CHECK = 182 * DAY


@nb.njit(cache=True)
def builtin_stream(P, kind):
    return P.consts[C_STREAM_BUILTIN0] + kind


@nb.njit(cache=True)
def spawn(P, W, kind, at, now):
    """PersonSim.spawn: starts the (only) process of this kind, its first step at `at`."""
    for proc in range(W.PR.shape[0]):
        if W.PR[proc, PR_KIND] == kind:
            W.PR[proc, PR_X0] = at
            schedule(W, now, URGENT, EV_INIT, proc)
            return


@nb.njit(cache=True)
def geometric_steps(u, p):
    """lifecycle._geometric_steps."""
    return np.int64(math.log(1.0 - u) / math.log(1.0 - p)) + 1


@nb.njit(cache=True)
def smoking_probability(year):
    if year < 1965:
        return 0.424
    if year <= lc.SMOKING_TREND_END:
        return max((-0.4865 * year + 996.41) / 100.0, 0.0)
    if year >= lc.SMOKING_RECENT_YEAR:
        return lc.SMOKING_RECENT
    start = max((-0.4865 * lc.SMOKING_TREND_END + 996.41) / 100.0, 0.0)
    return start + (lc.SMOKING_RECENT - start) * (year - lc.SMOKING_TREND_END) / (
        lc.SMOKING_RECENT_YEAR - lc.SMOKING_TREND_END)


@nb.njit(cache=True)
def sleep_until(W, proc, at, now):
    schedule(W, at if at > now else now, NORMAL, EV_RESUME, proc)


@nb.njit(cache=True)
def life_event_at(P, W, step):
    birth = W.n[N_BIRTH]
    at = civil.age_reached_ms(birth, P.consts[C_LIFE0 + step])
    return at + 1 if step == LIFE_DRIVERS else at


@nb.njit(cache=True)
def attr_true(P, W, slot, now):
    kind, num, _ = get_attr(P, W, slot, now)
    return kind == K_BOOL and num != 0.0


@nb.njit(cache=True)
def run_builtin(P, W, proc, now):
    kind = W.PR[proc, PR_KIND]
    stream = builtin_stream(P, kind)
    k = P.consts
    pc = W.PR[proc, PR_PC]
    if kind == P_NATURAL_DEATH:
        if pc == PC_START:
            when = W.n[N_NATURAL]
            if when == NONE or when >= W.n[N_END]:
                W.PR[proc, PR_PC] = PC_DONE
                return
            W.PR[proc, PR_PC] = PC_AFTER
            sleep_until(W, proc, when, now)
            return
        W.PR[proc, PR_PC] = PC_DONE
        death = W.n[N_DEATH]
        if death == NONE or death > now:
            record_death(P, W, now, k[C_NATURAL_CODE], NEG2, now)
        return
    if kind == P_QUIT_SMOKING or kind == P_QUIT_ALCOHOLISM:
        if pc == PC_START:
            W.PR[proc, PR_PC] = PC_AFTER
            sleep_until(W, proc, W.PR[proc, PR_X0], now)
            return
        W.PR[proc, PR_PC] = PC_DONE
        flag = k[C_A_SMOKER] if kind == P_QUIT_SMOKING else k[C_A_ALCOHOLIC]
        age_slot = k[C_A_QUIT_SMOKING_AGE] if kind == P_QUIT_SMOKING else k[C_A_QUIT_ALCOHOL_AGE]
        if attr_true(P, W, flag, now):
            set_attr(P, W, flag, K_BOOL, 0.0, ZERO, now)
            set_attr(P, W, age_slot, K_INT, float(civil.age_years(W.n[N_BIRTH], now)), ZERO,
                     now)
        return
    if kind == P_EMPLOYMENT:
        employment(P, W, proc, stream, now)
        return
    if kind == P_COVID:
        covid19_immunization(P, W, proc, stream, now)
        return
    if kind == P_INSURANCE:
        insurance(P, W, proc, stream, now)
        return
    if kind == P_WEIGHT:
        weight_management(P, W, proc, stream, now)
        return
    life_events(P, W, proc, stream, now)


@nb.njit(cache=True)
def insurance(P, W, proc, stream, now):
    """payers.insurance.insurance_process: at birth and on every birthday the plan for the
    coming year (compiled.insurance.choose_plan). PR_X0: the age whose plan comes next."""
    birth = W.n[N_BIRTH]
    if W.PR[proc, PR_PC] == PC_START:
        W.PR[proc, PR_PC] = PC_AFTER
        age = np.int64(0)
    else:
        age = W.PR[proc, PR_X0]
    while True:
        at = birth if age == 0 else civil.age_reached_ms(birth, 12 * age)
        if at < now:
            age += 1
            continue
        if at > now:
            W.PR[proc, PR_X0] = age
            schedule(W, at, NORMAL, EV_RESUME, proc)
            return
        if not alive(W, now):
            W.PR[proc, PR_PC] = PC_DONE
            return
        facts = insurance_facts(P, W, now)
        u = draw(P, W, stream)
        plan = ins.choose_plan(P.PLAN, P.plan_f, P.prem_year, P.prem_amount, P.plan_rules, age,
                               civil.year_of(at), u, W.person_f[ins.PF_COVERAGE], W.n[N_PLAN],
                               W.person_f, facts)
        new = plan != W.n[N_PLAN]
        hi, lo = ZERO, ZERO
        if new and P.PLAN[plan, ins.PL_INSURED] != 0:
            hi, lo = uuid_halves(P, W, stream)
        journal(W, J_PLAN, at, plan, civil.age_reached_ms(birth, 12 * (age + 1)), age,
                ONE if new else ZERO, ZERO, hi, lo, 0.0)
        set_attr(P, W, P.consts[C_A_INSURANCE], K_STR, 0.0, P.PLAN[plan, ins.PL_STATUS], now)
        W.n[N_PLAN] = plan
        age += 1


@nb.njit(cache=True)
def weight_management(P, W, proc, stream, now):
    """builtin.weight_management.weight_management: a check on every birthday from 5, or when
    a module sets the trigger; an episode of management when it starts. PR_X0: the next
    birthday check; PC_EPISODE: waiting for the episode's end."""
    k = P.consts
    birth = W.n[N_BIRTH]
    pc = W.PR[proc, PR_PC]
    W.PR[proc, PR_PC] = PC_AFTER
    if pc == PC_START:
        first = civil.age_reached_ms(birth, WM_START_AGE * 12)
        W.PR[proc, PR_X0] = first
        if first > now:
            schedule(W, first, NORMAL, EV_RESUME, proc)
            return
    elif pc == PC_EPISODE:
        set_attr(P, W, k[C_A_WM_ACTIVE], K_BOOL, 0.0, ZERO, now)
        W.PR[proc, PR_X0] = civil.age_reached_ms(birth, (civil.age_years(birth, now) + 1) * 12)
        management_wait(P, W, proc, now)
        return
    empty = k[C_S_EMPTY]
    if now >= W.PR[proc, PR_X0]:
        W.PR[proc, PR_X0] = civil.age_reached_ms(birth, (civil.age_years(birth, now) + 1) * 12)
        due = True
    else:  # woken early: only a set trigger counts
        kind, num, ref = get_attr(P, W, k[C_A_WM_TRIGGER], now)
        due = truthy(kind, num, ref, empty)
    if due:
        kind, num, ref = get_attr(P, W, k[C_A_WM_ACTIVE], now)
        if not truthy(kind, num, ref, empty) and alive(W, now):
            start = management_should_start(P, W, stream, now)
            if failed(W):
                return
            if start:
                end = start_management(P, W, stream, now)
                if failed(W):
                    return
                if end == NONE:
                    W.PR[proc, PR_PC] = PC_DONE
                    return
                W.PR[proc, PR_PC] = PC_EPISODE
                schedule(W, end if end > now else now, NORMAL, EV_RESUME, proc)
                return
    management_wait(P, W, proc, now)


@nb.njit(cache=True)
def management_wait(P, W, proc, now):
    """`env.any_of([trigger, timeout(next check)])`: the condition succeeds one event after
    whichever comes first, so the trigger's wait relays to it (WT_PROC = -2 - condition)."""
    cond = new_wait(W, proc)
    if cond < 0:
        return
    trigger = new_wait(W, proc)
    if trigger < 0:
        return
    W.WT[trigger, WT_PROC] = -2 - cond
    watch(W, attr_signal(P, P.consts[C_A_WM_TRIGGER]), trigger)
    at = W.PR[proc, PR_X0]
    schedule(W, at if at > now else now, NORMAL, EV_TIMER, cond)
    W.PR[proc, PR_WAIT] = cond


@nb.njit(cache=True)
def management_should_start(P, W, stream, now):
    """weight_management._should_start."""
    k = P.consts
    kind, num, ref = get_attr(P, W, k[C_A_WM_TRIGGER], now)
    if truthy(kind, num, ref, k[C_S_EMPTY]):
        return True
    age = civil.age_years(W.n[N_BIRTH], now)
    bmi = 0.0
    if age >= WM_ADULT_AGE:
        ok, bmi = read_vital(P, W, vt.V_BMI, now, NEG1)
        if not ok:
            return False
    kind, pct, _ = get_attr(P, W, k[C_A_BMI_PCT], now)
    if failed(W):
        return False
    if age < WM_START_AGE:
        return False
    if age >= WM_ADULT_AGE:
        if not bmi >= WM_ADULT_BMI:
            return False
    elif kind == K_NONE or not pct >= WM_CHILD_PERCENTILE:
        return False
    return draw(P, W, stream) < WM_START_P


@nb.njit(cache=True)
def start_management(P, W, stream, now):
    """weight_management.start_management, then management_end (NONE: for life)."""
    k = P.consts
    birth = W.n[N_BIRTH]
    kind, pct, _ = get_attr(P, W, k[C_A_BMI_PCT], now)
    ok, weight = read_vital(P, W, vt.V_WEIGHT, now, NEG1)
    if not ok or failed(W):
        return NONE
    adherent = draw(P, W, stream) < WM_ADHERENCE_P
    loss = WM_LOSS_LOW + (WM_LOSS_HIGH - WM_LOSS_LOW) * draw(P, W, stream)
    long_term = draw(P, W, stream) < WM_LONG_TERM_P
    child = civil.age_years(birth, now) < WM_ADULT_AGE
    change = 0.0
    if child and adherent and kind != K_NONE and pct != 0.0:
        p = min(max(pct / 100.0, 1e-6), 1.0 - 1e-6)
        change = pct - 100.0 * vt._cdf(vt._inv_cdf(p) + WM_CHILD_Z)
    set_attr(P, W, k[C_A_WM_PRE], K_FLOAT, weight, ZERO, now)
    set_attr(P, W, k[C_A_WM_START], K_INT, float(now), ZERO, now)
    set_attr(P, W, k[C_A_WM_ADHERENCE], K_BOOL, 1.0 if adherent else 0.0, ZERO, now)
    set_attr(P, W, k[C_A_WM_LOSS], K_FLOAT, loss, ZERO, now)
    set_attr(P, W, k[C_A_WM_LONG], K_BOOL, 1.0 if long_term else 0.0, ZERO, now)
    set_attr(P, W, k[C_A_WM_CHANGE], K_FLOAT, change, ZERO, now)
    set_attr(P, W, k[C_A_WM_ACTIVE], K_BOOL, 1.0, ZERO, now)
    if child:
        return civil.age_reached_ms(birth, WM_ADULT_AGE * 12)
    if not adherent:
        return now + WM_LOSS_MS
    if long_term:
        return NONE
    return now + WM_REGAIN_END_MS


@nb.njit(cache=True)
def insurance_facts(P, W, now):
    """What the plan choice reads of the person (compiled.insurance.F_*): whether income and
    poverty ratio are numbers, and the truth of the four flags."""
    facts = np.zeros(ins.N_FACTS)
    k0 = C_A_FACTS0
    empty = P.consts[C_S_EMPTY]
    for i in range(ins.N_NUMBER_FACTS):
        kind, num, _ = get_attr(P, W, P.consts[k0 + i], now)
        if kind == K_BOOL or kind == K_INT or kind == K_FLOAT:
            facts[2 * i] = 1.0
            facts[2 * i + 1] = num
    for i in range(4):
        kind, num, ref = get_attr(P, W, P.consts[k0 + ins.N_NUMBER_FACTS + i], now)
        facts[ins.F_ESRD + i] = 1.0 if truthy(kind, num, ref, empty) else 0.0
    return facts


@nb.njit(cache=True)
def truthy(kind, num, ref, empty):
    """Python truthiness of an attribute value (`empty`: the id of the empty string)."""
    if kind == K_NONE:
        return False
    if kind == K_BOOL or kind == K_INT or kind == K_FLOAT:
        return num != 0.0
    if kind == K_STR:
        return ref != empty
    return True


@nb.njit(cache=True)
def employment(P, W, proc, stream, now):
    """lifecycle._employment. PR_X0: 1 while an unemployed person waits for the next check,
    2 while an employed one waits to lose the job."""
    k = P.consts
    rate = W.person_f[0]
    slot = k[C_A_UNEMPLOYED]
    pc = W.PR[proc, PR_PC]
    W.PR[proc, PR_PC] = PC_AFTER
    if pc == PC_START:
        W.PR[proc, PR_X0] = 0
        if rate <= 0.0:
            W.PR[proc, PR_PC] = PC_DONE
            return
    elif W.PR[proc, PR_X0] == 1:
        set_attr(P, W, slot, K_BOOL, 0.0, ZERO, now)
        draw_and_wait_for_loss(P, W, proc, stream, rate, now)
        return
    else:
        set_attr(P, W, slot, K_BOOL, 1.0, ZERO, now)
    kind, num, ref = get_attr(P, W, slot, now)
    if truthy(kind, num, ref, k[C_S_EMPTY]):
        W.PR[proc, PR_X0] = 1
        sleep_until(W, proc, now + EMPLOYMENT_CHECK, now)
        return
    draw_and_wait_for_loss(P, W, proc, stream, rate, now)


@nb.njit(cache=True)
def draw_and_wait_for_loss(P, W, proc, stream, rate, now):
    checks = geometric_steps(draw(P, W, stream), rate)
    W.PR[proc, PR_X0] = 2
    sleep_until(W, proc, now + checks * EMPLOYMENT_CHECK, now)


@nb.njit(cache=True)
def life_events(P, W, proc, stream, now):
    """lifecycle.life_events: each event in turn, at its age."""
    step = W.PR[proc, PR_X0]
    if W.PR[proc, PR_PC] == PC_START:
        W.PR[proc, PR_PC] = PC_AFTER
        step = 0
    else:
        do_life_event(P, W, step, stream, now)
        step += 1
    while step < LIFE_DONE:
        at = life_event_at(P, W, step)
        if at > now:
            W.PR[proc, PR_X0] = step
            schedule(W, at, NORMAL, EV_RESUME, proc)
            return
        do_life_event(P, W, step, stream, now)
        step += 1
    W.PR[proc, PR_PC] = PC_DONE


@nb.njit(cache=True)
def do_life_event(P, W, step, stream, now):
    k = P.consts
    if step == LIFE_SMOKING:
        if get_attr(P, W, k[C_A_SMOKER], now)[0] == K_NONE:
            chance = smoking_probability(civil.year_of(now))
            if is_male(P, W, now):
                chance *= lc.SMOKING_MEN_FACTOR
            elif is_female(P, W, now):
                chance *= lc.SMOKING_WOMEN_FACTOR
            smoker = draw(P, W, stream) < chance
            set_attr(P, W, k[C_A_SMOKER], K_BOOL, 1.0 if smoker else 0.0, ZERO, now)
            set_attr(P, W, k[C_A_QUIT_SMOKING_P], K_FLOAT, QUIT_SMOKING_PER_STEP, ZERO, now)
            if smoker:
                at = now + geometric_steps(draw(P, W, stream), QUIT_SMOKING_PER_STEP) * WEEK
                spawn(P, W, P_QUIT_SMOKING, at, now)
    elif step == LIFE_DRIVERS:
        n = int_between(P, W, np.int64(10000), np.int64(99999), stream)
        set_attr(P, W, k[C_A_DRIVERS], K_FORMAT, float(n), F_DRIVERS, now)
    elif step == LIFE_PASSPORT:
        if draw(P, W, stream) < 0.5:
            n = int_between(P, W, np.int64(10_000_000), np.int64(99_999_999), stream)
            set_attr(P, W, k[C_A_PASSPORT], K_FORMAT, float(n), F_PASSPORT, now)
    elif step == LIFE_SUFFIX:
        kind, num, _ = get_attr(P, W, k[C_A_EDUCATION], now)
        level = num if kind == K_INT or kind == K_FLOAT or kind == K_BOOL else 0.0
        if level >= 0.95:
            i = int_between(P, W, ZERO, TWO, stream)
            set_attr(P, W, k[C_A_SUFFIX], K_STR, 0.0, k[C_S_PHD + i], now)
    elif step == LIFE_ADULT:
        male = is_male(P, W, now)
        set_attr(P, W, k[C_A_PREFIX], K_STR, 0.0, k[C_S_MR] if male else k[C_S_MS], now)
        spawn(P, W, P_EMPLOYMENT, now, now)
    elif step == LIFE_ALCOHOL:
        if get_attr(P, W, k[C_A_ALCOHOLIC], now)[0] == K_NONE:
            alcoholic = draw(P, W, stream) < 0.025
            set_attr(P, W, k[C_A_ALCOHOLIC], K_BOOL, 1.0 if alcoholic else 0.0, ZERO, now)
            set_attr(P, W, k[C_A_QUIT_ALCOHOL_P], K_FLOAT, QUIT_ALCOHOLISM_PER_STEP, ZERO, now)
            if alcoholic:
                at = now + geometric_steps(draw(P, W, stream), QUIT_ALCOHOLISM_PER_STEP) * WEEK
                spawn(P, W, P_QUIT_ALCOHOLISM, at, now)
    elif step == LIFE_MARRIAGE:
        married = draw(P, W, stream) < 0.8
        set_attr(P, W, k[C_A_MARITAL], K_STR, 0.0, k[C_S_M] if married else k[C_S_S], now)
        if married and is_female(P, W, now):
            set_attr(P, W, k[C_A_PREFIX], K_STR, 0.0, k[C_S_MRS], now)
            take_married_name(P, W, stream, now)
    else:
        kind, _, ref = get_attr(P, W, k[C_A_MARITAL], now)
        if kind == K_STR and ref == k[C_S_M]:
            if step == LIFE_MARRIAGE_35:
                widowed, divorced = 0.02, 0.18
            elif step == LIFE_MARRIAGE_45:
                widowed, divorced = 0.03, 0.02
            else:
                widowed, divorced = 0.06, 0.05
            u = draw(P, W, stream)
            if u < widowed:
                set_attr(P, W, k[C_A_MARITAL], K_STR, 0.0, k[C_S_W], now)
            elif u < widowed + divorced:
                set_attr(P, W, k[C_A_MARITAL], K_STR, 0.0, k[C_S_D], now)


@nb.njit(cache=True)
def is_male(P, W, now):
    kind, _, ref = get_attr(P, W, P.consts[C_A_GENDER], now)
    return kind == K_STR and ref == P.consts[C_S_MALE]


@nb.njit(cache=True)
def is_female(P, W, now):
    kind, _, ref = get_attr(P, W, P.consts[C_A_GENDER], now)
    return kind == K_STR and ref == P.consts[C_S_FEMALE]


@nb.njit(cache=True)
def take_married_name(P, W, stream, now):
    """lifecycle._take_married_name: maiden name kept, a family name drawn from the list."""
    k = P.consts
    kind, num, ref = get_attr(P, W, k[C_A_LAST], now)
    if kind == K_NONE or (kind == K_STR and ref == k[C_S_EMPTY]):
        return
    set_attr(P, W, k[C_A_MAIDEN], kind, num, ref, now)
    i = int_between(P, W, ZERO, k[C_LAST_NAMES] - 1, stream)
    set_attr(P, W, k[C_A_LAST], K_FORMAT, float(i), F_LAST_NAME, now)
    set_attr(P, W, k[C_A_NAME], K_FORMAT, float(i), F_FULL_NAME, now)


@nb.njit(cache=True)
def covid19_immunization(P, W, proc, stream, now):
    """covid19_immunization: the decision at the programme start (the plan itself is worked
    out beforehand from the same two draws: covid19_immunization.plan_vaccination), then the
    two doses, each at a short visit of its own. PR_X0 counts the doses given."""
    k = P.consts
    pc = W.PR[proc, PR_PC]
    if pc == PC_START:
        if W.n[N_BIRTH] >= k[C_C19_START]:
            set_attr(P, W, k[C_A_C19_STATUS], K_STR, 0.0, k[C_S_NOT_ELIGIBLE], now)
            W.PR[proc, PR_PC] = PC_DONE
            return
        W.PR[proc, PR_PC] = PC_AFTER
        W.PR[proc, PR_X0] = -1
        if now < k[C_C19_START]:
            schedule(W, k[C_C19_START], NORMAL, EV_RESUME, proc)
            return
    if not alive(W, now):
        W.PR[proc, PR_PC] = PC_DONE
        return
    given = W.PR[proc, PR_X0]
    if given == -1:  # the decision
        W.sc[stream] += 2  # u and the Pfizer draw (the plan was made from them)
        set_attr(P, W, k[C_A_C19_FULL], K_BOOL, 0.0, ZERO, now)
        vaccine = W.n[N_C19_VACCINE]
        if vaccine < 0:
            set_attr(P, W, k[C_A_C19_STATUS], K_STR, 0.0, k[C_S_NOT_ELIGIBLE], now)
            W.PR[proc, PR_PC] = PC_DONE
            return
        set_attr(P, W, k[C_A_C19_STATUS], K_STR, 0.0, k[C_S_WAITING], now)
        set_attr(P, W, k[C_A_C19_VACCINE], K_STR, 0.0, k[C_S_CVX0 + vaccine], now)
        set_attr(P, W, k[C_A_C19_FIRST], K_INT, float(W.n[N_C19_FIRST]), ZERO, now)
        set_attr(P, W, k[C_A_C19_SECOND], K_INT, float(W.n[N_C19_SECOND]), ZERO, now)
        given = 0
    else:  # woken for a dose
        given = covid_dose(P, W, given, stream, now)
    while given < 2:
        at = W.n[N_C19_FIRST] if given == 0 else W.n[N_C19_SECOND]
        if at > now:
            W.PR[proc, PR_X0] = given
            schedule(W, at, NORMAL, EV_RESUME, proc)
            return
        if not alive(W, now):
            W.PR[proc, PR_PC] = PC_DONE
            return
        given = covid_dose(P, W, given, stream, now)
    set_attr(P, W, k[C_A_C19_FULL], K_BOOL, 1.0, ZERO, now)
    W.PR[proc, PR_PC] = PC_DONE


@nb.njit(cache=True)
def alive(W, now):
    death = W.n[N_DEATH]
    return death == NONE or death > now


@nb.njit(cache=True)
def covid_dose(P, W, given, stream, now):
    """PersonSim.record_engine_immunization: a short ambulatory visit without the lock."""
    k = P.consts
    if not alive(W, now):
        return np.int64(2)
    c = new_encounter(P, W, k[C_AMBULATORY], k[C_VACCINATION_VISIT], k[C_ENGINE_OWNER],
                      k[C_S_VACCINATION], stream, now)
    if c < 0:
        return np.int64(2)
    hi, lo = uuid_halves(P, W, stream)
    journal(W, J_COVID_DOSE, now, ZERO, k[C_CODE_CVX0 + W.n[N_C19_VACCINE]], c, given + 1, ZERO,
            hi, lo, 0.0)
    end_encounter(P, W, c, NEG1, NONE, now)
    set_attr(P, W, k[C_A_C19_STATUS], K_STR, 0.0, k[C_S_VACCINATED], now)
    return given + 1


# ---------------------------------------------------------------- routine immunizations
CATCH_UP_MONTHS = 48


@nb.njit(cache=True)
def vaccine_due(P, W, v, now):
    """immunizations.is_due: W.VD[v, 0] doses so far, their times in W.VD[v, 1:]."""
    if now < P.VAX[v, VAX_FROM]:
        return False
    count = W.VD[v, 0]
    n = P.VAX[v, VAX_N]
    if count >= n:
        return False
    birth = W.n[N_BIRTH]
    age = civil.age_months(birth, now)
    a0 = P.VAX[v, VAX_AGE0]
    first = 0  # the ages left: those not more than the catch-up window ago (a suffix)
    while first < n and age - P.VAXAGE[a0 + first] >= CATCH_UP_MONTHS:
        first += 1
    if first == n:
        return False
    for d in range(count):
        at = civil.age_months(birth, W.VD[v, 1 + d])
        slot = P.VAXAGE[a0 + first]
        if at >= slot and at - slot < CATCH_UP_MONTHS:
            first += 1
            if first == n:
                return False
    return age >= P.VAXAGE[a0 + first]


@nb.njit(cache=True)
def give_immunizations(P, W, c, stream, now):
    """immunizations.give_immunizations: every due dose, in schedule order, into the visit."""
    W.n[N_VACCINATED] = 1
    for v in range(P.VAX.shape[0] - 1):
        if vaccine_due(P, W, v, now):
            count = W.VD[v, 0]
            hi, lo = uuid_halves(P, W, stream)
            journal(W, J_VACCINATION, now, ZERO, np.int64(v), c, count + 1, ZERO, hi, lo, 0.0)
            W.VD[v, 1 + count] = now
            W.VD[v, 0] = count + 1


# ---------------------------------------------------------------- a life


@nb.njit(cache=True)
def resume(P, W, proc, now):
    kind = W.PR[proc, PR_KIND]
    if kind == P_ENGINE:
        run_engine(P, W, proc, now)
    elif kind == P_MODULE:
        run_module(P, W, proc, now)
    else:
        run_builtin(P, W, proc, now)


@nb.njit(cache=True)
def live(P, W):
    """Lives one person (W holds the person and its buffers, reset). Returns ops.OK, GROW or
    FAULT; the time the simulation stopped is W.n[N_NOW]."""
    # arrays held in locals: one pair of reference counts per life for a loop over every event
    # (docs/architecture.md on reference counts)
    cnt, WT, PR = W.n, W.WT, W.PR
    birth = cnt[N_BIRTH]
    end = cnt[N_END]
    now = birth
    cnt[N_NOW] = now
    if end > birth:
        schedule(W, end, NORMAL, EV_END, ZERO)
        for proc in range(PR.shape[0]):
            if PR[proc, PR_X1] == 0:  # processes a built-in spawns start when it does
                schedule(W, now, URGENT, EV_INIT, proc)
        while cnt[N_HEAP] > 0:
            time, kind, a = pop_event(W)
            now = time
            cnt[N_NOW] = now
            if kind == EV_STOP:
                break
            if kind == EV_END:
                trigger_stop(W, now)
            elif kind == EV_INIT or kind == EV_RESUME:
                resume(P, W, a, now)
            elif kind == EV_TIMER:
                succeed(W, a, now)
            elif kind == EV_WAKE:
                proc = WT[a, WT_PROC]
                if proc >= 0:
                    resume(P, W, proc, now)
                else:  # a trigger of an any_of condition (management_wait)
                    succeed(W, -2 - proc, now)
            elif kind == EV_DEATH:
                if cnt[N_DEATH] == a:
                    trigger_stop(W, now)
            elif kind == EV_ENC_END:
                end_engine_encounter(P, W, a, now)
            if cnt[N_GROW] >= 0:
                return 1
            if cnt[N_ERR] != F_NONE:
                return 2
    finish(P, W, now)
    if cnt[N_GROW] >= 0:
        return 1
    return 0


@nb.njit(cache=True)
def finish(P, W, now):
    """PersonSim._finish's engine part: open encounters end at the end of the life (or the
    death), without running past the death."""
    birth = W.n[N_BIRTH]
    if now >= birth:
        if W.n[N_END] < now:
            now = W.n[N_END]
    else:
        now = birth
    death = W.n[N_DEATH]
    if death != NONE and death > now:
        death = NONE
    end = death if death != NONE else now
    W.n[N_NOW] = end
    for c in range(W.n[N_ENC]):
        if W.EN[c, EN_ENDED] == 0:
            at = end if end > W.EN[c, EN_START] else W.EN[c, EN_START]
            end_encounter(P, W, c, NEG1, at, end)
            if death != NONE and W.EN[c, EN_STOP] > death:
                W.EN[c, EN_STOP] = death if death > W.EN[c, EN_START] else W.EN[c, EN_START]
                journal(W, J_ENCOUNTER_END, end, c, W.EN[c, EN_STOP], NEG1, TWO, ZERO, ZERO, ZERO, 0.0)


@nb.njit(cache=True)
def keep_walk(P, W, proc, keep_name):
    """PersonSim.keep: walks the keep module (process `proc`, never started during the life)
    once at the end of the simulation, death ignored. Returns 1 when the walk stops on the
    state named Keep (string id `keep_name`), 0 when elsewhere, -1 when the kernel must grow
    or failed (W.n says which)."""
    now = W.n[N_NOW]
    death = W.n[N_DEATH]
    W.n[N_DEATH] = NONE
    owner = W.PR[proc, PR_OWNER]
    start_frame(P, W, proc, now)
    result = -1
    for _ in range(MAX_PER_INSTANT):
        g = W.FR[proc, 0, FR_STATE]
        if push_visit(P, W, proc, g, now) < 0:
            break
        x = execute(P, W, proc, g, owner, now)
        if failed(W):
            break
        # a state that would wait (or call a submodule) stops the walk, as a Terminal does
        if x != X_DONE or P.S[g, S_TRANS] < 0:
            result = 1 if P.S[g, S_NAME] == keep_name else 0
            break
        target = next_state(P, W, proc, g, now)
        if failed(W):
            break
        W.FR[proc, 0, FR_STATE] = target
    else:
        fault(W, F_FAULT, W.FR[proc, 0, FR_STATE])
    W.n[N_DEATH] = death
    return result
