"""`simulate modules graph`: the DOT text holds every state and transition, labels say what the
transitions do, quoting cannot break the DOT, rendering works, and bad input is a clear error."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from simulator.authoring import graph
from simulator.cli import main
from simulator.config import PROJECT_MODULES
from simulator.errors import UserError
from simulator.gmf import schema as s
from simulator.gmf.loader import Module, load_module_file, load_modules
from simulator.gmf.rules import targets

# ---------------------------------------------------------------- a small DOT reader
# It reads the statements the graphviz package writes, one per line, and decodes IDs and labels
# as Graphviz does, so the tests check what Graphviz will see rather than what we meant to write.

_ID = r'"(?:[^"\\]|\\.)*"|[^\s\[\]";=]+'
_NODE = re.compile(rf"^\t({_ID}) \[(.*)\]$")
_EDGE = re.compile(rf"^\t({_ID}) -> ({_ID})(?: \[(.*)\])?$")
_ATTR = re.compile(rf"(\w+)=({_ID})")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "l": "\n", "r": "\n"}


def _decode(token: str) -> str:
    """A DOT ID or escString as Graphviz reads it (lines joined with a newline)."""
    if not token.startswith('"'):
        return token
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in _ESCAPES:
            out.append(_ESCAPES[body[i + 1]])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _attrs(text: str | None) -> dict[str, str]:
    return {m.group(1): _decode(m.group(2)) for m in _ATTR.finditer(text or "")}


def parse_dot(source: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """(node ID → label, [(tail ID, head ID, label)]); fails on any line it cannot read."""
    lines = source.splitlines()
    assert lines[0].startswith("digraph ") and lines[0].endswith("{"), lines[0]
    assert lines[-1] == "}", lines[-1]
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines[1:-1]:
        if edge := _EDGE.match(line):
            tail, head, attrs = edge.groups()
            edges.append((_decode(tail), _decode(head), _attrs(attrs).get("label", "")))
        elif node := _NODE.match(line):
            node_id, attrs = node.groups()
            if node_id in ("graph", "node", "edge"):  # default attributes, not nodes
                continue
            assert _decode(node_id) not in nodes, f"node {node_id} written twice"
            nodes[_decode(node_id)] = _attrs(attrs)["label"]
        else:
            raise AssertionError(f"unreadable DOT line: {line!r}")
    return nodes, edges


def named_graph(module: Module) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The module's DOT as state name → node label and (from state, to state, edge label)."""
    nodes, edges = parse_dot(graph.build_graph(module).source)
    name_of = {node_id: label.split("\n")[0] for node_id, label in nodes.items()}
    return (
        {name_of[node_id]: label for node_id, label in nodes.items()},
        [(name_of[tail], name_of[head], label) for tail, head, label in edges],
    )


def assert_whole_module_drawn(module: Module) -> None:
    nodes, edges = named_graph(module)
    assert sorted(nodes) == sorted(module.states)
    # The loader's own list of transition targets is the reference (a Terminal's transition,
    # which the engine ignores, is not drawn).
    expected = Counter(
        (name, target)
        for name, state in module.states.items()
        if not isinstance(state, s.Terminal)
        for _, target in targets(state)
    )
    assert Counter((tail, head) for tail, head, _ in edges) == expected
    for name, state in module.states.items():
        assert state.type in nodes[name] or name == state.type, nodes[name]


# ---------------------------------------------------------------- (1) every module is drawn whole


def _project_module_keys() -> list[str]:
    files = (p for p in PROJECT_MODULES.rglob("*.json") if "lookup_tables" not in p.parts)
    return sorted(p.relative_to(PROJECT_MODULES).with_suffix("").as_posix() for p in files)


@pytest.fixture(scope="module")
def project_modules() -> dict[str, Module]:
    return load_modules(PROJECT_MODULES).modules


def test_the_project_has_modules_to_draw(project_modules: dict[str, Module]) -> None:
    assert len(_project_module_keys()) >= 30
    assert sorted(project_modules) == _project_module_keys()


@pytest.mark.parametrize("key", _project_module_keys())
def test_every_state_and_transition_of_a_project_module_is_drawn(
    key: str, project_modules: dict[str, Module]
) -> None:
    assert_whole_module_drawn(project_modules[key])


def test_every_module_of_the_synthea_corpus_is_drawn_whole(corpus_dir: Path) -> None:
    modules = load_modules(corpus_dir).modules
    assert any(m.submodule for m in modules.values())
    for module in modules.values():
        assert_whole_module_drawn(module)


