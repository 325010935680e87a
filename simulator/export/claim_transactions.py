"""``claims_transactions.csv`` (``docs/csv-export.md`` §3.18), made in bulk.

A claim line with transactions becomes a CHARGE, the main line's copay, the payer's payment,
then the patient's remainder (transferred to the patient first when insured): one to six rows.
A line's rows follow from its *shape* alone: its amounts in cents, whether the claim is
insured, and where its transaction numbers start modulo 3 (which picks the payment method).
A run bills the same few costs over and over, so the few shapes are formatted once and a row
is one string join; about half of a record's CSV rows are these.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simulator.export.csv_text import cents_text, clean, format_datetime, trunc_cents
from simulator.ids import derived_id
from simulator.record import Claim, Code, Entry

if TYPE_CHECKING:
    from simulator.export.csv import _Billing

__all__ = ["TRANSACTION_KINDS", "ClaimTransactions"]

# §3.18 line kinds with transactions (condition, device, supply and report items have none).
TRANSACTION_KINDS = frozenset({"encounter", "procedure", "immunization", "medication"})
_PAYMENT_METHODS = ("CASH", "CHECK", "CC")  # §3.18 step 6: [CASH, CHECK, CC][chargeId mod 3]
_LOW_48 = (1 << 48) - 1
_ID_HEAD = 24  # characters of a transaction id taken from its claim's derived id
_NO_CODE = Code("", "", "")
# The last three hex digits of every number below 4096 + 4096: a transaction id is its
# claim's fixed part and one of these while the low digits do not carry (nearly always);
# formatting 12 hex digits per row costs more than the rest of the row.
_HEX3 = [f"{i & 0xFFF:03x}" for i in range(8192)]
_MAX_SHAPES = 1 << 16  # line shapes kept (a few dozen is usual)


def transaction_ids(claim_id: str) -> tuple[str, int]:
    """Transaction ``n`` of a claim has the id ``f"{head}{(low + n) & _LOW_48:012x}"``: one
    derived id per claim with ``n`` added to its last 48 bits (deterministic, and one hash per
    claim instead of one per transaction)."""
    base = derived_id(claim_id, "claim transactions")
    return base[:_ID_HEAD], int(base[_ID_HEAD:], 16)


def _shape_rows(charge: int, copay: int, paid: int, insured: bool, phase: int
                ) -> list[tuple[str, str, bool]]:
    """The transactions of a line of this shape, each as ("TYPE,AMOUNT,METHOD", "UNITAMOUNT,
    TRANSFEROUTID,TRANSFERTYPE,PAYMENTS,ADJUSTMENTS,TRANSFERS,OUTSTANDING", False), or for a
    TRANSFERIN, whose TRANSFEROUTID is the row before, (..., what follows TRANSFEROUTID, True).
    ``phase``: the line's first transaction number modulo 3 (it picks the payment method)."""
    text = cents_text(charge)
    rows = [(f"CHARGE,{text},", f"{text},,{'1' if insured else 'p'},0.00,0.00,,{text}", False)]
    left = charge - copay
    if copay:
        rows.append(("PAYMENT,,COPAY", f"0.00,,,{cents_text(copay)},0.00,,{cents_text(left)}",
                     False))
    left -= paid
    if paid:
        rows.append(("PAYMENT,,ECHECK", f"0.00,,,{cents_text(paid)},0.00,,{cents_text(left)}",
                     False))
    if left > 0:
        rest = cents_text(left)
        if insured:
            rows.append(("TRANSFEROUT,,", f"0.00,,,0.00,0.00,{rest},{rest}", False))
            rows.append((f"TRANSFERIN,{rest},", f"p,0.00,0.00,{rest},{rest}", True))
        method = _PAYMENT_METHODS[(phase + len(rows)) % 3]
        rows.append((f"PAYMENT,,{method}", f"0.00,,,{rest},0.00,,0.00", False))
    return rows


class ClaimTransactions:
    """The transactions of many claims: :meth:`add` makes a claim's rows, :meth:`text` (or
    :meth:`lines`) hands over every row made so far and starts again."""

    def __init__(self) -> None:
        self._shapes: dict[tuple[int, int, int, bool, int], list[tuple[str, str, bool]]] = {}
        self._charges: dict[float, int] = {}  # a line's cost -> its charge in cents
        self._rows: list[str] = []

    @property
    def rows(self) -> int:
        """Rows made and not yet handed over."""
        return len(self._rows)

    def add(self, claim: Claim, entries: dict[tuple[str, str], Entry], main: Entry,
            b: _Billing) -> None:
        """A claim's transactions; ``entries`` finds a line's entry by (kind, id), ``main`` is
        the entry of a line not found there (the encounter or the medication)."""
        insured = bool(claim.member_id)
        place, refs, department = b.place, b.diagnosis_refs, b.department
        shapes, charges = self._shapes, self._charges
        out = self._rows
        inf = math.inf
        head = fixed = None
        low = low3 = 0
        who = f",{claim.id},"
        pid = f",{b.pid},"
        provider = b.provider or "null"
        tail = f"{b.eid},,{claim.member_id},1,{provider},{provider}\n"
        n = 0
        for index, line in enumerate(claim.lines):
            if line.kind not in TRANSACTION_KINDS:
                continue
            if head is None:
                head, low = transaction_ids(claim.id)
                fixed = f"{head}{low >> 12:09x}"
                low3 = low & 0xFFF
            entry = entries.get((line.kind, line.entry_id), main)
            codes = entry.codes
            code = codes[0] if codes else _NO_CODE
            stop = entry.stop
            # TODATE quirk (§3.18): an entry without a stop gives the epoch.
            mid = (f"{format_datetime(entry.start)},{format_datetime(0 if stop is None else stop)},"
                   f"{place},{code.code},,,{refs},1,{department},{clean(code.display)}")
            cost = line.cost
            charge = charges.get(cost)
            if charge is None:
                charge = charges[cost] = trunc_cents(cost)
            # payments are capped at the balance, so a line always balances to the cent
            copay = 0
            if index == 0:
                x = line.copay
                copay = min(round(x * 100.0), charge) if 0.0 < x < inf else 0
            x = line.payer
            paid = min(round(x * 100.0), charge - copay) if 0.0 < x < inf else 0
            key = (charge, copay, paid, insured, n % 3)
            rows = shapes.get(key)
            if rows is None:
                if len(shapes) >= _MAX_SHAPES:
                    shapes.clear()
                rows = shapes[key] = _shape_rows(*key)
            for kind, money, transfer_in in rows:
                if transfer_in:
                    money = f"0.00,{n - 1},{money}"
                if low3 + n < 0x1000:
                    tid = fixed + _HEX3[low3 + n]
                else:  # the low digits carry
                    tid = f"{head}{(low + n) & _LOW_48:012x}"
                out.append(f"{tid}{who}{n}{pid}{kind},{mid},{money},{tail}")
                n += 1

    def text(self) -> bytes:
        """Every row made (UTF-8, each ending in LF), in the order made."""
        text = "".join(self._rows).encode()
        self._rows = []
        return text

    def lines(self) -> list[str]:
        """Every row made, without line terminators."""
        rows, self._rows = self._rows, []
        return [row[:-1] for row in rows]
