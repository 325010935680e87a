"""Random option values, random TOML config files and junk paths never crash or hang the CLI,
and are never reported as success: exit 0 with a complete run.json, or exit 1/2 with a message
starting `error:` that names the option (or the file).

Runs are 0-2 people of one small project module, so an example takes well under a second.
"""

from __future__ import annotations

import json
import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from simulator.authoring.check import check_paths
from simulator.errors import UserError

from .harness import (
    PROJECT_MODULES,
    REFERENCE_DATE,
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
)

SMALL_MODULE = "acute_bronchitis"

# ------------------------------------------------------------------ files an option may name

KEEP_ALL = {"name": "Keep everyone", "states": {
    "Initial": {"type": "Initial", "direct_transition": "Keep"}, "Keep": {"type": "Terminal"}}}
KEEP_NONE = {"name": "Keep nobody", "states": {
    "Initial": {"type": "Initial", "conditional_transition": [
        {"condition": {"condition_type": "False"}, "transition": "Keep"},
        {"transition": "Other"}]},
    "Keep": {"type": "Terminal"}, "Other": {"type": "Terminal"}}}
NO_KEEP_STATE = {"name": "No Keep", "states": {
    "Initial": {"type": "Initial", "direct_transition": "Terminal"},
    "Terminal": {"type": "Terminal"}}}

SPECIAL_FILES: dict[str, bytes | None] = {  # None: made specially (folder, FIFO, missing)
    "keep_all.json": json.dumps(KEEP_ALL).encode(),
    "keep_none.json": json.dumps(KEEP_NONE).encode(),
    "no_keep_state.json": json.dumps(NO_KEEP_STATE).encode(),
    "binary.json": bytes(range(256)) * 8,
    "deep.json": b"[" * 100_000 + b"]" * 100_000,
    "deep_object.json": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "empty.json": b"",
    "list.json": b"[]",
    "non_utf8.json": b'{"name": "\xff\xfe", "states": {}}',
    "utf16.json": json.dumps(KEEP_ALL).encode("utf-16"),
    "big_number.json": b'{"name": "x", "states": {}, "gmf_version": ' + b"9" * 5000 + b"}",
    "folder": None,
    "fifo": None,
    "missing.json": None,
    "file_as_parent/sub": None,
}


def make_special(root: Path, name: str) -> Path:
    path = root / "special" / name
    if not path.parent.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
    content = SPECIAL_FILES.get(name)
    if content is not None:
        path.write_bytes(content)
    elif name == "folder":
        path.mkdir(exist_ok=True)
        (path / "module.json").write_text(json.dumps(KEEP_ALL), encoding="utf-8")
    elif name == "fifo" and not path.exists():
        os.mkfifo(path)
    elif name == "file_as_parent/sub" and path.parent.is_dir():
        path.parent.rmdir()
        path.parent.write_bytes(b"a file, not a folder")
    return path


def special_path(root: Path, value: str) -> str:
    """Option values written `@name` stand for one of SPECIAL_FILES, made in `root`."""
    if value.startswith("@"):
        name = value[1:]
        if name in ("/dev/null", "/"):
            return name
        return str(make_special(root, name))
    return value


SPECIAL = st.sampled_from(["@" + n for n in SPECIAL_FILES] + ["@/dev/null"])

# ------------------------------------------------------------------ option values

NASTY_TEXT = ["", " ", "\x00", "\udc80", "☃", "\u202eevil", "a" * 5000, "-", "--", "-p",
              "'; rm -rf /", "%s%n", "\n", "ＭＡ"]


def texts(*common: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from([*common, *NASTY_TEXT]), st.text(max_size=12))


POPULATIONS = ["0", "1", "2", "-1", "-0", "1.5", "1e3", "ten", " 1 ", "٣", "0x10", "1_0",
               "nan", "inf", "-" + str(2**64)]