# ---------------------------------------------------------------- (2) labels

SMALL = {
    "name": "Graph Test",
    "states": {
        "Initial": {"type": "Initial", "direct_transition": "Pick"},
        "Pick": {
            "type": "Simple",
            "distributed_transition": [
                {"distribution": 0.3, "transition": "Adult_Check"},
                {"distribution": 0.7, "transition": "Wait"},
            ],
        },
        "Adult_Check": {
            "type": "Simple",
            "conditional_transition": [
                {
                    "condition": {"condition_type": "Age", "operator": ">=", "quantity": 18,
                                  "unit": "years"},
                    "transition": "Mixed",
                },
                {"transition": "Terminal"},
            ],
        },
        "Mixed": {
            "type": "Simple",
            "complex_transition": [
                {
                    "condition": {"condition_type": "Gender", "gender": "F"},
                    "distributions": [
                        {"distribution": 0.25, "transition": "Wait"},
                        {"distribution": 0.75, "transition": "Terminal"},
                    ],
                },
                {"transition": "Terminal"},
            ],
        },
        "Wait": {"type": "Delay", "exact": {"quantity": 2, "unit": "weeks"},
                 "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"},
    },
}


def _write(folder: Path, name: str, content: dict[str, Any]) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    return _write(tmp_path, "graph_test.json", SMALL)


def test_edge_labels_of_distributed_conditional_and_complex_transitions(small_file: Path) -> None:
    module = load_module_file(small_file)
    nodes, edges = named_graph(module)
    assert sorted(edges) == sorted([
        ("Initial", "Pick", ""),
        ("Pick", "Adult_Check", "30%"),
        ("Pick", "Wait", "70%"),
        ("Adult_Check", "Mixed", "age >= 18 years"),
        ("Adult_Check", "Terminal", "otherwise"),
        ("Mixed", "Wait", "gender == F\n25%"),
        ("Mixed", "Terminal", "gender == F\n75%"),
        ("Mixed", "Terminal", "otherwise"),
        ("Wait", "Terminal", ""),
    ])
    assert nodes["Wait"] == "Wait\nDelay: 2 weeks"
    assert nodes["Initial"] == "Initial"
    source = graph.build_graph(module).source
    assert '\tPick -> Adult_Check [label="30%"]\n' in source
    assert '\tAdult_Check -> Mixed [label="age >= 18 years"]\n' in source
    assert '\tMixed -> Wait [label="gender == F\\n25%"]\n' in source
    assert "\tInitial -> Pick\n" in source


def test_lookup_table_type_of_care_and_named_distribution_labels() -> None:
    state = s.Simple.model_validate({
        "type": "Simple",
        "lookup_table_transition": [
            {"transition": "A", "default_probability": 0.4, "lookup_table_name": "risk.csv"},
            {"transition": "B", "default_probability": 0.6, "lookup_table_name": "risk.csv"},
        ],
    })
    assert [(e.target, e.label) for e in graph.state_edges(state)] == [
        ("A", ("risk.csv", "default 40%")), ("B", ("risk.csv", "default 60%"))]
    state = s.Simple.model_validate({"type": "Simple", "type_of_care_transition": {
        "ambulatory": "A", "emergency": "E", "telemedicine": "T"}})
    assert [e.label for e in graph.state_edges(state)] == [
        ("ambulatory",), ("emergency",), ("telemedicine",)]
    state = s.Simple.model_validate({"type": "Simple", "distributed_transition": [
        {"distribution": {"attribute": "risk", "default": 0.125}, "transition": "A"}]})
    assert graph.state_edges(state)[0].label == ("p = risk (default 12.5%)",)


def _condition(spec: dict[str, Any]) -> s.Logic:
    return s.Guard.model_validate({"type": "Guard", "allow": spec, "direct_transition": "X"}).allow


AGE_65 = {"condition_type": "Age", "operator": ">=", "quantity": 65, "unit": "years"}
SMOKER = {"condition_type": "Attribute", "attribute": "smoker", "operator": "==", "value": True}
HTN = {"condition_type": "Active Condition",
       "codes": [{"system": "SNOMED-CT", "code": "38341003", "display": "Hypertension"}]}


