"""Simulation time: integer milliseconds since 1970-01-01T00:00:00Z, calendars in UTC."""

from __future__ import annotations

import calendar
import math
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
STEP = WEEK  # Synthea's time step; used where we poll (vital-sign guards)
YEAR_365 = 365 * DAY

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)


def to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def from_datetime(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def to_date(ms: int) -> date:
    return _EPOCH_DATE + timedelta(days=ms // DAY)


def date_ms(d: date) -> int:
    return (d - _EPOCH_DATE).days * DAY


def ymd_ms(year: int, month: int, day: int) -> int:
    return date_ms(date(year, month, day))


def year_of(ms: int) -> int:
    return to_date(ms).year


def month_of(ms: int) -> int:
    return to_date(ms).month


def fractional_ms(quantity: float, unit: str) -> int:
    """Synthea's fractional routine (Delay exact/range, Procedure duration, Death, within):
    years are 365.25 days and each unit truncates to a whole count of a smaller unit."""
    if unit == "years":
        return math.floor(365.25 * quantity) * DAY
    if unit == "months":
        return math.floor(30 * quantity) * DAY
    if unit == "weeks":
        return math.floor(7 * quantity) * DAY
    if unit == "days":
        return math.floor(24 * quantity) * HOUR
    if unit == "hours":
        return math.floor(60 * quantity) * MINUTE
    if unit == "minutes":
        return math.floor(60 * quantity) * SECOND
    if unit == "seconds":
        return math.floor(1000 * quantity)
    raise ValueError(f"unknown time unit {unit!r}")


_INTEGER_UNIT = {
    "years": YEAR_365,
    "months": 30 * DAY,
    "weeks": WEEK,
    "days": DAY,
    "hours": HOUR,
    "minutes": MINUTE,
    "seconds": SECOND,
}


def integer_ms(quantity: float, unit: str) -> int:
    """Synthea's integer routine (Delay distribution, prescriptions, schedules): the quantity
    is truncated to an integer first and years are 365 days."""
    try:
        return int(quantity) * _INTEGER_UNIT[unit]
    except KeyError:
        raise ValueError(f"unknown time unit {unit!r}") from None


@lru_cache(maxsize=65536)
def _ymd(day_index: int) -> tuple[int, int, int]:
    d = _EPOCH_DATE + timedelta(days=day_index)
    return d.year, d.month, d.day


def ymd(ms: int) -> tuple[int, int, int]:
    return _ymd(ms // DAY)


def age_years(birth: int, now: int) -> int:
    """Completed years between the two UTC calendar dates (a birthday comparison)."""
    by, bm, bd = ymd(birth)
    ny, nm, nd = ymd(now)
    years = ny - by - (1 if (nm, nd) < (bm, bd) else 0)
    return max(years, 0)


def age_months(birth: int, now: int) -> int:
    by, bm, bd = ymd(birth)
    ny, nm, nd = ymd(now)
    months = (ny - by) * 12 + (nm - bm) - (1 if nd < bd else 0)
    return max(months, 0)


def age_decimal_years(birth: int, now: int) -> float:
    """Years + months/12 + days/365.2425 (used only by expressions)."""
    by, bm, bd = ymd(birth)
    ny, nm, nd = ymd(now)
    months = (ny - by) * 12 + (nm - bm)
    if nd < bd:
        months -= 1
        # days since the last month-anniversary
        prev_y, prev_m = (ny, nm - 1) if nm > 1 else (ny - 1, 12)
        anchor_day = min(bd, calendar.monthrange(prev_y, prev_m)[1])
        days = (date(ny, nm, nd) - date(prev_y, prev_m, anchor_day)).days
    else:
        days = nd - bd
    if months < 0:
        return 0.0
    return months // 12 + (months % 12) / 12 + days / 365.2425


def add_months_date(y: int, m: int, d: int, months: int) -> tuple[int, int, int]:
    """The first date at which `months` whole months have passed since (y, m, d): the same
    day-of-month, or the 1st of the following month when that day does not exist."""
    total = y * 12 + (m - 1) + months
    ty, tm = divmod(total, 12)
    tm += 1
    last = calendar.monthrange(ty, tm)[1]
    if d <= last:
        return ty, tm, d
    return (ty, tm + 1, 1) if tm < 12 else (ty + 1, 1, 1)


def age_reached_ms(birth: int, months: int) -> int:
    """Instant (UTC midnight) at which a person born at `birth` reaches an age in months."""
    y, m, d = ymd(birth)
    ty, tm, td = add_months_date(y, m, d, months)
    return ymd_ms(ty, tm, td)


def iso_datetime(ms: int) -> str:
    return to_datetime(ms).strftime("%Y-%m-%dT%H:%M:%SZ")
