"""Tests for the CQL-lite expression language (module-format.md §13)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.gmf import expressions
from simulator.gmf.expressions import (
    Expression,
    ExpressionError,
    Parameter,
    parse_expression,
)


def ev(text: str, **values):
    """Evaluate ``text``; parameters are looked up by name with spaces turned into '_'."""
    expr = parse_expression(text)

    def resolve(p: Parameter):
        return values[p.name.strip().replace(" ", "_")]

    return expr.evaluate(resolve)


def same(actual, expected) -> bool:
    """Equal value *and* the same Python type (int vs float vs bool matters here)."""
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-12)
    return type(actual) is type(expected) and actual == expected


def check(text: str, expected, **values) -> None:
    result = ev(text, **values)
    assert same(result, expected), f"{text!r} -> {result!r}, expected {expected!r}"


def error_of(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text)
    return info.value


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("0", 0),
        ("3.25", 3.25),
        ("10.0", 10.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ("'hello world'", "hello world"),
        ("''", ""),
        (r"'it\'s'", "it's"),
        (r"'a\nb\\c'", "a\nb\\c"),
        (r"'\u00e9'", "é"),
        ("{1, 2, 3}", [1, 2, 3]),
        ("{}", []),
        ("{1, 2.5}", [1.0, 2.5]),  # Integer elements promoted to Decimal
        ("{1, null}", [1, None]),
        ("{'a', 'b'}", ["a", "b"]),
        ("{{1}, {2, 3}}", [[1], [2, 3]]),
        ("  7  ", 7),
        ("7 // a trailing comment", 7),
        ("/* block */ 7", 7),
    ],
)
def test_literals(text, expected):
    check(text, expected)


def test_list_result_is_a_fresh_copy():
    expr = parse_expression("{1, 2}")
    first = expr.evaluate(lambda p: None)
    first.append(3)
    assert expr.evaluate(lambda p: None) == [1, 2]


# --------------------------------------------------------------------------- arithmetic & precedence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left-associative
        ("2 * 3 + 4 * 5", 26),
        ("-2 ^ 2", 4),  # CQL: unary minus binds tighter than ^ (unlike Python)
        ("-(2 ^ 2)", -4),
        ("0 - 2 ^ 2", -4),
        ("2 ^ 3 ^ 2", 64),  # CQL's ^ is left-associative
        ("2 ^ 10", 1024),
        ("2 * 3 ^ 2", 18),
        ("- - 3", 3),
        ("+3", 3),
        ("5 - -3", 8),
        ("1 + 2 = 3", True),
        ("1 < 2 = true", True),  # inequality binds tighter than equality
        ("1 + 1 = 2 and 2 > 1", True),
        ("true or false and false", True),  # and binds tighter than or
        ("false and true or true", True),
        ("true xor true or true", True),  # (true xor true) or true
        ("false implies false or true", True),
        ("true implies false", False),
        ("not true = false", True),  # CQL: (not true) = false
        ("not (1 = 2)", True),
        ("not null is null", False),  # not (null is null)
        ("1 + if true then 1 else 2 + 10", 2),  # else branch extends to the right
        ("(if false then 1 else 2) + 10", 12),
        ("7 mod 3 * 2", 2),
        ("7 div 2 * 2", 6),
        ("1 + 2 > 2 + 0", True),
        ("'a' + 'b' = 'ab'", True),
    ],
)
def test_precedence(text, expected):
    check(text, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 / 2", 0.5),
        ("4 / 2", 2.0),  # division always yields a Decimal
        ("7 / 2", 3.5),
        ("-7 / 2", -3.5),
        ("1.5 / 0.5", 3.0),
        ("2 + 3", 5),  # Integer op Integer stays an Integer
        ("2 * 3", 6),
        ("2 - 3", -1),
        ("2 + 3.0", 5.0),  # mixing promotes to Decimal
        ("2.5 * 2", 5.0),
        ("7 div 2", 3),
        ("-7 div 2", -3),  # truncated toward zero
        ("7 div -2", -3),
        ("7.5 div 2", 3.0),
        ("7 mod 3", 1),
        ("-7 mod 3", -1),  # sign of the dividend
        ("7 mod -3", 1),
        ("7.5 mod 2", 1.5),
        ("2 ^ 0", 1),
        ("2 ^ -1", 0.5),
        ("4.0 ^ 0.5", 2.0),
        ("2 ^ 0.5", math.sqrt(2)),
    ],
)
def test_arithmetic_types(text, expected):
    check(text, expected)


@pytest.mark.parametrize(
    "text",
    ["1 / 0", "1.5 / 0.0", "1 div 0", "1 mod 0", "1.5 mod 0.0", "0 ^ -1", "(-8.0) ^ 0.5"],
)
def test_undefined_arithmetic_is_null(text):
    assert ev(text) is None


# --------------------------------------------------------------------------- parameters


def test_parameter_kinds_and_names_with_spaces():
    expr = parse_expression(
        "#{Left ventricular Ejection fraction} + #d{age} + Sum(#l{readings}) "
        "+ (if #b{is smoker} then 1 else 0) + (if #s{gender} = 'F' then 100 else 0)"
    )
    assert expr.parameters == (
        Parameter("Left ventricular Ejection fraction", "decimal"),
        Parameter("age", "decimal"),
        Parameter("readings", "list"),
        Parameter("is smoker", "boolean"),
        Parameter("gender", "string"),
    )
    values = {
        "Left ventricular Ejection fraction": 55,
        "age": 40.5,
        "readings": [1, 2, 3],
        "is smoker": True,
        "gender": "F",
    }
    assert same(expr.evaluate(lambda p: values[p.name]), 55.0 + 40.5 + 6.0 + 1 + 100)


def test_parameter_name_is_kept_as_written():
    expr = parse_expression("#{ padded name }")
    assert expr.parameters == (Parameter(" padded name ", "decimal"),)


def test_decimal_parameter_converts_int_to_float():
    check("#{x}", 5.0, x=5)
    check("#{x} + 1", 6.0, x=5)
    check("#d{x} * 2", 5.0, x=2.5)
    check("#{x}", None, x=None)


def test_list_parameter_converts_to_list_of_decimal():
    check("#l{xs}", [1.0, 2.5, None], xs=(1, 2.5, None))
    check("Max(#l{xs})", 3.0, xs=[1, 3, 2])
    check("#l{xs}", None, xs=None)


def test_boolean_and_string_parameters():
    check("#b{flag} and true", True, flag=True)
    check("#b{flag} or false", None, flag=None)
    check("#s{name} + '!'", "bob!", name="bob")


def test_repeated_parameter_is_resolved_once_and_listed_once():
    expr = parse_expression("#{x} * #{x} + #{x}")
    assert expr.parameters == (Parameter("x", "decimal"),)
    calls = []

    def resolve(p):
        calls.append(p)
        return 3

    assert expr.evaluate(resolve) == 12.0
    assert calls == [Parameter("x", "decimal")]


def test_parameter_used_with_two_kinds_is_an_error():
    err = error_of("#{x} + Sum(#l{x})")
    assert "parameter 'x'" in str(err)
    assert err.column == 12


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("#{x}", "abc"),
        ("#{x}", True),
        ("#l{x}", 5),
        ("#l{x}", "abc"),
        ("#l{x}", ["a"]),
        ("#b{x}", 1),
        ("#s{x}", 3),
    ],
)
def test_wrong_parameter_value_type_raises(text, value):
    expr = parse_expression(text)
    with pytest.raises(ExpressionError, match=r"#\{x\}"):
        expr.evaluate(lambda p: value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#{}", "empty parameter name"),
        ("#{  }", "empty parameter name"),
        ("#{abc", "unterminated parameter"),
        ("#x{abc}", "unknown parameter type prefix '#x'"),
        ("# {abc}", "'#' must start a parameter"),
    ],
)
def test_malformed_parameters(text, message):
    assert message in str(error_of(text))


# --------------------------------------------------------------------------- multi-line definitions


def test_multi_line_definitions():
    text = (
        "define Height: #{Body Height} / 100\n"
        "define BMI: #{Body Weight} / (Height * Height)\n"
        "Round(BMI, 1)"
    )
    expr = parse_expression(text)
    assert [p.name for p in expr.parameters] == ["Body Height", "Body Weight"]
    assert ev(text, Body_Height=180, Body_Weight=81) == 25.0


def test_definitions_quoted_identifiers_and_optional_define():
    text = 'define "Double X": #{x} * 2\nTriple: #{x} * 3\n"Double X" + Triple'
    check(text, 10.0, x=2)


def test_definition_modifiers_crlf_and_trailing_blank_lines():
    check("define private a: 2\r\ndefine public b: a * 3\r\nb + 1\r\n\r\n  \n", 7)


def test_definition_may_span_lines():
    check("define a: 1 +\n  2\na * 10", 30)


def test_definition_is_evaluated_lazily_once_per_evaluation():
    # The definition is referenced three times but the parameter is resolved once.
    expr = parse_expression("define sq: #{x} * #{x}\nsq + sq + sq")
    calls = []

    def resolve(p):
        calls.append(p.name)
        return 2

    assert expr.evaluate(resolve) == 12.0
    assert calls == ["x"]
    assert expr.evaluate(lambda p: 3) == 27.0  # nothing cached across evaluations


def test_constant_definitions_are_folded():
    expr = parse_expression("define a: 2 * 21\na")
    assert expr.parameters == ()
    assert expr.evaluate(lambda p: pytest.fail("no parameters to resolve")) == 42


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("x + 1\n1", "expected a definition", 1, 1),
        ("define a: 1 2\na", "after the definition of 'a'", 1, 13),
        ("define a: 1\ndefine a: 2\na", "'a' is already defined", 2, 8),
        ("define a: 1\nb", "unknown identifier 'b'", 2, 1),
        ("define a: b\ndefine b: 1\na", "unknown identifier 'b'", 1, 11),
        ("define a: 1", "'define' is only allowed on lines before the last", 1, 1),
        ("define a:\n1", "expected a value", 1, 10),
        ("define abd: 1\nabc", "did you mean 'abd'", 2, 1),
    ],
)
def test_definition_errors(text, message, line, column):
    err = error_of(text)
    assert message in str(err)
    assert (err.line, err.column) == (line, column)
    assert f"line {line}, column {column}" in str(err)


# --------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Round: ties go toward positive infinity (Java reference engine); result Decimal
        ("Round(2.5)", 3.0),
        ("Round(2.4)", 2.0),
        ("Round(-2.5)", -2.0),
        ("Round(-2.6)", -3.0),
        ("Round(-0.5)", 0.0),
        ("Round(0.5)", 1.0),
        ("Round(3)", 3.0),
        ("Round(2.675, 2)", 2.68),
        ("Round(-2.675, 2)", -2.67),
        ("Round(3.14159, 3)", 3.142),
        ("Round(1234.5, -2)", 1200.0),
        ("Round(1.5, null)", 2.0),
        ("Round(1.0)", 1.0),
        ("Ln(1)", 0.0),
        ("Ln(2.718281828459045)", 1.0),
        ("Exp(0)", 1.0),
        ("Exp(1)", math.e),
        ("Power(2, 3)", 8),
        ("Power(2.0, 3)", 8.0),
        ("Power(9, 0.5)", 3.0),
        ("Power(2, -2)", 0.25),
        ("Abs(-3)", 3),
        ("Abs(-3.5)", 3.5),
        ("Abs(2)", 2),
        ("Floor(2.7)", 2),
        ("Floor(-2.1)", -3),
        ("Floor(4)", 4),
        ("Ceiling(2.1)", 3),
        ("Ceiling(-2.7)", -2),
        ("Truncate(2.7)", 2),
        ("Truncate(-2.7)", -2),
        ("Sqrt(16)", 4.0),
        ("Sqrt(2.25)", 1.5),
        ("Log(8, 2)", 3.0),
        ("Log(100, 10)", 2.0),
        ("Min({3, 1, 2})", 1),
        ("Min({3.5, 1, null})", 1.0),
        ("Min({'b', 'a'})", "a"),
        ("Max({3, 1, 2})", 3),
        ("Max({1, 2.5})", 2.5),
        ("Sum({1, 2, 3})", 6),
        ("Sum({1, 2.5, null})", 3.5),
        ("Avg({1, 2})", 1.5),
        ("Avg({2, null, 4})", 3.0),
        ("Count({1, null, 3})", 2),
        ("Count({})", 0),
        ("Count(null)", 0),
        ("Coalesce(null, 2)", 2),
        ("Coalesce(null, null, 'x')", "x"),
        ("Coalesce(1, 2.5)", 1.0),  # common type Decimal
        ("Coalesce({null, 4, 5})", 4),
    ],
)
def test_functions(text, expected):
    check(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "Min({})",
        "Max({null})",
        "Sum({})",
        "Avg({})",
        "Coalesce(null, null)",
        "Ln(0)",
        "Ln(-1)",
        "Sqrt(-4)",
        "Exp(100000)",
        "Log(-1, 10)",
        "Log(10, 1)",
        "Log(10, 0)",
    ],
)
def test_functions_return_null_when_undefined(text):
    assert ev(text) is None


def test_functions_with_parameters():
    check("Round(#{x} * 1.5, 1)", 3.8, x=2.5)
    check("Min(#l{xs}) + Max(#l{xs})", 4.0, xs=[1, 3])
    check("Avg(#l{xs})", 2.0, xs=[1, 3])
    check("Count(#l{xs})", 2, xs=[1, None, 3])
    check("Coalesce(#{a}, #{b}, 0)", 7.0, a=None, b=7)
    check("Coalesce(#{a}, #{b}, 0)", 0.0, a=None, b=None)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("Foo(1)", "unknown function 'Foo'", 1),
        ("1 + round(2)", "did you mean 'Round'", 5),
        ("Ln(1, 2)", "Ln takes 1 argument, got 2", 1),
        ("Log(8)", "Log takes 2 arguments, got 1", 1),
        ("Round()", "Round takes 1 to 2 arguments, got 0", 1),
        ("Coalesce()", "at least 1 argument", 1),
        ("Min(1, 2)", "Min takes 1 argument", 1),
        ("Min(#{x})", "Min needs a list", 5),
        ("Sum({'a'})", "Sum needs a list of numbers", 5),
        ("Abs('a')", "Abs needs a number", 5),
        ("Round(1.5, 1.0)", "precision of Round must be an Integer", 12),
        ("Coalesce(1, 'a')", "incompatible types", 13),
        ("Round", "Round is a function", 1),
    ],
)
def test_function_errors(text, message, column):
    err = error_of(text)
    assert message in str(err)
    assert err.column == column


def test_unknown_function_is_reported_at_parse_time():
    with pytest.raises(ExpressionError, match=r"unknown function 'Median'.*column 1"):
        parse_expression("Median({1, 2})")


# --------------------------------------------------------------------------- null propagation


@pytest.mark.parametrize(
    "text",
    [
        "null + 1",
        "1 - null",
        "null * 2.5",
        "null / 2",
        "2 div null",
        "null mod 2",
        "null ^ 2",
        "-null",
        "#{x} + 1",
        "(#{x} + 1) * 2",
        "Round(#{x})",
        "Abs(#{x})",
        "Floor(#{x})",
        "Ln(#{x})",
        "Power(#{x}, 2)",
        "Log(#{x}, 2)",
        "#{x} < 1",
        "#{x} = 1",
        "#{x} != 1",
        "'a' + null",
        "not null",
        "null xor true",
        "{1, null} = {1, null}",
    ],
)
def test_null_propagation(text):
    assert ev(text, x=None) is None


@pytest.mark.parametrize(
    ("a", "b", "and_", "or_", "xor", "implies"),
    [
        ("true", "true", True, True, False, True),
        ("true", "false", False, True, True, False),
        ("true", "null", None, True, None, None),
        ("false", "true", False, True, True, True),
        ("false", "false", False, False, False, True),
        ("false", "null", False, None, None, True),
        ("null", "true", None, True, None, True),
        ("null", "false", False, None, None, None),
        ("null", "null", None, None, None, None),
    ],
)
def test_three_valued_logic(a, b, and_, or_, xor, implies):
    assert ev(f"{a} and {b}") is and_
    assert ev(f"{a} or {b}") is or_
    assert ev(f"{a} xor {b}") is xor
    assert ev(f"{a} implies {b}") is implies


def test_three_valued_logic_with_parameters():
    assert ev("#b{a} and #b{b}", a=False, b=None) is False
    assert ev("#b{a} or #b{b}", a=None, b=True) is True
    assert ev("#b{a} and #b{b}", a=True, b=None) is None


# --------------------------------------------------------------------------- comparisons & conditionals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("3 >= 3.0", True),
        ("1 = 1.0", True),
        ("1 != 2", True),
        ("'abc' < 'abd'", True),
        ("'a' = 'A'", False),
        ("'a' ~ 'A'", True),
        ("'a b' ~ 'A\tB'", True),
        ("'a' !~ 'b'", True),
        ("null ~ null", True),
        ("null ~ 1", False),
        ("1 !~ null", True),
        ("{1, 2} = {1, 2}", True),
        ("{1, 2} = {1, 3}", False),
        ("{1, 2} = {1, 2, 3}", False),
        ("{1, 2} = {1.0, 2.0}", True),
        ("{'A'} ~ {'a'}", True),
        ("true = true", True),
        ("null is null", True),
        ("1 is null", False),
        ("1 is not null", True),
        ("null is not null", False),
        ("true is true", True),
        ("null is true", False),
        ("null is not false", True),
        ("false is false", True),
    ],
)
def test_comparisons(text, expected):
    check(text, expected)


@pytest.mark.parametrize(
    ("x", "expected"),
    [(10, "low"), (50, "mid"), (90, "high"), (None, "unknown")],
)
def test_case_when(x, expected):
    text = (
        "case when #{x} is null then 'unknown' when #{x} < 40 then 'low' "
        "when #{x} < 70 then 'mid' else 'high' end"
    )
    check(text, expected, x=x)


def test_case_with_selector():
    text = "case #s{sex} when 'M' then 1 when 'F' then 2.5 else 0 end"
    check(text, 1.0, sex="M")  # branches unify to Decimal
    check(text, 2.5, sex="F")
    check(text, 0.0, sex="X")
    check(text, 0.0, sex=None)


def test_if_then_else():
    check("if #{x} > 3 then 'big' else 'small'", "big", x=4)
    check("if #{x} > 3 then 'big' else 'small'", "small", x=1)
    check("if #{x} > 3 then 'big' else 'small'", "small", x=None)  # null condition -> else
    check("if #b{c} then 1 else null", None, c=False)
    check("if #b{c} then 1 else null", 1, c=True)
    check("if true then 1 else 2.5", 1.0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("1 +", "unexpected end of expression", 4),
        ("1 + )", "unexpected ')'", 5),
        ("(1 + 2", "expected ')' to close the '(' at column 1", 7),
        ("1 2", "unexpected number 2 after the expression", 3),
        ("1 + 2)", "unexpected ')' after the expression", 6),
        ("'abc", "unterminated string", 1),
        ("1 + $", "unexpected character '$'", 5),
        ("1.", "unexpected character '.'", 2),
        ("{1, 2", "expected '}' or ','", 6),
        ("Round(1 2)", "expected ')' or ','", 9),
        ("if true then 1", "expected 'else'", 15),
        ("if true 1 else 2", "expected 'then'", 9),
        ("case when true then 1 end", "expected 'else'", 23),
        ("case else 1 end", "expected 'when'", 6),
        ("case when true then 1 else 2", "expected 'end'", 29),
        ("1 is 2", "expected 'null', 'true' or 'false' after 'is'", 6),
        ("/* open", "unterminated /* comment", 1),
        ("'\\q'", "invalid escape", 2),
        ("", "empty expression", 1),
        ("   \n  ", "empty expression", 1),
        # type errors are found at parse time too
        ("1 + true", "operator '+' cannot be applied to Integer and Boolean", 3),
        ("'a' * 2", "operator '*' cannot be applied to String and Integer", 5),
        ("1 < 'a'", "cannot compare Integer and String", 3),
        ("true < false", "cannot compare Boolean and Boolean", 6),
        ("1 and true", "'and' needs a Boolean, got Integer", 1),
        ("not 5 > 3", "'not' binds tighter than comparisons", 5),
        ("if 1 then 2 else 3", "the 'if' condition needs a Boolean", 4),
        ("if true then 1 else 'a'", "incompatible types Integer and String", 21),
        ("{1, 'a'}", "list elements must share a type", 5),
        ("-'a'", "unary '-' needs a number", 1),
        ("1 & 2", "'&' concatenates strings", 3),
        ("#{x} is true", "'is true'/'is false' needs a Boolean", 1),
    ],
)
def test_syntax_errors_report_column(text, message, column):
    err = error_of(text)
    assert message in str(err)
    assert err.column == column
    assert f"column {column}" in str(err)


def test_error_message_shows_the_line_and_a_caret():
    err = error_of("define a: 1\n#{x} + * 2")
    assert err.line == 2 and err.column == 8
    assert str(err).splitlines()[1:] == ["    #{x} + * 2", "           ^"]


def test_expression_error_is_a_value_error():
    assert issubclass(ExpressionError, ValueError)
    with pytest.raises(ValueError):
        parse_expression("1 +")


def test_non_string_expression():
    with pytest.raises(ExpressionError):
        parse_expression(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- compile-once behaviour


def test_evaluation_does_not_reparse(monkeypatch):
    expr = parse_expression("define a: #{x} * 2\nRound(a + Sum(#l{xs}), 1)")

    def boom(*_args, **_kwargs):
        raise AssertionError("evaluate() must not tokenize or parse again")

    monkeypatch.setattr(expressions, "_tokenize", boom)
    monkeypatch.setattr(expressions, "_Parser", boom)
    for x in range(50):
        result = expr.evaluate(lambda p, x=x: x if p.kind == "decimal" else [0.3])
        assert math.isclose(result, 2 * x + 0.3)
    assert expr.evaluate(lambda p: 1 if p.kind == "decimal" else [0.25]) == 2.3  # 2.25 -> 2.3


def test_constant_expression_needs_no_resolver_calls():
    expr = parse_expression("Round(Ln(Exp(2)) * 10 / 4, 2)")
    assert isinstance(expr, Expression)
    assert expr.parameters == ()
    assert expr.result_type == "Decimal"
    assert expr.evaluate(lambda p: pytest.fail("nothing to resolve")) == 5.0


@pytest.mark.parametrize(
    ("text", "result_type"),
    [
        ("1 + 2", "Integer"),
        ("1 / 2", "Decimal"),
        ("#{x}", "Decimal"),
        ("#l{x}", "List<Decimal>"),
        ("#b{x}", "Boolean"),
        ("#s{x}", "String"),
        ("{1, 2}", "List<Integer>"),
        ("null", "Any"),
        ("Floor(#{x})", "Integer"),
    ],
)
def test_result_type(text, result_type):
    assert parse_expression(text).result_type == result_type


# --------------------------------------------------------------------------- properties

_small_ints = st.integers(min_value=0, max_value=20).map(str)


def _combine(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(
            lambda t: f"{t[0]}{t[1]}{t[2]}"
        ),
        children.map(lambda e: f"({e})"),
        children.map(lambda e: f"-({e})"),
    )


_arithmetic = st.recursive(_small_ints, _combine, max_leaves=12)


@given(_arithmetic)
def test_integer_arithmetic_matches_python(text):
    expected = eval(text, {"__builtins__": {}})  # the oracle: Python's own evaluation
    result = parse_expression(text).evaluate(lambda p: None)
    assert type(result) is int
    assert result == expected


@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_integer_division_and_comparisons_match_python(a, b):
    expr = parse_expression("#{a} / #{b}")
    values = {"a": a, "b": b}
    result = expr.evaluate(lambda p: values[p.name])
    if b == 0:
        assert result is None
    else:
        assert isinstance(result, float) and result == a / b
    assert ev(f"{a} < {b}") == (a < b)
    assert ev("#{a} >= #{b}", a=a, b=b) == (a >= b)
    assert ev("#{a} = #{b}", a=a, b=b) == (a == b)


@given(st.integers(-(10**6), 10**6), st.integers(0, 4))
def test_round_ties_toward_positive_infinity(n, precision):
    # n / 10**precision + half a unit is an exact tie at `precision` places.
    from decimal import ROUND_CEILING, Decimal

    tie = Decimal(n) / Decimal(10) ** precision + Decimal(5) / Decimal(10) ** (precision + 1)
    expected = float(tie.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_CEILING))
    assert ev(f"Round(#{{x}}, {precision})", x=float(tie)) == expected


_TOKEN_SOUP = st.sampled_from(
    ["1", "2.5", "0", "null", "true", "false", "'a'", "#{x}", "#l{xs}", "#b{b}", "#s{s}",
     "+", "-", "*", "/", "^", "div", "mod", "(", ")", "{", "}", ",", "<", "=", "~", "!=",
     "and", "or", "not", "implies", "is", "if", "then", "else", "case", "when", "end",
     "Round(", "Min(", "Sum(", "Coalesce(", "Count(", "Power(", "Log(", "Floor(", "Ln(",
     "\ndefine a:", "a", "\n", ":"]
)  # fmt: skip


@given(st.lists(_TOKEN_SOUP, max_size=12))
def test_arbitrary_input_fails_only_with_expression_error(parts):
    text = " ".join(parts)
    try:
        expr = parse_expression(text)
    except ExpressionError:
        return
    values = {"x": 3, "xs": [1, None, 2.5], "b": None, "s": "q"}
    expr.evaluate(lambda p: values[p.name])
    expr.evaluate(lambda p: None)
