"""The compiled engine's expression bytecode (simulator.compiled.expr) gives exactly what the
reference evaluator (simulator.gmf.expressions) gives: the same type, bit-identical floats, null
where it gives null, a fault where it raises -- for the expressions of tests/test_expressions.py,
of the project's modules and Synthea's corpus, and for random expressions and values."""

from __future__ import annotations

import ast
import json
import math
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simulator.compiled import expr as cx
from simulator.gmf.expressions import ExpressionError, expression_tree, parse_expression

ROOT = Path(__file__).resolve().parent.parent
SENTINEL = 8  # stack entries past stack_size that must stay untouched


# --------------------------------------------------------------------------- the oracle


def reference(text: str, values: list) -> tuple:
    """("ok", value), or where Expression.evaluate raises: ("param",) for ExpressionError
    (a parameter value of the wrong kind), ("math",) for a plain ValueError, ("other",) for
    anything else (only past float64's integers, where the compiled evaluator refuses)."""
    expression = parse_expression(text)
    by_name = {p.name: v for p, v in zip(expression.parameters, values, strict=True)}
    try:
        return ("ok", expression.evaluate(lambda p: by_name[p.name]))
    except ExpressionError:
        return ("param",)
    except ValueError:
        return ("math",)
    except Exception:
        return ("other",)


def compiled(code: cx.ExprCode, values: list) -> tuple[int, float]:
    """Evaluate with stacks of exactly stack_size entries followed by sentinels that must
    survive (so a stack size computed too small fails instead of corrupting memory)."""
    n = max(1, len(values))
    kinds = np.zeros(n, dtype=np.int64)
    nums = np.zeros(n, dtype=np.float64)
    for i, v in enumerate(values):
        kinds[i], nums[i] = cx.encode(v)
    size = code.stack_size + SENTINEL
    stack_kind = np.full(size, -777, dtype=np.int64)
    stack_num = np.full(size, -777.0)
    kind, number = cx.evaluate(code.code, code.consts, np.int64(code.start), np.int64(code.end),
                               kinds, nums, stack_kind, stack_num)  # fmt: skip
    assert (stack_kind[code.stack_size :] == -777).all(), "stack_size too small"
    assert (stack_num[code.stack_size :] == -777.0).all(), "stack_size too small"
    return int(kind), float(number)


def bits(v: float) -> bytes:
    return struct.pack("<d", v)


def has_integer_arithmetic(text: str) -> bool:
    """Whether Integer arithmetic can leave float64's exact integers (K_UNSUPPORTED)."""

    def walk(n) -> bool:
        if n.op in ("+", "-", "*", "^", "div", "mod", "Sum") and n.type in ("Integer", "Any"):
            return True
        return any(walk(a) for a in n.args)

    return walk(expression_tree(parse_expression(text)))


def agree(text: str, code: cx.ExprCode, values: list) -> None:
    expected = reference(text, values)
    kind, number = compiled(code, values)
    where = f"{text!r} with {values!r}: reference {expected!r}, compiled ({kind}, {number!r})"
    if kind == cx.K_FAULT:
        assert expected == (("param",) if number == cx.FAULT_PARAM else ("math",)), where
        return
    if kind == cx.K_UNSUPPORTED:  # the reference kept a big int: a refusal, not an answer
        assert number in (cx.UNSUPPORTED_INTEGER, cx.UNSUPPORTED_SUM), where
        assert has_integer_arithmetic(text), where
        return
    assert expected[0] == "ok", where
    value = cx.decode(kind, number)
    ref = expected[1]
    assert type(value) is type(ref), where
    if isinstance(ref, float):
        assert bits(value) == bits(ref) or (math.isnan(value) and math.isnan(ref)), where
    else:
        assert value == ref, where


def lower_or_refuse(text: str) -> cx.ExprCode | None:
    try:
        return cx.lower_expression(text)
    except cx.ExprUnsupported:
        return None


# --------------------------------------------------------------------------- values

