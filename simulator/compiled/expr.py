"""Module expressions (module-format.md §13) for the compiled engine: lowering to bytecode and
one numba evaluator that gives exactly what :meth:`simulator.gmf.expressions.Expression.evaluate`
gives.

Lowering walks the node tree ``parse_expression`` builds (the same parse, type check and
constant folding as the reference) into postfix bytecode over tagged values (kind, number)
with the compiled engine's attribute kinds: K_NONE null, K_BOOL (number 0/1), K_INT (an exact
integer held in a float64), K_FLOAT.  Many expressions share one code/consts pair
(:class:`ExprBuilder`); each occupies ``code[start:end]``::

    stack size, definition slots, parameter count, declared kind of each parameter,
    main code, HALT, the definitions' subroutines

The evaluator runs the ops in the reference's order, evaluating exactly what the closures
evaluate (``and``/``or``/``implies``/``if``/``case``/``Coalesce`` and definitions are lazy, a
null left operand skips the right one), so it also fails where the reference fails:

* ``(K_FAULT, FAULT_*)``: the reference raises (a parameter value of the wrong kind, a math
  domain error in ``div``/``mod``) -- the kernel reports a module error;
* ``(K_UNSUPPORTED, UNSUPPORTED_*)``: the reference goes on with something the kernel cannot
  hold (an Integer past float64's exact range, which Python keeps as a big int).

What lowering refuses (:class:`ExprUnsupported`): Strings, Lists other than a list literal
given to an aggregate (so no ``#l{..}`` parameters and no list results), Round with a
precision that is not a constant Integer within +-400.

Floats are bit-identical to the closures: the same operations in the same order, libm's
``log``/``exp``/``pow`` as CPython calls them, CPython's special cases around them
(``float ** float``, ``math.fmod``, ``math.fsum``, errors that become null) and the
reference's decimal ``Round`` (the shortest repr of the double, rounded half toward +inf),
which is done with a few exact comparisons instead of decimal arithmetic.
"""

# numba code: explicit comparisons and if-blocks compile to the plainest machine code (as in
# kernel.py)
# ruff: noqa: SIM108, SIM109

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numba as nb
import numpy as np

from simulator.gmf.expressions import Expression, expression_tree, parse_expression

__all__ = [
    "ExprBuilder", "ExprCode", "ExprParam", "ExprUnsupported", "Op", "decode", "encode",
    "evaluate", "lower_expression", "run",
]  # fmt: skip

# Value kinds: the compiled engine's attribute kinds (kernel.K_*), and two results only the
# evaluator gives.
K_NONE, K_BOOL, K_INT, K_FLOAT = 0, 1, 2, 3
K_FAULT, K_UNSUPPORTED = -1, -2
K_UNSET, K_MARK = -3, -4  # stack only: a definition not computed yet; a return address

FAULT_PARAM, FAULT_MATH, FAULT_STACK = 1, 2, 3
UNSUPPORTED_INTEGER, UNSUPPORTED_SUM = 1, 2

HEADER = 3  # stack size, definition slots, parameter count (then one kind per parameter)
MAX_ROUND_PRECISION = 400


class Op(IntEnum):
    """Bytecode: opcodes followed by their operands; jump targets are absolute offsets."""

    HALT = 0
    CONST = 1  # kind, const index
    PARAM = 2  # parameter index, declared kind (K_FLOAT or K_BOOL)
    POP = 3
    JUMP = 4  # target
    JUMP_NULL = 5  # target: jump if the top is null (keeping it): a null left operand
    JUMP_FALSE_KEEP = 6  # target (and)
    JUMP_TRUE_KEEP = 7  # target (or)
    JUMP_FALSE_TRUE = 8  # target: a False top becomes True and jumps (implies)
    JUMP_NOT_TRUE_POP = 9  # target: pops; jumps unless it was True (if, case when)
    JUMP_NOT_NULL_KEEP = 10  # target (Coalesce)
    CASE_MATCH = 11  # target: pops a test; equal to the selector below -> pop it, go on
    CALL = 12  # slot, target: a definition's value, computed by the subroutine once
    RET = 13  # slot
    NEG = 20
    NOT = 21
    IS_NULL = 22
    IS_TRUE = 23
    IS_FALSE = 24
    TO_DEC = 25
    ABS = 26
    LN = 27
    EXP = 28
    SQRT = 29
    FLOOR = 30
    CEIL = 31
    TRUNC = 32
    ROUND = 33  # precision
    ADD = 40
    SUB = 41
    MUL = 42
    DIV = 43
    IDIV = 44
    MOD = 45
    POW = 46
    LOG = 47
    LT = 48
    LE = 49
    GT = 50
    GE = 51
    EQ = 52
    NE = 53
    EQV = 54
    NEQV = 55
    AND = 56
    OR = 57
    XOR = 58
    IMPLIES = 59
    MIN = 60  # n: the last n values (a list literal)
    MAX = 61  # n
    SUM_INT = 62  # n
    SUM_DEC = 63  # n
    AVG = 64  # n
    COUNT = 65  # n
    FIRST = 66  # n (Coalesce of a list)


# numba compiles a function once per Python int literal it is passed, once for int64 values
(O_HALT, O_CONST, O_PARAM, O_POP, O_JUMP, O_JUMP_NULL, O_JUMP_FALSE_KEEP, O_JUMP_TRUE_KEEP,
 O_JUMP_FALSE_TRUE, O_JUMP_NOT_TRUE_POP, O_JUMP_NOT_NULL_KEEP, O_CASE_MATCH, O_CALL, O_RET,
 O_NEG, O_NOT, O_IS_NULL, O_IS_TRUE, O_IS_FALSE, O_TO_DEC, O_ABS, O_LN, O_EXP, O_SQRT, O_FLOOR,
 O_CEIL, O_TRUNC, O_ROUND, O_ADD, O_SUB, O_MUL, O_DIV, O_IDIV, O_MOD, O_POW, O_LOG, O_LT, O_LE,
 O_GT, O_GE, O_EQ, O_NE, O_EQV, O_NEQV, O_AND, O_OR, O_XOR, O_IMPLIES, O_MIN, O_MAX, O_SUM_INT,
 O_SUM_DEC, O_AVG, O_COUNT, O_FIRST) = (np.int64(op) for op in Op)
