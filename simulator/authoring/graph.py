"""`simulate modules graph`: draw a module's state machine with Graphviz.

One node per state (its name, its type and, where short, the detail that matters: a Delay's
duration, a Guard's condition, the code of an onset, the submodule called), shaped and coloured
by the family of its type. One edge per transition option, labelled with its probability, its
condition (summarised by :func:`summarize_condition`), both, or its lookup table.

The DOT text is built with the `graphviz` package; `.svg`/`.png` are rendered by Graphviz's
`dot` when it is on PATH, else by `graphviz-pure` (a self-contained port installed from PyPI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz

from simulator.authoring.locate import find_module
from simulator.errors import UserError
from simulator.gmf import schema as s
from simulator.gmf.coerce import to_text
from simulator.gmf.loader import Module, ModuleLoadError, load_module_file, load_modules

OUTPUT_FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot"}

# Long labels make Graphviz lay a module out very wide: wrap them, and cut what is left over.
WRAP_WIDTH = 40
MAX_LABEL_CHARS = 160
MAX_DETAIL_CHARS = 48


# ---------------------------------------------------------------- loading


def load_module(spec: str, modules_dir: Path) -> Module:
    """The module named on the command line: a .json path, or a key/name in `modules_dir`,
    loaded with its modules folder so its submodule references are checked."""
    source = find_module(spec, modules_dir)
    module = load_module_file(source.file)
    try:
        # .get: a file the folder loader skips (lookup_tables/) stands alone
        return load_modules(source.root).modules.get(source.key, module)
    except ModuleLoadError as exc:
        own = [p for p in exc.problems if p.file == f"{source.key}.json"]
        if own:
            raise ModuleLoadError(own) from None
        # Only other files of that folder are broken: this one is sound, so draw it anyway.
        return module


# ---------------------------------------------------------------- conditions


def summarize_condition(condition: s.Logic | None) -> str:
    """A compact, human-readable rendering of a condition tree (plain text, not DOT)."""
    if condition is None:
        return "otherwise"
    render = _CONDITION_RENDERERS.get(type(condition))
    return render(condition) if render else condition.condition_type


def _operand(condition: s.Logic, parent: type[s.Logic]) -> str:
    """A child of And/Or/At Least/At Most: composite children are put in parentheses, except
    an And in an And or an Or in an Or (Synthea modules nest those deeply; no meaning lost)."""
    text = summarize_condition(condition)
    composite = isinstance(condition, s.And | s.Or | s.AtLeast | s.AtMost)
    return f"({text})" if composite and type(condition) is not parent else text


def _joined(condition: s.And | s.Or | s.AtLeast | s.AtMost, separator: str) -> str:
    return separator.join(_operand(child, type(condition)) for child in condition.conditions)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(to_text(value))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _comparison(subject: str, operator: str, value: str) -> str:
    if operator in ("is nil", "is not nil"):
        return f"{subject} {operator}"
    return f"{subject} {operator} {value}"


def _codes(codes: list[Any] | None, attribute: str | None) -> str:
    if attribute:
        return f"@{attribute}"
    first = codes[0]
    text = first.display or f"{first.system} {first.code}"
    return text + (f" (+{len(codes) - 1} more)" if len(codes) > 1 else "")


def _date(condition: s.Date) -> str:
    if condition.date is not None:
        d = condition.date
        return f"date {condition.operator} {d.year:04d}-{d.month:02d}-{d.day:02d}"
    if condition.year is not None:
        return f"year {condition.operator} {condition.year}"
    return f"month {condition.operator} {condition.month}"


def _prior_state(condition: s.PriorState) -> str:
    text = f"prior state {condition.name}"
    if condition.since:
        text += f" since {condition.since}"
    if condition.within:
        text += f" within {_number(condition.within.quantity)} {condition.within.unit}"
    return text


def _observation(condition: s.ObservationLogic) -> str:
    subject = "observation " + _codes(condition.codes, condition.referenced_by_attribute)
    if condition.value_code is not None:
        value = condition.value_code.display or condition.value_code.code
    else:
        value = _value(condition.value)
    return _comparison(subject, condition.operator, value)


_CONDITION_RENDERERS: dict[type[s.Logic], Callable[[Any], str]] = {
    s.And: lambda c: _joined(c, " and "),
    s.Or: lambda c: _joined(c, " or "),
    s.Not: lambda c: f"not ({summarize_condition(c.condition)})",
    s.AtLeast: lambda c: f"at least {c.minimum} of ({_joined(c, ', ')})",
    s.AtMost: lambda c: f"at most {c.maximum} of ({_joined(c, ', ')})",
    s.TrueLogic: lambda c: "true",
    s.FalseLogic: lambda c: "false",
    s.Gender: lambda c: f"gender == {c.gender}",
    s.Age: lambda c: f"age {c.operator} {_number(c.quantity)} {c.unit}",
    s.Date: _date,
    s.SocioeconomicStatus: lambda c: f"socioeconomic status == {c.category}",
    s.Race: lambda c: f"race == {c.race}",
    s.SymptomLogic: lambda c: _comparison(f"symptom {c.symptom}", c.operator, _number(c.value)),
    s.Attribute: lambda c: _comparison(c.attribute, c.operator, _value(c.value)),
    s.VitalSignLogic: lambda c: _comparison(c.vital_sign, c.operator, _number(c.value)),
    s.ObservationLogic: _observation,
    s.PriorState: _prior_state,
    s.ActiveCondition: lambda c: "active condition " + _codes(c.codes, c.referenced_by_attribute),
    s.ActiveAllergy: lambda c: "active allergy " + _codes(c.codes, c.referenced_by_attribute),
    s.ActiveMedication: lambda c: "active medication " + _codes(c.codes, c.referenced_by_attribute),
    s.ActiveCarePlan: lambda c: "active care plan " + _codes(c.codes, c.referenced_by_attribute),
}


# ---------------------------------------------------------------- transitions


@dataclass(frozen=True, slots=True)
class Edge:
    """One transition option: where it goes and what its label says (plain text lines)."""

    target: str
    label: tuple[str, ...] = ()
    style: str | None = None


def percent(probability: float) -> str:
    return f"{probability * 100:.4g}%"


def _probability(distribution: float | s.NamedDistribution) -> str:
    if isinstance(distribution, s.NamedDistribution):
        return f"p = {distribution.attribute} (default {percent(distribution.default)})"
    return percent(distribution)


def _condition_lines(condition: s.Logic | None) -> tuple[str, ...]:
    text = summarize_condition(condition)
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1] + "…"
    return tuple(textwrap.wrap(text, WRAP_WIDTH, break_on_hyphens=False)) or (text,)


def state_edges(state: s.State) -> list[Edge]:
    """Every transition option of a state, in the order the module lists them."""
    if isinstance(state, s.Terminal):
        return []  # the engine ignores a Terminal's transition
    edges = list(_transition_edges(state))
    if isinstance(state, s.Physiology):
        # Physiology is disabled in the engine, so this is the edge actually taken.
        edges.append(Edge(state.alt_direct_transition, ("physiology off",), "dashed"))
    return edges


def _transition_edges(state: s.State) -> Iterator[Edge]:
    key = state.transition_key()
    if key == "direct_transition":
        yield Edge(state.direct_transition or "")
    elif key == "distributed_transition":
        for option in state.distributed_transition or []:
            yield Edge(option.transition, (_probability(option.distribution),))
    elif key == "conditional_transition":
        for option in state.conditional_transition or []:
            yield Edge(option.transition, _condition_lines(option.condition))
    elif key == "complex_transition":
        yield from _complex_edges(state.complex_transition or [])
    elif key == "lookup_table_transition":
        for option in state.lookup_table_transition or []:
            label = (option.lookup_table_name, f"default {percent(option.default_probability)}")
            yield Edge(option.transition, label, "dashed")
    elif key == "type_of_care_transition" and state.type_of_care_transition:
        care = state.type_of_care_transition
        for kind in ("ambulatory", "emergency", "telemedicine"):
            yield Edge(getattr(care, kind), (kind,))


def _complex_edges(options: Iterable[s.ComplexOption]) -> Iterator[Edge]:
    for option in options:
        condition = _condition_lines(option.condition)
        if option.transition is not None:
            yield Edge(option.transition, condition)
            continue
        for d in option.distributions or []:
            yield Edge(d.transition, (*condition, _probability(d.distribution)))


# ---------------------------------------------------------------- state details


def _short(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_display(codes: list[Any] | None) -> str:
    if not codes:
        return ""
    return codes[0].display or f"{codes[0].system} {codes[0].code}"


def _duration(state: Any) -> str:
    """Delay/Procedure/Death duration: legacy exact/range first, as the engine does."""
    exact, range_ = getattr(state, "exact", None), getattr(state, "range", None)
    if isinstance(exact, s.ExactWithUnit):
        return f"{_number(exact.quantity)} {exact.unit}"
    if isinstance(range_, s.RangeWithUnit):
        return f"{_number(range_.low)}-{_number(range_.high)} {range_.unit}"
    duration = getattr(state, "duration", None)
    if isinstance(duration, s.IntRangeWithUnit):
        return f"{duration.low}-{duration.high} {duration.unit}"
    distribution = getattr(state, "distribution", None)
    if isinstance(distribution, s.Distribution) and getattr(state, "unit", None):
        return f"{_distribution(distribution)} {state.unit}"
    return ""


def _distribution(d: s.Distribution) -> str:
    p = {k: _number(v) for k, v in d.parameters.items()}
    if d.kind == "EXACT":
        return p["value"]
    if d.kind == "UNIFORM":
        return f"{p['low']}-{p['high']}"
    if d.kind == "GAUSSIAN":
        return f"~N({p['mean']}, {p['standardDeviation']})"
    if d.kind == "EXPONENTIAL":
        return f"~Exp(mean {p['mean']})"
    return f"~Tri({p['min']}, {p['mode']}, {p['max']})"


def _set_attribute(state: s.SetAttribute) -> str:
    if state.expression is not None:
        source = "expression"
    elif state.range is not None:
        source = f"{_number(state.range.low)}-{_number(state.range.high)}"
    elif state.distribution is not None:
        source = _distribution(state.distribution)
    elif state.value_code is not None:
        source = state.value_code.display or state.value_code.code
    elif state.value_attribute is not None:
        source = f"@{state.value_attribute}"
    else:
        source = _value(state.value)
    return f"{state.attribute} = {source}"


def _death(state: s.Death) -> str:
    """The cause (onset state, attribute or code) and, for a future death, when."""
    if state.condition_onset:
        cause = state.condition_onset
    elif state.referenced_by_attribute:
        cause = f"@{state.referenced_by_attribute}"
    else:
        cause = _first_display(state.codes)
    when = _duration(state)
    return " ".join(part for part in (cause, when and f"in {when}") if part)


def _encounter(state: s.Encounter) -> str:
    if state.wellness:
        return "wellness"
    return f"{(state.encounter_class or 'ambulatory').lower()}: {_first_display(state.codes)}"


def _ended(state: Any, selector: str) -> str:
    """What a *End state ends: the onset state's name, an attribute or a code."""
    named = getattr(state, selector, None)
    if named:
        return named
    if state.referenced_by_attribute:
        return f"@{state.referenced_by_attribute}"
    return _first_display(state.codes)