EDGES = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 2.5, -2.5, 2.675, -2.675, 1.005, 0.125, 0.1,
         3.0, 7.0, -7.0, 1e-300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
         -1.7976931348623157e308, math.inf, -math.inf, math.nan, 2.0**53, 2.0**53 + 2, 1e16,
         123.456, 0.9999999999999999, 4503599627370495.5, 1e22, 1e23, 709.782712893384,
         -745.1332191019412, 1e308, 4096.0]  # fmt: skip


@st.composite
def decimal_ties(draw) -> float:
    """Decimals near a rounding tie at a few places, the hard cases of Round."""
    places = draw(st.integers(0, 6))
    n = draw(st.integers(-(10**9), 10**9))
    value = float(Fraction(2 * n + 1, 2 * 10**places))
    for _ in range(draw(st.integers(0, 2))):
        value = math.nextafter(value, draw(st.sampled_from([-math.inf, math.inf])))
    return value


decimal_values = st.one_of(
    st.none(),
    st.sampled_from(EDGES),
    st.floats(),
    st.floats(min_value=-1000, max_value=1000),
    st.integers(-50, 50).map(float),
    st.integers(-1000, 1000),  # an Integer attribute: resolved as its float
    decimal_ties(),
)
boolean_values = st.one_of(st.none(), st.booleans())


def values_for(code: cx.ExprCode):
    return st.tuples(*(decimal_values if p.type == "Decimal" else boolean_values
                       for p in code.parameters)).map(list)  # fmt: skip


def check_expression(text: str, examples: int) -> None:
    code = lower_or_refuse(text)
    if code is None:
        return

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(values_for(code))
    def run(values):
        agree(text, code, values)

    run()


# --------------------------------------------------------------------------- corpora


def _parses(text: str) -> bool:
    try:
        parse_expression(text)
    except (ExpressionError, ValueError, OverflowError):
        return False
    return True


def expressions_corpus() -> list[str]:
    """Every string in tests/test_expressions.py that parses, plus its f-string cases."""
    tree = ast.parse((ROOT / "tests" / "test_expressions.py").read_text())
    texts = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
             and isinstance(n.value, str) and n.value.strip()}  # fmt: skip
    for a in ("true", "false", "null"):
        for b in ("true", "false", "null"):
            for op in ("and", "or", "xor", "implies"):
                texts.add(f"{a} {op} {b}")
    texts.add("Round(#{x}, 3)")
    return sorted(t for t in texts if _parses(t))


def _json_expressions(root: Path) -> list[str]:
    found: list[str] = []

    def walk(o) -> None:
        if isinstance(o, dict):
            for key, value in o.items():
                if key == "expression" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(o, list):
            for value in o:
                walk(value)

    for path in sorted(root.rglob("*.json")):
        try:
            walk(json.loads(path.read_text()))
        except (ValueError, UnicodeDecodeError):
            continue
    return found


def module_expressions() -> list[str]:
    return sorted(set(_json_expressions(ROOT / "modules")))