assert all(globals()["O_" + op.name] == op for op in Op), "O_* out of step with Op"
for _name, _value in list(globals().items()):
    if _name.isupper() and type(_value) is int:
        globals()[_name] = np.int64(_value)

_ZERO, _ONE = np.int64(0), np.int64(1)
_TWO53 = 9007199254740992.0
_TWO52I = np.int64(1 << 52)
_BIG_SPLIT = 2.0**995  # Dekker's split of a larger factor overflows
_MAXD = 1.7976931348623157e308
_TWO1023 = 2.0**1023
_POW10 = np.array([10.0**i for i in range(23)])  # exact doubles
_LOG2_5 = math.log2(5.0)
_MASK = np.int64((1 << 30) - 1)
_FIVES = np.array([5**i for i in range(14)], dtype=np.int64)


# ------------------------------------------------------------------------------ lowering


class ExprUnsupported(ValueError):
    """An expression the compiled evaluator does not run; ``feature`` names what."""

    def __init__(self, text: str, feature: str):
        self.text = text
        self.feature = feature
        super().__init__(f"the compiled engine cannot run {feature} (in expression {text!r})")


@dataclass(frozen=True)
class ExprParam:
    """A person value the expression reads: ``name`` as written in ``#{...}``, ``type``
    ``Decimal`` or ``Boolean``; passed to :func:`evaluate` at its index."""

    name: str
    type: str

    @property
    def kind(self) -> int:
        return int(K_FLOAT if self.type == "Decimal" else K_BOOL)


@dataclass(frozen=True)
class ExprCode:
    """One lowered expression: ``code[start:end]`` of its builder's arrays."""

    text: str
    start: int
    end: int
    parameters: tuple[ExprParam, ...]
    result_type: str  # Integer, Decimal, Boolean or Any (always null)
    stack_size: int  # the evaluator's stack arrays need at least this many entries
    builder: ExprBuilder = field(repr=False, compare=False)

    @property
    def code(self) -> np.ndarray:
        return self.builder.arrays()[0]

    @property
    def consts(self) -> np.ndarray:
        return self.builder.arrays()[1]