@pytest.mark.parametrize(("spec", "text"), [
    (AGE_65, "age >= 65 years"),
    ({"condition_type": "Gender", "gender": "M"}, "gender == M"),
    (SMOKER, "smoker == true"),
    ({"condition_type": "Attribute", "attribute": "stage", "operator": "==", "value": "II"},
     'stage == "II"'),
    ({"condition_type": "Attribute", "attribute": "count", "operator": "<", "value": 3},
     "count < 3"),
    ({"condition_type": "Attribute", "attribute": "pregnant", "operator": "is nil"},
     "pregnant is nil"),
    (HTN, "active condition Hypertension"),
    ({"condition_type": "Active Medication", "referenced_by_attribute": "diabetes_med"},
     "active medication @diabetes_med"),
    ({"condition_type": "Symptom", "symptom": "Cough", "operator": ">=", "value": 50},
     "symptom Cough >= 50"),
    ({"condition_type": "Vital Sign", "vital_sign": "BMI", "operator": ">", "value": 30},
     "BMI > 30"),
    ({"condition_type": "Observation", "operator": ">=", "value": 6.5, "codes": [
        {"system": "LOINC", "code": "4548-4", "display": "HbA1c"}]}, "observation HbA1c >= 6.5"),
    ({"condition_type": "PriorState", "name": "Lipid_Panel",
      "within": {"quantity": 3, "unit": "years"}}, "prior state Lipid_Panel within 3 years"),
    ({"condition_type": "Not", "condition": SMOKER}, "not (smoker == true)"),
    ({"condition_type": "And", "conditions": [
        AGE_65, {"condition_type": "Or", "conditions": [SMOKER, HTN]}]},
     "age >= 65 years and (smoker == true or active condition Hypertension)"),
    ({"condition_type": "Or", "conditions": [
        SMOKER, {"condition_type": "Or", "conditions": [AGE_65, HTN]}]},
     "smoker == true or age >= 65 years or active condition Hypertension"),
    ({"condition_type": "At Least", "minimum": 2, "conditions": [SMOKER, AGE_65, HTN]},
     "at least 2 of (smoker == true, age >= 65 years, active condition Hypertension)"),
    ({"condition_type": "Date", "operator": ">=", "year": 2010}, "year >= 2010"),
    ({"condition_type": "Date", "operator": "<", "date": {"year": 2020, "month": 3, "day": 15}},
     "date < 2020-03-15"),
    ({"condition_type": "Socioeconomic Status", "category": "Low"},
     "socioeconomic status == Low"),
    ({"condition_type": "Race", "race": "Black"}, "race == Black"),
    ({"condition_type": "True"}, "true"),
    ({"condition_type": "False"}, "false"),
])
def test_condition_summaries(spec: dict[str, Any], text: str) -> None:
    assert graph.summarize_condition(_condition(spec)) == text


def test_long_conditions_are_wrapped_and_cut() -> None:
    many = {"condition_type": "Or", "conditions": [
        {"condition_type": "Attribute", "attribute": f"risk_factor_{i}", "operator": "is not nil"}
        for i in range(30)]}
    state = s.Simple.model_validate({"type": "Simple", "conditional_transition": [
        {"condition": many, "transition": "A"}]})
    label = graph.state_edges(state)[0].label
    assert all(len(line) <= graph.WRAP_WIDTH for line in label)
    assert sum(map(len, label)) <= graph.MAX_LABEL_CHARS
    assert label[-1].endswith("…")


@pytest.mark.filterwarnings("error")  # the graphviz package warns about DOT it cannot quote
def test_quotes_backslashes_and_colons_cannot_break_the_dot(tmp_path: Path) -> None:
    odd_value = 'say "hi" \\ then \\n and end\\'
    odd_name = 'Check: "odd" \\ <name>'
    module_json = {"name": 'Quote "test"', "states": {
        "Initial": {"type": "Initial", "direct_transition": odd_name},
        odd_name: {"type": "Simple", "conditional_transition": [
            {"condition": {"condition_type": "Attribute", "attribute": "note", "operator": "==",
                           "value": odd_value}, "transition": "node"},
            {"transition": "node"}]},
        "node": {"type": "Terminal"}}}
    module = load_module_file(_write(tmp_path, "odd.json", module_json))
    nodes, edges = named_graph(module)
    assert sorted(nodes) == sorted(module.states)
    condition_text = f'note == "{odd_value}"'
    assert (odd_name, "node", condition_text) in edges
    renderer = graph.find_renderer()
    if renderer is None:
        pytest.skip("no Graphviz program (dot or graphviz-pure) to check the DOT is accepted")
    svg = graph.render(graph.build_graph(module).source, "svg").decode("utf-8")
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert odd_name in texts
    assert condition_text in texts


# ---------------------------------------------------------------- (3) rendering