# Each op with person values, including the ways they fail.
OWN = [
    "#{a} + #{b}", "#{a} - #{b}", "#{a} * #{b}", "#{a} / #{b}", "#{a} div #{b}",
    "#{a} mod #{b}", "#{a} ^ #{b}", "-#{a}", "Abs(#{a})", "Ln(#{a})", "Exp(#{a})",
    "Sqrt(#{a})", "Log(#{a}, #{b})", "Power(#{a}, #{b})", "Floor(#{a})", "Ceiling(#{a})",
    "Truncate(#{a})", "Round(#{a})", "Round(#{a}, 1)", "Round(#{a}, 2)", "Round(#{a}, -1)",
    "Round(#{a}, 15)", "Round(#{a}, 21)", "Round(#{a}, 22)", "Round(#{a}, 300)",
    "Round(#{a}, 400)", "Round(#{a}, -400)", "Round(#{a}, -310)", "Round(#{a}, null)",
    "Floor(#{a}) + Floor(#{b})", "Floor(#{a}) - Ceiling(#{b})", "Floor(#{a}) * Floor(#{b})",
    "Floor(#{a}) div Floor(#{b})", "Floor(#{a}) mod Floor(#{b})", "Floor(#{a}) / Floor(#{b})",
    "Floor(#{a}) ^ Floor(#{b})", "Floor(#{a}) ^ 3", "2 ^ Floor(#{a})", "(-1) ^ Floor(#{a})",
    "Floor(#{a}) ^ -2", "-Floor(#{a})", "Abs(Floor(#{a}))", "Floor(#{a}) * 0 - 0",
    "Floor(#{a}) + 0.5", "Floor(#{a}) < #{b}", "Floor(#{a}) = #{b}",
    "#{a} < #{b}", "#{a} <= #{b}", "#{a} > #{b}", "#{a} >= #{b}", "#{a} = #{b}",
    "#{a} != #{b}", "#{a} ~ #{b}", "#{a} !~ #{b}", "#{a} is null", "#{a} is not null",
    "#b{p} and #b{q}", "#b{p} or #b{q}", "#b{p} xor #b{q}", "#b{p} implies #b{q}",
    "not #b{p}", "#b{p} is true", "#b{p} is not true", "#b{p} is false", "#b{p} is not false",
    "#b{p} = #b{q}", "#b{p} ~ #b{q}", "#b{p} != #b{q}",
    "if #b{p} then #{a} else #{b}", "if #{a} > #{b} then 1 else 2.5",
    "if #b{p} then Floor(#{a}) else null",
    "case when #{a} < 0 then -1 when #{a} > 0 then 1 else 0 end",
    "case Floor(#{a}) when 1 then 'x' = 'x' when 2 then false else null end",
    "case #{a} when 1 then 10 when #{b} then 20 else 30 end",
    "case #b{p} when true then 1 when false then 0 else -1 end",
    "Coalesce(#{a}, #{b}, 0)", "Coalesce(#{a}, Floor(#{b}))", "Coalesce(null, #b{p})",
    "Min({#{a}, #{b}, 3})", "Max({#{a}, #{b}, null})", "Min({#{a}, #{b}, #{c}})",
    "Max({Floor(#{a}), Floor(#{b})})", "Sum({#{a}, #{b}, #{c}})", "Sum({Floor(#{a}), 2})",
    "Sum({Floor(#{a}), 2 ^ -1})", "Avg({#{a}, #{b}, #{c}})", "Avg({#{a}, null})",
    "Count({#{a}, #{b}, null})", "Count({#b{p}, #b{q}})", "Coalesce({#{a}, #{b}, 7})",
    "Sum({#{a}, 10000000000000000.0, #{b}, -10000000000000000.0})",
    "define d: #{a} * #{b}\nd + d", "define d: #{a} div #{b}\nif #b{p} then d else 0",
    "define d: #{a} mod #{b}\ndefine e: d + 1\nif #b{p} then e * d else Coalesce(#{c}, e)",
    "define d: Floor(#{a}) * Floor(#{a})\ndefine e: d * d\ne * e",
    "#{a} div #{b} + 1", "null + (#{a} div #{b})", "#{c} + (#{a} div #{b})",
    "#{c} * (#{a} mod #{b})", "#b{p} and (#{a} div #{b}) > 1", "#b{p} or (#{a} mod #{b}) > 1",
    "#b{p} implies (#{a} div #{b}) > 1", "Coalesce(#{c}, #{a} div #{b})",
    "Log(#{c}, #{a} div #{b})", "Exp(1000)", "Ln(0) is null", "1 + 2 * 3 - 4 / 5",
    "Round(Ln(#{a}) * 100, 2)", "Round(#{a} * 1.5, 1)", "Round(Sqrt(#{a}), 3)",
]  # fmt: skip


@pytest.mark.parametrize("text", expressions_corpus())
def test_test_expressions_cases(text: str) -> None:
    code = lower_or_refuse(text)
    if code is None:
        with pytest.raises(cx.ExprUnsupported) as info:
            cx.lower_expression(text)
        assert any(w in info.value.feature for w in ("String", "List", "Round")), text
        return
    check_expression(text, 40)


def test_the_test_expressions_cases_are_mostly_supported() -> None:
    texts = expressions_corpus()
    supported = [t for t in texts if lower_or_refuse(t) is not None]
    assert len(texts) > 150
    assert len(supported) > 0.7 * len(texts)


