"""CQL-lite expressions (module-format.md §13).

``SetAttribute.expression`` and ``VitalSign.expression`` hold a small CQL expression in
which person values are written ``#{name}`` (Decimal, the default), ``#d{name}`` (Decimal),
``#l{name}`` (List of Decimal), ``#b{name}`` (Boolean) or ``#s{name}`` (String).  In a
multi-line expression every line but the last is a CQL definition (``define Name: expr``,
``define "Quoted Name": expr``; the ``define`` keyword may be omitted) that later text can
reference by name; the last line is the result.

The text is tokenised once, parsed by a hand-written Pratt parser, type-checked the way the
CQL translator would (so ``1 + true`` or ``Foo(1)`` fail at parse time) and compiled to a
tree of Python closures.  ``Expression.evaluate`` resolves each parameter exactly once and
runs the closures; nothing is re-parsed.  Constant sub-expressions are folded at parse time.
Each node also records its operation (``_Node.op``, ``args``, ``value``) so that other
back ends (simulator.compiled.expr lowers the tree to bytecode) see the same parse.

Values: CQL Integer -> ``int``, Decimal -> ``float``, Boolean -> ``bool``, String -> ``str``,
List -> ``list``, null -> ``None``.  Decimal parameters receive ``float`` (an ``int`` from the
person is converted), so ``#{x} + 1`` is a Decimal even when ``x`` is ``5``.

Semantics follow CQL 1.5 and the Java reference engine, in particular:

* precedence, loosest first: ``implies``; ``or``/``xor``; ``and``; ``= != ~ !~``;
  ``< <= > >=``; ``is [not] null|true|false``; ``+ - &``; ``* / div mod``; ``^``; unary
  ``+``/``-``.  All binary operators are left-associative (``2 ^ 3 ^ 2`` is 64).
  As in CQL's grammar, unary minus binds tighter than ``^`` (``-2 ^ 2`` is 4, unlike
  Python) and ``not`` binds tighter than comparisons (``not a = b`` means ``(not a) = b``;
  write ``not (a = b)``).  ``if``/``case`` are terms whose last branch extends as far
  right as possible.
* ``/`` always yields a Decimal; ``div`` truncates toward zero; ``mod`` takes the sign of the
  dividend; division by zero (``/``, ``div``, ``mod``) yields null.
* Integer op Integer stays Integer (``^`` with a negative exponent yields a Decimal value,
  like the reference engine); mixing Integer and Decimal promotes to Decimal.
* null propagates through arithmetic, comparisons and functions; ``and``/``or``/``xor``/
  ``implies``/``not`` use three-valued logic; ``if`` treats a null condition as false.
* Results that cannot be represented (``Ln(0)``, ``Sqrt(-1)``, ``Exp(1000)``,
  ``(-8.0) ^ 0.5``) are null.

Known deviations: Decimals are binary doubles rather than CQL's 28-digit/8-place decimals
(``1/3`` is ``0.3333333333333333``, not ``0.33333333``); Integer overflow (32-bit in CQL) is
not emulated; ``~`` compares Decimals exactly (CQL rounds to the least precise operand).
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["Expression", "ExpressionError", "Parameter", "parse_expression"]


# --------------------------------------------------------------------------- public API


class ExpressionError(ValueError):
    """A malformed expression (raised by :func:`parse_expression`) or a bad parameter value
    (raised by :meth:`Expression.evaluate`).  When the problem has a place in the text the
    message ends with ``at line L, column C`` (1-based) followed by the offending line and a
    caret; ``line``/``column``/``position`` are also available as attributes."""

    def __init__(self, message: str, text: str | None = None, position: int | None = None):
        self.reason = message
        self.text = text
        self.position = position
        self.line: int | None = None
        self.column: int | None = None
        full = message
        if text is not None and position is not None:
            position = max(0, min(position, len(text)))
            line_start = text.rfind("\n", 0, position) + 1
            line_end = text.find("\n", position)
            if line_end < 0:
                line_end = len(text)
            self.line = text.count("\n", 0, position) + 1
            self.column = position - line_start + 1
            line_text = text[line_start:line_end].rstrip("\r")
            caret = "".join("\t" if ch == "\t" else " " for ch in line_text[: self.column - 1])
            full = (
                f"{message} at line {self.line}, column {self.column}\n"
                f"    {line_text}\n    {caret}^"
            )
        super().__init__(full)


@dataclass(frozen=True)
class Parameter:
    """A person value referenced by the expression: ``name`` exactly as written inside
    ``#{...}`` (spaces kept) and ``kind`` one of ``decimal``, ``list``, ``boolean``,
    ``string``."""

    name: str
    kind: str


class Expression:
    """A parsed, type-checked and compiled expression.  Immutable; safe to share."""

    __slots__ = ("text", "parameters", "result_type", "_fn", "_bindings", "_size", "_root")

    text: str
    parameters: tuple[Parameter, ...]
    #: The CQL type of the result: ``Integer``, ``Decimal``, ``Boolean``, ``String``,
    #: ``List<...>`` or ``Any`` (the result is always null).
    result_type: str

    def __init__(self, text, parameters, result_type, fn, bindings, size, root=None):
        self.text = text
        self.parameters = parameters
        self.result_type = result_type
        self._fn = fn
        self._bindings = bindings
        self._size = size
        self._root = root

    def evaluate(
        self, resolve: Callable[[Parameter], object]
    ) -> int | float | bool | str | list | None:
        """Evaluate with person values from ``resolve`` (called once per parameter, in
        order of first appearance, before anything is computed).  Raises
        :class:`ExpressionError` when a value does not fit the parameter's kind."""
        env = [_UNSET] * self._size
        for slot, param, convert in self._bindings:
            env[slot] = convert(param, resolve(param))
        return _representable(self._fn(env))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _representable(value):
    """Results a double cannot hold (an Integer past 1.8e308, an infinite or NaN Decimal) are
    null, like every other unrepresentable result."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**1023 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_representable(v) for v in value]
    return value


def parse_expression(text: str) -> Expression:
    """Parse, type-check and compile ``text``; raises :class:`ExpressionError`."""
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, not {type(text).__name__}")
    last_start = _last_line_start(text)
    if last_start is None:
        raise ExpressionError("empty expression", text, 0)
    tokens = _tokenize(text)
    head = [t for t in tokens if t.pos < last_start]
    tail = [t for t in tokens if t.pos >= last_start]
    head.append(_Tok(_EOF, None, head[-1].end if head else last_start, last_start))
    tail.append(_Tok(_EOF, None, len(text.rstrip()), len(text)))

    scope = _Scope()
    definitions = _Parser(text, head, scope, in_head=True)
    definitions.definitions()
    parser = _Parser(text, tail, scope, in_head=False)
    result = parser.expression()
    extra = parser.peek()
    if extra.kind != _EOF:
        raise parser.error(f"unexpected {parser.describe(extra)} after the expression", extra.pos)

    fn = result.fn
    if result.const and _is_list(result.type):
        value = result.fn(None)

        def fn(_env, _value=value):
            return list(_value)

    bindings = tuple((slot, p, _CONVERTERS[p.kind]) for p, slot in scope.params.values())
    parameters = tuple(p for p, _slot in scope.params.values())
    return Expression(text, parameters, result.type, fn, bindings, scope.size, result)


def expression_tree(expression: Expression) -> _Node:
    """The typed node tree ``expression`` was compiled from (see :class:`_Node`), for back
    ends that lower it to something other than closures."""
    return expression._root


def _last_line_start(text: str) -> int | None:
    """Offset of the last line holding something other than whitespace."""
    end = len(text.rstrip())
    if end == 0:
        return None
    return text.rfind("\n", 0, end) + 1


# --------------------------------------------------------------------------- tokenizer

_INT, _DEC, _STR, _IDENT, _QIDENT, _PARAM, _OP, _KW, _EOF = (
    "int", "decimal", "string", "identifier", "quoted identifier", "parameter", "op",
    "keyword", "eof",
)  # fmt: skip

_KEYWORDS = frozenset(
    ("and", "or", "xor", "not", "implies", "if", "then", "else", "case", "when", "end", "true",
     "false", "null", "div", "mod", "is", "define", "public", "private")
)  # fmt: skip
_OPERATORS = ("<=", ">=", "!=", "!~", "(", ")", "{", "}", ",", ":", "+", "-", "*", "/", "^",
              "<", ">", "=", "~", "&")  # fmt: skip
_NUMBER_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM_RE = re.compile(r"#([A-Za-z]?)\{")
_PARAM_KINDS = {"": "decimal", "d": "decimal", "l": "list", "b": "boolean", "s": "string"}
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "n": "\n", "t": "\t",
            "r": "\r", "f": "\f"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    value: object
    pos: int  # offset of the first character in the full text
    end: int  # offset just past the last character


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ExpressionError("unterminated /* comment", text, i)
            i = j + 2
        elif "0" <= c <= "9":
            m = _NUMBER_RE.match(text, i)
            s = m.group()
            if m.group(1):
                tokens.append(_Tok(_DEC, float(s), i, m.end()))
            else:
                tokens.append(_Tok(_INT, int(s), i, m.end()))
            i = m.end()
        elif c == "_" or (c.isascii() and c.isalpha()):
            m = _IDENT_RE.match(text, i)
            word = m.group()
            tokens.append(_Tok(_KW if word in _KEYWORDS else _IDENT, word, i, m.end()))
            i = m.end()
        elif c == "#":
            tokens.append(_param_token(text, i))
            i = tokens[-1].end
        elif c in "'\"`":
            value, end = _quoted(text, i)
            tokens.append(_Tok(_STR if c == "'" else _QIDENT, value, i, end))
            i = end
        else:
            for op in _OPERATORS:
                if text.startswith(op, i):
                    tokens.append(_Tok(_OP, op, i, i + len(op)))
                    i += len(op)
                    break
            else:
                raise ExpressionError(f"unexpected character {c!r}", text, i)
    return tokens


def _param_token(text: str, i: int) -> _Tok:
    m = _PARAM_RE.match(text, i)
    if m is None:
        raise ExpressionError(
            "'#' must start a parameter reference such as #{name} or #d{name}", text, i
        )
    prefix = m.group(1)
    if prefix not in _PARAM_KINDS:
        raise ExpressionError(
            f"unknown parameter type prefix '#{prefix}' (use #d, #l, #b or #s)", text, i
        )
    close = text.find("}", m.end())
    newline = text.find("\n", m.end())
    if close < 0 or 0 <= newline < close:
        raise ExpressionError("unterminated parameter reference (missing '}')", text, i)
    name = text[m.end() : close]
    if not name.strip():
        raise ExpressionError("empty parameter name", text, i)
    return _Tok(_PARAM, (_PARAM_KINDS[prefix], name), i, close + 1)


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    what = "string" if quote == "'" else "quoted identifier"
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            esc = text[i + 1 : i + 2]
            if esc == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if esc not in _ESCAPES:
                raise ExpressionError(f"invalid escape sequence in {what}", text, i)
            out.append(_ESCAPES[esc])
            i += 2
            continue
        out.append(c)
        i += 1
    raise ExpressionError(f"unterminated {what} (missing closing {quote})", text, start)


# --------------------------------------------------------------------------- types

_INT_T, _DEC_T, _BOOL_T, _STR_T, _ANY_T = "Integer", "Decimal", "Boolean", "String", "Any"
_KIND_TYPES = {"decimal": _DEC_T, "list": "List<Decimal>", "boolean": _BOOL_T, "string": _STR_T}


def _is_list(t: str) -> bool:
    return t.startswith("List<")


def _elem(t: str) -> str:
    return t[5:-1]


def _numeric(t: str) -> bool:
    return t in (_INT_T, _DEC_T, _ANY_T)


def _unify(a: str, b: str) -> str | None:
    """The common type of ``a`` and ``b`` under CQL implicit conversions, or None."""
    if a == b or b == _ANY_T:
        return a
    if a == _ANY_T:
        return b
    if {a, b} == {_INT_T, _DEC_T}:
        return _DEC_T
    if _is_list(a) and _is_list(b):
        e = _unify(_elem(a), _elem(b))
        return None if e is None else f"List<{e}>"
    return None


# --------------------------------------------------------------------------- compiled nodes

_UNSET = object()


class _Node:
    """A compiled sub-expression: ``fn(env)`` computes its value; ``type`` is its CQL type;
    ``const`` nodes ignore ``env``; ``pos`` is the offset where the sub-expression starts.

    ``op`` names what ``fn`` computes from the nodes in ``args`` (already coerced the way
    ``fn`` sees them), with ``value`` holding what is not a node:

    * ``const``: ``value`` is the constant (every folded node is one);
    * ``param``: ``value`` is the :class:`Parameter`;
    * ``define``: a definition's lazily computed value, ``args`` its body, ``value`` its slot
      (every reference to one definition carries the same slot);
    * ``to_decimal``/``to_decimals``: Integer -> Decimal (a value / a list's items);
    * ``neg``, ``not``; ``is null``/``is true``/``is false`` (``value``: negated);
    * binary: ``+ - * / div mod ^ & < <= > >= = != ~ !~ and or xor implies``, and
      ``str+`` (String ``+``);
    * ``if``: (condition, then, else); ``case``: ``value`` True when there is a selector,
      ``args`` ([selector,] test1, result1, ..., else); ``list``: the items;
    * a function name (``Round``, ``Ln``, ...): the arguments; ``Sum``'s ``value`` is the
      element type; ``Coalesce`` with one list argument is ``CoalesceList``.
    """

    __slots__ = ("fn", "type", "const", "pos", "op", "args", "value")

    def __init__(self, fn, type_: str, pos: int, const: bool = False, op: str = "",
                 args: tuple[_Node, ...] = (), value: object = None):  # fmt: skip
        self.fn = fn
        self.type = type_
        self.pos = pos
        self.const = const
        self.op = op
        self.args = args
        self.value = value


def _constant_fn(value):
    def f(_env):
        return value

    return f


def _const(value, type_: str, pos: int) -> _Node:
    return _Node(_constant_fn(value), type_, pos, const=True, op="const", value=value)


def _make(fn, type_: str, pos: int, *children: _Node, op: str,
          args: tuple[_Node, ...] | None = None, value: object = None) -> _Node:  # fmt: skip
    """A node computed from ``children``; folded to a constant when they all are.  ``op``,
    ``args`` (default: ``children``) and ``value`` describe it (see :class:`_Node`)."""
    if children and all(c.const for c in children):
        return _const(fn(None), type_, pos)
    return _Node(fn, type_, pos, op=op, args=children if args is None else args, value=value)


def _coerce(node: _Node, target: str) -> _Node:
    """Apply CQL's implicit Integer -> Decimal conversion (also inside lists)."""
    if node.type == target or node.type == _ANY_T:
        return node
    f = node.fn
    if node.type == _INT_T and target == _DEC_T:

        def to_decimal(env):
            v = f(env)
            return None if v is None else float(v)

        return _make(to_decimal, target, node.pos, node, op="to_decimal")
    if _is_list(node.type) and _is_list(target) and _elem(node.type) == _INT_T:

        def to_decimals(env):
            v = f(env)
            return None if v is None else [None if x is None else float(x) for x in v]

        return _make(to_decimals, target, node.pos, node, op="to_decimals")
    return node


def _slot_fn(slot: int):
    def f(env):
        return env[slot]

    return f


def _lazy_fn(slot: int, compute):
    """A definition: computed on first use during an evaluation, then reused."""

    def f(env):
        v = env[slot]
        if v is _UNSET:
            v = env[slot] = compute(env)
        return v

    return f


# --------------------------------------------------------------------------- runtime helpers


def _binary(fl, fr, op):
    """Null-propagating binary operator; unrepresentable results become null."""

    def f(env):
        a = fl(env)
        if a is None:
            return None
        b = fr(env)
        if b is None:
            return None
        try:
            return op(a, b)
        except (ZeroDivisionError, OverflowError):
            return None

    return f


def _unary(fx, op):
    def f(env):
        x = fx(env)
        if x is None:
            return None
        try:
            return op(x)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None

    return f


def _truncated_div(a, b):
    if b == 0:
        return None
    if type(a) is int and type(b) is int:
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q
    return float(math.trunc(a / b))


def _mod(a, b):
    if b == 0:
        return None
    if type(a) is int and type(b) is int:
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    return math.fmod(a, b)


def _power(a, b):
    if type(a) is int and type(b) is int:
        if b < 0:
            return None if a == 0 else 1.0 / float(a) ** -b
        if b > 4096 and abs(a) > 1:  # far beyond any representable CQL Integer
            return None
        return a**b
    r = a**b
    return None if isinstance(r, complex) else float(r)


def _round(x, precision=None):
    # The Java reference engine (RoundEvaluator) uses HALF_UP for non-negative values and
    # HALF_DOWN for negative ones, i.e. ties round toward positive infinity:
    # Round(0.5) = 1.0, Round(-0.5) = 0.0, Round(-1.5) = -1.0, Round(2.345, 2) = 2.35.
    # The double is first converted through its shortest repr so Round(2.675, 2) is 2.68
    # (the decimal literal the author wrote), not 2.67 (the binary double's value).
    if x is None:
        return None
    if precision is None:
        precision = 0
    d = Decimal(repr(float(x)))
    if not d.is_finite():
        return float(x)
    mode = ROUND_HALF_DOWN if d < 0 else ROUND_HALF_UP
    try:
        r = d.quantize(Decimal(1).scaleb(-precision), rounding=mode)
    except InvalidOperation:  # precision beyond 28 digits: nothing left to round
        return float(x)
    return float(r) + 0.0  # + 0.0 turns -0.0 into 0.0


def _eq(a, b):
    if a is None or b is None:
        return None
    if type(a) is list:
        if len(a) != len(b):
            return False
        result = True
        for x, y in zip(a, b, strict=True):
            r = _eq(x, y)
            if r is False:
                return False
            if r is None:
                result = None
        return result
    return a == b


def _ne(a, b):
    r = _eq(a, b)
    return None if r is None else not r


_WHITESPACE_RE = re.compile(r"\s")


def _equiv(a, b):
    if a is None or b is None:
        return a is None and b is None
    if type(a) is list:
        return len(a) == len(b) and all(_equiv(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is str:
        return _WHITESPACE_RE.sub(" ", a).casefold() == _WHITESPACE_RE.sub(" ", b).casefold()
    return a == b


def _not_equiv(a, b):
    return not _equiv(a, b)


def _non_null(xs):
    return [x for x in xs if x is not None]


def _agg_min(xs):
    vals = _non_null(xs)
    return min(vals) if vals else None


def _agg_max(xs):
    vals = _non_null(xs)
    return max(vals) if vals else None


def _agg_sum_int(xs):
    vals = _non_null(xs)
    return sum(vals) if vals else None


def _agg_sum_dec(xs):
    vals = _non_null(xs)
    return math.fsum(vals) if vals else None


def _agg_avg(xs):
    vals = _non_null(xs)
    return math.fsum(vals) / len(vals) if vals else None


def _log(x, base):
    if x <= 0 or base <= 0:
        return None
    return math.log(x, base)


# --------------------------------------------------------------------------- parameter values


def _bad_value(p: Parameter, expected: str, v: object) -> ExpressionError:
    return ExpressionError(
        f"parameter #{{{p.name}}} ({p.kind}) expects {expected}, got {type(v).__name__} {v!r}"
    )


def _to_decimal(p: Parameter, v):
    t = type(v)
    if t is float:
        return v
    if t is int:
        return float(v)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Real | Decimal):
        raise _bad_value(p, "a number", v)
    return float(v)


def _to_list(p: Parameter, v):
    if v is None:
        return None
    if isinstance(v, str | bytes | Mapping):
        raise _bad_value(p, "a list of numbers", v)
    try:
        items = list(v)
    except TypeError:
        raise _bad_value(p, "a list of numbers", v) from None
    return [_to_decimal(p, x) for x in items]


def _to_boolean(p: Parameter, v):
    if v is None or type(v) is bool:
        return v
    dtype = getattr(v, "dtype", None)  # numpy.bool_
    if dtype is not None and getattr(dtype, "kind", "") == "b":
        return bool(v)
    raise _bad_value(p, "a boolean", v)


def _to_string(p: Parameter, v):
    if v is None or isinstance(v, str):
        return v
    raise _bad_value(p, "a string", v)


_CONVERTERS = {
    "decimal": _to_decimal,
    "list": _to_list,
    "boolean": _to_boolean,
    "string": _to_string,
}


# --------------------------------------------------------------------------- parser

_INFIX_BP = {
    "implies": 10,
    "or": 20, "xor": 20,
    "and": 30,
    "=": 40, "!=": 40, "~": 40, "!~": 40,
    "<": 50, "<=": 50, ">": 50, ">=": 50,
    "is": 60,
    "+": 70, "-": 70, "&": 70,
    "*": 80, "/": 80, "div": 80, "mod": 80,
    "^": 90,
}  # fmt: skip
_NOT_OPERAND_BP = 55  # `not x` takes `is` but not comparisons (CQL grammar)
_UNARY_OPERAND_BP = 95  # `-x` binds tighter than `^` (CQL grammar)

_ARITH = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "div": _truncated_div,
    "mod": _mod,
    "^": _power,
}
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class _Scope:
    """Parameters and definitions shared by all lines of one expression."""

    def __init__(self) -> None:
        self.params: dict[str, tuple[Parameter, int]] = {}
        self.defs: dict[str, _Node] = {}
        self.size = 0

    def slot(self) -> int:
        self.size += 1
        return self.size - 1


class _Parser:
    def __init__(self, text: str, tokens: list[_Tok], scope: _Scope, in_head: bool):
        self.text = text
        self.toks = tokens
        self.i = 0
        self.scope = scope
        self.in_head = in_head

    # ----- token helpers

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def advance(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.kind != _EOF:
            self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.toks[self.i]
        return tok.kind in (_OP, _KW) and tok.value == value

    def error(self, message: str, pos: int) -> ExpressionError:
        return ExpressionError(message, self.text, pos)

    def describe(self, tok: _Tok) -> str:
        if tok.kind == _EOF:
            return "end of definition" if self.in_head else "end of expression"
        if tok.kind in (_OP, _KW):
            return f"'{tok.value}'"
        kind = "number" if tok.kind in (_INT, _DEC) else tok.kind
        return f"{kind} {self.text[tok.pos : tok.end]}"

    def expect(self, value: str, context: str) -> _Tok:
        tok = self.peek()
        if tok.kind in (_OP, _KW) and tok.value == value:
            return self.advance()
        raise self.error(f"expected '{value}' {context}, found {self.describe(tok)}", tok.pos)

    def line_of(self, pos: int) -> int:
        return self.text.count("\n", 0, pos)

    # ----- definitions (every line but the last)

    def definitions(self) -> None:
        while self.peek().kind != _EOF:
            tok = self.peek()
            if self.at("define"):
                self.advance()
                if self.at("public") or self.at("private"):
                    self.advance()
            name_tok = self.peek()
            colon = self.toks[self.i + 1] if name_tok.kind in (_IDENT, _QIDENT) else None
            if colon is None or colon.kind != _OP or colon.value != ":":
                raise self.error(
                    "expected a definition 'define Name: expression' (in a multi-line "
                    "expression every line but the last must be a definition), found "
                    f"{self.describe(name_tok)}",
                    name_tok.pos,
                )
            self.advance()
            self.advance()  # ':'
            name = name_tok.value
            if name in self.scope.defs:
                raise self.error(f"'{name}' is already defined", name_tok.pos)
            node = self.expression()
            nxt = self.peek()
            if nxt.kind != _EOF and self.line_of(nxt.pos) == self.line_of(
                self.toks[self.i - 1].pos
            ):
                raise self.error(
                    f"unexpected {self.describe(nxt)} after the definition of '{name}'", nxt.pos
                )
            if not node.const:
                slot = self.scope.slot()
                node = _Node(_lazy_fn(slot, node.fn), node.type, tok.pos, op="define",
                             args=(node,), value=slot)  # fmt: skip
            self.scope.defs[name] = node

    # ----- Pratt core

    def expression(self, min_bp: int = 0) -> _Node:
        left = self.prefix(self.advance())
        while True:
            tok = self.peek()
            bp = _INFIX_BP.get(tok.value) if tok.kind in (_OP, _KW) else None
            if bp is None or bp <= min_bp:
                return left
            self.advance()
            left = self.infix(tok, left, bp)

    def prefix(self, tok: _Tok) -> _Node:
        kind, value, pos = tok.kind, tok.value, tok.pos
        if kind == _INT:
            return _const(value, _INT_T, pos)
        if kind == _DEC:
            return _const(value, _DEC_T, pos)
        if kind == _STR:
            return _const(value, _STR_T, pos)
        if kind == _PARAM:
            return self.parameter(tok)
        if kind in (_IDENT, _QIDENT):
            if self.at("("):
                return self.call(tok)
            return self.reference(tok)
        if kind == _OP:
            if value == "(":
                node = self.expression()
                self.expect(")", f"to close the '(' at column {self._column(pos)}")
                node.pos = pos
                return node
            if value == "{":
                return self.list_literal(tok)
            if value in ("-", "+"):
                return self.negate(value, self.expression(_UNARY_OPERAND_BP), pos)
        if kind == _KW:
            if value in ("true", "false"):
                return _const(value == "true", _BOOL_T, pos)
            if value == "null":
                return _const(None, _ANY_T, pos)
            if value == "not":
                return self.logical_not(self.expression(_NOT_OPERAND_BP), pos)
            if value == "if":
                return self.if_then_else(pos)
            if value == "case":
                return self.case(pos)
            if value == "define":
                raise self.error(
                    "'define' is only allowed on lines before the last one (the last line "
                    "is the result expression)",
                    pos,
                )
        if kind == _EOF:
            raise self.error(f"unexpected {self.describe(tok)}: expected a value", pos)
        raise self.error(f"unexpected {self.describe(tok)}", pos)

    def infix(self, tok: _Tok, left: _Node, bp: int) -> _Node:
        op = tok.value
        if op == "is":
            return self.is_test(left, tok)
        right = self.expression(bp)  # left-associative
        if op in _ARITH:
            return self.arithmetic(op, left, right, tok.pos)
        if op == "&":
            return self.concatenate(left, right, tok.pos)
        if op in _COMPARE or op in ("=", "!=", "~", "!~"):
            return self.comparison(op, left, right, tok.pos)
        return self.logical(op, left, right, tok.pos)

    def _column(self, pos: int) -> int:
        return pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    # ----- primaries

    def parameter(self, tok: _Tok) -> _Node:
        kind, name = tok.value
        known = self.scope.params.get(name)
        if known is None:
            param = Parameter(name, kind)
            slot = self.scope.slot()
            self.scope.params[name] = (param, slot)
        else:
            param, slot = known
            if param.kind != kind:
                raise self.error(
                    f"parameter '{name}' is used as {kind} here but as {param.kind} earlier",
                    tok.pos,
                )
        return _Node(_slot_fn(slot), _KIND_TYPES[kind], tok.pos, op="param", value=param)

    def reference(self, tok: _Tok) -> _Node:
        node = self.scope.defs.get(tok.value)
        if node is None:
            hint = ""
            if tok.value in _FUNCTIONS:
                hint = f" ({tok.value} is a function: write {tok.value}(...))"
            elif self.scope.defs:
                close = difflib.get_close_matches(tok.value, list(self.scope.defs), 1)
                if close:
                    hint = f" (did you mean '{close[0]}'?)"
            raise self.error(
                f"unknown identifier '{tok.value}'{hint}; definitions must be declared on an "
                "earlier line, and person values are written #{name}",
                tok.pos,
            )
        return _Node(node.fn, node.type, tok.pos, node.const, node.op, node.args, node.value)

    def list_literal(self, tok: _Tok) -> _Node:
        items: list[_Node] = []
        if self.at("}"):
            self.advance()
            return _const([], "List<Any>", tok.pos)
        while True:
            items.append(self.expression())
            if not self.at(","):
                break
            self.advance()
        self.expect("}", f"or ',' in the list started at column {self._column(tok.pos)}")
        elem = _ANY_T
        for item in items:
            unified = _unify(elem, item.type)
            if unified is None:
                raise self.error(
                    f"list elements must share a type: found {elem} and {item.type}", item.pos
                )
            elem = unified
        coerced = tuple(_coerce(item, elem) for item in items)
        fns = tuple(item.fn for item in coerced)

        def build(env):
            return [f(env) for f in fns]

        return _make(build, f"List<{elem}>", tok.pos, *items, op="list", args=coerced)

    def call(self, tok: _Tok) -> _Node:
        name = tok.value
        spec = _FUNCTIONS.get(name)
        if spec is None:
            lower = {k.lower(): k for k in _FUNCTIONS}
            if name.lower() in lower:
                hint = f"did you mean '{lower[name.lower()]}'? (function names are case-sensitive)"
            else:
                hint = "known functions: " + ", ".join(sorted(_FUNCTIONS))
            raise self.error(f"unknown function '{name}'; {hint}", tok.pos)
        self.advance()  # '('
        args: list[_Node] = []
        if not self.at(")"):
            while True:
                args.append(self.expression())
                if self.at(","):
                    self.advance()
                    continue
                self.expect(")", f"or ',' in the arguments of {name}")
                break
        else:
            self.advance()
        low, high, build = spec
        if not low <= len(args) <= high:
            if low == high:
                wanted = f"{low} argument{'s' if low != 1 else ''}"
            elif high == _MANY:
                wanted = f"at least {low} argument{'s' if low != 1 else ''}"
            else:
                wanted = f"{low} to {high} arguments"
            raise self.error(f"{name} takes {wanted}, got {len(args)}", tok.pos)
        return build(self, name, args, tok.pos)

    # ----- operators

    def type_error(self, message: str, pos: int) -> ExpressionError:
        return self.error(message, pos)

    def negate(self, op: str, operand: _Node, pos: int) -> _Node:
        if not _numeric(operand.type):
            raise self.type_error(f"unary '{op}' needs a number, got {operand.type}", pos)
        if op == "+":
            operand.pos = pos
            return operand
        return _make(_unary(operand.fn, operator.neg), operand.type, pos, operand, op="neg")

    def arithmetic(self, op: str, left: _Node, right: _Node, pos: int) -> _Node:
        lt, rt = left.type, right.type
        if op == "+" and _unify(lt, rt) == _STR_T:
            return _make(_binary(left.fn, right.fn, operator.add), _STR_T, left.pos, left, right,
                         op="str+")  # fmt: skip
        if not (_numeric(lt) and _numeric(rt)):
            raise self.type_error(f"operator '{op}' cannot be applied to {lt} and {rt}", pos)
        result = _DEC_T if op == "/" else _unify(lt, rt)
        return _make(_binary(left.fn, right.fn, _ARITH[op]), result, left.pos, left, right, op=op)

    def concatenate(self, left: _Node, right: _Node, pos: int) -> _Node:
        if _unify(left.type, _STR_T) != _STR_T or _unify(right.type, _STR_T) != _STR_T:
            raise self.type_error(
                f"operator '&' concatenates strings, got {left.type} and {right.type}", pos
            )
        fl, fr = left.fn, right.fn

        def concat(env):
            a, b = fl(env), fr(env)
            return ("" if a is None else a) + ("" if b is None else b)

        return _make(concat, _STR_T, left.pos, left, right, op="&")

    def comparison(self, op: str, left: _Node, right: _Node, pos: int) -> _Node:
        lt, rt = left.type, right.type
        common = _unify(lt, rt)
        if op in _COMPARE:
            if common not in (_INT_T, _DEC_T, _STR_T, _ANY_T):
                raise self.type_error(f"cannot compare {lt} and {rt} with '{op}'", pos)
            fn = _binary(left.fn, right.fn, _COMPARE[op])
        else:
            if common is None:
                raise self.type_error(f"cannot compare {lt} and {rt} with '{op}'", pos)
            fl, fr = left.fn, right.fn
            if op == "=":
                fn = _binary(fl, fr, _eq)
            elif op == "!=":
                fn = _binary(fl, fr, _ne)
            else:
                test = _equiv if op == "~" else _not_equiv

                def fn(env):
                    return test(fl(env), fr(env))

        return _make(fn, _BOOL_T, left.pos, left, right, op=op)

    def require_boolean(self, what: str, node: _Node, pos: int) -> None:
        if node.type not in (_BOOL_T, _ANY_T):
            hint = ""
            if what == "'not'":
                hint = " (in CQL 'not' binds tighter than comparisons: write not (a > b))"
            raise self.type_error(f"{what} needs a Boolean, got {node.type}{hint}", pos)

    def logical_not(self, operand: _Node, pos: int) -> _Node:
        self.require_boolean("'not'", operand, operand.pos)
        return _make(_unary(operand.fn, operator.not_), _BOOL_T, pos, operand, op="not")

    def logical(self, op: str, left: _Node, right: _Node, pos: int) -> _Node:
        self.require_boolean(f"'{op}'", left, left.pos)
        self.require_boolean(f"'{op}'", right, right.pos)
        fl, fr = left.fn, right.fn
        if op == "and":

            def fn(env):
                a = fl(env)
                if a is False:
                    return False
                b = fr(env)
                if b is False:
                    return False
                return None if a is None or b is None else True

        elif op == "or":

            def fn(env):
                a = fl(env)
                if a is True:
                    return True
                b = fr(env)
                if b is True:
                    return True
                return None if a is None or b is None else False

        elif op == "xor":
            fn = _binary(fl, fr, operator.ne)
        else:  # implies

            def fn(env):
                a = fl(env)
                if a is False:
                    return True
                b = fr(env)
                if a is True or b is True:
                    return b
                return None

        return _make(fn, _BOOL_T, left.pos, left, right, op=op)

    def is_test(self, left: _Node, tok: _Tok) -> _Node:
        negated = False
        if self.at("not"):
            self.advance()
            negated = True
        what = self.peek()
        if not (what.kind == _KW and what.value in ("null", "true", "false")):
            raise self.error(
                f"expected 'null', 'true' or 'false' after 'is', found {self.describe(what)}",
                what.pos,
            )
        self.advance()
        f = left.fn
        if what.value == "null":

            def test(env):
                return (f(env) is None) != negated

        else:
            self.require_boolean("'is true'/'is false'", left, left.pos)
            target = what.value == "true"

            def test(env):
                return (f(env) is target) != negated

        return _make(test, _BOOL_T, left.pos, left, op=f"is {what.value}", value=negated)

    def if_then_else(self, pos: int) -> _Node:
        cond = self.expression()
        self.require_boolean("the 'if' condition", cond, cond.pos)
        self.expect("then", "after the 'if' condition")
        then = self.expression()
        self.expect("else", "('if' needs an 'else' branch)")
        other = self.expression()
        common = self.common_type([then, other], "the branches of 'if'")
        then, other = _coerce(then, common), _coerce(other, common)
        fc, ft, fo = cond.fn, then.fn, other.fn

        def fn(env):
            return ft(env) if fc(env) is True else fo(env)

        if cond.const:
            return then if cond.fn(None) is True else other
        return _Node(fn, common, pos, op="if", args=(cond, then, other))

    def case(self, pos: int) -> _Node:
        if self.at("else") or self.at("end"):
            tok = self.peek()
            raise self.error(f"expected 'when' in 'case', found {self.describe(tok)}", tok.pos)
        selector = None if self.at("when") else self.expression()
        whens: list[tuple[_Node, _Node]] = []
        while self.at("when"):
            self.advance()
            test = self.expression()
            if selector is None:
                self.require_boolean("a 'case when' condition", test, test.pos)
            elif _unify(selector.type, test.type) is None:
                raise self.type_error(
                    f"cannot compare the case selector ({selector.type}) with {test.type}",
                    test.pos,
                )
            self.expect("then", "after the 'when' condition")
            whens.append((test, self.expression()))
        if not whens:
            raise self.error(
                f"expected 'when' in 'case', found {self.describe(self.peek())}", self.peek().pos
            )
        self.expect("else", "('case' needs an 'else' branch before 'end')")
        other = self.expression()
        self.expect("end", "to close 'case'")
        common = self.common_type([r for _t, r in whens] + [other], "the branches of 'case'")
        whens = [(t, _coerce(r, common)) for t, r in whens]
        other = _coerce(other, common)
        branches = tuple((t.fn, r.fn) for t, r in whens)
        fo = other.fn
        if selector is None:

            def fn(env):
                for test, result in branches:
                    if test(env) is True:
                        return result(env)
                return fo(env)

        else:
            fs = selector.fn

            def fn(env):
                value = fs(env)
                for test, result in branches:
                    if _eq(value, test(env)) is True:
                        return result(env)
                return fo(env)

        children = [r for _t, r in whens] + [t for t, _r in whens] + [other]
        if selector is not None:
            children.append(selector)
        args = (() if selector is None else (selector,)) + tuple(n for w in whens for n in w)
        return _make(fn, common, pos, *children, op="case", args=(*args, other),
                     value=selector is not None)  # fmt: skip

    def common_type(self, nodes: list[_Node], what: str) -> str:
        common = _ANY_T
        for node in nodes:
            unified = _unify(common, node.type)
            if unified is None:
                raise self.type_error(
                    f"{what} have incompatible types {common} and {node.type}", node.pos
                )
            common = unified
        return common


# --------------------------------------------------------------------------- functions

_MANY = 1 << 30


def _numeric_arg(p: _Parser, name: str, node: _Node) -> None:
    if not _numeric(node.type):
        raise p.type_error(f"{name} needs a number, got {node.type}", node.pos)


def _list_arg(p: _Parser, name: str, node: _Node, element_ok, wanted: str) -> str:
    """Check a list argument; returns its element type."""
    if node.type == _ANY_T:
        return _ANY_T
    if not _is_list(node.type) or not element_ok(_elem(node.type)):
        raise p.type_error(
            f"{name} needs a list of {wanted}, e.g. {name}({{1, 2, 3}}), got {node.type}",
            node.pos,
        )
    return _elem(node.type)


def _decimal_function(op):
    def build(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
        (x,) = args
        _numeric_arg(p, name, x)
        return _make(_unary(x.fn, op), _DEC_T, pos, x, op=name)

    return build


def _integer_function(op):
    def build(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
        (x,) = args
        _numeric_arg(p, name, x)
        return _make(_unary(x.fn, op), _INT_T, pos, x, op=name)

    return build


def _build_abs(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
    (x,) = args
    _numeric_arg(p, name, x)
    return _make(_unary(x.fn, abs), x.type, pos, x, op=name)


def _build_round(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
    x = args[0]
    _numeric_arg(p, name, x)
    if len(args) == 1:
        return _make(_unary(x.fn, _round), _DEC_T, pos, x, op=name)
    precision = args[1]
    if precision.type not in (_INT_T, _ANY_T):
        raise p.type_error(f"the precision of Round must be an Integer, got {precision.type}",
                           precision.pos)  # fmt: skip
    fx, fp = x.fn, precision.fn

    def fn(env):
        return _round(fx(env), fp(env))

    return _make(fn, _DEC_T, pos, x, precision, op=name)


def _build_power(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
    return p.arithmetic("^", args[0], args[1], pos)


def _build_log(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
    x, base = args
    _numeric_arg(p, name, x)
    _numeric_arg(p, name, base)

    def log(a, b):
        try:
            return _log(a, b)
        except ValueError:
            return None

    return _make(_binary(x.fn, base.fn, log), _DEC_T, pos, x, base, op=name)


def _aggregate(kind: str):
    def build(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
        (xs,) = args
        if kind == "count":
            _list_arg(p, name, xs, lambda _e: True, "values")
            f = xs.fn

            def count(env):
                v = f(env)
                return 0 if v is None else sum(1 for x in v if x is not None)

            return _make(count, _INT_T, pos, xs, op=name)
        if kind in ("min", "max"):
            elem = _list_arg(p, name, xs, lambda e: _numeric(e) or e == _STR_T,
                             "numbers or strings")  # fmt: skip
            op = _agg_min if kind == "min" else _agg_max
            return _make(_unary(xs.fn, op), elem, pos, xs, op=name)
        elem = _list_arg(p, name, xs, _numeric, "numbers")
        if kind == "avg":
            return _make(_unary(xs.fn, _agg_avg), _DEC_T, pos, xs, op=name)
        op = _agg_sum_int if elem == _INT_T else _agg_sum_dec
        return _make(_unary(xs.fn, op), elem, pos, xs, op=name, value=elem)

    return build


def _build_coalesce(p: _Parser, name: str, args: list[_Node], pos: int) -> _Node:
    if len(args) == 1 and _is_list(args[0].type):  # Coalesce(List<T>): first non-null item
        xs = args[0]
        return _make(_unary(xs.fn, lambda v: next((x for x in v if x is not None), None)),
                     _elem(xs.type), pos, xs, op="CoalesceList")  # fmt: skip
    common = p.common_type(args, "the arguments of Coalesce")
    coerced = tuple(_coerce(a, common) for a in args)
    fns = tuple(a.fn for a in coerced)

    def coalesce(env):
        for f in fns:
            v = f(env)
            if v is not None:
                return v
        return None

    return _make(coalesce, common, pos, *args, op=name, args=coerced)


# name -> (min args, max args, builder(parser, name, args, pos) -> _Node)
_FUNCTIONS: dict[str, tuple[int, int, Callable[[_Parser, str, list[_Node], int], _Node]]] = {
    "Round": (1, 2, _build_round),
    "Ln": (1, 1, _decimal_function(math.log)),
    "Exp": (1, 1, _decimal_function(math.exp)),
    "Sqrt": (1, 1, _decimal_function(math.sqrt)),  # not in CQL; accepted for convenience
    "Log": (2, 2, _build_log),
    "Power": (2, 2, _build_power),
    "Abs": (1, 1, _build_abs),
    "Floor": (1, 1, _integer_function(math.floor)),
    "Ceiling": (1, 1, _integer_function(math.ceil)),
    "Truncate": (1, 1, _integer_function(math.trunc)),
    "Min": (1, 1, _aggregate("min")),
    "Max": (1, 1, _aggregate("max")),
    "Sum": (1, 1, _aggregate("sum")),
    "Avg": (1, 1, _aggregate("avg")),
    "Count": (1, 1, _aggregate("count")),
    "Coalesce": (1, _MANY, _build_coalesce),
}