SEEDS = st.one_of(
    st.sampled_from(["0", "1", "-1", str(2**63 - 1), str(2**63), str(2**64), str(-(2**63)),
                     str(-(2**63) - 1), str(10**30), "abc", "1.5", "-0", "0x1", "1e3"]),
    st.integers(-(2**70), 2**70).map(str))
AGES = st.one_of(
    st.sampled_from(["0-0", "0-1", "30-40", "40-30", "120-125", "0-140", "140-140", "-1-5",
                     "5", "a-b", "1-2-3", "00-01", "5-", "99999999999-999999999999",
                     "110-120", "139-140", "141-150"]),
    st.tuples(st.integers(-5, 200), st.integers(-5, 200)).map(lambda t: f"{t[0]}-{t[1]}"))
DATES = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "1970-01-01", "1900-02-29", "2000-02-29",
                     "2020-13-01", "garbage", "20200101", "0000-00-00", "1969-12-31",
                     "1582-10-10", "2262-04-12", "1677-09-21", "1800-01-01", "2100-01-01",
                     "0001-01-02", "9999-12-30", "+2020-01-01", "2020-1-1"]),
    st.dates().map(lambda d: d.isoformat()), st.text(max_size=12))
OPTIONS: dict[str, st.SearchStrategy[Any]] = {  # anything, valid or not
    "--population": st.sampled_from(POPULATIONS),
    "--seed": SEEDS,
    "--age": AGES,
    "--reference-date": DATES,
    "--gender": texts("M", "F", "m", "f", "X", "male", "Ｍ"),
    "--state": texts("Massachusetts", "MA", "ma", "Alaska", "Puerto Rico", "Guam", "DC",
                     "District of Columbia", "Atlantis", "Massachusetts\x00", "马萨诸塞州"),
    "--city": texts("Boston", "Springfield", "Nowhere", "波士顿", "Boston\x00"),
    "--format": texts("csv", "fhir", "ndjson", "ccda", "csv,fhir", ",", "CSV", "pdf",
                      "csv,,fhir", "fhir,fhir", "ccda,ndjson,csv,fhir"),
    "--csv-files": texts("patients", "patients,encounters", "Patients.CSV", "nope", ","),
    "--csv-exclude": texts("patients", "claims_transactions,payers", "nope", ","),
    "--workers": st.sampled_from(["1", "2", "0", "-1", "64", "abc", "1.5", "", str(2**64)]),
    "--fhir-bundle": texts("transaction", "batch", "collection", "BATCH", "nope"),
    "--shard-size": st.sampled_from(["1", "0", "-1", "abc", "25", str(2**64)]),
    "--keep": SPECIAL,
    "--keep-condition": texts("bronchitis", "10509002", "Acute bronchitis", "!!!"),
    "--modules-dir": SPECIAL,
    "--output": SPECIAL,
    "--module": texts(SMALL_MODULE, "nope*", ":", "[", f"{SMALL_MODULE}:nope", "*bronch*"),
    "--natural-death": st.sampled_from([True, False]),
    "--cluster": st.sampled_from(["5", "", "nonsense", "tcp://"]),
}
VALID: dict[str, st.SearchStrategy[Any]] = {  # values a run accepts (so that it gets going)
    "--population": st.sampled_from(["0", "1", "2"]),
    "--seed": st.integers(-(2**63), 2**63 - 1).map(str),
    "--age": st.tuples(st.integers(0, 110), st.integers(0, 110)).map(
        lambda t: f"{min(t)}-{max(t)}"),
    "--reference-date": st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(
        lambda d: d.isoformat()),
    "--gender": st.sampled_from(["M", "F", "m", "f"]),
    "--state": st.sampled_from(["Massachusetts", "MA", "Alaska", "DC", "Texas", "Hawaii",
                                "District of Columbia", "new york"]),
    "--city": st.sampled_from(["Boston", "Worcester", "Springfield"]),
    "--format": st.sampled_from(["csv", "fhir", "ndjson", "ccda", "csv,fhir",
                                 "ccda,ndjson,csv,fhir"]),
    "--csv-files": st.sampled_from(["patients", "patients,encounters,conditions"]),
    "--csv-exclude": st.sampled_from(["claims_transactions,payers", "patients"]),
    "--workers": st.sampled_from(["1", "2"]),
    "--fhir-bundle": st.sampled_from(["transaction", "batch", "collection"]),
    "--shard-size": st.sampled_from(["1", "25"]),
    "--keep": st.sampled_from(["@keep_all.json"] * 3 + ["@keep_none.json"]),
    "--keep-condition": st.sampled_from(["bronchitis", "10509002", "Acute bronchitis"]),
    "--modules-dir": st.just(str(PROJECT_MODULES)),
    "--output": st.sampled_from(["out", "@folder"]),
    "--module": st.sampled_from([SMALL_MODULE, "*bronch*", f"{SMALL_MODULE}:otitis_media"]),
    "--natural-death": st.sampled_from([True, False]),
}