class ExprBuilder:
    """Collects the bytecode of many expressions in one code array and one constant pool."""

    def __init__(self) -> None:
        self._code: list[int] = []
        self._consts: list[float] = []
        self._const_index: dict[str, int] = {}
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, text: str) -> ExprCode:
        """Parse (raises ``ExpressionError``) and lower ``text`` (raises
        :class:`ExprUnsupported`), appending its code."""
        expression = parse_expression(text)
        lowered = _Lowering(expression, self)
        code = lowered.lower()
        start = len(self._code)
        self._code.extend(c + start if i in lowered.targets else c for i, c in enumerate(code))
        self._arrays = None
        return ExprCode(text, start, len(self._code), lowered.params, lowered.result_type,
                        lowered.stack_size, self)  # fmt: skip

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(code int64, consts float64); a constant pool is never empty."""
        if self._arrays is None:
            self._arrays = (np.array(self._code, dtype=np.int64),
                            np.array(self._consts or [0.0], dtype=np.float64))  # fmt: skip
        return self._arrays

    def const(self, value: float) -> int:
        key = float(value).hex()
        index = self._const_index.get(key)
        if index is None:
            index = self._const_index[key] = len(self._consts)
            self._consts.append(float(value))
        return index


def lower_expression(text: str, builder: ExprBuilder | None = None) -> ExprCode:
    """Lower ``text`` into ``builder`` (a new one when None); see :class:`ExprBuilder`."""
    return (builder if builder is not None else ExprBuilder()).add(text)


_UNARY = {"neg": Op.NEG, "not": Op.NOT, "to_decimal": Op.TO_DEC, "Abs": Op.ABS, "Ln": Op.LN,
          "Exp": Op.EXP, "Sqrt": Op.SQRT, "Floor": Op.FLOOR, "Ceiling": Op.CEIL,
          "Truncate": Op.TRUNC}  # fmt: skip
# binary operators the reference computes with _binary: a null left operand skips the right
_NULL_SKIPPING = {"+": Op.ADD, "-": Op.SUB, "*": Op.MUL, "/": Op.DIV, "div": Op.IDIV,
                  "mod": Op.MOD, "^": Op.POW, "Log": Op.LOG, "<": Op.LT, "<=": Op.LE,
                  ">": Op.GT, ">=": Op.GE, "=": Op.EQ, "!=": Op.NE, "xor": Op.XOR}  # fmt: skip
_AGGREGATES = {"Min": Op.MIN, "Max": Op.MAX, "Avg": Op.AVG, "Count": Op.COUNT,
               "CoalesceList": Op.FIRST}  # fmt: skip
# ops that can fail where the reference does not evaluate them (see _may_fault)
_FAILING = {"+", "-", "*", "^", "div", "mod", "Sum", "define"}


class _Lowering:
    """The walk of one expression's node tree."""

    def __init__(self, expression: Expression, builder: ExprBuilder):
        self.text = expression.text
        self.expression = expression
        self.builder = builder
        self.code: list[int] = []
        self.targets: set[int] = set()  # offsets of operands that are jump targets
        self.depth = 0
        self.max_depth = 0
        self.defs: dict[int, int] = {}  # definition's scope slot -> local slot
        self.pending: list[tuple[int, object]] = []  # (local slot, body) to emit after HALT
        self.sub_start: dict[int, int] = {}
        self.sub_depth: dict[int, int] = {}  # stack a subroutine's own code needs
        self.in_sub: int | None = None
        # (operand offset, depth at the call, local slot called, subroutine it is in or None)
        self.calls: list[tuple[int, int, int, int | None]] = []
        self.params: tuple[ExprParam, ...] = ()
        self.result_type = expression.result_type
        self.stack_size = 0

    def unsupported(self, feature: str) -> ExprUnsupported:
        return ExprUnsupported(self.text, feature)

    # ----- emission helpers

    def emit(self, *words: int) -> None:
        self.code.extend(int(w) for w in words)

    def jump(self, op: Op) -> int:
        """Emit a jump with its target to patch; returns the operand's offset."""
        self.code.extend((int(op), -1))
        self.targets.add(len(self.code) - 1)
        return len(self.code) - 1

    def here(self, operand: int) -> None:
        self.code[operand] = len(self.code)

    def push(self, n: int = 1) -> None:
        self.depth += n
        self.max_depth = max(self.max_depth, self.depth)

    # ----- the walk

    def lower(self) -> list[int]:
        if self.result_type.startswith("List<"):
            raise self.unsupported("a List result")
        if self.result_type == "String":
            raise self.unsupported("a String result")
        params = []
        for p in self.expression.parameters:
            if p.kind == "list":
                raise self.unsupported(f"the List parameter #l{{{p.name}}}")
            if p.kind == "string":
                raise self.unsupported(f"the String parameter #s{{{p.name}}}")
            params.append(ExprParam(p.name, "Decimal" if p.kind == "decimal" else "Boolean"))
        self.params = tuple(params)
        self.param_index = {p.name: i for i, p in enumerate(self.params)}

        root = expression_tree(self.expression)
        self.emit(0, 0, len(params), *(p.kind for p in params))
        self.node(root)
        self.emit(Op.HALT)
        need = self.max_depth
        # subroutines, entered with the caller's stack plus a return address
        while self.pending:
            slot, body = self.pending.pop(0)
            self.in_sub = slot
            self.depth = self.max_depth = 1
            self.sub_start[slot] = len(self.code)
            self.node(body)
            self.emit(Op.RET, slot)
            self.sub_depth[slot] = self.max_depth
        for operand, _depth, slot, _in in self.calls:
            self.code[operand] = self.sub_start[slot]
        # a definition is computed at whichever of its calls comes first, maybe inside another
        for _operand, depth, slot, in_sub in self.calls:
            if in_sub is None:
                need = max(need, depth + self._sub_need(slot))
        n_slots = len(self.defs)
        self.stack_size = n_slots + need
        self.code[0], self.code[1] = self.stack_size, n_slots
        return self.code

    def _sub_need(self, slot: int) -> int:
        """The stack a subroutine may use above its caller's, with the ones it calls (the
        definitions it reads are earlier ones, so this ends)."""
        need = self.sub_depth[slot]
        for _operand, depth, inner, in_sub in self.calls:
            if in_sub == slot:
                need = max(need, depth + self._sub_need(inner))
        return need

    def node(self, n) -> None:
        op = n.op
        if op == "const":
            self.constant(n.value)
        elif op == "param":
            index = self.param_index[n.value.name]
            self.emit(Op.PARAM, index, self.params[index].kind)
            self.push()
        elif op == "define":
            self.call(n)
        elif op in _UNARY:
            self.node(n.args[0])
            self.emit(_UNARY[op])
        elif op in ("is null", "is true", "is false"):
            self.node(n.args[0])
            self.emit({"is null": Op.IS_NULL, "is true": Op.IS_TRUE, "is false": Op.IS_FALSE}[op])
            if n.value:
                self.emit(Op.NOT)
        elif op == "Round":
            self.round(n)
        elif op in _NULL_SKIPPING:
            self.scalar_operands(n, op)
            a, b = n.args
            self.node(a)
            skip = self.jump(Op.JUMP_NULL) if _may_fault(b) else None
            self.node(b)
            self.emit(_NULL_SKIPPING[op])
            self.depth -= 1
            if skip is not None:
                self.here(skip)
        elif op in ("~", "!~"):
            self.scalar_operands(n, op)
            self.node(n.args[0])
            self.node(n.args[1])
            self.emit(Op.EQV if op == "~" else Op.NEQV)
            self.depth -= 1
        elif op in ("and", "or", "implies"):
            first = {"and": Op.JUMP_FALSE_KEEP, "or": Op.JUMP_TRUE_KEEP,
                     "implies": Op.JUMP_FALSE_TRUE}[op]  # fmt: skip
            self.node(n.args[0])
            end = self.jump(first)
            self.node(n.args[1])
            self.emit({"and": Op.AND, "or": Op.OR, "implies": Op.IMPLIES}[op])
            self.depth -= 1
            self.here(end)
        elif op == "if":
            cond, then, other = n.args
            self.node(cond)
            otherwise = self.jump(Op.JUMP_NOT_TRUE_POP)
            self.depth -= 1
            self.node(then)
            end = self.jump(Op.JUMP)
            self.depth -= 1
            self.here(otherwise)
            self.node(other)
            self.here(end)
        elif op == "case":
            self.case(n)
        elif op == "Coalesce":
            ends = []
            for arg in n.args[:-1]:
                self.node(arg)
                ends.append(self.jump(Op.JUMP_NOT_NULL_KEEP))
                self.emit(Op.POP)
                self.depth -= 1
            self.node(n.args[-1])
            for end in ends:
                self.here(end)
        elif op in _AGGREGATES or op == "Sum":
            self.aggregate(n)
        elif op in ("str+", "&"):
            raise self.unsupported("String operations")
        elif op in ("list", "to_decimals"):
            raise self.unsupported("a List other than a list literal given to an aggregate")
        else:  # a new node op in simulator.gmf.expressions
            raise self.unsupported(f"the operation {op!r}")

    def constant(self, value) -> None:
        if value is None:
            self.emit(Op.CONST, K_NONE, self.builder.const(0.0))
        elif type(value) is bool:
            self.emit(Op.CONST, K_BOOL, self.builder.const(float(value)))
        elif type(value) is int:
            try:
                exact = float(value) == value
            except OverflowError:
                exact = False
            if not exact:
                raise self.unsupported("an Integer constant beyond float64's exact integers")
            self.emit(Op.CONST, K_INT, self.builder.const(float(value)))
        elif type(value) is float:
            self.emit(Op.CONST, K_FLOAT, self.builder.const(value))
        elif type(value) is str:
            raise self.unsupported("Strings")
        else:
            raise self.unsupported("a List other than a list literal given to an aggregate")
        self.push()

    def scalar_operands(self, n, op: str) -> None:
        for arg in n.args:
            if arg.type == "String":
                raise self.unsupported("String operations")
            if arg.type.startswith("List<"):
                raise self.unsupported(f"'{op}' on Lists")

    def call(self, n) -> None:
        slot = self.defs.get(n.value)
        if slot is None:
            slot = self.defs[n.value] = len(self.defs)
            self.pending.append((slot, n.args[0]))
        self.emit(Op.CALL, slot, -1)
        operand = len(self.code) - 1
        self.targets.add(operand)
        self.calls.append((operand, self.depth, slot, self.in_sub))
        self.push()

    def round(self, n) -> None:
        x = n.args[0]
        precision = 0
        if len(n.args) == 2:
            p = n.args[1]
            if not p.const:
                raise self.unsupported("Round with a computed precision")
            if p.value is not None:
                if type(p.value) is not int:
                    raise self.unsupported("Round with a precision that is not an Integer")
                if abs(p.value) > MAX_ROUND_PRECISION:
                    raise self.unsupported(f"Round to {p.value} places")
                precision = p.value
        self.node(x)
        self.emit(Op.ROUND, precision)

    def case(self, n) -> None:
        args = list(n.args)
        other = args.pop()
        selector = args.pop(0) if n.value else None
        if selector is not None:
            self.scalar_operands(n, "case")
            self.node(selector)
        ends = []
        for i in range(0, len(args), 2):
            test, result = args[i], args[i + 1]
            self.node(test)
            nxt = self.jump(Op.CASE_MATCH if selector is not None else Op.JUMP_NOT_TRUE_POP)
            self.depth -= 1  # the test
            if selector is not None:
                self.depth -= 1  # a match pops the selector
            self.node(result)
            ends.append(self.jump(Op.JUMP))
            self.depth -= 1
            if selector is not None:
                self.depth += 1  # no match: the selector is still there
            self.here(nxt)
        if selector is not None:
            self.emit(Op.POP)
            self.depth -= 1
        self.node(other)
        for end in ends:
            self.here(end)

    def aggregate(self, n) -> None:
        xs = n.args[0]
        if xs.op == "const" and isinstance(xs.value, list):
            items = xs.value
            for v in items:
                if isinstance(v, list):
                    raise self.unsupported("nested Lists")
                self.constant(v)
        elif xs.op == "list":
            items = xs.args
            for item in items:
                self.node(item)
        else:
            raise self.unsupported(f"{n.op} of something other than a list literal")
        count = len(items)
        if n.op == "Sum":
            op = Op.SUM_INT if n.value == "Integer" else Op.SUM_DEC
        else:
            op = _AGGREGATES[n.op]
        if op in (Op.SUM_DEC, Op.AVG):
            self.push(count)  # math.fsum's partials go above the items
            self.depth -= count
        self.emit(op, count)
        self.depth -= count
        self.push()


