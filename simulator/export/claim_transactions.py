"""``claims_transactions.csv`` (``docs/csv-export.md`` §3.18), made in bulk.

A claim line with transactions becomes a CHARGE, the main line's copay, the payer's payment,
then the patient's remainder (transferred to the patient first when insured): one to six rows.
A line's rows follow from its *shape* alone: its amounts in cents, whether the claim is
insured, and where its transaction numbers start modulo 3 (which picks the payment method).
A run bills the same few costs over and over, so the few shapes are formatted once and a row
is one string join; about half of a record's CSV rows are these. For Parquet the same shapes
are expanded with numpy into typed Arrow columns, so the table is never parsed back from text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

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
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def transaction_ids(claim_id: str) -> tuple[str, int]:
    """Transaction ``n`` of a claim has the id ``f"{head}{(low + n) & _LOW_48:012x}"``: one
    derived id per claim with ``n`` added to its last 48 bits (deterministic, and one hash per
    claim instead of one per transaction)."""
    base = derived_id(claim_id, "claim transactions")
    return base[:_ID_HEAD], int(base[_ID_HEAD:], 16)


# One transaction of a line shape: TYPE, AMOUNT, METHOD, UNITAMOUNT, TRANSFERTYPE, PAYMENTS,
# TRANSFERS, OUTSTANDING (money in cents; None: empty), and whether it is a TRANSFERIN (whose
# TRANSFEROUTID is the transaction before it).
Transaction = tuple[str, int | None, str | None, int, str | None, int, int | None, int, bool]


def shape_transactions(charge: int, copay: int, paid: int, insured: bool, phase: int
                       ) -> list[Transaction]:
    """The transactions of a claim line of this shape (§3.18), amounts in cents. ``phase``:
    the line's first transaction number modulo 3 (it picks the payment method)."""
    rows: list[Transaction] = [
        ("CHARGE", charge, None, charge, "1" if insured else "p", 0, None, charge, False)]
    left = charge - copay
    if copay:
        rows.append(("PAYMENT", None, "COPAY", 0, None, copay, None, left, False))
    left -= paid
    if paid:
        rows.append(("PAYMENT", None, "ECHECK", 0, None, paid, None, left, False))
    if left > 0:
        if insured:
            rows.append(("TRANSFEROUT", None, None, 0, None, 0, left, left, False))
            rows.append(("TRANSFERIN", left, None, 0, "p", 0, left, left, True))
        method = _PAYMENT_METHODS[(phase + len(rows)) % 3]
        rows.append(("PAYMENT", None, method, 0, None, left, None, 0, False))
    return rows


def _shape_rows(charge: int, copay: int, paid: int, insured: bool, phase: int
                ) -> list[tuple[str, str, bool]]:
    """:func:`shape_transactions` as text: ("TYPE,AMOUNT,METHOD", "UNITAMOUNT,TRANSFEROUTID,
    TRANSFERTYPE,PAYMENTS,ADJUSTMENTS,TRANSFERS,OUTSTANDING", False), or for a TRANSFERIN
    (..., what follows TRANSFEROUTID, True)."""
    out = []
    for (kind, amount, method, unit, transfer_type, payments, transfers, outstanding,
         transfer_in) in shape_transactions(charge, copay, paid, insured, phase):
        after = (f"{transfer_type or ''},{cents_text(payments)},0.00,"
                 f"{'' if transfers is None else cents_text(transfers)},{cents_text(outstanding)}")
        out.append((f"{kind},{'' if amount is None else cents_text(amount)},{method or ''}",
                    after if transfer_in else f"{cents_text(unit)},,{after}", transfer_in))
    return out