SHORT = {"--population": "-p", "--seed": "-s", "--age": "-a", "--gender": "-g",
         "--module": "-m", "--output": "-o", "--workers": "-w", "--keep": "-k"}


@st.composite
def option_sets(draw: st.DrawFn) -> dict[str, Any]:
    """A few options, each valid two times in three: a run with one bad option among good
    ones, or only good ones, gets far enough to meet what the option does."""
    flags = draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=5, unique=True))
    chosen = {}
    for flag in flags:
        valid = flag in VALID and draw(st.integers(0, 2)) > 0
        chosen[flag] = draw(VALID[flag] if valid else OPTIONS[flag])
    return chosen


def build_argv(options: dict[str, Any], root: Path) -> tuple[list[str], Path, list[str]]:
    """The command line, the output folder and what an error may name."""
    argv: list[str] = []
    names: list[str] = []
    given = dict(options)
    given.setdefault("--module", SMALL_MODULE)
    given.setdefault("--workers", "1")
    given.setdefault("--output", str(root / "out"))
    if "--population" not in given:
        given["--population"] = "1"
    output = root / "out"
    for flag, value in given.items():
        names.append(flag)
        if flag in SHORT:
            names.append(SHORT[flag])
        if flag == "--natural-death":
            argv.append("--natural-death" if value else "--no-natural-death")
            continue
        if flag in ("--keep", "--modules-dir", "--output"):
            value = special_path(root, value)
            names.append(value)
            if flag == "--output":
                output = root / value  # a relative folder is in the example's folder (cwd)
        argv.extend([flag, value])
    return argv, output, names


def cli_repro(argv: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"command": "simulate " + " ".join(repr(a) if not a or " " in a or "\x00" in a
                                               else a for a in argv), **(extra or {})}


# ------------------------------------------------------------------ options


@fuzz_settings(ci_examples=60)
@given(options=option_sets())
@example(options={"--age": "120-125"})
@example(options={"--reference-date": "0001-01-01"})
@example(options={"--reference-date": "9999-12-31"})
@example(options={"--seed": str(2**64)})
@example(options={"--seed": "-1"})
@example(options={"--keep": "@binary.json"})
@example(options={"--keep": "@deep.json"})
@example(options={"--keep": "@folder"})
@example(options={"--keep": "@missing.json"})
@example(options={"--keep": "@fifo"})
@example(options={"--keep": "@keep_none.json", "--module": "*"})  # keeps nobody: how long?
@example(options={"--state": "马萨诸塞州", "--city": "\udc80"})
@example(options={"--format": "ccda,ndjson,csv,fhir", "--csv-files": "patients"})
def test_options_run_or_fail_cleanly(options: dict[str, Any], fuzz_base: Path) -> None:
    with example_dir(fuzz_base) as root:
        argv, output, names = build_argv(options, root)
        info = cli_repro(argv)
        with current_example("options", info):
            outcome = invoke(argv, cwd=root)
            violations = judge_run(outcome, output, names, step="options")
        report("options", violations, info)