def _may_fault(n) -> bool:
    """Whether evaluating ``n`` can end in a fault (K_FAULT or K_UNSUPPORTED)."""
    return n.op in _FAILING or any(_may_fault(a) for a in n.args)


# ------------------------------------------------------------------------------ evaluation


def encode(value) -> tuple[int, float]:
    """A Python value as the evaluator's (kind, number)."""
    if value is None:
        return int(K_NONE), 0.0
    if isinstance(value, bool | np.bool_):
        return int(K_BOOL), float(value)
    if isinstance(value, int | np.integer):
        return int(K_INT), float(value)
    if isinstance(value, float | np.floating):
        return int(K_FLOAT), float(value)
    raise TypeError(f"no compiled value for {type(value).__name__} {value!r}")


def decode(kind: int, number: float):
    """The evaluator's (kind, number) as the reference's Python value; faults raise."""
    if kind == K_NONE:
        return None
    if kind == K_BOOL:
        return number != 0.0
    if kind == K_INT:
        return int(number)
    if kind == K_FLOAT:
        return float(number)
    raise ValueError(f"the compiled evaluator stopped: kind {kind}, code {int(number)}")


def run(expr: ExprCode, values) -> tuple[int, float]:
    """Evaluate ``expr`` with ``values`` (Python values, one per parameter, in order) and
    return the evaluator's (kind, number); for tests and tools, not the kernel."""
    code, consts = expr.code, expr.consts
    kinds = np.zeros(max(1, len(expr.parameters)), dtype=np.int64)
    nums = np.zeros(max(1, len(expr.parameters)), dtype=np.float64)
    for i, v in enumerate(values):
        kinds[i], nums[i] = encode(v)
    stack_kind = np.zeros(expr.stack_size, dtype=np.int64)
    stack_num = np.zeros(expr.stack_size, dtype=np.float64)
    kind, number = evaluate(code, consts, np.int64(expr.start), np.int64(expr.end), kinds, nums,
                            stack_kind, stack_num)  # fmt: skip
    return int(kind), float(number)


@nb.njit(cache=True)
def _decompose(x):
    """A positive finite double (or 0) as M * 2**E, M < 2**53 an integer, E >= -1074."""
    if x == 0.0:
        return _ZERO, np.int64(-1074)
    m, e = math.frexp(x)
    big_m = np.int64(m * _TWO53)
    big_e = np.int64(e) - 53
    if big_e < -1074:
        big_m >>= -1074 - big_e
        big_e = np.int64(-1074)
    return big_m, big_e


@nb.njit(cache=True)
def _big_cmp(a, a2, a10, b, b2, b10):
    """The sign of a * 2**a2 * 10**a10 - b * 2**b2 * 10**b10 (a, b >= 0), exactly: numbers
    of a few thousand bits as limbs of 30 bits."""
    if a == 0 or b == 0:
        if a == b:
            return _ZERO
        return _ONE if b == 0 else -_ONE
    e = min(a10, b10)
    a10 -= e
    b10 -= e
    a2 += a10  # 10 = 2 * 5
    b2 += b10
    e = min(a2, b2)
    a2 -= e
    b2 -= e
    la = math.log2(float(a)) + a10 * _LOG2_5 + a2
    lb = math.log2(float(b)) + b10 * _LOG2_5 + b2
    if la > lb + 1.0:
        return _ONE
    if lb > la + 1.0:
        return -_ONE
    nl = np.int64(max(la, lb) / 30.0) + 5
    limbs = np.zeros((2, nl), dtype=np.int64)
    for side in range(2):
        v, fives, twos = (a, a10, a2) if side == 0 else (b, b10, b2)
        x = limbs[side]
        x[0] = v & _MASK
        x[1] = (v >> 30) & _MASK
        x[2] = v >> 60
        n = 3
        while fives > 0:
            step = min(fives, 13)
            fives -= step
            f = _FIVES[step]
            carry = _ZERO
            for i in range(n):
                t = x[i] * f + carry
                x[i] = t & _MASK
                carry = t >> 30
            while carry > 0:
                x[n] = carry & _MASK
                carry >>= 30
                n += 1
        if twos > 0:
            ls = twos // 30
            bs = twos % 30
            for i in range(n - 1, -1, -1):
                t = x[i]
                x[i] = 0
                if bs > 0 and i + ls + 1 < nl:
                    x[i + ls + 1] |= t >> (30 - bs)
                x[i + ls] |= (t << bs) & _MASK
    for i in range(nl - 1, -1, -1):
        if limbs[0, i] != limbs[1, i]:
            return _ONE if limbs[0, i] > limbs[1, i] else -_ONE
    return _ZERO