class ClaimTransactions:
    """The transactions of many claims: :meth:`add` gathers a claim's; :meth:`text` (or
    :meth:`lines`) hands over every row gathered as CSV text, and :meth:`table` as an Arrow
    table of the Parquet export's column types, each starting again. ``text``/``columns``:
    which of the two to gather."""

    def __init__(self, text: bool = True, columns: bool = False) -> None:
        self._shapes: dict[tuple[int, int, int, bool, int], int] = {}
        self._shape_text: list[list[tuple[str, str, bool]]] = []
        self._charges: dict[float, int] = {}  # a line's cost -> its charge in cents
        self._rows: list[str] | None = [] if text else None
        self._columns = _Columns() if columns else None
        self.rows = 0  # rows gathered as text and not yet handed over

    def add(self, claim: Claim, entries: dict[tuple[str, str], Entry], main: Entry,
            b: _Billing) -> None:
        """A claim's transactions; ``entries`` finds a line's entry by (kind, id), ``main`` is
        the entry of a line not found there (the encounter or the medication)."""
        insured = bool(claim.member_id)
        place, refs, department = b.place, b.diagnosis_refs, b.department
        shapes, shape_text, charges = self._shapes, self._shape_text, self._charges
        out = self._rows
        columns = self._columns
        inf = math.inf
        head = fixed = ""
        low = low3 = 0
        who = f",{claim.id},"
        pid = f",{b.pid},"
        provider = b.provider or "null"
        tail = f"{b.eid},,{claim.member_id},1,{provider},{provider}\n"
        n = lines = 0
        for index, line in enumerate(claim.lines):
            if line.kind not in TRANSACTION_KINDS:
                continue
            if not lines:
                head, low = transaction_ids(claim.id)
                fixed = f"{head}{low >> 12:09x}"
                low3 = low & 0xFFF
            lines += 1
            entry = entries.get((line.kind, line.entry_id), main)
            codes = entry.codes
            code = codes[0] if codes else _NO_CODE
            note = clean(code.display)
            stop = entry.stop
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
            shape = shapes.get(key)
            if shape is None:
                shape = shapes[key] = len(shape_text)
                shape_text.append(_shape_rows(*key))
            if columns is not None:
                columns.line(key, entry.start, 0 if stop is None else stop, code.code, note)
            rows = shape_text[shape]
            if out is None:
                n += len(rows)
                continue
            # TODATE quirk (§3.18): an entry without a stop gives the epoch.
            mid = (f"{format_datetime(entry.start)},{format_datetime(0 if stop is None else stop)},"
                   f"{place},{code.code},,,{refs},1,{department},{note}")
            for kind, money, transfer_in in rows:
                if transfer_in:
                    money = f"0.00,{n - 1},{money}"
                if low3 + n < 0x1000:
                    tid = fixed + _HEX3[low3 + n]
                else:  # the low digits carry
                    tid = f"{head}{(low + n) & _LOW_48:012x}"
                out.append(f"{tid}{who}{n}{pid}{kind},{mid},{money},{tail}")
                n += 1
        if not lines:
            return
        if out is not None:
            self.rows += n
        if columns is not None:
            columns.rows += n
            columns.claim(lines, head, low, claim.id, b.pid, b.eid, claim.member_id, provider,
                          place, refs, department)
        if len(shapes) >= _MAX_SHAPES:  # what was gathered does not refer to them
            shapes.clear()
            shape_text.clear()

    def text(self) -> bytes:
        """Every row gathered (UTF-8, each ending in LF), in the order gathered."""
        assert self._rows is not None
        text = "".join(self._rows).encode()
        self._rows = []
        self.rows = 0
        return text

    def lines(self) -> list[str]:
        """Every row gathered, without line terminators."""
        assert self._rows is not None
        rows, self._rows = self._rows, []
        self.rows = 0
        return [row[:-1] for row in rows]

    def table(self) -> Any:
        """Every row gathered, as the Parquet export's ``claims_transactions`` table."""
        assert self._columns is not None
        table = self._columns.table()
        self._columns = _Columns()
        return table

    @property
    def column_rows(self) -> int:
        """Rows gathered as values and not yet handed over."""
        return self._columns.rows if self._columns is not None else 0