# ------------------------------------------------------------------ TOML config files

TOML_KEYS = ["population", "seed", "gender", "age", "state", "city", "module", "modules",
             "modules_dir", "modules-dir", "output", "format", "formats", "fhir_bundle",
             "validate", "reference_date", "reference-date", "workers", "shard_size",
             "natural_death", "keep", "keep_condition", "csv_files", "csv_exclude", "cluster",
             "min_age", "max_age", "populaton", "unknown", "", "run", "Population", "a.b"]
ALIASES = {"formats": "format", "modules": "module"}  # TOML keys the CLI reads as these options
SAFE_STRINGS = {  # string values that keep the run small and in the example's folder
    "module": [SMALL_MODULE, "nope*", ""], "modules": [SMALL_MODULE],
    "output": ["out", "out/sub", "", "."], "modules_dir": ["missing", "", "."],
    "keep": ["missing.json", ""], "cluster": ["", "5"],
}


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


TOML_VALID = {  # values a run accepts, as TOML literals
    "population": ["0", "1", "2", '"1"'], "seed": ["0", "-5", str(2**63 - 1), '"42"'],
    "gender": ['"M"', '"f"'], "age": ['"30-40"', '"0-110"', '"0-0"'],
    "state": ['"MA"', '"Alaska"', '"District of Columbia"'], "city": ['"Boston"'],
    "module": [f'"{SMALL_MODULE}"', f'["{SMALL_MODULE}", "otitis_media"]'],
    "modules": [f'["{SMALL_MODULE}"]'], "format": ['"csv"', '["fhir", "csv"]', '"ccda,ndjson"'],
    "formats": ['["csv"]'], "fhir_bundle": ['"batch"'], "validate": ["false"],
    "reference_date": ["2020-01-01", '"2020-01-01"', "1999-12-31"], "workers": ["1", "2"],
    "shard_size": ["1", "25"], "natural_death": ["true", "false"],
    "keep_condition": ['"bronchitis"'], "csv_files": ['"patients"', '["patients", "claims"]'],
    "csv_exclude": ['"payers"'], "output": ['"out"'], "cluster": ['""'],
}
SCALARS = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "+inf", "1e400", "-1e400", "1.5", "-0.0", "1e-400",
                     "0", "1", "2", "-1", "true", "false", str(2**63 - 1), str(2**64),
                     str(-(2**63)), "0x10", "1979-05-27", "1979-05-27T07:32:00Z", "07:32:00",
                     "'literal'", '"30-40"', '"120-125"', '"0001-01-01"', '"9999-12-31"',
                     '"csv"', '"fhir,csv"', '"M"', '"Massachusetts"', '"2020-01-01"',
                     '"\\u00e9"', '"""multi\nline"""', "1_000", "3.0"]),
    st.text(max_size=10).map(toml_string))
TOML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(st.sampled_from(["a", "b", "population"]), inner, max_size=2).map(
            lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}")),
    max_leaves=4)