@nb.njit(cache=True)
def _two_product_error(a, b, p):
    """a * b - p exactly, for p = fl(a * b) (Dekker; no overflow or underflow)."""
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


@nb.njit(cache=True)
def _round(x, p):
    """simulator.gmf.expressions._round(x, p): Decimal(repr(x)) quantized to p places with
    ties toward +inf, back to a double, -0.0 made 0.0.

    repr(x) is the decimal with the fewest digits that reads back as x (the nearest such one,
    an even last digit on a tie), so with y = |x| * 10**p: when some n / 10**p reads back as
    x, repr has at most p places and rounding keeps x; otherwise the result is y rounded to
    an integer k, except that a tie (n0 + 1/2) / 10**p that repr would print as x's decimal
    rounds up although x itself may be below it.  The exact tests "reads back as x" and "is
    below" are float divisions and error-free products while y is small and p in 0..21, and
    comparisons of big integers otherwise."""
    if not math.isfinite(x):
        return x
    if x == 0.0:
        return 0.0
    ax = abs(x)
    neg = x < 0.0
    if 0 <= p <= 21:
        big_p = _POW10[p]
        h = ax * big_p
        if h < 0.25:
            return 0.0
        if h < 281474976710656.0:  # 2**48
            lo = _two_product_error(ax, big_p, h)  # y = h + lo exactly
            n0 = np.floor(h)
            if h == n0 and lo < 0.0:
                n0 -= 1.0
            frac = (h - n0) + lo
            m, e = math.frexp(ax)
            margin = 2.0 * math.ldexp(1.0, e - 53) * big_p  # y's read-back interval and error
            k = n0 + 1.0 if frac > 0.5 else n0
            if frac <= margin or frac >= 1.0 - margin:
                if (n0 / big_p == ax) or ((n0 + 1.0) / big_p == ax):
                    return x + 0.0
            elif abs(frac - 0.5) <= margin:
                d1 = _POW10[p + 1]
                t = 10.0 * n0 + 5.0
                is_t = t / d1 == ax
                if is_t:
                    h1 = ax * d1
                    l1 = _two_product_error(ax, d1, h1)
                    # a neighbour of T that reads back as x and is as near is printed instead
                    if (t - 1.0) / d1 == ax and (h1 - (t - 0.5)) <= -l1:
                        is_t = False
                    if (t + 1.0) / d1 == ax and (h1 - (t + 0.5)) >= -l1:
                        is_t = False
                if is_t:
                    k = n0 if neg else n0 + 1.0
                else:
                    k = n0 + 1.0 if (h - (n0 + 0.5)) > -lo else n0
            r = k / big_p
            return (-r if neg else r) + 0.0
    return _round_exact(ax, neg, p)


@nb.njit(cache=True)
def _round_exact(ax, neg, p):
    """_round for the cases the float tests do not cover, with _big_cmp."""
    big_m, big_e = _decompose(ax)
    if _big_cmp(_ONE, big_e, p, np.int64(4), _ZERO, _ZERO) >= 0:
        return (-ax if neg else ax) + 0.0  # gaps of 4 units: some n / 10**p reads back as x
    even = (big_m & 1) == 0
    if big_m == _TWO52I and big_e > -1074:  # the gap below a power of two is half the one above
        low_m, low_e = 4 * big_m - 1, big_e - 2
    else:
        low_m, low_e = 2 * big_m - 1, big_e - 1
    high_m, high_e = 2 * big_m + 1, big_e - 1
    if p > 300:
        approx = ax * 1e300 * math.pow(10.0, float(p - 300))
    elif p < -300:
        approx = ax * 1e-300 * math.pow(10.0, float(p + 300))
    else:
        approx = ax * math.pow(10.0, float(p))
    n0 = np.int64(np.floor(approx))
    while _big_cmp(big_m, big_e, p, n0, _ZERO, _ZERO) < 0:
        n0 -= 1
    while _big_cmp(big_m, big_e, p, n0 + 1, _ZERO, _ZERO) >= 0:
        n0 += 1
    # does c / 10**q read back as x?
    cands = np.empty(5, dtype=np.int64)
    places = np.empty(5, dtype=np.int64)
    t = 10 * n0 + 5
    cands[0], cands[1], cands[2], cands[3], cands[4] = n0, n0 + 1, t, t - 1, t + 1
    places[0], places[1], places[2], places[3], places[4] = p, p, p + 1, p + 1, p + 1
    reads = np.zeros(5, dtype=np.bool_)
    for i in range(5):
        s1 = _big_cmp(cands[i], _ZERO, -places[i], low_m, low_e, _ZERO)
        s2 = _big_cmp(cands[i], _ZERO, -places[i], high_m, high_e, _ZERO)
        reads[i] = (s1 > 0 or (s1 == 0 and even)) and (s2 < 0 or (s2 == 0 and even))
    if reads[0] or reads[1]:
        return (-ax if neg else ax) + 0.0
    is_t = reads[2]
    if is_t and reads[3] and _big_cmp(big_m, big_e + 1, p + 1, 2 * t - 1, _ZERO, _ZERO) <= 0:
        is_t = False
    if is_t and reads[4] and _big_cmp(big_m, big_e + 1, p + 1, 2 * t + 1, _ZERO, _ZERO) >= 0:
        is_t = False
    if is_t:
        k = n0 if neg else n0 + 1
    elif _big_cmp(big_m, big_e + 1, p, 2 * n0 + 1, _ZERO, _ZERO) > 0:
        k = n0 + 1
    else:
        k = n0
    if k == 0:
        return 0.0
    # k / 10**p rounded to the nearest double (ties to even), from an estimate
    if k < 9007199254740992 and 0 <= p <= 22:
        r = float(k) / _POW10[p]
    elif k < 9007199254740992 and -22 <= p < 0:
        r = float(k) * _POW10[-p]
    else:
        if p > 300:
            r = float(k) / 1e300 / math.pow(10.0, float(p - 300))
        else:
            r = float(k) / math.pow(10.0, float(p))
        for _ in range(64):
            if r == math.inf:
                if _big_cmp(k, _ZERO, -p, np.int64((1 << 54) - 1), np.int64(970), _ZERO) >= 0:
                    break
                r = _MAXD
                continue
            q, f = _decompose(r)
            s = _big_cmp(k, _ZERO, -p, 2 * q + 1, f - 1, _ZERO)
            if s > 0 or (s == 0 and (q & 1) == 1):
                r = np.nextafter(r, math.inf)
                continue
            if r > 0.0:
                if q == _TWO52I and f > -1074:
                    s = _big_cmp(k, _ZERO, -p, 4 * q - 1, f - 2, _ZERO)
                else:
                    s = _big_cmp(k, _ZERO, -p, 2 * q - 1, f - 1, _ZERO)
                if s < 0 or (s == 0 and (q & 1) == 1):
                    r = np.nextafter(r, -math.inf)
                    continue
            break
    return (-r if neg else r) + 0.0


