"""Lowering: a compiled reference Program becomes the compiled engine's array program.

Every state, transition option and condition becomes rows of integer and float arrays that the
kernel (simulator.compiled.kernel) reads; names, codes and attribute values become interned
ids. What the kernel cannot run is refused here, at load time, naming the module, the state
and the feature (`Unsupported`), so nothing falls back silently.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numba as nb
import numpy as np
from numba.core import types
from numba.experimental import structref

from simulator.builtin import weight_management as wm
from simulator.builtin.cardiovascular import CARDIO_ATTRIBUTES
from simulator.compiled import ops
from simulator.compiled import vitals as vt
from simulator.compiled.insurance import FACT_ATTRIBUTES, catalog_arrays
from simulator.compiled.ops import Op
from simulator.compiled.rng import mix64
from simulator.engine import timeutil as tu
from simulator.engine.logic import date_instant
from simulator.engine.program import CompiledModule, Program
from simulator.engine.randomness import stream_id
from simulator.errors import UserError
from simulator.gmf import schema as s
from simulator.gmf.lookup import LookupTable
from simulator.gmf.rules import texts_besides_targets
from simulator.payers.plans import load_payers
from simulator.record import Code

NONE_TIME = np.iinfo(np.int64).min  # an unset instant


class Unsupported(UserError):
    """A module (or a run) uses something the compiled engine cannot run yet."""

    def __init__(self, module: str | None, state: str | None, feature: str,
                 person: int | None = None) -> None:
        self.module, self.state, self.feature = module, state, feature
        who = f" (person {person})" if person is not None else ""
        where = f"{module}: state {state!r}{who}: " if module is not None else ""
        super().__init__(
            f"{where}the compiled engine cannot run {feature} yet; run with --engine reference"
        )


class Interner:
    """Values ↔ dense ids, in first-seen order."""

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.values: list[Any] = []

    def __call__(self, value: Any) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.values)
            self.values.append(value)
        return found


# Attribute value kinds (the kernel's tagged attribute slots).
# K_LIST: an Observation's sampled data (a list of numbers); K_SERIES: SetAttribute's series
# data ({"series": [...], "period": p}: the period in the number, the Lowered.values index of
# the samples in the reference)
(K_NONE, K_BOOL, K_INT, K_FLOAT, K_STR, K_CODE, K_ENTRY, K_PENDING, K_OTHER, K_FORMAT, K_LIST,
 K_SERIES) = range(12)

# Time units, in the order the kernel's unit tables use.
UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")

# Condition comparison operators.
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "is nil", "is not nil")

# Distribution kinds.
DISTRIBUTIONS = ("EXACT", "UNIFORM", "GAUSSIAN", "EXPONENTIAL", "TRIANGULAR")

# Transition kinds.
T_NONE, T_DIRECT, T_DISTRIBUTED, T_CONDITIONAL, T_COMPLEX, T_TYPE_OF_CARE, T_LOOKUP = range(7)

# Fixed signal keys; attribute a has key SIG_ATTR0 + a, symptom y has SIG_ATTR0 + n_attr + y.
SIG_PRESENT, SIG_LOCK, SIG_ENGINE_ENCOUNTER, SIG_CHRONIC, SIG_SYMPTOM_ANY, SIG_ATTR0 = range(6)

# Vital-sign ids: what the engine computes (vitals.MEASURES), then the names only a VitalSign
# state can set.
VITAL_NAMES = (*vt.MEASURES, *(v for v in s.VITAL_SIGNS if v not in vt.MEASURES))

# The built-in processes' streams, in kernel.P_* order (engine and module processes have theirs).
BUILTIN_STREAMS = ("engine", "module", "natural_death", "life_events", "employment",
                   "quit_smoking", "quit_alcoholism", "covid19_immunization", "insurance_process",
                   "weight_management")

# Attributes the engine itself reads or writes (they always get slots).
ENGINE_ATTRIBUTES = ("gender", "race", "socioeconomic_category", "deathdate", "cause_of_death",
                     "active_wellness_encounter", "active_emergency_encounter",
                     "active_urgent_care_encounter", "last_visit_symptom_total")
# Attributes computed when read (person.Attributes.computed): only AGE and AGE_MONTHS so far.
COMPUTED = {"AGE": 1, "AGE_MONTHS": 2, "days_until_death": 3, "probability_of_fall_injury": 4,
            "bmi_percentile": 5,  # kernel.get_attr computes them when unset
            **{name: 6 + i for i, name in enumerate(CARDIO_ATTRIBUTES)}}


@dataclass
class Lowered:
    """The array program (`arrays`, passed to the kernel) and the Python-side tables the
    replay needs to turn the kernel's journal into records."""

    arrays: Any  # the program's arrays by field name (PROGRAM_FIELDS), for Python
    strings: list[Any]
    codes: list[Code]
    attributes: list[str]
    states: list[tuple[CompiledModule, str]]  # global state id -> (module, state name)
    models: list[Any]  # global state id -> the model (a state, or a child observation's spec)
    modules: list[CompiledModule]
    top_level: list[int]
    code_lists: list[list[int]]  # code-list id -> code ids
    symptoms: list[str]
    values: list[Any]  # SetAttribute / Attribute-condition constants too rich for a slot
    slot_of: dict[str, int] = field(default_factory=dict)

    @functools.cached_property
    def kernel_program(self) -> Any:
        """The arrays as one ProgramArrays, for the kernel (made on first use: numba compiles
        its constructor, about 2 s, which `simulate modules check` need not pay)."""
        return new_program(tuple(getattr(self.arrays, f) for f in PROGRAM_FIELDS))