@st.composite
def toml_documents(draw: st.DrawFn) -> bytes:
    keys = draw(st.lists(st.sampled_from(TOML_KEYS), max_size=4, unique=True))
    lines = []
    for key in keys:
        plain = key.replace("-", "_")
        if plain in TOML_VALID and draw(st.integers(0, 2)) > 0:
            value = draw(st.sampled_from(TOML_VALID[plain]))
        elif plain in SAFE_STRINGS and draw(st.booleans()):
            value = toml_string(draw(st.sampled_from(SAFE_STRINGS[plain])))
        elif plain in ("output", "modules_dir", "keep", "cluster", "module", "modules"):
            # anything but a free string: a path or address from a random string could be
            # written to or connected to
            value = draw(SCALARS.filter(lambda v: not v.startswith(('"', "'"))))
        elif plain == "population":  # a valid huge population would run (for ever)
            value = draw(st.sampled_from(["inf", "-inf", "nan", "1e400", "1.5", "0", "1", "2",
                                          "-1", "true", '"1"', '"ten"', "[1]", "{}", "2.9",
                                          '"1e3"', str(-(2**64))]))
        else:
            value = draw(TOML_VALUES)
        shown = key if key.replace("_", "").replace("-", "").isalnum() else toml_string(key)
        lines.append(f"{shown} = {value}")
    text = "\n".join(lines) + "\n"
    form = draw(st.sampled_from(["plain", "plain", "[run]", "bytes"]))
    if form == "[run]":
        text = "[run]\n" + text
    data = text.encode("utf-8")
    if form == "bytes":
        how = draw(st.sampled_from(["non-UTF-8", "binary", "BOM", "NUL", "UTF-16", "empty"]))
        data = {"non-UTF-8": data + b"city = \"\xff\xfe\"\n", "binary": bytes(range(256)),
                "BOM": b"\xef\xbb\xbf" + data, "NUL": data + b"\x00", "UTF-16":
                text.encode("utf-16"), "empty": b""}[how]
    return data


@fuzz_settings(ci_examples=150)
@given(document=toml_documents())
@example(document=b"population = inf\n")
@example(document=b"format = 5\n")
@example(document=b"age = 3\n")
@example(document=b"seed = 18446744073709551616\n")
@example(document=b"population = 1\ncity = \"\xff\xfe\"\n")
@example(document=b"run = 5\n")
@example(document=b"validate = \"yes\"\n")
@example(document=b"reference_date = 0001-01-01\n")
@example(document=b"output = 5\n")
@example(document=b"modules_dir = [1]\n")
@example(document=b"min_age = 30\nmax_age = 20\n")
def test_config_files_run_or_fail_cleanly(document: bytes, fuzz_base: Path) -> None:
    with example_dir(fuzz_base) as root:
        config = root / "simulate.toml"
        config.write_bytes(document)
        keys = set(toml_options(document))
        argv = ["--config", str(config)]
        if not keys & {"module", "modules"}:
            argv += ["-m", SMALL_MODULE]
        if "workers" not in keys:
            argv += ["-w", "1"]
        if "reference_date" not in keys:
            argv += ["--reference-date", REFERENCE_DATE]
        output = root / "out"
        if "output" not in keys:
            argv += ["-o", str(output)]
        names = ["--config", str(config), config.name,
                 *(f"--{ALIASES.get(k, k).replace('_', '-')}" for k in keys)]
        info = cli_repro(argv, {"files": {"simulate.toml": document.decode(
            "utf-8", errors="backslashreplace")}})
        with current_example("config", info):
            outcome = invoke(argv, cwd=root)
            violations = judge_run(outcome, toml_output(document, root, output), names,
                                   step="config")
        report("config", violations, info)