_DETAILS: dict[type[s.State], Callable[[Any], str]] = {
    s.Guard: lambda st: summarize_condition(st.allow),
    s.Delay: _duration,
    s.Procedure: lambda st: " ".join(x for x in (_first_display(st.codes), _duration(st)) if x),
    s.Death: _death,
    s.SetAttribute: _set_attribute,
    s.Counter: lambda st: f"{st.attribute} {'+' if st.action == 'increment' else '-'}= {st.amount}",
    s.CallSubmodule: lambda st: st.submodule,
    s.Encounter: _encounter,
    s.ConditionEnd: lambda st: _ended(st, "condition_onset"),
    s.AllergyEnd: lambda st: _ended(st, "allergy_onset"),
    s.MedicationEnd: lambda st: _ended(st, "medication_order"),
    s.CarePlanEnd: lambda st: _ended(st, "careplan"),
    s.DeviceEnd: lambda st: _ended(st, "device"),
    s.Device: lambda st: _first_display([st.code]),
    s.ImagingStudy: lambda st: _first_display([st.procedure_code]),
    s.SupplyList: lambda st: f"{len(st.supplies)} supplies",
    s.Symptom: lambda st: st.symptom,
    s.VitalSign: lambda st: st.vital_sign,
}


def state_detail(state: s.State) -> str:
    """The short detail shown under a state's type ("" when there is nothing short to say)."""
    describe = _DETAILS.get(type(state))
    if describe is not None:
        return _short(describe(state))
    return _short(_first_display(getattr(state, "codes", None)))


