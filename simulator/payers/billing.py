"""A person's insurance as both engines keep it: the coverage periods, the current plan and
the deductible left, and the claims billed against them (engine-behaviour.md §4.1, §8).

The reference engine fills it as its insurance process and visits run; the compiled engine's
replay fills it from the kernel's journal, in the same order, so both give the same claims.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.engine import timeutil as tu
from simulator.ids import derived_id
from simulator.payers.insurance import ADULT_AGE, cap_out_of_pocket, split_cost
from simulator.payers.plans import PayerCatalog, Plan
from simulator.record import Claim, ClaimLine, CoveragePeriod, Encounter, Entry, Medication

# Where a late entry's cost goes: the encounter's claim gets a line of this kind.
_LATE_LINE = {"procedures": "procedure", "immunizations": "immunization", "reports": "report"}


class Billing:
    """`catalog` None: the world has no payers, so nothing is billed (module tests); the plan
    periods are still kept, as the insurance process chooses plans either way."""

    def __init__(self, catalog: PayerCatalog | None) -> None:
        self.catalog = catalog
        self.coverage: list[CoveragePeriod] = []
        self.current_plan: Plan | None = None
        # The plan year being billed: its plan, the deductible left, and the cents the patient
        # may still pay before the out-of-pocket maximum (None: the plan has no cap)
        self._year: tuple[Plan | None, float, int | None] = (None, 0.0, None)
        # split_cost's answers, with the patient's part in cents: a life bills the same few
        # costs against the same plan and deductible left (mostly none) thousands of times
        self._splits: dict[tuple[int, float, float, str], tuple[tuple[float, ...], int]] = {}

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
        self._year = _plan_year(plan, tu.year_of(start))
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

    def _bill(self, claim_id: str, items: list[tuple[str, str, float]]) -> Claim:
        """A claim for `items` (entry id, kind, cost) against the current plan, line by line."""
        plan, lines = self._lines(items)
        member = self.coverage[-1].member_id if self.coverage and plan.is_insured else ""
        return Claim(claim_id, plan.payer.id, lines, member)

    def _lines(self, items: list[tuple[str, str, float]]) -> tuple[Plan, list[ClaimLine]]:
        """The lines of `items` against the current plan year: its deductible left counts down
        and its out-of-pocket maximum, if any, caps what the patient pays."""
        assert self.catalog is not None
        plan = self.current_plan or self.catalog.no_insurance_plan
        current, left, allowed = self._year
        if current is not plan:  # no plan year was started (a world without enrolment)
            current, left, allowed = _plan_year(plan, None)
        lines = []
        splits = self._splits
        plan_key = id(plan)  # the catalog's plans live as long as this
        for item_id, kind, cost in items:
            key = (plan_key, cost, left, kind)
            found = splits.get(key)
            if found is None:
                split = split_cost(plan, cost, left, kind)
                found = splits[key] = (split, round((split[0] + split[1] + split[2]) * 100))
            split, patient = found
            if allowed is not None:  # cents left before the plan year's out-of-pocket maximum
                if patient > allowed:
                    split, patient = cap_out_of_pocket(split, allowed), allowed
                allowed -= patient
            copay, deductible, coinsurance, paid, left = split
            lines.append(ClaimLine(item_id, kind, cost, copay, deductible, coinsurance, paid))
        self._year = (plan, left, allowed)
        return plan, lines

    def adjudicate(self, enc: Encounter) -> None:
        """Bill the encounter as it ends (its own line, then procedures, immunizations and
        reports) and each of its medications on a claim of its own."""
        if self.catalog is None:
            return
        items = [(enc.id, "encounter", enc.base_cost)]
        for entry in enc.procedures:
            items.append((entry.id, "procedure", entry.cost))
        for entry in enc.immunizations:
            items.append((entry.id, "immunization", entry.cost))
        for entry in enc.reports:
            items.append((entry.id, "report", entry.cost))
        enc.claim = self._bill(derived_id(enc.id, "claim"), items)
        enc.payer_coverage = enc.claim.payer_paid
        for med in enc.medications:
            if med.claim is None:
                med.claim = self._bill(derived_id(med.id, "claim"),
                                       [(med.id, "medication", med.cost)])

    def recorded(self, enc: Encounter, entry: Entry, kind: str) -> None:
        """An entry was recorded into `enc` (its group `kind`). Once the visit is billed (a
        module acting after it ended), a medication gets its claim now and a costed item a
        line on the encounter's claim."""
        if enc.claim is None or self.catalog is None:
            return
        if isinstance(entry, Medication):
            if entry.claim is None:
                entry.claim = self._bill(derived_id(entry.id, "claim"),
                                         [(entry.id, "medication", entry.cost)])
            return
        cost = getattr(entry, "cost", None)
        line_kind = _LATE_LINE.get(kind)
        if cost is None or line_kind is None:
            return
        (line,) = self._lines([(entry.id, line_kind, cost)])[1]
        enc.claim.lines.append(line)
        # the claim's payer_paid, summed on from the lines before (the same float, in the same
        # order, without going over an encounter's hundreds of late lines again)
        enc.payer_coverage += line.payer


def _plan_year(plan: Plan, year: int | None) -> tuple[Plan, float, int | None]:
    """A plan year's billing state at its start: the full deductible (of that calendar year,
    for a plan whose deductible changes by year) and the whole out-of-pocket maximum."""
    deductible = plan.deductible if year is None else plan.deductible_in(year)
    cap = plan.max_out_of_pocket
    return plan, float(deductible), None if cap is None else round(cap * 100)