def test_svg_and_png_are_rendered(small_file: Path, tmp_path: Path) -> None:
    if graph.find_renderer() is None:
        pytest.skip("no Graphviz program (dot or graphviz-pure)")
    svg_path = tmp_path / "small.svg"
    graph.draw(str(small_file), svg_path)
    svg = svg_path.read_text(encoding="utf-8")
    assert "<svg" in svg
    for name in SMALL["states"]:
        assert f">{name}</text>" in svg
    png_path = tmp_path / "small.png"
    graph.draw(str(small_file), png_path)
    assert png_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_graphviz_pure_is_used_when_dot_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        graph.shutil, "which", lambda name: None if name == "dot" else real_which(name)
    )
    renderer = graph.find_renderer()
    if renderer is None:
        pytest.skip("graphviz-pure is not installed")
    assert Path(renderer).name == "graphviz-pure"
    assert b"<svg" in graph.render("digraph { a -> b }", "svg")


def test_no_graphviz_program_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, small_file: Path, tmp_path: Path
) -> None:
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    monkeypatch.setattr(graph.sys, "executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(UserError, match="pip install graphviz-pure"):
        graph.draw(str(small_file), tmp_path / "out.svg")
    assert not (tmp_path / "out.svg").exists()


# ---------------------------------------------------------------- (4) the command line


def _graph_cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["modules", "graph", *args])


def test_cli_draws_a_project_module_by_key_to_dot(tmp_path: Path) -> None:
    out = tmp_path / "diabetes.dot"
    result = _graph_cli("diabetes", "-o", str(out))
    assert result.exit_code == 0, result.output
    nodes, _ = parse_dot(out.read_text(encoding="utf-8"))
    assert "Wait_For_Adulthood" in nodes
    assert "diabetes.dot" in result.output


def test_cli_draws_a_file_and_a_module_found_by_name(small_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.dot"
    assert _graph_cli(str(small_file), "-o", str(out)).exit_code == 0
    assert "Mixed -> Wait" in out.read_text(encoding="utf-8")
    result = _graph_cli("graph test", "--modules-dir", str(small_file.parent), "-o", str(out))
    assert result.exit_code == 0, result.output


def test_cli_resolves_submodules_of_a_file_in_a_modules_folder(tmp_path: Path) -> None:
    root = tmp_path / "mods"
    _write(root, "child/leaf.json", {"name": "Leaf", "states": {
        "Initial": {"type": "Initial", "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}})
    caller = {"name": "Caller", "states": {
        "Initial": {"type": "Initial", "direct_transition": "Call"},
        "Call": {"type": "CallSubmodule", "submodule": "child/leaf",
                 "direct_transition": "Terminal"},
        "Terminal": {"type": "Terminal"}}}
    top = _write(root, "caller.json", caller)
    out = tmp_path / "caller.dot"
    result = _graph_cli(str(top), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "CallSubmodule: child/leaf" in out.read_text(encoding="utf-8")
    caller["states"]["Call"]["submodule"] = "child/missing"
    _write(root, "caller.json", caller)
    result = _graph_cli("caller", "--modules-dir", str(root), "-o", str(out))
    assert result.exit_code == 2
    assert "error:" in result.output and "child/missing" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["no_such_module"], "'no_such_module': no module with that key or name"),
    (["missing.json"], "does not exist"),
    (["diabetes", "--modules-dir", "/nonexistent/modules"], "option --modules-dir: '/nonexistent/modules' is not a folder"),
])
def test_cli_unknown_or_missing_module_exits_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = _graph_cli(*args, "-o", str(tmp_path / "g.dot"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "g.dot").exists()


def test_cli_broken_module_exits_2_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "Broken", "states": {"Initial": {"type": "Initial",'
                      ' "direct_transition": "Nowhere"}}}', encoding="utf-8")
    result = _graph_cli(str(broken), "-o", str(tmp_path / "g.svg"))
    assert result.exit_code == 2
    assert "broken.json" in result.output and "Nowhere" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    result = _graph_cli(str(tmp_path / "bad.json"), "-o", str(tmp_path / "g.dot"))
    assert result.exit_code == 2
    assert "bad.json" in result.output and "malformed JSON" in result.output


def test_cli_unknown_output_suffix_exits_2(tmp_path: Path) -> None:
    result = _graph_cli("diabetes", "-o", str(tmp_path / "graph.pdf"))
    assert result.exit_code == 2
    assert "error:" in result.output and "'.pdf'" in result.output
    assert ".svg, .png or .dot" in result.output
    assert "Traceback" not in result.output