# ---------------------------------------------------------------- styles

_FAMILIES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "start/end": (
        ("Initial", "Terminal"), {"shape": "oval", "fillcolor": "#d9d9d9", "penwidth": "2"}
    ),
    "waiting": (("Delay", "Guard"), {"shape": "hexagon", "fillcolor": "#fff2cc"}),
    "encounter": (("Encounter", "EncounterEnd"), {"shape": "box", "fillcolor": "#cfe2f3"}),
    "diagnosis": (
        ("ConditionOnset", "ConditionEnd", "AllergyOnset", "AllergyEnd"),
        {"shape": "box", "fillcolor": "#f4cccc"},
    ),
    "medication": (("MedicationOrder", "MedicationEnd"), {"shape": "box", "fillcolor": "#d9d2e9"}),
    "clinical": (
        (
            "Procedure", "Observation", "MultiObservation", "DiagnosticReport", "ImagingStudy",
            "Device", "DeviceEnd", "SupplyList", "Vaccine", "CarePlanStart", "CarePlanEnd",
            "Symptom", "VitalSign",
        ),
        {"shape": "box", "fillcolor": "#d9ead3"},
    ),
    "logic": (
        ("SetAttribute", "Counter", "Simple", "Physiology"),
        {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff"},
    ),
    "submodule": (("CallSubmodule",), {"shape": "component", "fillcolor": "#d0e0e3"}),
    "death": (("Death",), {"shape": "octagon", "fillcolor": "#434343", "fontcolor": "#ffffff"}),
}
_STYLE_BY_TYPE = {kind: style for kinds, style in _FAMILIES.values() for kind in kinds}