@pytest.mark.parametrize("text", module_expressions())
def test_module_expressions(text: str) -> None:
    code = cx.lower_expression(text)  # every expression a module uses must be supported
    check_expression(text, 300)
    # with realistic values nothing is refused
    values = [40.0 + i for i in range(len(code.parameters))]
    kind, _ = compiled(code, values)
    assert kind in (cx.K_FLOAT, cx.K_INT, cx.K_BOOL, cx.K_NONE)


def test_module_expressions_are_found() -> None:
    assert len(module_expressions()) >= 4


def test_synthea_corpus_expressions(corpus_dir: Path) -> None:
    """Every expression of Synthea's modules (skipped without the corpus) is supported."""
    for text in sorted(set(_json_expressions(corpus_dir))):
        cx.lower_expression(text)
        check_expression(text, 100)


@pytest.mark.parametrize("text", OWN)
def test_operations(text: str) -> None:
    assert lower_or_refuse(text) is not None, text
    check_expression(text, 150)


# --------------------------------------------------------------------------- random trees

NUM_LEAVES = ["#{x}", "#{y}", "#{z}", "0", "1", "2", "3", "7", "10", "4096", "0.5", "2.5",
              "1.005", "0.1", "null", "Floor(#{x})", "Ceiling(#{y})"]  # fmt: skip
BOOL_LEAVES = ["#b{p}", "#b{q}", "true", "false"]


def _num(children):
    a, b, c = children, children, children
    cond = _bool(st.sampled_from(BOOL_LEAVES), a)
    return st.one_of(
        st.tuples(a, st.sampled_from(["+", "-", "*", "/", "div", "mod", "^"]), b).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        a.map(lambda e: f"(-{e})"),
        st.tuples(st.sampled_from(["Abs", "Floor", "Ceiling", "Truncate", "Round", "Ln", "Exp",
                                   "Sqrt"]), a).map(lambda t: f"{t[0]}({t[1]})"),  # fmt: skip
        st.tuples(a, st.integers(-3, 17)).map(lambda t: f"Round({t[0]}, {t[1]})"),
        st.tuples(a, b).map(lambda t: f"Log({t[0]}, {t[1]})"),
        st.tuples(a, b).map(lambda t: f"Power({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["Min", "Max", "Sum", "Avg", "Count", "Coalesce"]),
                  st.lists(a, min_size=1, max_size=4)).map(
            lambda t: f"{t[0]}({{{', '.join(t[1])}}})"),  # fmt: skip
        st.lists(a, min_size=1, max_size=3).map(lambda xs: f"Coalesce({', '.join(xs)})"),
        st.tuples(cond, a, b).map(
            lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),  # fmt: skip
        st.tuples(cond, a, b).map(
            lambda t: f"(case when {t[0]} then {t[1]} else {t[2]} end)"),  # fmt: skip
        st.tuples(a, b, c, c).map(
            lambda t: f"(case {t[0]} when {t[1]} then {t[2]} else {t[3]} end)"),  # fmt: skip
    )


def _bool(bools, nums):
    return st.one_of(
        bools,
        st.tuples(nums, st.sampled_from(["<", "<=", ">", ">=", "=", "!=", "~", "!~"]), nums).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(bools, st.sampled_from(["and", "or", "xor", "implies", "=", "~"]), bools).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        bools.map(lambda e: f"(not {e})"),
        nums.map(lambda e: f"({e} is null)"),
        st.tuples(bools, st.sampled_from(["is true", "is not true", "is false",
                                          "is not false"])).map(
            lambda t: f"({t[0]} {t[1]})"),  # fmt: skip
    )


numbers = st.recursive(st.sampled_from(NUM_LEAVES), _num, max_leaves=10)
booleans = _bool(st.sampled_from(BOOL_LEAVES), numbers)


@st.composite
def programs(draw) -> str:
    lines = []
    names: list[str] = []
    for i in range(draw(st.integers(0, 2))):
        body = draw(numbers)
        if names and draw(st.booleans()):
            body = f"({body} + {draw(st.sampled_from(names))})"
        lines.append(f"define d{i}: {body}")
        names.append(f"d{i}")
    result = draw(st.one_of(numbers, booleans))
    if names and draw(st.booleans()):
        result = f"Coalesce({draw(st.sampled_from(names))}, {draw(numbers)})"
    lines.append(result)
    return "\n".join(lines)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(), st.data())