@nb.njit(cache=True)
def _fsum(values, partials):
    """math.fsum(values) (CPython's algorithm, step for step); (False, 0.0) where it raises
    (intermediate overflow, inf + -inf).  ``partials`` needs len(values) entries."""
    n = 0
    special = 0.0
    inf_sum = 0.0
    for idx in range(values.shape[0]):
        x = values[idx]
        xsave = x
        i = 0
        for j in range(n):
            y = partials[j]
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            yr = hi - x
            lo = y - yr
            if lo != 0.0:
                partials[i] = lo
                i += 1
            x = hi
        n = i
        if x != 0.0:
            if not math.isfinite(x):
                if math.isfinite(xsave):
                    return False, 0.0
                if math.isinf(xsave):
                    inf_sum += xsave
                special += xsave
                n = 0
            else:
                partials[n] = x
                n += 1
    if special != 0.0:
        if math.isnan(inf_sum):
            return False, 0.0
        return True, special
    hi = 0.0
    if n > 0:
        n -= 1
        hi = partials[n]
        lo = 0.0
        while n > 0:
            x = hi
            n -= 1
            y = partials[n]
            hi = x + y
            yr = hi - x
            lo = y - yr
            if lo != 0.0:
                break
        # half-even rounding across partials
        if n > 0 and ((lo < 0.0 and partials[n - 1] < 0.0) or (lo > 0.0 and partials[n - 1] > 0.0)):
            y = lo * 2.0
            x = hi + y
            yr = x - hi
            if y == yr:
                hi = x
    return True, hi


@nb.njit(cache=True)
def _float_pow(iv, iw):
    """CPython's float ** float: (True, value), or (False, 0.0) where it raises
    (ZeroDivisionError, OverflowError) or the result is complex -- all null here."""
    if iw == 0.0:
        return True, 1.0
    if math.isnan(iv):
        return True, iv
    if math.isnan(iw):
        return True, (1.0 if iv == 1.0 else iw)
    if math.isinf(iw):
        av = abs(iv)
        if av == 1.0:
            return True, 1.0
        if (iw > 0.0) == (av > 1.0):
            return True, abs(iw)
        return True, 0.0
    odd = np.fmod(abs(iw), 2.0) == 1.0
    if math.isinf(iv):
        if iw > 0.0:
            return True, (iv if odd else abs(iv))
        return True, (math.copysign(0.0, iv) if odd else 0.0)
    if iv == 0.0:
        if iw < 0.0:
            return False, 0.0
        return True, (iv if odd else 0.0)
    negate = False
    if iv < 0.0:
        if iw != math.floor(iw):
            return False, 0.0
        iv = -iv
        negate = odd
    if iv == 1.0:
        return True, (-1.0 if negate else 1.0)
    ix = math.pow(iv, iw)
    if math.isinf(ix):
        return False, 0.0
    return True, (-ix if negate else ix)


@nb.njit(cache=True)
def _exact_int(op, a, b):
    """a + b, a - b or a * b (op ADD, SUB, MUL) of exact integers held in doubles: (True,
    result) when the double is the exact result, else (False, 0.0)."""
    if op == O_MUL:
        r = a * b
        if abs(r) < _TWO53:
            return True, r + 0.0
        if not math.isfinite(r) or abs(a) >= _BIG_SPLIT or abs(b) >= _BIG_SPLIT:
            return False, 0.0
        return _two_product_error(a, b, r) == 0.0, r
    if op == O_SUB:
        b = -b
    r = a + b
    if not math.isfinite(r):
        return False, 0.0
    bb = r - a
    return (a - (r - bb)) + (b - bb) == 0.0, r + 0.0