def node_style(state_type: str) -> dict[str, str]:
    return _STYLE_BY_TYPE.get(state_type, {"shape": "box"})


# ---------------------------------------------------------------- DOT


def _clean(text: str) -> str:
    """One line of plain text: control characters (a newline in a JSON string) become spaces."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def dot_label(lines: Iterable[str]) -> str:
    """A DOT label of plain-text lines: backslashes doubled (so `\\n` in a module stays text),
    `<...>` not read as HTML; the graphviz package then escapes the double quotes."""
    return graphviz.nohtml("\\n".join(graphviz.escape(_clean(line)) for line in lines))


def _usable_as_node_id(name: str) -> bool:
    # The graphviz package reads "a:b" in an edge as node a, port b; backslashes and "<...>"
    # have meanings in IDs too. Such names get a neutral ID and keep their label.
    return bool(name) and not any(c in name for c in ':\\<>') and _clean(name) == name


def node_ids(names: Iterable[str]) -> dict[str, str]:
    """DOT node ID per state name: the name itself where it is safe, else a unique stand-in."""
    names = list(names)
    taken = set(names)
    ids: dict[str, str] = {}
    for index, name in enumerate(names):
        if _usable_as_node_id(name):
            ids[name] = name
            continue
        stand_in = f"state_{index}"
        while stand_in in taken:
            stand_in += "_"
        taken.add(stand_in)
        ids[name] = stand_in
    return ids


def node_label_lines(name: str, state: s.State) -> list[str]:
    detail = state_detail(state)
    kind = f"{state.type}: {detail}" if detail else state.type
    if kind == name:
        return [name]  # "Initial", "Terminal": the name already says it
    return [name, *textwrap.wrap(kind, WRAP_WIDTH, break_on_hyphens=False)]


def build_graph(module: Module) -> graphviz.Digraph:
    """The module as a graphviz.Digraph: one node per state, one edge per transition option."""
    graph = graphviz.Digraph(
        name=graphviz.escape(_clean(module.key)),
        graph_attr={
            "label": dot_label([f"{module.schema.name} ({module.file})"]),
            "labelloc": "t",
            "fontname": "Helvetica",
            "rankdir": "TB",
        },
        node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"},
    )
    ids = node_ids(module.states)
    for name, state in module.states.items():
        graph.node(ids[name], dot_label(node_label_lines(name, state)), **node_style(state.type))
    for name, state in module.states.items():
        for edge in state_edges(state):
            attrs = {"label": dot_label(edge.label)} if edge.label else {}
            if edge.style:
                attrs["style"] = edge.style
            graph.edge(ids[name], ids[edge.target], **attrs)  # targets: checked by the loader
    return graph


# ---------------------------------------------------------------- rendering


def output_format(output: Path) -> str:
    fmt = OUTPUT_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise UserError(
            f"option -o {str(output)!r}: unknown file type {output.suffix or '(none)'!r}; "
            "use .svg, .png or .dot"
        )
    return fmt


def find_renderer() -> str | None:
    """Graphviz's `dot` if installed, else graphviz-pure (beside this Python, or on PATH)."""
    dot = shutil.which("dot")
    if dot:
        return dot
    beside_python = Path(sys.executable).parent / "graphviz-pure"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("graphviz-pure")


def render(source: str, fmt: str) -> bytes:
    """Lay out DOT text and return the rendered file (svg or png)."""
    program = find_renderer()
    if program is None:
        raise UserError(
            f"cannot write .{fmt}: no Graphviz program found; install Graphviz's `dot` "
            "(e.g. apt-get install graphviz) or `pip install graphviz-pure`, "
            "or write a .dot file and render it elsewhere"
        )
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"cannot run {program}: {exc}") from None
    if done.returncode != 0:
        message = " ".join(done.stderr.decode("utf-8", "replace").split())
        raise UserError(f"{program} failed (exit code {done.returncode}): {message}")
    return done.stdout


def draw(spec: str, output: Path, modules_dir: Path | None = None) -> Module:
    """`simulate modules graph`: load the module, write `output` (.dot, .svg or .png)."""
    fmt = output_format(output)  # before loading: a wrong suffix is the quicker mistake to fix
    if modules_dir is None:
        from simulator.config import PROJECT_MODULES

        modules_dir = PROJECT_MODULES
    module = load_module(spec, modules_dir)
    source = build_graph(module).source
    content = source.encode("utf-8") if fmt == "dot" else render(source, fmt)
    try:
        output.write_bytes(content)
    except OSError as exc:
        raise UserError(f"option -o {str(output)!r}: cannot write the file: {exc}") from None
    return module