def test_random_expressions(text: str, data) -> None:
    try:
        parse_expression(text)
    except (ExpressionError, ValueError, OverflowError):
        assume(False)
    code = lower_or_refuse(text)
    if code is None:
        with pytest.raises(cx.ExprUnsupported) as info:
            cx.lower_expression(text)
        assert "Integer" in info.value.feature or "Round" in info.value.feature, text
        return
    agree(text, code, data.draw(values_for(code)))


# --------------------------------------------------------------------------- Round, hard cases


@settings(max_examples=3000, deadline=None)
@given(st.one_of(decimal_ties(), st.floats(allow_nan=False), st.sampled_from(EDGES)),
       st.one_of(st.integers(-25, 25), st.integers(-400, 400)))  # fmt: skip
def test_round_matches_decimal_rounding(x: float, places: int) -> None:
    text = f"Round(#{{x}}, {places})"
    agree(text, cx.lower_expression(text), [x])


@settings(max_examples=2000, deadline=None)
@given(st.integers(-5, 22), st.integers(0, 58), st.data())
def test_round_near_ties_of_large_numbers(places: int, magnitude: int, data) -> None:
    n0 = data.draw(st.integers(2**magnitude, 2 ** (magnitude + 1)))
    x = float(Fraction(2 * n0 + 1, 2) / Fraction(10) ** places)
    for _ in range(data.draw(st.integers(0, 2))):
        x = math.nextafter(x, data.draw(st.sampled_from([-math.inf, math.inf])))
    x *= data.draw(st.sampled_from([1.0, -1.0]))
    text = f"Round(#{{x}}, {places})"
    agree(text, cx.lower_expression(text), [x])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(st.floats(), st.sampled_from(EDGES), st.none()), min_size=1,
                max_size=6))  # fmt: skip
def test_fsum_matches(xs: list) -> None:
    names = [f"#{{v{i}}}" for i in range(len(xs))]
    for agg in ("Sum", "Avg"):
        text = f"{agg}({{{', '.join(names)}}})"
        agree(text, cx.lower_expression(text), xs)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.floats(), st.sampled_from(EDGES), st.integers(-20, 20).map(float)),
       st.one_of(st.floats(), st.sampled_from(EDGES), st.integers(-20, 20).map(float),
                 st.integers(-2000, 2000).map(lambda i: i / 2)))  # fmt: skip
def test_power_and_math_functions_match(a: float, b: float) -> None:
    for text in ("#{a} ^ #{b}", "Floor(#{a}) ^ Floor(#{b})", "Log(#{a}, #{b})",
                 "Ln(#{a}) + Exp(#{b}) + Sqrt(#{a})", "#{a} mod #{b}", "#{a} div #{b}",
                 "Floor(#{a}) div Floor(#{b})", "Floor(#{a}) mod Floor(#{b})"):  # fmt: skip
        agree(text, cx.lower_expression(text), [a, b])


# --------------------------------------------------------------------------- the contract


def test_shared_builder_keeps_each_expression_at_its_offsets() -> None:
    builder = cx.ExprBuilder()
    texts = ["#{a} + 1", "Round(#{a}, 2)", "define d: #{a} * 2\nd + d", "#b{p} and true",
             "case when #{a} > 1 then 1 else 2 end"]  # fmt: skip
    codes = [builder.add(t) for t in texts]
    code, consts = builder.arrays()
    assert codes[0].start == 0
    for a, b in zip(codes, codes[1:], strict=False):
        assert a.end == b.start
    assert codes[-1].end == len(code)
    for text, c in zip(texts, codes, strict=True):
        assert c.code is code and c.consts is consts
        values = [True if p.type == "Boolean" else 2.675 for p in c.parameters]
        agree(text, c, values)


