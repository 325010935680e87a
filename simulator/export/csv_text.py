"""The text forms of CSV values (``docs/csv-export.md`` §1): cleaned free text, UTC dates
and date-times, money rounded half-up, and whole cents. One place for them, shared by the row
builders (:mod:`simulator.export.csv`) and the bulk claim transactions
(:mod:`simulator.export.claim_transactions`)."""

from __future__ import annotations

import datetime as _dt
import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

# --------------------------------------------------------------------------------------------
# Text cleaning (§1 Quoting).
# --------------------------------------------------------------------------------------------

# Java's String.trim() strips every char <= U+0020 (and nothing else).
_TRIM_CHARS = "".join(chr(i) for i in range(33))
_CACHE_LIMIT = 1 << 16
_clean_cache: dict[str, str] = {}


def clean(text: str | None) -> str:
    """CR LF / CR / LF / comma -> one space each, then trim; ``None`` -> empty."""
    if not text:
        return ""
    out = _clean_cache.get(text)
    if out is None:
        out = (
            text.replace("\r\n", " ")
            .replace("\r", " ")
            .replace("\n", " ")
            .replace(",", " ")
            .strip(_TRIM_CHARS)
        )
        if len(_clean_cache) >= _CACHE_LIMIT:
            _clean_cache.clear()
        _clean_cache[text] = out
    return out


def text(text: str | None) -> str:
    """Uncleaned text column: ``None`` -> empty."""
    return text or ""


# --------------------------------------------------------------------------------------------
# Dates and times (UTC; epoch milliseconds, negative before 1970).
# --------------------------------------------------------------------------------------------

MS_PER_DAY = 86_400_000
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_day_cache: dict[int, str] = {}
_tod_cache: dict[int, str] = {}
_datetime_cache: dict[int, str] = {}


def day_text(day: int) -> str:
    out = _day_cache.get(day)
    if out is None:
        out = _dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        if len(_day_cache) >= _CACHE_LIMIT:
            _day_cache.clear()
        _day_cache[day] = out
    return out


def format_date(ms: int) -> str:
    """``yyyy-MM-dd`` (UTC)."""
    return day_text(ms // MS_PER_DAY)


def format_datetime(ms: int) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ`` (UTC, milliseconds dropped, floor for pre-1970 times)."""
    # a record writes the same instants many times over (a visit's start is its rows' date,
    # its claim's service date and its transactions' from-date)
    out = _datetime_cache.get(ms)
    if out is not None:
        return out
    day, sod = divmod(ms // 1000, 86_400)
    tod = _tod_cache.get(sod)
    if tod is None:
        hours, rest = divmod(sod, 3600)
        minutes, seconds = divmod(rest, 60)
        tod = _tod_cache[sod] = f"T{hours:02d}:{minutes:02d}:{seconds:02d}Z"
    out = day_text(day) + tod
    if len(_datetime_cache) >= _CACHE_LIMIT:
        _datetime_cache.clear()
    _datetime_cache[ms] = out
    return out


def opt_date(ms: int | None) -> str:
    return "" if ms is None else day_text(ms // MS_PER_DAY)


def opt_datetime(ms: int | None) -> str:
    return "" if ms is None else format_datetime(ms)


# --------------------------------------------------------------------------------------------
# Numbers.
# --------------------------------------------------------------------------------------------

_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


def _half_up(x: float, text: str, tie_scale: float, quantum: Decimal) -> str:
    # `text` is Python's correctly rounded (half-even on the exact binary value) result. The two
    # only differ on exact ties, which for n fraction digits are the values with x*2**(n+1) an
    # odd integer (the multiplication is exact in binary floating point).
    t = x * tie_scale
    if t.is_integer() and t % 2.0 == 1.0:
        return f"{Decimal(x).quantize(quantum, ROUND_HALF_UP):f}"
    if text[-1] in "nf":  # nan / inf
        return _NON_FINITE.get(text, text)
    return text


def format_money(x: float) -> str:
    """``%.2f`` with half-up rounding of the exact value."""
    return _half_up(x, f"{x:.2f}", 8.0, _CENT)


def format_decimal1(x: float) -> str:
    """``%.1f`` with half-up rounding of the exact value (98.25 -> ``98.3``)."""
    return _half_up(x, f"{x:.1f}", 4.0, _TENTH)


def truncate_cents(cost: float, factor: int) -> str:
    """``cost × factor`` truncated (not rounded) to cents; the cost is taken as its decimal
    repr (as a Java BigDecimal.valueOf would)."""
    if not math.isfinite(cost):
        return format_money(cost * factor)
    return f"{(Decimal(repr(float(cost))) * factor).quantize(_CENT, ROUND_DOWN):f}"


def trunc_cents(amount: float) -> int:
    """Whole cents, truncated, of the amount's decimal repr; the adjudication's rule
    (``simulator.payers.insurance``), so a line's charge is the cost its parts split."""
    if not amount > 0.0 or not math.isfinite(amount):
        return 0
    text = repr(float(amount))
    if "e" in text:
        return int((Decimal(text) * 100).to_integral_value(ROUND_DOWN))
    whole, _, fraction = text.partition(".")  # string digits: cheaper than a Decimal per line
    return int(whole) * 100 + int((fraction + "00")[:2])


def part_cents(amount: float) -> int:
    """A claim line part (a whole number of cents as a float) in cents; nothing if <= 0."""
    if amount > 0.0 and amount < math.inf:
        return round(amount * 100.0)
    return 0


def cents_text(cents: int) -> str:
    if cents < 0:
        return "-" + cents_text(-cents)
    return f"{cents // 100}.{cents % 100:02d}"