@nb.njit(cache=True)
def evaluate(code, consts, start, end, param_kind, param_num, stack_kind, stack_num):
    """Run the expression at code[start:end] with its parameters resolved to (kind, number)
    arrays; returns the result (kind, number) -- what Expression.evaluate returns, with
    K_FAULT/K_UNSUPPORTED where the kernel must stop (see the module docstring).  The stack
    arrays need the ExprCode's stack_size entries; nothing else is allocated except by
    Round's rare exact path."""
    need = code[start]
    n_slots = code[start + 1]
    n_params = code[start + 2]
    if stack_kind.shape[0] < need or stack_num.shape[0] < need or end <= start:
        return K_FAULT, float(FAULT_STACK)
    if param_kind.shape[0] < n_params or param_num.shape[0] < n_params:
        return K_FAULT, float(FAULT_STACK)
    # the reference converts every parameter before computing anything
    for i in range(n_params):
        k = param_kind[i]
        if k != K_NONE:
            if code[start + HEADER + i] == K_FLOAT:
                if k != K_INT and k != K_FLOAT:
                    return K_FAULT, float(FAULT_PARAM)
            elif k != K_BOOL:
                return K_FAULT, float(FAULT_PARAM)
    for i in range(n_slots):
        stack_kind[i] = K_UNSET
    sp = n_slots
    pc = start + HEADER + n_params
    while True:
        op = code[pc]
        if op < O_NEG:  # ---------------------------------------------------- control
            if op == O_HALT:
                break
            if op == O_CONST:
                stack_kind[sp] = code[pc + 1]
                stack_num[sp] = consts[code[pc + 2]]
                sp += 1
                pc += 3
            elif op == O_PARAM:
                i = code[pc + 1]
                k = param_kind[i]
                if k == K_NONE:
                    stack_kind[sp] = K_NONE
                    stack_num[sp] = 0.0
                elif code[pc + 2] == K_FLOAT:
                    stack_kind[sp] = K_FLOAT
                    stack_num[sp] = param_num[i] + 0.0 if k == K_INT else param_num[i]
                else:
                    stack_kind[sp] = K_BOOL
                    stack_num[sp] = 1.0 if param_num[i] != 0.0 else 0.0
                sp += 1
                pc += 3
            elif op == O_POP:
                sp -= 1
                pc += 1
            elif op == O_JUMP:
                pc = code[pc + 1]
            elif op == O_JUMP_NULL:
                pc = code[pc + 1] if stack_kind[sp - 1] == K_NONE else pc + 2
            elif op == O_JUMP_FALSE_KEEP:
                top_false = stack_kind[sp - 1] == K_BOOL and stack_num[sp - 1] == 0.0
                pc = code[pc + 1] if top_false else pc + 2
            elif op == O_JUMP_TRUE_KEEP:
                top_true = stack_kind[sp - 1] == K_BOOL and stack_num[sp - 1] != 0.0
                pc = code[pc + 1] if top_true else pc + 2
            elif op == O_JUMP_FALSE_TRUE:
                if stack_kind[sp - 1] == K_BOOL and stack_num[sp - 1] == 0.0:
                    stack_num[sp - 1] = 1.0
                    pc = code[pc + 1]
                else:
                    pc += 2
            elif op == O_JUMP_NOT_TRUE_POP:
                sp -= 1
                top_true = stack_kind[sp] == K_BOOL and stack_num[sp] != 0.0
                pc = pc + 2 if top_true else code[pc + 1]
            elif op == O_JUMP_NOT_NULL_KEEP:
                pc = code[pc + 1] if stack_kind[sp - 1] != K_NONE else pc + 2
            elif op == O_CASE_MATCH:
                sp -= 1
                kb = stack_kind[sp]
                ka = stack_kind[sp - 1]
                if ka != K_NONE and kb != K_NONE and stack_num[sp - 1] == stack_num[sp]:
                    sp -= 1
                    pc += 2
                else:
                    pc = code[pc + 1]
            elif op == O_CALL:
                slot = code[pc + 1]
                if stack_kind[slot] != K_UNSET:
                    stack_kind[sp] = stack_kind[slot]
                    stack_num[sp] = stack_num[slot]
                    sp += 1
                    pc += 3
                else:
                    stack_kind[sp] = K_MARK
                    stack_num[sp] = float(pc + 3)
                    sp += 1
                    pc = code[pc + 2]
            elif op == O_RET:
                slot = code[pc + 1]
                sp -= 1
                stack_kind[slot] = stack_kind[sp]
                stack_num[slot] = stack_num[sp]
                pc = np.int64(stack_num[sp - 1])
                stack_kind[sp - 1] = stack_kind[sp]
                stack_num[sp - 1] = stack_num[sp]
            else:
                return K_FAULT, float(FAULT_STACK)  # not an opcode: not code from a builder
            continue
        if op < O_ADD:  # ---------------------------------------------------- unary
            k = stack_kind[sp - 1]
            v = stack_num[sp - 1]
            pc += 1
            if op == O_IS_NULL:
                stack_kind[sp - 1] = K_BOOL
                stack_num[sp - 1] = 1.0 if k == K_NONE else 0.0
                continue
            if op == O_IS_TRUE or op == O_IS_FALSE:
                want = 1.0 if op == O_IS_TRUE else 0.0
                stack_num[sp - 1] = 1.0 if k == K_BOOL and v == want else 0.0
                stack_kind[sp - 1] = K_BOOL
                continue
            if k == K_NONE:
                if op == O_ROUND:
                    pc += 1
                continue
            rk = K_FLOAT
            r = 0.0
            if op == O_NEG:
                rk = k
                r = -v + 0.0 if k == K_INT else -v
            elif op == O_NOT:
                rk = K_BOOL
                r = 1.0 - v
            elif op == O_TO_DEC:
                r = v
            elif op == O_ABS:
                rk = k
                r = abs(v)
            elif op == O_LN:
                if v <= 0.0:
                    rk = K_NONE
                else:
                    r = math.log(v)
            elif op == O_EXP:
                r = math.exp(v)
                if math.isinf(r) and math.isfinite(v):
                    rk = K_NONE
            elif op == O_SQRT:
                if v < 0.0:
                    rk = K_NONE
                else:
                    r = math.sqrt(v)
            elif op == O_FLOOR or op == O_CEIL or op == O_TRUNC:
                rk = K_INT
                if k == K_INT:
                    r = v
                elif not math.isfinite(v):
                    rk = K_NONE
                elif op == O_FLOOR:  # numpy's: math's give int64 in numba
                    r = np.floor(v) + 0.0
                elif op == O_CEIL:
                    r = np.ceil(v) + 0.0
                else:
                    r = np.trunc(v) + 0.0
            elif op == O_ROUND:
                r = _round(v, code[pc])
                pc += 1
            stack_kind[sp - 1] = rk
            stack_num[sp - 1] = r if rk != K_NONE else 0.0
            continue
        if op < O_MIN:  # ---------------------------------------------------- binary
            sp -= 1
            kb = stack_kind[sp]
            b = stack_num[sp]
            ka = stack_kind[sp - 1]
            a = stack_num[sp - 1]
            pc += 1
            rk = K_BOOL
            r = 0.0
            if op == O_EQV or op == O_NEQV:
                if ka == K_NONE or kb == K_NONE:
                    same = ka == kb
                else:
                    same = a == b
                r = 1.0 if same == (op == O_EQV) else 0.0
            elif op == O_AND:  # the left one is not False
                if kb == K_BOOL and b == 0.0:
                    r = 0.0
                elif ka == K_NONE or kb == K_NONE:
                    rk = K_NONE
                else:
                    r = 1.0
            elif op == O_OR:  # the left one is not True
                if kb == K_BOOL and b != 0.0:
                    r = 1.0
                elif ka == K_NONE or kb == K_NONE:
                    rk = K_NONE
                else:
                    r = 0.0
            elif op == O_IMPLIES:  # the left one is not False
                if (ka == K_BOOL and a != 0.0) or (kb == K_BOOL and b != 0.0):
                    rk = kb
                    r = b
                else:
                    rk = K_NONE
            elif ka == K_NONE or kb == K_NONE:
                rk = K_NONE
            elif op == O_LT:
                r = 1.0 if a < b else 0.0
            elif op == O_LE:
                r = 1.0 if a <= b else 0.0
            elif op == O_GT:
                r = 1.0 if a > b else 0.0
            elif op == O_GE:
                r = 1.0 if a >= b else 0.0
            elif op == O_EQ:
                r = 1.0 if a == b else 0.0
            elif op == O_NE or op == O_XOR:
                r = 1.0 if a != b else 0.0
            elif op == O_ADD or op == O_SUB or op == O_MUL:
                if ka == K_INT and kb == K_INT:
                    ok, r = _exact_int(op, a, b)
                    if not ok:
                        return K_UNSUPPORTED, float(UNSUPPORTED_INTEGER)
                    rk = K_INT
                else:
                    rk = K_FLOAT
                    r = a + b if op == O_ADD else (a - b if op == O_SUB else a * b)
            elif op == O_DIV:
                if b == 0.0:
                    rk = K_NONE
                else:
                    rk = K_FLOAT
                    r = a / b
            elif op == O_IDIV or op == O_MOD:
                if b == 0.0:
                    rk = K_NONE
                elif ka == K_INT and kb == K_INT:
                    if abs(a) >= _TWO53 or abs(b) >= _TWO53:
                        return K_UNSUPPORTED, float(UNSUPPORTED_INTEGER)
                    ia = np.int64(a)
                    ib = np.int64(b)
                    rk = K_INT
                    if op == O_IDIV:
                        quot = abs(ia) // abs(ib)
                        r = float(quot if (ia < 0) == (ib < 0) else -quot) + 0.0
                    else:
                        rem = abs(ia) % abs(ib)
                        r = float(rem if ia >= 0 else -rem) + 0.0
                elif op == O_IDIV:
                    qf = a / b
                    if math.isnan(qf):
                        return K_FAULT, float(FAULT_MATH)  # math.trunc(nan): ValueError
                    if math.isinf(qf):
                        rk = K_NONE
                    else:
                        rk = K_FLOAT
                        r = np.trunc(qf) + 0.0
                else:
                    rk = K_FLOAT
                    if math.isinf(b) and math.isfinite(a):
                        r = a
                    else:
                        r = np.fmod(a, b)
                        if math.isnan(r) and not math.isnan(a) and not math.isnan(b):
                            return K_FAULT, float(FAULT_MATH)  # math.fmod: ValueError
            elif op == O_POW:
                ok = True
                if ka == K_INT and kb == K_INT:
                    if b < 0.0:
                        if a == 0.0:
                            ok = False
                        else:
                            ok, r = _float_pow(a, -b)
                            if ok and r == 0.0:
                                ok = False
                            elif ok:
                                r = 1.0 / r
                        rk = K_FLOAT
                    else:
                        rk = K_INT
                        if b > 4096.0 and abs(a) > 1.0:
                            ok = False
                        elif a == 0.0 or a == 1.0:
                            r = 1.0 if b == 0.0 else a
                        elif a == -1.0:
                            r = -1.0 if np.fmod(b, 2.0) == 1.0 else 1.0
                        elif b > 1100.0:
                            return K_UNSUPPORTED, float(UNSUPPORTED_INTEGER)
                        else:
                            r = 1.0
                            factor = a
                            e = np.int64(b)
                            while e > 0:
                                if e & 1:
                                    exact, r = _exact_int(O_MUL, r, factor)
                                    if not exact:
                                        return K_UNSUPPORTED, float(UNSUPPORTED_INTEGER)
                                e >>= 1
                                if e > 0:
                                    exact, factor = _exact_int(O_MUL, factor, factor)
                                    if not exact:
                                        return K_UNSUPPORTED, float(UNSUPPORTED_INTEGER)
                else:
                    rk = K_FLOAT
                    ok, r = _float_pow(a, b)
                if not ok:
                    rk = K_NONE
            elif op == O_LOG:
                rk = K_NONE
                if not (a <= 0.0 or b <= 0.0):  # nan goes on to log, like _log
                    den = math.log(b)
                    if den != 0.0:
                        rk = K_FLOAT
                        r = math.log(a) / den
            stack_kind[sp - 1] = rk
            stack_num[sp - 1] = r if rk != K_NONE else 0.0
            continue
        # -------------------------------------------------------------------- aggregates
        n = code[pc + 1]
        pc += 2
        base = sp - n
        m = 0  # the non-null items, moved down to the start
        for i in range(base, sp):
            if stack_kind[i] != K_NONE:
                stack_kind[base + m] = stack_kind[i]
                stack_num[base + m] = stack_num[i]
                m += 1
        rk = K_NONE
        r = 0.0
        if op == O_COUNT:
            rk = K_INT
            r = float(m)
        elif m == 0:
            pass
        elif op == O_FIRST:
            rk = stack_kind[base]
            r = stack_num[base]
        elif op == O_MIN or op == O_MAX:
            rk = stack_kind[base]
            r = stack_num[base]
            for i in range(base + 1, base + m):
                v = stack_num[i]
                if (v < r) if op == O_MIN else (v > r):
                    rk = stack_kind[i]
                    r = v
        elif op == O_SUM_INT:
            rk = K_INT
            for i in range(base, base + m):
                if stack_kind[i] != K_INT:
                    return K_UNSUPPORTED, float(UNSUPPORTED_SUM)  # Python's int/float sum
                exact, r = _exact_int(O_ADD, r, stack_num[i])
                if not exact:
                    return K_UNSUPPORTED, float(UNSUPPORTED_INTEGER)
        else:  # SUM_DEC, AVG: math.fsum, its partials above the items
            ok, r = _fsum(stack_num[base : base + m], stack_num[sp : sp + m])
            if ok:
                rk = K_FLOAT
                if op == O_AVG:
                    r = r / float(m)
        sp = base + 1
        stack_kind[base] = rk
        stack_num[base] = r if rk != K_NONE else 0.0
    kind = stack_kind[sp - 1]
    number = stack_num[sp - 1]
    # Expression.evaluate's _representable: what a double cannot hold is null
    if kind == K_FLOAT and not math.isfinite(number):
        return K_NONE, 0.0
    if kind == K_INT and abs(number) > _TWO1023:
        return K_NONE, 0.0
    return kind, number