def toml_options(document: bytes) -> dict[str, Any]:
    """The options a config file sets, as the CLI reads them; {} if it does not parse."""
    try:
        data = tomllib.loads(document.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    values = data.get("run", data)
    return {str(k).replace("-", "_"): v for k, v in values.items()} \
        if isinstance(values, dict) else {}


def toml_output(document: bytes, root: Path, default: Path) -> Path:
    value = toml_options(document).get("output")
    return root / value if isinstance(value, str) else default


# ------------------------------------------------------------------ junk paths

JUNK_KINDS = ["binary", "empty", "deep", "fifo", "dangling symlink", "symlink loop", "folder",
              "non-UTF-8", "JSON list", "JSON string", "huge number", "valid module",
              "unreadable"]
JUNK_NAMES = ["a.json", "b.json", "sub/c.json", "lookup_tables/t.csv", "d.json/x.json",
              "☃.json", "sp ace.json", ".hidden.json", "x.JSON", "sub/sub/sub/e.json"]


def make_junk(root: Path, name: str, kind: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        return
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "deep":
        path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling symlink":
        path.symlink_to(root / "no such target.json")
    elif kind == "symlink loop":
        path.symlink_to(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "non-UTF-8":
        path.write_bytes(b'{"name": "\xff", "states": {}}')
    elif kind == "JSON list":
        path.write_text("[1, 2]", encoding="utf-8")
    elif kind == "JSON string":
        path.write_text('"module"', encoding="utf-8")
    elif kind == "huge number":
        path.write_text('{"name": "x", "gmf_version": ' + "9" * 5000 + ', "states": {}}',
                        encoding="utf-8")
    elif kind == "valid module":
        path.write_text(json.dumps(KEEP_ALL), encoding="utf-8")
    elif kind == "unreadable":
        path.write_text(json.dumps(KEEP_ALL), encoding="utf-8")
        path.chmod(0)


def judge_check_cli(out: Outcome, names: list[str], step: str) -> list[Violation]:
    if out.exception is not None:
        return [exception_violation(out.exception, step)]
    text = out.stdout + out.stderr
    if "Traceback (most recent call last)" in text:
        return [Violation("traceback", "printed traceback", "", text[-2000:], step)]
    if out.exit_code not in (0, 1, 2):
        return [Violation("exit-code", f"exit {out.exit_code}", "", text[-1500:], step)]
    if out.exit_code == 2 and not any(n.lower() in text.lower() for n in names if n):
        return [Violation("message", "error names no file", "",
                          f"expected one of {names[:8]} in: {text[:1500]}", step)]
    return []


@fuzz_settings(ci_examples=100)
@given(entries=st.lists(st.tuples(st.sampled_from(JUNK_NAMES), st.sampled_from(JUNK_KINDS)),
                        max_size=4, unique_by=lambda e: e[0]),
       target=st.sampled_from(["folder", "first entry", "/dev/null"]))
@example(entries=[], target="folder")  # an empty folder
@example(entries=[], target="/dev/null")
@example(entries=[("a.json", "fifo")], target="first entry")  # a FIFO named on the command line
@example(entries=[("a.json", "fifo")], target="folder")  # a FIFO among the modules
@example(entries=[("a.json", "binary")], target="first entry")  # a binary .json
@example(entries=[("a.json", "binary"), ("b.json", "unreadable"), ("sub/c.json", "symlink loop"),
                  ("d.json/x.json", "dangling symlink")], target="folder")
def test_modules_check_and_run_on_junk_paths(entries: list[tuple[str, str]], target: str,
                                             fuzz_base: Path) -> None:
    with example_dir(fuzz_base) as root:
        folder = root / "junk"
        folder.mkdir()
        for name, kind in entries:
            make_junk(folder, name, kind)
        if target == "folder":
            path = str(folder)
        elif target == "first entry" and entries:
            path = str(folder / entries[0][0])
        else:
            path = "/dev/null"
        names = [path, Path(path).name, *(Path(n).name for n, _ in entries)]
        info = {"junk": entries, "command": f"simulate modules check {path}"}
        violations: list[Violation] = []
        with current_example("junk paths", info):
            out = invoke(["modules", "check", path])
            violations += judge_check_cli(out, names, "simulate modules check")
            if not out.timed_out:  # one hang per example is enough (and costs the timeout)
                _, exc = call_bounded(check_paths, [Path(path)])
                if exc is not None and not isinstance(exc, UserError | FileNotFoundError):
                    violations.append(exception_violation(exc, "check_paths"))
            if target != "first entry" and not out.timed_out:
                argv = ["-p", "1", "--modules-dir", path, "-o", str(root / "out"), "-w", "1",
                        "--reference-date", REFERENCE_DATE]
                out = invoke(argv)
                violations += judge_run(out, root / "out", [*names, "--modules-dir"],
                                        step="run --modules-dir")
                info["run command"] = "simulate " + " ".join(argv)
        report("junk paths", violations, info)