@dataclass
class _Builder:
    program: Program
    roots: list[str]  # the keys of the modules to lower (with the submodules they call)
    strings: Interner = field(default_factory=Interner)
    codes: Interner = field(default_factory=Interner)  # Code objects (system, code, display)
    code_text: Interner = field(default_factory=Interner)  # code strings: the "present" keys
    attrs: Interner = field(default_factory=Interner)
    code_lists: list[list[int]] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    # per state
    s_type: list[int] = field(default_factory=list)
    s_module: list[int] = field(default_factory=list)
    s_mixed: list[int] = field(default_factory=list)
    s_name: list[int] = field(default_factory=list)
    s_trans: list[int] = field(default_factory=list)
    s_i0: list[int] = field(default_factory=list)
    s_f0: list[int] = field(default_factory=list)
    s_period: list[int] = field(default_factory=list)  # fast-forward: fixed Delay length
    s_profile: list[int] = field(default_factory=list)
    # 0: entering the state adds no visit to the history (an Initial or Simple state no
    # PriorState, reason or cause of death can name); the history is only ever searched by name
    s_hist: list[int] = field(default_factory=list)
    _named: set[str] = field(default_factory=set)
    pi: list[int] = field(default_factory=list)
    pf: list[float] = field(default_factory=list)
    # transitions and options
    t_kind: list[int] = field(default_factory=list)
    t_o0: list[int] = field(default_factory=list)
    t_on: list[int] = field(default_factory=list)
    t_aux: list[int] = field(default_factory=list)  # a lookup transition's table
    o_target: list[int] = field(default_factory=list)
    o_cond: list[int] = field(default_factory=list)
    o_prob: list[float] = field(default_factory=list)
    o_attr: list[int] = field(default_factory=list)
    o_d0: list[int] = field(default_factory=list)
    o_dn: list[int] = field(default_factory=list)
    # conditions: bytecode
    code: list[int] = field(default_factory=list)
    cf: list[float] = field(default_factory=list)
    # guard dependencies: per dependency-set id, signal keys, flips and poll
    dep_k0: list[int] = field(default_factory=list)
    dep_kn: list[int] = field(default_factory=list)
    dep_f0: list[int] = field(default_factory=list)
    dep_fn: list[int] = field(default_factory=list)
    dep_poll: list[int] = field(default_factory=list)
    dep_keys: list[int] = field(default_factory=list)
    flips: list[int] = field(default_factory=list)  # rows of 4: kind, a, b, c
    # lookup tables: per table, its columns, keys, key cells and rows (see lookup_table)
    lt: list[list[int]] = field(default_factory=list)
    ltc: list[int] = field(default_factory=list)
    lk: list[list[int]] = field(default_factory=list)
    lcell: list[list[int]] = field(default_factory=list)
    lcellf: list[list[float]] = field(default_factory=list)
    lr: list[list[int]] = field(default_factory=list)
    lp: list[float] = field(default_factory=list)
    _tables: dict[str, int] = field(default_factory=dict)
    # expressions: the bytecode (compiled.expr) and, per expression, where its parameters
    # come from (EXPRP rows: 0 the decimal age, 1 a vital sign, 2 an attribute slot; ref)
    exprs: Any = None
    expr_rows: list[list[int]] = field(default_factory=list)
    expr_params: list[list[int]] = field(default_factory=list)
    expr_stack: int = 1
    # distributions
    d_kind: list[int] = field(default_factory=list)
    d_round: list[int] = field(default_factory=list)
    d_p: list[list[float]] = field(default_factory=list)
    # modules
    m_initial: list[int] = field(default_factory=list)
    m_owner: list[int] = field(default_factory=list)
    m_file: list[int] = field(default_factory=list)
    states: list[tuple[CompiledModule, str]] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)  # per state id: the model its rows lower
    _pending_specs: list[tuple[CompiledModule, str, Any]] = field(default_factory=list)
    symptoms: Interner = field(default_factory=Interner)
    # where each state's names resolve
    _state_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    _current: tuple[str, str] = ("", "")

    # ------------------------------------------------------------ helpers

    def unsupported(self, feature: str) -> Unsupported:
        module, state = self._current
        return Unsupported(module, state, feature)

    def slot(self, name: str) -> int:
        return self.attrs(name)

    def code_id(self, c: Code) -> int:
        self.code_text(c.code)
        return self.codes((c.system, c.code, c.display, c.version))

    def code_list(self, codes: list[Code]) -> int:
        self.code_lists.append([self.code_id(c) for c in codes])
        return len(self.code_lists) - 1

    def value(self, v: Any) -> tuple[int, float, int]:
        """(kind, number, ref) of a constant."""
        if v is None:
            return K_NONE, 0.0, 0
        if isinstance(v, bool):
            return K_BOOL, float(v), 0
        if isinstance(v, int):
            if abs(v) > 2**53:
                raise self.unsupported(f"the integer {v} (beyond a double)")
            return K_INT, float(v), 0
        if isinstance(v, float):
            return K_FLOAT, v, 0
        if isinstance(v, str):
            return K_STR, 0.0, self.strings(v)
        if isinstance(v, Code):
            return K_CODE, 0.0, self.code_id(v)
        raise self.unsupported(f"the value {v!r}")

    def expression(self, text: str) -> int:
        """An expression's row (start, end, first parameter, parameters) and its parameters'
        sources, as expressions_runtime resolves them."""
        from simulator.compiled.expr import ExprBuilder, ExprUnsupported
        from simulator.engine.expressions_runtime import _VITALS_BY_LOWER

        if self.exprs is None:
            self.exprs = ExprBuilder()
        try:
            code = self.exprs.add(text)
        except ExprUnsupported as exc:
            raise self.unsupported(f"{exc.feature} in an expression") from None
        first = len(self.expr_params)
        for param in code.parameters:
            name = param.name
            vital = (_VITALS_BY_LOWER.get(name.lower())
                     or _VITALS_BY_LOWER.get(name.replace("_", " ").lower()))
            if name == "age":
                self.expr_params.append([0, 0])
            elif vital is not None:
                self.expr_params.append([1, self.vital(vital)])
            else:
                self.expr_params.append([2, self.slot(name)])
        self.expr_rows.append([code.start, code.end, first, len(code.parameters)])
        self.expr_stack = max(self.expr_stack, code.stack_size)
        return len(self.expr_rows) - 1

    def vital(self, name: str) -> int:
        """A vital sign's id: vitals.MEASURES first (what the engine computes), then the other
        names a VitalSign state may set."""
        return VITAL_NAMES.index(name)

    def distribution(self, d: s.Distribution) -> int:
        p = d.parameters
        keys = ("value", "low", "high", "mean", "standardDeviation", "min", "max", "mode")
        row = [float(p.get(k, math.nan)) for k in keys]
        row.append(1.0 if "min" in p else 0.0)
        row.append(1.0 if "max" in p else 0.0)
        self.d_kind.append(DISTRIBUTIONS.index(d.kind))
        self.d_round.append(int(d.round))
        self.d_p.append(row)
        return len(self.d_kind) - 1

    def state_id(self, module: str, name: str) -> int:
        return self._state_ids[(module, name)]

    # ------------------------------------------------------------ conditions

    def emit(self, *words: int) -> None:
        self.code.extend(words)

    def condition(self, c: s.Logic) -> int:
        """Bytecode for `c` ending in OP_END; returns its entry point."""
        start = len(self.code)
        self._cond(c)
        self.emit(Op.END)
        return start

    def _cond(self, c: s.Logic) -> None:
        if isinstance(c, s.And | s.Or):
            jump = Op.JUMP_FALSE if isinstance(c, s.And) else Op.JUMP_TRUE
            patches = []
            for i, part in enumerate(c.conditions):
                self._cond(part)
                if i < len(c.conditions) - 1:
                    self.emit(jump, 0)
                    patches.append(len(self.code) - 1)
                    self.emit(Op.POP)
            if not c.conditions:
                self.emit(Op.TRUE if isinstance(c, s.And) else Op.FALSE)
            for at in patches:
                self.code[at] = len(self.code)
        elif isinstance(c, s.Not):
            self._cond(c.condition)
            self.emit(Op.NOT)
        elif isinstance(c, s.AtLeast | s.AtMost):
            for part in c.conditions:
                self._cond(part)
            if isinstance(c, s.AtLeast):
                self.emit(Op.AT_LEAST, len(c.conditions), c.minimum)
            else:
                self.emit(Op.AT_MOST, len(c.conditions), c.maximum)
        elif isinstance(c, s.TrueLogic):
            self.emit(Op.TRUE)
        elif isinstance(c, s.FalseLogic):
            self.emit(Op.FALSE)
        elif isinstance(c, s.Gender):
            self.emit(Op.ATTR_IS_STR, self.slot("gender"), self.strings(c.gender))
        elif isinstance(c, s.SocioeconomicStatus):
            self.emit(Op.ATTR_IS_STR, self.slot("socioeconomic_category"),
                      self.strings(c.category))
        elif isinstance(c, s.Race):
            self.emit(Op.RACE, self.slot("race"), self.strings(c.race.lower()))
        elif isinstance(c, s.Age):
            self.emit(Op.AGE, 12 if c.unit == "years" else 1, OPERATORS.index(c.operator),
                      self.const(c.quantity))
        elif isinstance(c, s.Date):
            op = OPERATORS.index(c.operator)
            if c.year is not None:
                self.emit(Op.YEAR, op, self.const(float(c.year)))
            elif c.month is not None:
                self.emit(Op.MONTH, op, self.const(float(c.month)))
            else:
                assert c.date is not None
                self.emit(Op.INSTANT, op, self.const(float(date_instant(c.date))))
        elif isinstance(c, s.SymptomLogic):
            self.emit(Op.SYMPTOM, self.symptoms(c.symptom), OPERATORS.index(c.operator),
                      self.const(c.value))
        elif isinstance(c, s.Attribute):
            kind, number, ref = self.value(c.value)
            self.emit(Op.ATTRIBUTE, self.slot(c.attribute), OPERATORS.index(c.operator),
                      kind, self.const(number), ref)
        elif isinstance(c, s.PriorState):
            within = tu.fractional_ms(c.within.quantity, c.within.unit) if c.within else -1
            self.emit(Op.PRIOR_STATE, self.strings(c.name),
                      self.strings(c.since) if c.since is not None else -1,
                      self.const(float(within)))
        elif isinstance(c, s.ActiveCondition | s.ActiveAllergy | s.ActiveMedication
                        | s.ActiveCarePlan):
            must_be_open = int(isinstance(c, s.ActiveMedication | s.ActiveCarePlan))
            if c.codes:
                texts = [self.code_text(x.code) for x in c.codes]
                self.emit(Op.ACTIVE_CODES, must_be_open, len(texts), *texts)
            else:
                assert c.referenced_by_attribute is not None
                self.emit(Op.ACTIVE_ATTR, must_be_open, self.slot(c.referenced_by_attribute))
        elif isinstance(c, s.VitalSignLogic):
            self.emit(Op.VITAL, self.vital(c.vital_sign), OPERATORS.index(c.operator),
                      self.const(c.value))
        elif isinstance(c, s.ObservationLogic):
            right = c.value_code if c.value_code is not None else c.value
            kind, number, ref = self.value(right)
            head = [OPERATORS.index(c.operator), kind, self.const(number), ref]
            if c.codes:
                texts = [self.code_text(x.code) for x in c.codes]
                self.emit(Op.OBSERVATION_CODES, *head, len(texts), *texts)
            else:
                assert c.referenced_by_attribute is not None
                self.emit(Op.OBSERVATION_ATTR, *head, self.slot(c.referenced_by_attribute))
        else:
            raise self.unsupported(f"the {c.condition_type} condition")

    def const(self, x: float) -> int:
        self.cf.append(float(x))
        return len(self.cf) - 1

    def dependencies(self, conditions: list[s.Logic]) -> int:
        """The signal keys, flip instants and poll flag of conditions (engine.logic)."""
        from simulator.engine.logic import Dependencies, dependencies

        deps = Dependencies()
        for c in conditions:
            dependencies(c, deps)
        keys = sorted(self.signal(k) for k in deps.signals)
        flips: list[tuple[int, int, int, int]] = []
        for c in conditions:
            self._flips(c, flips)
        self.dep_k0.append(len(self.dep_keys))
        self.dep_kn.append(len(keys))
        self.dep_keys.extend(keys)
        self.dep_f0.append(len(self.flips) // 4)
        self.dep_fn.append(len(flips))
        for row in flips:
            self.flips.extend(row)
        self.dep_poll.append(int(deps.poll))
        return len(self.dep_k0) - 1

    def _flips(self, c: s.Logic, out: list[tuple[int, int, int, int]]) -> None:
        if isinstance(c, s.And | s.Or | s.AtLeast | s.AtMost):
            for x in c.conditions:
                self._flips(x, out)
        elif isinstance(c, s.Not):
            self._flips(c.condition, out)
        elif isinstance(c, s.Age):
            q = c.quantity
            candidates = sorted({math.floor(q), math.floor(q) + 1, math.ceil(q)})
            per = 12 if c.unit == "years" else 1
            ages = [a for a in candidates if a > 0] + [-1, -1, -1]
            out.append((ops.FLIP_AGE, ages[0] * per if ages[0] > 0 else -1,
                        ages[1] * per if ages[1] > 0 else -1,
                        ages[2] * per if ages[2] > 0 else -1))
        elif isinstance(c, s.Date):
            if c.year is not None:
                out.append((ops.FLIP_POINTS, tu.ymd_ms(c.year, 1, 1), tu.ymd_ms(c.year + 1, 1, 1), 0))
            elif c.month is not None:
                out.append((ops.FLIP_MONTH, 0, 0, 0))
            else:
                assert c.date is not None
                instant = date_instant(c.date)
                out.append((ops.FLIP_POINTS, instant, instant + 1, 0))

    def signal(self, key: str) -> int:
        fixed = {"present": SIG_PRESENT, "lock": SIG_LOCK, "engine_encounter": SIG_ENGINE_ENCOUNTER,
                 "chronic": SIG_CHRONIC, "symptom": SIG_SYMPTOM_ANY}
        if key in fixed:
            return fixed[key]
        if key.startswith("a:"):
            return -(1 + self.slot(key[2:]))  # resolved to SIG_ATTR0 + slot when finished
        assert key.startswith("s:")
        return -(1_000_000 + self.symptoms(key[2:]))

    # ------------------------------------------------------------ transitions

    def transition(self, module: CompiledModule, st: s.State) -> int:
        key = st.transition_key()
        ids = self.t_kind
        if isinstance(st, s.Terminal) or (key is None and not isinstance(st, s.Physiology)):
            return -1
        o0 = len(self.o_target)
        if isinstance(st, s.Physiology):
            kind = T_DIRECT
            self.option(self.state_id(module.key, st.alt_direct_transition))
        elif key == "direct_transition":
            kind = T_DIRECT
            self.option(self.state_id(module.key, st.direct_transition or ""))
        elif key == "distributed_transition":
            kind = T_DISTRIBUTED
            self.distributed(module, st.distributed_transition or [])
        elif key == "conditional_transition":
            kind = T_CONDITIONAL
            for o in st.conditional_transition or []:
                cond = self.condition(o.condition) if o.condition is not None else -1
                self.option(self.state_id(module.key, o.transition), cond=cond)
        elif key == "complex_transition":
            kind = T_COMPLEX
            rows = []
            for o in st.complex_transition or []:
                cond = self.condition(o.condition) if o.condition is not None else -1
                target = self.state_id(module.key, o.transition) if o.transition else -1
                rows.append((cond, target, o.distributions or []))
            placed = []
            for cond, target, _ in rows:
                self.option(target, cond=cond)
                placed.append(len(self.o_target) - 1)
            for at, (_, _, dists) in zip(placed, rows, strict=True):
                self.o_d0[at] = len(self.o_target)
                self.o_dn[at] = len(dists)
                self.distributed(module, dists)
            n = len(rows)
            self.t_kind.append(kind)
            self.t_o0.append(o0)
            self.t_on.append(n)
            self.t_aux.append(-1)
            return len(ids) - 1
        elif key == "lookup_table_transition":
            kind = T_LOOKUP
            options = st.lookup_table_transition or []
            table = self.program.lookup_tables[options[0].lookup_table_name]
            for o in options:
                self.option(self.state_id(module.key, o.transition), prob=o.default_probability)
            for column in table.probability_columns:
                if (module.key, column) not in self._state_ids:
                    raise self.unsupported(f"lookup table column {column!r}, not a state")
                self.option(self.state_id(module.key, column))
            self.t_kind.append(kind)
            self.t_o0.append(o0)
            self.t_on.append(len(options))
            self.t_aux.append(self.lookup_table(table))
            return len(ids) - 1
        elif key == "type_of_care_transition":
            kind = T_TYPE_OF_CARE
            toc = st.type_of_care_transition
            assert toc is not None
            for target in (toc.ambulatory, toc.emergency, toc.telemedicine):
                self.option(self.state_id(module.key, target))
            self.slot("insurance_status")
            for text in ("medicaid", "dual eligible", "none"):
                self.strings(text)
        else:
            raise self.unsupported(f"a {key}")
        self.t_kind.append(kind)
        self.t_o0.append(o0)
        self.t_on.append(len(self.o_target) - o0 if kind != T_COMPLEX else 0)
        self.t_aux.append(-1)
        return len(ids) - 1

    def lookup_table(self, table: LookupTable) -> int:
        """A table's rows: LT (columns, keys), LTC (attribute slots), LK per key (cells, rows),
        LCELL/LCELLF per key cell (what person values render as that text, program.java_text),
        LR per row (age range, time range, probabilities, running maximum end), LP."""
        found = self._tables.get(table.name)
        if found is not None:
            return found
        keys = list(table.rows_by_key)
        self.lt.append([len(table.attribute_columns), len(self.ltc), int(table.has_age),
                        int(table.has_time), len(self.lk), len(keys)])
        self.ltc.extend(self.slot(c) for c in table.attribute_columns)
        for key in keys:
            rows = table.rows_by_key[key]  # time tables: sorted by start, as the table keeps them
            self.lk.append([len(self.lcell), len(self.lr), len(rows)])
            for text in key:
                self.cell(text)
            running = -(2**63)
            for row in rows:
                if row.time is not None:
                    running = max(running, row.time[1])
                age = row.age or (0, 0)
                time = row.time or (0, 0)
                self.lr.append([age[0], age[1], time[0], time[1], len(self.lp), running])
                self.lp.extend(row.probabilities)
        self._tables[table.name] = len(self.lt) - 1
        return len(self.lt) - 1

    def cell(self, text: str) -> None:
        """Which attribute values program.java_text renders as `text`: the string itself,
        an integer, a float or a boolean."""
        from simulator.engine.program import java_text

        int_ok, int_value = 0, 0.0
        try:
            if str(int(text)) == text and abs(int(text)) <= 2**53:
                int_ok, int_value = 1, float(int(text))
        except ValueError:
            pass
        float_ok, float_value = 0, 0.0
        try:
            v = float(text)
            if java_text(v) == text:
                float_ok, float_value = 1, v
        except ValueError:
            pass
        bool_ok = int(text in ("true", "false"))
        self.lcell.append([self.strings(text), int_ok, float_ok, bool_ok, int(text == "true")])
        self.lcellf.append([int_value, float_value])

    def option(self, target: int, cond: int = -1, prob: float = 0.0, attr: int = -1) -> None:
        self.o_target.append(target)
        self.o_cond.append(cond)
        self.o_prob.append(prob)
        self.o_attr.append(attr)
        self.o_d0.append(0)
        self.o_dn.append(0)

    def distributed(self, module: CompiledModule, options: list[s.DistributedOption]) -> None:
        for o in options:
            target = self.state_id(module.key, o.transition)
            if isinstance(o.distribution, s.NamedDistribution):
                self.option(target, prob=o.distribution.default,
                            attr=self.slot(o.distribution.attribute))
            else:
                self.option(target, prob=float(o.distribution))

    # ------------------------------------------------------------ states

    def params(self, ints: list[int], floats: list[float] = ()) -> None:  # type: ignore[assignment]
        self.s_i0.append(len(self.pi))
        self.s_f0.append(len(self.pf))
        self.pi.extend(int(x) for x in ints)
        self.pf.extend(float(x) for x in floats)

    def reason(self, module: CompiledModule, reason: str | None) -> list[int]:
        """[name, attribute slot, fallback code] of a `reason` (states._resolve_reason): an
        attribute of that name, else the entries of a state of that name the frame visited,
        else the first code of the module's ConditionOnset/AllergyOnset of that name."""
        if not reason:
            return [-1, -1, -1]
        onset = module.states.get(reason)
        fallback = (self.code_id(onset.model.codes[0])
                    if onset is not None and isinstance(onset.model, s.ConditionOnset) else -1)
        return [self.strings(reason), self.slot(reason), fallback]

    def end_selector(self, st: s._EndBySelector, by_name: str | None, kind: int,
                     reason: Code | None) -> list[int]:
        reason_id = self.code_id(reason) if reason is not None else -1
        if by_name is not None:
            return [0, self.strings(by_name), kind, reason_id]
        if st.referenced_by_attribute is not None:
            return [1, self.slot(st.referenced_by_attribute), kind, reason_id]
        texts = [self.code_text(c.code) for c in st.codes or []]
        return [2, len(texts), kind, reason_id, *texts]

    def spec_state(self, module: CompiledModule, name: str, spec: s.ObservationSpec) -> int:
        """A state id for a MultiObservation's or DiagnosticReport's child observation: its
        rows are lowered like an Observation's (never entered; the parent draws and records)."""
        g = len(self.states)
        self.states.append((module, name))
        self.models.append(spec)
        self._pending_specs.append((module, name, spec))
        return g

    def state(self, module: CompiledModule, name: str, spec: Any = None) -> None:  # noqa: C901
        from simulator.compiled.ops import StateType as T
        from simulator.engine.simulation import STOPPED_MEDICAL_ADVICE
        from simulator.engine.states import CAREPLAN_DONE

        cs = module.states[name]
        st = cs.model if spec is None else spec
        self._current = (module.file, name)
        kind = "Observation" if spec is not None else st.type
        if kind not in ops.STATE_TYPES:
            raise self.unsupported(f"the {kind} state")
        t = ops.STATE_TYPES[kind]
        self.s_type.append(t)
        self.s_module.append(len(self.m_initial))
        self.s_mixed.append(int(mix64(np.uint64(cs.stream))))
        self.s_name.append(self.strings(name))
        self.s_period.append(cs.period if cs.profile is not None else 0)
        self.s_profile.append(0)
        self.s_hist.append(0 if spec is None and t in (T.INITIAL, T.SIMPLE)
                           and name not in self._named else 1)
        g = len(self.s_type) - 1
        if t == T.GUARD:
            assert isinstance(st, s.Guard)
            self.params([self.condition(st.allow), self.dependencies([st.allow])])
        elif t == T.DELAY:
            assert isinstance(st, s.Delay)
            if st.exact is not None:
                self.params([0, 0, -1, tu.fractional_ms(st.exact.quantity, st.exact.unit)])
            elif st.range is not None:
                self.params([1, UNITS.index(st.range.unit), -1, 0], [st.range.low, st.range.high])
            else:
                assert st.distribution is not None and st.unit is not None
                self.params([2, UNITS.index(st.unit), self.distribution(st.distribution), 0])
            if cs.profile is not None:
                self.s_profile[g] = self.delay_profile(st)
        elif t == T.SET_ATTRIBUTE:
            assert isinstance(st, s.SetAttribute)
            slot = self.slot(st.attribute)
            if st.expression is not None:
                self.params([slot, 5, 0, 0, self.expression(st.expression), 0])
                return
            if st.series_data is not None:
                samples = tuple(float(x) for x in st.series_data.split())  # checked by schema
                self.values.append(samples)
                self.params([slot, 6, K_SERIES, len(self.values) - 1, 0, 0],
                            [st.period if st.period > 0 else 1.0])
                return
            value = st.value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            kind, number, ref = self.value(value)
            if st.range is not None:
                decimals = st.range.decimals if st.range.decimals is not None else -1
                self.params([slot, 1, 0, 0, 0, decimals], [0.0, st.range.low, st.range.high])
            elif st.distribution is not None:
                self.params([slot, 2, 0, 0, self.distribution(st.distribution), 0])
            elif st.value_code is not None:
                self.params([slot, 3, K_CODE, self.code_id(st.value_code), 0, 0])
            elif st.value_attribute is not None:
                self.params([slot, 4, kind, ref, self.slot(st.value_attribute), 0], [number])
            else:
                self.params([slot, 0, kind, ref, 0, 0], [number])
        elif t == T.COUNTER:
            assert isinstance(st, s.Counter)
            self.params([self.slot(st.attribute), 1 if st.action == "increment" else -1],
                        [float(st.amount or 1)])
        elif t == T.CALL_SUBMODULE:
            assert isinstance(st, s.CallSubmodule)
            self.params([self._module_index[st.submodule]])
        elif t == T.ENCOUNTER:
            assert isinstance(st, s.Encounter)
            tele = (st.telemedicine_possibility or "none").lower()
            self.params([int(st.wellness), self.strings((st.encounter_class or "ambulatory").lower()),
                         1 if tele == "always" else 2 if tele == "possible" else 0,
                         *self.reason(module, st.reason),
                         self.code_list(st.codes), int(name in module.targeted)])
        elif t == T.ENCOUNTER_END:
            assert isinstance(st, s.EncounterEnd)
            dd = st.discharge_disposition
            self.params([self.code_id(dd) if dd is not None else -1])
        elif t in (T.CONDITION_ONSET, T.ALLERGY_ONSET):
            assert isinstance(st, s.ConditionOnset)
            ints = [self.code_list(st.codes), self.code_text(st.codes[0].code),
                    self.strings(st.target_encounter) if st.target_encounter else -1,
                    self.slot(st.assign_to_attribute) if st.assign_to_attribute else -1]
            floats: list[float] = []
            if isinstance(st, s.AllergyOnset):
                ints.append(len(st.reactions))
                for spec in st.reactions:
                    ints.append(len(spec.possible_severities))
                    for option in spec.possible_severities:
                        ints.append(("none", "mild", "moderate", "severe").index(option.level))
                        floats.append(option.value)
            else:
                ints.append(0)
            self.params(ints, floats)
        elif t == T.CONDITION_END:
            assert isinstance(st, s.ConditionEnd)
            self.params(self.end_selector(st, st.condition_onset, 0, None))
        elif t == T.ALLERGY_END:
            assert isinstance(st, s.AllergyEnd)
            self.params(self.end_selector(st, st.allergy_onset, 0, None))
        elif t == T.MEDICATION_END:
            assert isinstance(st, s.MedicationEnd)
            self.params(self.end_selector(st, st.medication_order, 1, STOPPED_MEDICAL_ADVICE))
        elif t == T.CAREPLAN_END:
            assert isinstance(st, s.CarePlanEnd)
            self.params(self.end_selector(st, st.careplan, 2, CAREPLAN_DONE))
        elif t == T.MEDICATION_ORDER:
            assert isinstance(st, s.MedicationOrder)
            self.params([self.code_list(st.codes), self.code_text(st.codes[0].code),
                         *self.reason(module, st.reason), int(st.chronic),
                         int(st.administration),
                         self.slot(st.assign_to_attribute) if st.assign_to_attribute else -1])
        elif t == T.CAREPLAN_START:
            assert isinstance(st, s.CarePlanStart)
            self.params([self.code_list(st.codes), self.code_text(st.codes[0].code),
                         *self.reason(module, st.reason),
                         self.slot(st.assign_to_attribute) if st.assign_to_attribute else -1])
        elif t == T.PROCEDURE:
            assert isinstance(st, s.Procedure)
            ints = [self.code_list(st.codes), self.code_text(st.codes[0].code),
                    *self.reason(module, st.reason),
                    self.slot(st.assign_to_attribute) if st.assign_to_attribute else -1]
            if st.duration is not None:
                self.params([*ints, 1, UNITS.index(st.duration.unit), -1],
                            [st.duration.low, st.duration.high])
            elif st.distribution is not None and st.unit is not None:
                self.params([*ints, 2, UNITS.index(st.unit), self.distribution(st.distribution)])
            else:
                self.params([*ints, 0, 0, -1])
        elif t == T.OBSERVATION:
            assert isinstance(st, s.ObservationSpec)
            ints = [self.code_list(st.codes), self.code_text(st.codes[0].code)]
            if st.range is not None:
                decimals = st.range.decimals if st.range.decimals is not None else -1
                self.params([*ints, 0, 0, 0, decimals], [0.0, st.range.low, st.range.high])
            elif st.exact is not None:
                kind, number, ref = self.value(st.exact.quantity)
                self.params([*ints, 1, kind, ref, 0], [number])
            elif st.distribution is not None:
                self.params([*ints, 2, 0, self.distribution(st.distribution), 0])
            elif st.attribute is not None:
                self.params([*ints, 3, 0, self.slot(st.attribute), 0])
            elif st.vital_sign is not None:
                self.params([*ints, 5, 0, self.vital(st.vital_sign), 0])
            elif st.value_code is not None:
                self.params([*ints, 4, K_CODE, self.code_id(st.value_code), 0])
            elif st.expression is not None:
                self.params([*ints, 6, 0, self.expression(st.expression), 0])
            elif st.sampled_data is not None:  # the attributes holding the series
                slots = [self.slot(name) for name in st.sampled_data.attributes]
                self.params([*ints, 7, len(slots), 0, 0, *slots])
            elif st.attachment is not None:
                text = st.attachment.get("data") or st.attachment.get("url") or ""
                self.params([*ints, 1, K_STR, self.strings(text), 0], [0.0])
            else:
                self.params([*ints, 1, K_NONE, 0, 0], [0.0])
        elif t == T.VACCINE:
            assert isinstance(st, s.Vaccine)
            self.params([self.code_list(st.codes)])
        elif t == T.SUPPLY_LIST:
            assert isinstance(st, s.SupplyList)
            self.params([len(st.supplies)])
        elif t == T.SYMPTOM:
            assert isinstance(st, s.Symptom)
            probability = st.probability if 0.0 <= st.probability <= 1.0 else 1.0
            source = self.strings(st.cause) if st.cause else -1  # -1: the running module's owner
            if st.exact is not None:
                self.params([self.symptoms(st.symptom), source, 0, -1],
                            [probability, float(st.exact.quantity), 0.0, 0.0])
            elif st.range is not None:
                self.params([self.symptoms(st.symptom), source, 1, -1],
                            [probability, 0.0, st.range.low, st.range.high])
            elif st.distribution is not None:
                self.params([self.symptoms(st.symptom), source, 2,
                             self.distribution(st.distribution)], [probability, 0.0, 0.0, 0.0])
            else:
                self.params([self.symptoms(st.symptom), source, 3, -1], [probability, 0, 0, 0])
        elif t == T.DEATH:
            assert isinstance(st, s.Death)
            if st.codes:
                cause = [1, self.code_id(st.codes[0]), -1]
            elif st.condition_onset is not None:
                onset = module.states.get(st.condition_onset)
                first = (self.code_id(onset.model.codes[0])
                         if onset is not None and isinstance(onset.model, s.ConditionOnset) else -1)
                cause = [2, self.strings(st.condition_onset), first]
            elif st.referenced_by_attribute is not None:
                cause = [3, self.slot(st.referenced_by_attribute), -1]
            else:
                cause = [0, -1, -1]
            if st.exact is not None:
                self.params([*cause, 1, tu.fractional_ms(st.exact.quantity, st.exact.unit), 0])
            elif st.range is not None:
                self.params([*cause, 2, 0, UNITS.index(st.range.unit)],
                            [st.range.low, st.range.high])
            else:
                self.params([*cause, 0, 0, 0])
        elif t in (T.MULTI_OBSERVATION, T.DIAGNOSTIC_REPORT):
            assert isinstance(st, s.MultiObservation | s.DiagnosticReport)
            children = [self.spec_state(module, name, o) for o in st.observations]
            self.params([self.code_list(st.codes), len(children), *children])
        elif t == T.IMAGING_STUDY:
            assert isinstance(st, s.ImagingStudy)
            ints = [self.code_id(st.procedure_code), st.min_number_series, st.max_number_series,
                    len(st.series)]
            for series in st.series:
                ints += [series.min_number_instances, series.max_number_instances,
                         len(series.instances)]
            self.params(ints)
        elif t == T.DEVICE:
            assert isinstance(st, s.Device)
            self.params([self.code_id(st.code),
                         self.slot(st.assign_to_attribute) if st.assign_to_attribute else -1])
        elif t == T.VITAL_SIGN:
            assert isinstance(st, s.VitalSign)
            v = self.vital(st.vital_sign)
            if st.exact is not None:
                self.params([v, 1, -1], [float(st.exact.quantity), 0.0, 0.0])
            elif st.range is not None:
                self.params([v, 2, -1], [0.0, st.range.low, st.range.high])
            elif st.expression is not None:
                self.params([v, 4, self.expression(st.expression)], [0.0, 0.0, 0.0])
            else:
                assert st.distribution is not None
                self.params([v, 3, self.distribution(st.distribution)], [0.0, 0.0, 0.0])
        elif t == T.DEVICE_END:
            assert isinstance(st, s.DeviceEnd)
            self.params(self.end_selector(st, st.device, 3, None))
        else:  # Initial, Terminal, Simple, Physiology: routing only
            self.params([])

    def delay_profile(self, st: s.Delay) -> int:
        """1 + the dependency set of a fast-forwardable Delay's transition (0: none)."""
        key = st.transition_key()
        if key in ("direct_transition", "distributed_transition", "lookup_table_transition"):
            return 1 + self.dependencies([])
        if key in ("conditional_transition", "complex_transition"):
            options = st.conditional_transition or st.complex_transition or []
            conditions = [o.condition for o in options if o.condition is not None]
            dep = self.dependencies(conditions)
            return 0 if self.dep_poll[dep] else 1 + dep
        return 0

    # ------------------------------------------------------------ whole program

    def lower(self) -> Lowered:
        program = self.program
        modules = closure(program, self.roots)
        self._module_index = {m.key: i for i, m in enumerate(modules)}
        self._named = set().union(*(texts_besides_targets(cs.model)
                                    for m in modules for cs in m.states.values()))
        for m in modules:
            for name, cs in m.states.items():
                self._state_ids[(m.key, name)] = len(self.states)
                self.states.append((m, name))
                self.models.append(cs.model)
        for m in modules:
            self.m_initial.append(self._state_ids[(m.key, "Initial")])
            self.m_owner.append(self.strings(m.name))
            self.m_file.append(self.strings(m.file))
            for name in m.states:
                self.state(m, name)
        for module, name, spec in self._pending_specs:  # may add more: a list grows in place
            self.state(module, name, spec)
        for m in modules:
            for name, cs in m.states.items():
                self._current = (m.file, name)
                self.s_trans.append(self.transition(m, cs.model))
        self.s_trans.extend([-1] * len(self._pending_specs))
        return self.finish(modules)

    def lifecycle_consts(self, consts: list[int], n_states: int) -> None:
        """What builtin.lifecycle's processes need: their streams, attribute slots, texts."""
        from simulator.builtin.lifecycle import MARRIAGE_CHANGES, NATURAL_DEATH
        from simulator.compiled import kernel as k
        from simulator.population.names import locale_names

        consts[k.C_STREAM_BUILTIN0] = n_states + 2
        consts[k.C_NATURAL_CODE] = self.code_id(NATURAL_DEATH)
        for slot, name in (
            (k.C_A_SMOKER, "smoker"), (k.C_A_ALCOHOLIC, "alcoholic"),
            (k.C_A_QUIT_SMOKING_AGE, "quit smoking age"),
            (k.C_A_QUIT_ALCOHOL_AGE, "quit alcoholism age"),
            (k.C_A_QUIT_SMOKING_P, "quit smoking probability"),
            (k.C_A_QUIT_ALCOHOL_P, "quit alcoholism probability"),
            (k.C_A_UNEMPLOYED, "unemployed"), (k.C_A_DRIVERS, "identifier_drivers"),
            (k.C_A_PASSPORT, "identifier_passport"), (k.C_A_EDUCATION, "education_level"),
            (k.C_A_SUFFIX, "name_suffix"), (k.C_A_PREFIX, "name_prefix"),
            (k.C_A_MARITAL, "marital_status"), (k.C_A_GENDER, "gender"),
            (k.C_A_LAST, "last_name"), (k.C_A_MAIDEN, "maiden_name"), (k.C_A_NAME, "name"),
        ):
            consts[slot] = self.attrs(name)
        self.attrs("first_name")
        self.attrs("middle_name")
        for slot, text in ((k.C_S_PHD, "PhD"), (k.C_S_JD, "JD"), (k.C_S_MD, "MD"),
                           (k.C_S_MR, "Mr."), (k.C_S_MS, "Ms."), (k.C_S_MRS, "Mrs."),
                           (k.C_S_M, "M"), (k.C_S_S, "S"), (k.C_S_W, "W"), (k.C_S_D, "D"),
                           (k.C_S_MALE, "M"), (k.C_S_FEMALE, "F"), (k.C_S_EMPTY, "")):
            consts[slot] = self.strings(text)
        consts[k.C_LAST_NAMES] = len(locale_names("en_US").last.names)
        from simulator.builtin import covid19_immunization as c19
        from simulator.engine.simulation import VACCINATION_VISIT

        consts[k.C_C19_START] = c19.PROGRAM_START
        for slot, name in ((k.C_A_C19_STATUS, "C19_VACCINE_STATUS"),
                           (k.C_A_C19_FULL, "C19_FULLY_VACCINATED"),
                           (k.C_A_C19_VACCINE, "C19_VACCINE"),
                           (k.C_A_C19_FIRST, "C19_SCHEDULED_FIRST_SHOT"),
                           (k.C_A_C19_SECOND, "C19_SCHEDULED_SECOND_SHOT")):
            consts[slot] = self.attrs(name)
        for slot, text in ((k.C_S_NOT_ELIGIBLE, "not_eligible"), (k.C_S_WAITING, "waiting"),
                           (k.C_S_VACCINATED, "vaccinated"), (k.C_S_CVX0, c19.MODERNA.code),
                           (k.C_S_CVX1, c19.PFIZER.code), (k.C_S_VACCINATION, "Vaccination")):
            consts[slot] = self.strings(text)
        consts[k.C_CODE_CVX0] = self.code_id(c19.MODERNA)
        consts[k.C_CODE_CVX1] = self.code_id(c19.PFIZER)
        consts[k.C_VACCINATION_VISIT] = self.code_list([VACCINATION_VISIT])
        ages = [16 * 12, 16 * 12, 18 * 12, 20 * 12, 25 * 12, 28 * 12, 30 * 12]
        ages += [age * 12 for age, _, _ in MARRIAGE_CHANGES]
        for i, months in enumerate(ages):
            consts[k.C_LIFE0 + i] = months
        for i, name in enumerate(FACT_ATTRIBUTES):
            consts[k.C_A_FACTS0 + i] = self.attrs(name)
        self._payer_arrays = catalog_arrays(load_payers(), self.strings)  # the insurance process's
        for slot, name in ((k.C_A_WM_TRIGGER, wm.TRIGGER), (k.C_A_WM_PRE, "pre_management_weight"),
                           (k.C_A_WM_START, "weight_management_start"),
                           (k.C_A_WM_ADHERENCE, "weight_loss_adherence"),
                           (k.C_A_WM_LOSS, "weight_loss_percentage"),
                           (k.C_A_WM_LONG, "long_term_weight_loss"),
                           (k.C_A_BMI_PCT, "bmi_percentile"), (k.C_A_DIABETES, "diabetes"),
                           (k.C_A_HYPERTENSION, "hypertension"),
                           (k.C_A_AF, "atrial_fibrillation"),
                           (k.C_A_BP_CONTROLLED, "blood_pressure_controlled"),
                           (k.C_A_LVH, "left_ventricular_hypertrophy"),
                           (k.C_A_CHD, "coronary_heart_disease"), (k.C_A_RACE, "race")):
            consts[slot] = self.attrs(name)
        consts[k.C_S_BLACK] = self.strings("black")

    def finish(self, modules: list[CompiledModule]) -> Lowered:
        from simulator.compiled import kernel as k
        from simulator.engine.simulation import (
            CHECKUP_VISIT,
            DEATH_STREAM,
            DEFAULT_MINUTES,
            EMERGENCY_VISIT,
            ENGINE_ENCOUNTERS,
            ENGINE_OWNER,
            FAST_FORWARD,
            GENERAL_EXAM,
            STOPPED_MEDICAL_ADVICE,
            URGENT_VISIT,
            WELL_CHILD,
        )
        from simulator.gmf.rules import MAX_STATES_PER_LIFE

        for name in (*vt.ATTRIBUTES, "osteoporosis", "weight_loss_bmi_percentile_change"):
            self.attrs(name)  # before the attribute count is taken
        for code in vt.MEDICATIONS:
            self.code_text(code)
        consts = [0] * k.N_CONSTS
        consts[k.C_ENGINE_OWNER] = self.strings(ENGINE_OWNER)
        consts[k.C_ENGINE_NAME] = self.strings("Encounter Module")
        consts[k.C_FIRST_WELLNESS] = self.strings("First Wellness")
        for slot, text in ((k.C_WELLNESS, "wellness"), (k.C_EMERGENCY, "emergency"),
                           (k.C_URGENTCARE, "urgentcare"), (k.C_OUTPATIENT, "outpatient"),
                           (k.C_VIRTUAL, "virtual"), (k.C_AMBULATORY, "ambulatory")):
            consts[slot] = self.strings(text)
        for slot, code in ((k.C_WELL_CHILD, WELL_CHILD), (k.C_GENERAL_EXAM, GENERAL_EXAM),
                           (k.C_EMERGENCY_VISIT, EMERGENCY_VISIT),
                           (k.C_URGENT_VISIT, URGENT_VISIT), (k.C_CHECKUP_VISIT, CHECKUP_VISIT)):
            consts[slot] = self.code_list([code])
        for name in ENGINE_ATTRIBUTES:
            self.attrs(name)
        slot_of = self.attrs.ids
        consts[k.C_A_WELLNESS] = slot_of["active_wellness_encounter"]
        consts[k.C_A_EMERGENCY] = slot_of["active_emergency_encounter"]
        consts[k.C_A_URGENT] = slot_of["active_urgent_care_encounter"]
        consts[k.C_A_SYMPTOM_TOTAL] = slot_of["last_visit_symptom_total"]
        consts[k.C_A_DEATHDATE] = slot_of["deathdate"]
        consts[k.C_A_CAUSE] = slot_of["cause_of_death"]
        consts[k.C_SIG_ATTR0] = SIG_ATTR0
        n_states = len(self.s_type)
        consts[k.C_STREAM_ENGINE] = n_states
        consts[k.C_STREAM_DEATH] = n_states + 1
        consts[k.C_TELEMED_EARLY] = tu.ymd_ms(2016, 1, 1) + 12 * tu.HOUR
        consts[k.C_TELEMED_LATE] = tu.ymd_ms(2020, 4, 1) + 12 * tu.HOUR
        consts[k.C_STOPPED_ADVICE] = self.code_id(STOPPED_MEDICAL_ADVICE)
        consts[k.C_NO_FF] = 0 if FAST_FORWARD else 1
        consts[k.C_MAX_STATES] = MAX_STATES_PER_LIFE
        consts[k.C_A_INSURANCE] = self.attrs("insurance_status")
        consts[k.C_S_MEDICAID] = self.strings("medicaid")
        consts[k.C_S_DUAL] = self.strings("dual eligible")
        consts[k.C_S_NONE] = self.strings("none")
        consts[k.C_CARE_CUTOFF] = tu.ymd_ms(2020, 1, 1)
        self.lifecycle_consts(consts, n_states)
        consts[k.C_STREAM_VITALS0] = n_states + 2 + len(BUILTIN_STREAMS)
        consts[k.C_A_OSTEOPOROSIS] = self.attrs("osteoporosis")
        consts[k.C_A_WM_ACTIVE] = self.attrs("active_weight_management")
        consts[k.C_A_WM_CHANGE] = self.attrs("weight_loss_bmi_percentile_change")
        minutes = {self.strings(cls): value for cls, value in DEFAULT_MINUTES.items()}
        mixed = self.s_mixed + [int(mix64(np.uint64(ENGINE_ENCOUNTERS))),
                                int(mix64(np.uint64(DEATH_STREAM)))] + [
            int(mix64(np.uint64(stream_id(f"builtin:{name}")))) for name in BUILTIN_STREAMS] + [
            int(x) for x in vt.GROUP_STREAMS]

        n_attr = len(self.attrs.values)
        keys = [k_ if k_ >= 0 else (SIG_ATTR0 + (-k_ - 1) if k_ > -1_000_000
                                    else SIG_ATTR0 + n_attr + (-k_ - 1_000_000))
                for k_ in self.dep_keys]
        computed = [COMPUTED.get(a, 0) for a in self.attrs.values]
        code_text_of = [self.code_text(c[1]) for c in self.codes.values]
        code_keys: dict[tuple[str, str], int] = {}
        code_key = [code_keys.setdefault((c[0], c[1]), len(code_keys)) for c in self.codes.values]
        cl0, cln, cl = [], [], []
        for lst in self.code_lists:
            cl0.append(len(cl))
            cln.append(len(lst))
            cl.extend(lst)
        from simulator.builtin.immunizations import SCHEDULE

        vtables = vt.tables()
        if self.exprs is not None:
            xcode, xconst = self.exprs.arrays()
        else:
            xcode, xconst = np.zeros(1, dtype=np.int64), np.zeros(1)

        vax_rows, vax_ages = [], []
        for vaccine in SCHEDULE:
            vax_rows.append([len(vaccine.ages_months), len(vax_ages), vaccine.available_from])
            vax_ages.extend(vaccine.ages_months)
        vax = np.array(vax_rows + [[0, 0, 0]], dtype=np.int64)
        n_strings = len(self.strings.values)
        str_minutes = [minutes.get(i, 15) for i in range(n_strings)]
        i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
        f64 = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
        def table(*columns: list[int]) -> np.ndarray:
            return np.ascontiguousarray(np.array(columns, dtype=np.int64).reshape(
                len(columns), -1).T)

        fields = dict(
            S=table(self.s_type, self.s_module, self.s_name, self.s_trans, self.s_i0, self.s_f0,
                    self.s_period, self.s_profile, self.s_hist),
            pi=i64(self.pi + [0]), pf=f64(self.pf + [0.0]),
            TR=table(self.t_kind + [0], self.t_o0 + [0], self.t_on + [0], self.t_aux + [0]),
            LT=np.array(self.lt + [[0] * 6], dtype=np.int64), LTC=i64(self.ltc + [0]),
            LK=np.array(self.lk + [[0] * 3], dtype=np.int64),
            LCELL=np.array(self.lcell + [[0] * 5], dtype=np.int64),
            LCELLF=np.array(self.lcellf + [[0.0, 0.0]], dtype=np.float64),
            LR=np.array(self.lr + [[0] * 6], dtype=np.int64), LP=f64(self.lp + [0.0]),
            OPT=table(self.o_target + [0], self.o_cond + [0], self.o_attr + [0],
                      self.o_d0 + [0], self.o_dn + [0]),
            o_prob=f64(self.o_prob + [0.0]), code=i64(self.code + [0]), cf=f64(self.cf + [0.0]),
            DEP=table(self.dep_k0 + [0], self.dep_kn + [0], self.dep_f0 + [0],
                      self.dep_fn + [0], self.dep_poll + [0]),
            dep_keys=i64(keys + [0]), flips=i64(self.flips + [0, 0, 0, 0]).reshape(-1, 4),
            DK=table(self.d_kind + [0], self.d_round + [0]), d_p=f64(self.d_p + [[0.0] * 10]),
            MOD=table(self.m_initial, self.m_owner),
            CLI=table(cl0 + [0], cln + [0]), cl=i64(cl + [0]),
            CODES=table(code_text_of + [0], code_key + [0]),
            a_computed=i64(computed + [0]), consts=i64(consts),
            mixed=np.asarray(mixed, dtype=np.uint64), str_minutes=i64(str_minutes),
            sig_lock=i64([SIG_LOCK]), sig_engine=i64([SIG_ENGINE_ENCOUNTER]),
            sig_chronic_symptom=i64([SIG_CHRONIC, SIG_SYMPTOM_ANY]),
            VAX=vax, VAXAGE=i64(vax_ages + [0]),
            XCODE=xcode, XCONST=xconst,
            EXPR=np.array(self.expr_rows + [[0, 0, 0, 0]], dtype=np.int64),
            EXPRP=np.array(self.expr_params + [[0, 0]], dtype=np.int64),
            VATTR=i64([self.attrs(a) for a in vt.ATTRIBUTES]),
            VNOTIFY=i64([int(a in ("low_hdl", "high_total_chol")) for a in vt.ATTRIBUTES]),
            VMED=i64([self.code_text(code) for code in vt.MEDICATIONS]),
            VCHARTS=vtables.charts, VCHARTS_N=vtables.charts_n, VPARAMS=vtables.params,
            VGROUP=i64([vt.GROUP_OF[i] if i < len(vt.MEASURES) else -1
                        for i in range(len(VITAL_NAMES))]),
            VDEC=i64([vt.read_decimals(name) for name in VITAL_NAMES]),
            VPERSIST=i64([int(name in vt.PERSISTENT_OVERRIDE) for name in VITAL_NAMES]),
            expr_stack=self.expr_stack,
            **self._payer_arrays,
            n_attr=n_attr, n_symptoms=len(self.symptoms.values),
            n_code_text=len(self.code_text.values) + 1, n_strings=n_strings,
        )
        arrays = SimpleNamespace(**fields)
        return Lowered(
            arrays=arrays, strings=list(self.strings.values),
            codes=[Code(system, code, display, version)
                   for system, code, display, version in self.codes.values],
            attributes=list(self.attrs.values), states=self.states, models=self.models,
            modules=modules,
            top_level=[self._module_index[m.key] for m in self.program.top_level],
            code_lists=self.code_lists, values=self.values, symptoms=list(self.symptoms.values),
            slot_of=dict(self.attrs.ids),
        )


PROGRAM_FIELDS = (
    "S", "pi", "pf", "TR", "LT", "LTC", "LK", "LCELL", "LCELLF", "LR", "LP", "OPT", "o_prob", "code", "cf", "DEP", "dep_keys", "flips", "DK",
    "d_p", "MOD", "CLI", "cl", "CODES", "a_computed", "consts", "mixed", "str_minutes",
    "sig_lock", "sig_engine", "sig_chronic_symptom", "VAX", "VAXAGE", "XCODE", "XCONST", "EXPR",
    "EXPRP", "expr_stack", "VATTR", "VNOTIFY", "VMED",
    "VCHARTS", "VCHARTS_N", "VPARAMS", "VGROUP", "VDEC", "VPERSIST", "PLAN", "plan_f",
    "prem_year", "prem_amount", "plan_rules", "n_attr", "n_symptoms", "n_code_text",
    "n_strings",
)


@structref.register
class ProgramType(types.StructRef):
    def preprocess_fields(self, fields: Any) -> Any:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class ProgramArrays(structref.StructRefProxy):
    """The array program (fields: PROGRAM_FIELDS), one pointer to the kernel."""


structref.define_proxy(ProgramArrays, ProgramType, list(PROGRAM_FIELDS))


@nb.njit(cache=True)
def new_program(fields: Any) -> Any:
    """ProgramArrays(*fields) from numba's on-disk cache: called from Python, a StructRef's
    constructor is compiled anew in every process (about 2 s)."""
    return ProgramArrays(*fields)


def lower(program: Program, also: Sequence[str] = ()) -> Lowered:
    """The array program of a compiled module set: its top-level modules, the modules `also`
    names, and the submodules they call; raises Unsupported for what the compiled engine
    cannot run. (The other modules of the set are left out: a run of some modules is not
    refused for a module it never runs.)"""
    return _Builder(program, [m.key for m in program.top_level] + list(also)).lower()


def closure(program: Program, roots: Sequence[str]) -> list[CompiledModule]:
    """The modules `roots` name and every submodule they call, transitively, in the set's
    order."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        key = todo.pop()
        if key in seen or key not in program.modules:
            continue
        seen.add(key)
        todo.extend(st.model.submodule for st in program.modules[key].states.values()
                    if isinstance(st.model, s.CallSubmodule))
    return [m for key, m in program.modules.items() if key in seen]
