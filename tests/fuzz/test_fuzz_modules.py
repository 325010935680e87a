"""Mutated modules never crash `simulate modules check` or a run, never hang them, and a run
refuses exactly what the check calls an error.

Sources: small probe modules whose every state is entered at birth (so a mutation is
exercised by a 1-person run), the project's modules/ and, when present, Synthea's corpus; each
with the submodules it calls and the lookup tables it uses, in a fresh modules folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from simulator.authoring.check import ERROR, check_paths, exit_code
from simulator.errors import UserError
from simulator.gmf.loader import collect_modules

from .harness import (
    CORPUS,
    PROJECT_MODULES,
    REFERENCE_DATE,
    FuzzTimeout,
    Outcome,
    Violation,
    call_bounded,
    current_example,
    example_dir,
    exception_violation,
    fuzz_settings,
    invoke,
    judge_run,
    report,
    shown_files,
)
from .mutations import FOUND, KNOWN, FuzzCase, mutated, probes, real_modules, top_level_files

PROJECT_FILES = top_level_files(PROJECT_MODULES)
CORPUS_FILES = top_level_files(CORPUS)  # empty without the corpus: its cases are left out


def sources() -> st.SearchStrategy[FuzzCase]:
    options = [probes(), real_modules("modules", PROJECT_FILES)]
    if CORPUS_FILES:
        options.append(real_modules("corpus", CORPUS_FILES))
    return st.one_of(*options)


def known_examples(test: Any) -> Any:
    """The failures a manual review found and those the fuzz tests found since, as explicit
    examples (always run first, whatever the budget)."""
    for case in [*KNOWN.values(), *FOUND.values()]:
        test = example(case=case, seed=1)(test)
    return test


def run_argv(modules: Path, output: Path, key: str, seed: int) -> list[str]:
    return ["-p", "1", "-s", str(seed), "--modules-dir", str(modules), "-o", str(output),
            "--format", "csv,fhir", "--reference-date", REFERENCE_DATE, "-w", "1", "-m", key]


def repro(case: FuzzCase, files: dict[str, bytes], command: str) -> dict[str, Any]:
    return {"origin": case.origin, "mutations": case.labels, "command": command,
            "files": shown_files(files)}


def judge_check(out: Outcome, names: list[str], as_json: bool, step: str) -> list[Violation]:
    """`modules check`: exit 0/1/2 without a traceback; errors name the file; JSON parses."""
    if out.exception is not None:
        return [exception_violation(out.exception, step)]
    text = out.stdout + out.stderr
    if "Traceback (most recent call last)" in text:
        return [Violation("traceback", "printed traceback", "", text[-2000:], step)]
    if out.exit_code not in (0, 1, 2):
        return [Violation("exit-code", f"exit {out.exit_code}", "", text[-1500:], step)]
    found = []
    if out.exit_code == 2 and not any(n.lower() in text.lower() for n in names):
        found.append(Violation("message", "error names no file", "",
                               f"expected one of {names[:8]} in: {text[:1500]}", step))
    if as_json and not out.stderr.strip():
        try:
            orjson.loads(out.stdout)
        except orjson.JSONDecodeError as exc:
            found.append(Violation("message", "--format json output is not JSON", "",
                                   f"{exc}: {out.stdout[:500]!r}", step))
    return found


def check_case(modules: Path, names: list[str], as_json: bool) -> list[Violation]:
    violations: list[Violation] = []
    findings, exc = call_bounded(check_paths, [modules])
    if exc is not None and not isinstance(exc, UserError):
        violations.append(exception_violation(exc, "check_paths"))
        if isinstance(exc, FuzzTimeout):
            return violations  # the CLI would hang as long
    argv = ["modules", "check", str(modules), *(["--format", "json"] if as_json else [])]
    out = invoke(argv)
    found = judge_check(out, names, as_json, "simulate modules check")
    violations.extend(found)
    if findings is not None and not found and out.exit_code != exit_code(findings):
        violations.append(Violation(
            "check-vs-run", "CLI check exit differs from check_paths", "",
            f"check_paths: exit {exit_code(findings)} ({len(findings)} findings); "
            f"CLI: exit {out.exit_code}: {(out.stdout + out.stderr)[:800]}", "modules check"))
    return violations


@fuzz_settings(ci_examples=300)
@given(case=mutated(sources(), most=3), as_json=st.booleans())
@example(case=KNOWN["submodule calls itself"], as_json=True)
@example(case=KNOWN["deep JSON array"], as_json=False)
@example(case=KNOWN["lookup cell over 128 KB"], as_json=False)
@example(case=FOUND["5000-digit integer in an expression"], as_json=False)
@example(case=FOUND["module file is null"], as_json=True)
@example(case=FOUND["lone surrogate in a code display"], as_json=True)
def test_mutated_module_check_reports_without_crashing(case: FuzzCase, as_json: bool,
                                                       fuzz_base: Path) -> None:
    with example_dir(fuzz_base) as root:
        modules = root / "modules"
        files = case.write(modules)
        info = repro(case, files, f"simulate modules check {modules}"
                     + (" --format json" if as_json else ""))
        with current_example("modules check", info):
            violations = check_case(modules, case.names(), as_json)
        report("modules check", violations, info)


@fuzz_settings(ci_examples=150)
@given(case=mutated(sources(), most=2), seed=st.integers(0, 3))
@known_examples
def test_mutated_module_runs_or_is_refused_cleanly(case: FuzzCase, seed: int,
                                                   fuzz_base: Path) -> None:
    with example_dir(fuzz_base) as root:
        modules, output = root / "modules", root / "out"
        files = case.write(modules)
        argv = run_argv(modules, output, case.key, seed)
        info = repro(case, files, "simulate " + " ".join(argv))
        with current_example("run", info):
            outcome = invoke(argv)
            violations = judge_run(outcome, output, case.names())
            if not outcome.timed_out:
                violations.extend(agreement(modules, outcome))
        report("run", violations, info)


# The run's own guards (docs/errors.md §3, §4): what shows only while a person is simulated
# (an attribute not yet set, a loop that never leaves) or only in the population (everyone
# dies). The module rules cannot see these, so check passing them is no disagreement.
RUNTIME_ONLY = re.compile(r"\(person \d+\): |cannot give the population asked for")


def agreement(modules: Path, run: Outcome) -> list[Violation]:
    """One set of module rules: the run refuses a module at load (exit 2, `N problems found
    while loading modules`) exactly when `check` reports an error for it, with the same
    messages; the loader refusing a module the run accepted is a disagreement too."""
    findings, exc = call_bounded(check_paths, [modules])
    if exc is not None:
        return []  # the check test reports it
    errors = [f for f in findings if f.severity == ERROR]
    clean_exit = run.exception is None and run.exit_code in (0, 1, 2) \
        and "internal error (" not in run.message  # a crash: judge_run reports it
    refused = clean_exit and run.exit_code != 0 and not RUNTIME_ONLY.search(run.message)
    if refused and not errors:
        return [Violation("check-vs-run", "check finds no error, the run refuses", "",
                          f"run: {run.message[:1500]}\ncheck: "
                          f"{[f'{f.location()}: {f.severity}: {f.message}' for f in findings][:5]}",
                          "run vs check")]
    if refused and "problems found while loading modules" in run.message and len(errors) <= 50:
        missing = [f.message for f in errors if f.message not in run.message]
        if missing:
            return [Violation("check-vs-run", "check reports an error the run does not", "",
                              f"run: {run.message[:1500]}\ncheck only: {missing[:5]}",
                              "run vs check")]
    if clean_exit and run.exit_code == 0:
        loaded, exc = call_bounded(collect_modules, modules)
        problems = [] if exc is not None else [p for p in loaded[1] if p.severity == ERROR]
        if problems:
            return [Violation("check-vs-run", "the loader refuses, the run succeeds", "",
                              "\n".join(str(p) for p in problems[:5]), "run vs check")]
    return []
