"""UTC civil-calendar arithmetic on integer milliseconds, for numba code: the same answers as
simulator.engine.timeutil (tests/test_compiled_civil.py checks them against each other).

Day ↔ date conversion uses the proleptic-Gregorian era arithmetic published by H. Hinnant,
"chrono-Compatible Low-Level Date Algorithms" (2013): a 400-year era has 146,097 days.
"""

from __future__ import annotations

import numba as nb

DAY = 86_400_000


@nb.njit(cache=True)
def days_from_civil(y: int, m: int, d: int) -> int:
    if m <= 2:
        y -= 1
    era = y // 400  # floor division, as in Python
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@nb.njit(cache=True)
def civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y, m, d


@nb.njit(cache=True)
def ymd(ms: int) -> tuple[int, int, int]:
    return civil_from_days(ms // DAY)


@nb.njit(cache=True)
def ymd_ms(y: int, m: int, d: int) -> int:
    return days_from_civil(y, m, d) * DAY


@nb.njit(cache=True)
def year_of(ms: int) -> int:
    return ymd(ms)[0]


@nb.njit(cache=True)
def month_of(ms: int) -> int:
    return ymd(ms)[1]


@nb.njit(cache=True)
def is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


@nb.njit(cache=True)
def month_days(y: int, m: int) -> int:
    if m == 2:
        return 29 if is_leap(y) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


@nb.njit(cache=True)
def age_years(birth: int, now: int) -> int:
    by, bm, bd = ymd(birth)
    ny, nm, nd = ymd(now)
    years = ny - by
    if nm < bm or (nm == bm and nd < bd):
        years -= 1
    return years if years > 0 else 0


@nb.njit(cache=True)
def age_months(birth: int, now: int) -> int:
    by, bm, bd = ymd(birth)
    ny, nm, nd = ymd(now)
    months = (ny - by) * 12 + (nm - bm)
    if nd < bd:
        months -= 1
    return months if months > 0 else 0


@nb.njit(cache=True)
def age_reached_ms(birth: int, months: int) -> int:
    """The instant (UTC midnight) a person born at `birth` reaches an age in months: the same
    day of the month, or the 1st of the next month when that day does not exist."""
    y, m, d = ymd(birth)
    total = y * 12 + (m - 1) + months
    ty = total // 12
    tm = total - ty * 12 + 1
    if d <= month_days(ty, tm):
        return ymd_ms(ty, tm, d)
    if tm < 12:
        return ymd_ms(ty, tm + 1, 1)
    return ymd_ms(ty + 1, 1, 1)


@nb.njit(cache=True)
def age_decimal_years(birth: int, now: int) -> float:
    """timeutil.age_decimal_years: years + months/12 + days/365.2425 (expressions' `age`)."""
    by, bm, bd = ymd(birth)
    ny, nm, nd = ymd(now)
    months = (ny - by) * 12 + (nm - bm)
    if nd < bd:
        months -= 1
        if nm > 1:
            py, pm = ny, nm - 1
        else:
            py, pm = ny - 1, 12
        anchor = min(bd, month_days(py, pm))
        days = days_from_civil(ny, nm, nd) - days_from_civil(py, pm, anchor)
    else:
        days = nd - bd
    if months < 0:
        return 0.0
    return months // 12 + (months % 12) / 12 + days / 365.2425