class _Columns:
    """Claim transactions gathered as values (per claim and per line), made into an Arrow
    table column by column: each line's transactions are those of its shape."""

    def __init__(self) -> None:
        self.rows = 0
        self.lines: list[tuple[int, int, int, bool, int]] = []  # each line's shape
        self.starts: list[int] = []
        self.stops: list[int] = []
        self.codes: list[str] = []
        self.notes: list[str] = []
        self.claim_lines: list[int] = []
        self.heads: list[str] = []
        self.lows: list[int] = []
        self.claim_ids: list[str] = []
        self.patients: list[str] = []
        self.encounters: list[str] = []
        self.members: list[str] = []
        self.providers: list[str] = []
        self.places: list[str] = []
        self.refs: list[str] = []
        self.departments: list[str] = []

    def line(self, shape: tuple[int, int, int, bool, int], start: int, stop: int, code: str,
             note: str) -> None:
        self.lines.append(shape)
        self.starts.append(start)
        self.stops.append(stop)
        self.codes.append(code)
        self.notes.append(note)

    def claim(self, lines: int, head: str, low: int, claim_id: str, patient: str,
              encounter: str, member: str, provider: str, place: str, refs: str,
              department: str) -> None:
        for column, value in ((self.claim_lines, lines), (self.heads, head), (self.lows, low),
                              (self.claim_ids, claim_id), (self.patients, patient),
                              (self.encounters, encounter), (self.members, member),
                              (self.providers, provider), (self.places, place),
                              (self.refs, refs), (self.departments, department)):
            column.append(value)

    def table(self) -> Any:
        import pyarrow as pa

        from simulator.export.parquet import column_types

        types = column_types("claims_transactions")
        # the distinct shapes and their transactions, flattened
        shape_index: dict[tuple[int, int, int, bool, int], int] = {}
        line_shape = np.fromiter((shape_index.setdefault(s, len(shape_index))
                                  for s in self.lines), dtype=np.int64, count=len(self.lines))
        flat: list[Transaction] = []
        counts = np.zeros(len(shape_index), dtype=np.int64)
        for shape, i in shape_index.items():
            made = shape_transactions(*shape)
            counts[i] = len(made)
            flat.extend(made)
        starts = np.cumsum(counts) - counts
        per_line = counts[line_shape]
        line_of_row = np.repeat(np.arange(len(line_shape)), per_line)
        first_row_of_line = np.cumsum(per_line) - per_line
        rows = len(line_of_row)
        part = starts[line_shape][line_of_row] + np.arange(rows) - first_row_of_line[line_of_row]
        claim_lines = np.asarray(self.claim_lines, dtype=np.int64)
        claim_of_line = np.repeat(np.arange(len(claim_lines)), claim_lines)
        claim_of_row = claim_of_line[line_of_row]
        per_claim = np.bincount(claim_of_line, weights=per_line,
                                minlength=len(claim_lines)).astype(np.int64)
        n = np.arange(rows) - (np.cumsum(per_claim) - per_claim)[claim_of_row]
        by_claim, by_part = pa.array(claim_of_row), pa.array(part)

        def of_claims(values: list[str]) -> Any:
            return pa.array(values, pa.string()).take(by_claim)

        def category(values: list[Any], index: np.ndarray) -> Any:
            """Dictionary text: ``values`` (None or "" for null) taken by ``index``."""
            found: dict[Any, int] = {}
            codes = np.fromiter((found.setdefault(v or None, len(found)) for v in values),
                                dtype=np.int32, count=len(values))[index]
            words = list(found)
            null = words.index(None) if None in found else -1
            words = ["" if w is None else w for w in words]
            mask = codes == null if null >= 0 else None
            return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32(), mask=mask),
                                                  pa.array(words, pa.string()))

        def money(values: list[int | None]) -> Any:
            import decimal

            texts = pa.array([None if v is None else decimal.Decimal(v).scaleb(-2)
                              for v in values], types["AMOUNT"])
            return texts.take(by_part)

        def times(values: list[int]) -> Any:
            ms = (np.asarray(values, dtype=np.int64) // 1000) * 1000
            return pa.array(ms[line_of_row], types["FROMDATE"])

        def integers(values: list[str]) -> Any:  # per claim
            numbers = [int(v) if v else None for v in values]
            return pa.array(numbers, pa.int64()).take(by_claim)

        refs = [r.split(",") for r in self.refs]
        transfer_in = np.fromiter((t[8] for t in flat), dtype=bool, count=len(flat))[part]
        no_text = pa.nulls(rows, pa.string())
        data = {
            "ID": _ids(self.heads, self.lows, claim_of_row, n),
            "CLAIMID": of_claims(self.claim_ids),
            "CHARGEID": pa.array(n, pa.int64()),
            "PATIENTID": of_claims(self.patients),
            "TYPE": category([t[0] for t in flat], part),
            "AMOUNT": money([t[1] for t in flat]),
            "METHOD": category([t[2] for t in flat], part),
            "FROMDATE": times(self.starts),
            "TODATE": times(self.stops),
            "PLACEOFSERVICE": category(self.places, claim_of_row),
            "PROCEDURECODE": category(self.codes, line_of_row),
            "MODIFIER1": no_text,
            "MODIFIER2": no_text,
            **{f"DIAGNOSISREF{k + 1}": integers([r[k] for r in refs])
               for k in range(4)},
            "UNITS": pa.array(np.ones(rows, dtype=np.int64)),
            "DEPARTMENTID": integers(self.departments),
            "NOTES": category(self.notes, line_of_row),
            "UNITAMOUNT": money([t[3] for t in flat]),
            "TRANSFEROUTID": pa.array(n - 1, pa.int64(), mask=~transfer_in),
            "TRANSFERTYPE": category([t[4] for t in flat], part),
            "PAYMENTS": money([t[5] for t in flat]),
            "ADJUSTMENTS": money([0] * len(flat)),
            "TRANSFERS": money([t[6] for t in flat]),
            "OUTSTANDING": money([t[7] for t in flat]),
            "APPOINTMENTID": of_claims(self.encounters),
            "LINENOTE": no_text,
            "PATIENTINSURANCEID": pa.array([m or None for m in self.members],
                                           pa.string()).take(by_claim),
            "FEESCHEDULEID": pa.array(np.ones(rows, dtype=np.int64)),
            "PROVIDERID": category(self.providers, claim_of_row),
            "SUPERVISINGPROVIDERID": category(self.providers, claim_of_row),
        }
        return pa.table([data[c] for c in types], schema=pa.schema(list(types.items())))


def _ids(heads: list[str], lows: list[int], claim_of_row: np.ndarray, n: np.ndarray) -> Any:
    """Each row's transaction id (:func:`transaction_ids`), formatted by numpy."""
    import pyarrow as pa

    rows = len(n)
    width = _ID_HEAD + 12
    out = np.empty((rows, width), dtype=np.uint8)
    head_bytes = np.frombuffer("".join(heads).encode("ascii"), dtype=np.uint8)
    out[:, :_ID_HEAD] = head_bytes.reshape(len(heads), _ID_HEAD)[claim_of_row]
    value = ((np.asarray(lows, dtype=np.uint64)[claim_of_row] + n.astype(np.uint64))
             & np.uint64(_LOW_48))
    for k in range(width - 1, _ID_HEAD - 1, -1):
        out[:, k] = _HEX_DIGITS[(value & np.uint64(15)).astype(np.intp)]
        value >>= np.uint64(4)
    offsets = np.arange(rows + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(out))