def test_lowered_metadata() -> None:
    code = cx.lower_expression("#{x} + (if #b{flag} then 1 else Floor(#{y}))")
    assert code.parameters == (cx.ExprParam("x", "Decimal"), cx.ExprParam("flag", "Boolean"),
                               cx.ExprParam("y", "Decimal"))  # fmt: skip
    assert code.result_type == "Decimal"
    assert code.code.dtype == np.int64 and code.consts.dtype == np.float64
    assert cx.lower_expression("null").result_type == "Any"
    assert cx.lower_expression("Floor(#{x})").result_type == "Integer"


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("#s{x} = 'a'", "String parameter"),
        ("(if #b{c} then 'a' else 'b') = 'a'", "String"),
        ("Sum(#l{xs})", "List parameter"),
        ("{1, #{x}}", "List result"),
        ("if #b{c} then 'a' else 'b'", "String result"),
        ("Round(#{x}, Floor(#{y}))", "computed precision"),
        ("Round(#{x}, 401)", "Round to 401"),
        ("#{x} + 100000000000000000000001", "Integer"),
        ("Max(if #b{c} then {1} else {2})", "list literal"),
        ("{#{x}} = {1}", "List"),
        ("case #s{s} when 'a' then 1 else 2 end", "String"),
    ],
)
def test_unsupported_expressions_are_refused(text: str, feature: str) -> None:
    with pytest.raises(cx.ExprUnsupported) as info:
        cx.lower_expression(text)
    assert feature in str(info.value)
    assert isinstance(info.value, ValueError)


def test_parse_errors_stay_expression_errors() -> None:
    with pytest.raises(ExpressionError):
        cx.lower_expression("1 +")


@pytest.mark.parametrize(("text", "kind"), [("#{x}", 1), ("#{x}", 4), ("#b{x}", 2),
                                            ("#b{x}", 3)])  # fmt: skip
def test_wrong_parameter_kinds_fault_like_the_reference(text: str, kind: int) -> None:
    code = cx.lower_expression(text)
    result = cx.evaluate(code.code, code.consts, np.int64(code.start), np.int64(code.end),
                         np.array([kind], dtype=np.int64), np.array([1.0]),
                         np.zeros(code.stack_size, dtype=np.int64),
                         np.zeros(code.stack_size))  # fmt: skip
    assert result == (cx.K_FAULT, cx.FAULT_PARAM)


def test_unused_parameters_are_checked_too() -> None:
    # the reference converts every parameter before computing anything
    code = cx.lower_expression("define d: #{x}\n#b{p} or true")
    assert reference(code.text, [True, None]) == ("param",)
    result = cx.evaluate(code.code, code.consts, np.int64(code.start), np.int64(code.end),
                         np.array([cx.K_BOOL, cx.K_NONE], dtype=np.int64), np.zeros(2),
                         np.zeros(code.stack_size, dtype=np.int64),
                         np.zeros(code.stack_size))  # fmt: skip
    assert result == (cx.K_FAULT, cx.FAULT_PARAM)


def test_small_stack_is_a_fault_not_a_crash() -> None:
    code = cx.lower_expression("#{a} + #{b} * #{c}")
    result = cx.evaluate(code.code, code.consts, np.int64(code.start), np.int64(code.end),
                         np.zeros(3, dtype=np.int64), np.zeros(3), np.zeros(1, dtype=np.int64),
                         np.zeros(1))  # fmt: skip
    assert result == (cx.K_FAULT, cx.FAULT_STACK)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("#{a} div #{b}", [math.nan, 2.0], (cx.K_FAULT, cx.FAULT_MATH)),
        ("#{a} mod #{b}", [math.inf, 2.0], (cx.K_FAULT, cx.FAULT_MATH)),
        ("if #b{p} then #{a} div 2 else 0", [False, math.nan], (cx.K_FLOAT, 0.0)),
        ("Floor(#{a}) * Floor(#{a}) + 1", [1e10], (cx.K_UNSUPPORTED, cx.UNSUPPORTED_INTEGER)),
        ("Floor(#{a}) * Floor(#{a})", [1e10], (cx.K_INT, 1e20)),
        ("Sum({Floor(#{a}), 2 ^ -1})", [1.0], (cx.K_UNSUPPORTED, cx.UNSUPPORTED_SUM)),
    ],
)
def test_faults_and_refusals(text: str, values: list, expected: tuple) -> None:
    code = cx.lower_expression(text)
    assert compiled(code, values) == expected
    agree(text, code, values)
