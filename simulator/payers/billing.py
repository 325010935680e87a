"""A person's insurance as both engines keep it: the coverage periods, the current plan, and
the claims billed against them (engine-behaviour.md §4.1, §8).

The reference engine fills it as its insurance process and visits run; the compiled engine's
replay fills it from the kernel's journal, in the same order, so both give the same claims.

What is billed is queued as the life goes, and adjudicated when it ends (:meth:`Billing.close`),
in the order it was billed: a prescription is dispensed again and again after it is billed,
and how many times (csv-export.md §3.5 DISPENSES) is known only at its stop or the life's end
— and in the compiled engine its prescription is set after it is recorded. Each fill is
adjudicated in time order among the other claims, against the plan year it falls in. The
rejected alternative, billing fills as the visits go on, cannot know whether a fill will be
counted, so its totals could disagree with the record's.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from simulator.engine import timeutil as tu
from simulator.ids import derived_id
from simulator.payers.fills import fill_times
from simulator.payers.insurance import (
    ADULT_AGE,
    cap_out_of_pocket,
    service_of,
    split_cost,
    truncated_cents,
)
from simulator.payers.plans import PayerCatalog, Plan
from simulator.payers.prices import medication_tier
from simulator.record import Claim, ClaimLine, CoveragePeriod, Encounter, Entry, Medication

# Where a late entry's cost goes: the encounter's claim gets a line of this kind.
_LATE_LINE = {"procedures": "procedure", "immunizations": "immunization", "reports": "report"}

Item = tuple[str, str, float, str]  # (entry id, line kind, cost, service: service_of)
# A medication's next fill: (due time, order billed, fill number, its claim line, one fill's
# cost, its service, the line's cents so far [cost, copay, deductible, coinsurance, payer],
# fill times)
_Fill = tuple[int, int, int, ClaimLine, float, str, list[int], list[int]]


class Billing:
    """`catalog` None: the world has no payers, so nothing is billed (module tests); the plan
    periods are still kept, as the insurance process chooses plans either way."""

    def __init__(self, catalog: PayerCatalog | None) -> None:
        self.catalog = catalog
        self.coverage: list[CoveragePeriod] = []
        self.current_plan: Plan | None = None
        # What close() adjudicates, in billing order: a plan year starting (time, plan, None,
        # None) or a claim's items (time, None, claim, (items, encounter or medication))
        self._queue: list[tuple[int, Plan | None, Claim | None,
                                tuple[list[Item], Entry] | None]] = []
        self.closed = False
        # The plan year being adjudicated: its plan, its calendar year, the deductible left,
        # and the cents the patient may still pay before the out-of-pocket maximum (None: the
        # plan has no cap)
        self._year: tuple[Plan | None, int | None, float, int | None] = (None, None, 0.0, None)
        # split_cost's answers, with the patient's part in cents: a life bills the same few
        # costs against the same plan and deductible left (mostly none) thousands of times
        self._splits: dict[tuple[int, int | None, float, float, str, str],
                           tuple[tuple[float, ...], int]] = {}

    # ------------------------------------------------------------ plans

    def enrol(self, plan: Plan, start: int, end: int, age: int,
              member_id: Callable[[], str]) -> None:
        """The plan year [start, end): a period of its own, as Synthea keeps one per plan year.
        The member id stays while the plan is unchanged; a new plan gets one from `member_id`
        (drawn only for an insured plan)."""
        coverage = self.coverage
        last = coverage[-1] if coverage else None
        self.current_plan = plan
        insured = plan.is_insured
        if last is not None and last.end > start:
            last.end = start  # close the previous period at the change
        if last is not None and last.plan_id == plan.id:
            member = last.member_id
        else:
            member = member_id() if insured else ""
        self._queue.append((start, plan, None, None))
        coverage.append(
            CoveragePeriod(
                start=start,
                end=end,
                payer_id=plan.payer.id,
                plan_id=plan.id,
                member_id=member,
                ownership=("Guardian" if age < ADULT_AGE else "Self") if insured else "",
            )
        )

    def periods(self, end: int) -> list[CoveragePeriod]:
        """The periods the record keeps when the life ends at `end`."""
        coverage = [c for c in self.coverage if c.start <= end]
        if coverage:
            coverage[-1].end = min(coverage[-1].end, end)
        return coverage

    def payer_id(self) -> str | None:
        """The payer an encounter starting now is billed to (None: no payers in the world)."""
        if self.catalog is None:
            return None
        plan = self.current_plan
        return plan.payer.id if plan is not None else self.catalog.no_insurance.id

    # ------------------------------------------------------------ claims

    def _bill(self, claim_id: str, when: int, items: list[Item], entry: Entry) -> Claim:
        """A claim to the current plan's payer for `items`, its lines made by close()."""
        assert self.catalog is not None and not self.closed
        plan = self.current_plan or self.catalog.no_insurance_plan
        member = self.coverage[-1].member_id if self.coverage and plan.is_insured else ""
        claim = Claim(claim_id, plan.payer.id, [], member)
        self._queue.append((when, None, claim, (items, entry)))
        return claim

    def adjudicate(self, enc: Encounter) -> None:
        """Bill the encounter as it ends (its own line, then procedures, immunizations and
        reports) and each of its medications on a claim of its own."""
        if self.catalog is None:
            return
        # its start: the one time of it both engines know alike when it ends (the stop of an
        # encounter open at death is moved back to the death after it is billed)
        when = enc.start
        cls = enc.encounter_class
        items = [(enc.id, "encounter", enc.base_cost, service_of("encounter", cls))]
        for group, kind in (("procedures", "procedure"), ("immunizations", "immunization"),
                            ("reports", "report")):
            service = service_of(kind, cls)
            items.extend((entry.id, kind, entry.cost, service) for entry in getattr(enc, group))
        enc.claim = self._bill(derived_id(enc.id, "claim"), when, items, enc)
        for med in enc.medications:
            if med.claim is None:
                med.claim = self._bill(derived_id(med.id, "claim"), when, [_drug(med)], med)

    def recorded(self, enc: Encounter, entry: Entry, kind: str) -> None:
        """An entry was recorded into `enc` (its group `kind`). Once the visit is billed (a
        module acting after it ended), a medication gets its claim now and a costed item a
        line on the encounter's claim."""
        if enc.claim is None or self.catalog is None:
            return
        if isinstance(entry, Medication):
            if entry.claim is None:
                entry.claim = self._bill(derived_id(entry.id, "claim"), entry.start,
                                         [_drug(entry)], entry)
            return
        cost = getattr(entry, "cost", None)
        line_kind = _LATE_LINE.get(kind)
        if cost is None or line_kind is None:
            return
        item = (entry.id, line_kind, cost, service_of(line_kind, enc.encounter_class))
        self._queue.append((entry.start, None, enc.claim, ([item], enc)))

    # ------------------------------------------------------------ adjudication

    def close(self, end: int) -> None:
        """Adjudicate everything billed, the life having ended at `end`: each claim's lines in
        billing order, and each medication's further fills (:func:`fill_times`) in time
        order among them, each fill before the first claim or plan year billed at or after
        it (fills due after the last are adjudicated last). A medication's fills are summed
        on its claim's one line, so the line's cost is BASE_COST × DISPENSES."""
        if self.closed:
            return
        self.closed = True
        queue, self._queue = self._queue, []
        if self.catalog is None:
            return
        plan = self.catalog.no_insurance_plan
        # (due time, order, fill number, the medication's line, its cost, the line's cents
        # so far: cost, copay, deductible, coinsurance, payer; the fills' times)
        fills: list[_Fill] = []
        billed: dict[int, Encounter] = {}
        filled: list[tuple[ClaimLine, list[int]]] = []  # the lines fills add to, and their cents
        order = 0
        for when, starts, claim, what in queue:
            while fills and fills[0][0] <= when:
                self._fill(plan, fills)
            if starts is not None:  # a plan year starts
                plan = starts
                self._year = _plan_year(plan, tu.year_of(when))
                continue
            assert claim is not None and what is not None
            items, entry = what
            lines = self._lines(plan, items)
            claim.lines.extend(lines)
            if isinstance(entry, Medication):
                times = fill_times(entry, end)
                if len(times) > 1:
                    line = lines[0]
                    cents = [truncated_cents(line.cost), *(round(x * 100) for x in (
                        line.copay, line.deductible, line.coinsurance, line.payer))]
                    heapq.heappush(fills, (times[1], order, 1, line, line.cost, items[0][3],
                                           cents, times))
                    filled.append((line, cents))
                    order += 1
            elif isinstance(entry, Encounter):
                billed[id(entry)] = entry
        while fills:
            self._fill(plan, fills)
        for line, cents in filled:
            line.cost, line.copay, line.deductible, line.coinsurance, line.payer = (
                c / 100 for c in cents)
        for enc in billed.values():
            # summed in line order, as the claim's payer_paid is (the same float)
            enc.payer_coverage = enc.claim.payer_paid if enc.claim is not None else 0.0

    def _fill(self, plan: Plan, fills: list[_Fill]) -> None:
        """Adjudicate the next fill due onto its medication's line's cents (written to the line
        when the life is closed); queue the one after. No ClaimLine is built: a life has
        hundreds of fills."""
        due, order, k, line, cost, service, cents, times = heapq.heappop(fills)
        copay, deductible, coinsurance, paid = self._split(plan, cost, "medication", service)
        cents[0] += truncated_cents(cost)
        cents[1] += round(copay * 100)
        cents[2] += round(deductible * 100)
        cents[3] += round(coinsurance * 100)
        cents[4] += round(paid * 100)
        if k + 1 < len(times):
            heapq.heappush(fills, (times[k + 1], order, k + 1, line, cost, service, cents,
                                   times))

    def _lines(self, plan: Plan, items: list[Item]) -> list[ClaimLine]:
        """The lines of `items` against `plan` in the current plan year (:meth:`_split`)."""
        return [ClaimLine(item_id, kind, cost, *self._split(plan, cost, kind, service))
                for item_id, kind, cost, service in items]

    def _split(self, plan: Plan, cost: float, kind: str,
               service: str) -> tuple[float, float, float, float]:
        """(copay, deductible, coinsurance, payer pays) of one item against `plan` in the
        current plan year: its deductible left counts down and its out-of-pocket maximum, if
        any, caps what the patient pays."""
        current, year, left, allowed = self._year
        if current is not plan:  # no plan year was started (a world without enrolment)
            current, year, left, allowed = _plan_year(plan, None)
        key = (id(plan), year, cost, left, kind, service)  # the catalog's plans outlive this
        found = self._splits.get(key)
        if found is None:
            split = split_cost(plan, cost, left, kind, service, year)
            found = self._splits[key] = (split, round((split[0] + split[1] + split[2]) * 100))
        split, patient = found
        if allowed is not None:  # cents left before the plan year's out-of-pocket maximum
            if patient > allowed:
                split, patient = cap_out_of_pocket(split, allowed), allowed
            allowed -= patient
        copay, deductible, coinsurance, paid, left = split
        self._year = (plan, year, left, allowed)
        return copay, deductible, coinsurance, paid


def _drug(med: Medication) -> Item:
    """A medication's claim item: a drug of the tier its price was set by (its first code)."""
    tier = medication_tier(med.codes[0].code) if med.codes else None
    return (med.id, "medication", med.cost, service_of("medication", drug_tier=tier))


def _plan_year(plan: Plan, year: int | None) -> tuple[Plan, int | None, float, int | None]:
    """A plan year's billing state at its start: its calendar year, the full deductible (of
    that year, for a plan whose deductible changes by year) and the whole out-of-pocket
    maximum."""
    deductible = plan.deductible if year is None else plan.deductible_in(year)
    cap = plan.max_out_of_pocket
    return plan, year, float(deductible), None if cap is None else round(cap * 100)
