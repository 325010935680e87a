"""What every fuzz test shares: the CLI run in-process under a time and memory bound, the
project's promise as a judgement of one outcome, and the reporting of violations.

The promise: a run exits 0 with OUTPUT/run.json "status": "complete", or exits 1/2 with a
message starting ``error:`` that names the file or the option; no Python traceback, no hang.

Environment:
  FUZZ_EXAMPLES  max_examples of every fuzz test (default: each test's small CI budget); when
                 set, examples are random (not derandomized) and failures are shrunk.
  FUZZ_TIMEOUT   seconds one example may take (default 30); longer is reported as a hang.
  FUZZ_MEMORY_MB address space one example may add to the test process (default 3072).
  FUZZ_COLLECT   a JSON-lines file: record every violation there (with its reproduction)
                 instead of failing, so one session finds many distinct failures; summarise
                 it with ``python tests/fuzz/catalogue.py FILE``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import re
import resource
import shutil
import signal
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, settings

import simulator
from simulator.cli import main

PROJECT_DIR = Path(simulator.__file__).resolve().parent
REPO_DIR = PROJECT_DIR.parent
PROJECT_MODULES = REPO_DIR / "modules"
CORPUS = Path(os.environ.get("SYNTHEA_MODULES", REPO_DIR.parent / "shared" / "synthea-modules"))

DEEP = bool(os.environ.get("FUZZ_EXAMPLES"))
TIMEOUT = float(os.environ.get("FUZZ_TIMEOUT", "30"))
MEMORY_MB = int(os.environ.get("FUZZ_MEMORY_MB", "3072"))
COLLECT = os.environ.get("FUZZ_COLLECT") or None
REFERENCE_DATE = "2020-01-01"

# examples run, per test, in this session (written next to FUZZ_COLLECT at the end)
EXAMPLES_RUN: Counter[str] = Counter()


def fuzz_settings(ci_examples: int) -> settings:
    """CI: a fixed, small, derandomized budget without a database, and no shrinking (a failing
    example that hangs would be re-run for every shrink step). Deep: FUZZ_EXAMPLES random
    examples, shrunk when they fail (unless FUZZ_COLLECT records instead of failing)."""
    examples = int(os.environ["FUZZ_EXAMPLES"]) if DEEP else ci_examples
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if DEEP and not COLLECT:
        phases.append(Phase.shrink)
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not DEEP,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=DEEP,
    )


# ------------------------------------------------------------------ bounds on one example


class FuzzTimeout(BaseException):
    """Raised by SIGALRM inside the code under test. A BaseException, so that project code
    catching Exception cannot swallow it (its cleanup `except BaseException: ...; raise` runs)."""


@contextlib.contextmanager
def time_limit(seconds: float = TIMEOUT) -> Iterator[None]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise FuzzTimeout(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    # Repeats every 2 s: an alarm that lands in a gc callback or a __del__ is only printed as
    # "Exception ignored", and the next one must still stop the example.
    signal.setitimer(signal.ITIMER_REAL, seconds, 2.0)
    # Backstop for C code the alarm cannot interrupt (a huge int power, a blocking read that
    # retries): dump every thread's stack and end the process rather than hang CI.
    faulthandler.dump_traceback_later(seconds * 4 + 60, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def memory_limit(extra_mb: int = MEMORY_MB) -> Iterator[None]:
    """A module that asks for 10**12 of something gets MemoryError, not the machine's RAM."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + extra_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # pragma: no cover - a platform without RLIMIT_AS
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    with time_limit(), memory_limit():
        yield


@contextlib.contextmanager
def example_dir(base: Path) -> Iterator[Path]:
    """A fresh folder per hypothesis example (function-scoped fixtures are not reset between
    examples), removed afterwards."""
    path = Path(tempfile.mkdtemp(dir=base))
    try:
        yield path
    finally:
        _make_removable(path)
        shutil.rmtree(path, ignore_errors=True)


def _make_removable(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        with contextlib.suppress(OSError):
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)


@contextlib.contextmanager
def working_directory(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# ------------------------------------------------------------------ running the CLI


@dataclass
class Outcome:
    argv: list[str]
    exit_code: int | None
    stdout: str
    stderr: str
    exception: BaseException | None  # anything but SystemExit, incl. FuzzTimeout
    seconds: float

    @property
    def timed_out(self) -> bool:
        return isinstance(self.exception, FuzzTimeout)

    @property
    def message(self) -> str:
        return self.stderr.strip()


def invoke(argv: Sequence[str], cwd: Path | None = None) -> Outcome:
    """`simulate ARGV` in-process with click's CliRunner, bounded in time and memory."""
    runner = CliRunner()
    began = time.monotonic()
    try:
        with working_directory(cwd), bounded():
            result = runner.invoke(main, list(argv), catch_exceptions=True)
    except FuzzTimeout as exc:
        return Outcome(list(argv), None, "", "", exc, time.monotonic() - began)
    exc = result.exception
    if isinstance(exc, SystemExit):
        exc = None
    return Outcome(list(argv), result.exit_code, result.stdout, result.stderr, exc,
                   time.monotonic() - began)


def call_bounded(function: Any, *args: Any) -> tuple[Any, BaseException | None]:
    """function(*args) under the same bounds; (result, None) or (None, the exception)."""
    try:
        with bounded():
            return function(*args), None
    except (Exception, FuzzTimeout) as exc:
        return None, exc


# ------------------------------------------------------------------ judging an outcome


@dataclass
class Violation:
    category: str  # traceback | hang | exit-code | unreported-failure | message | check-vs-run
    kind: str  # exception type, or a short tag
    where: str  # innermost project frame: simulator/x.py:function
    detail: str  # traceback tail or message
    step: str  # what was run: run, modules check, check_paths, ...
    line: int | None = None
    exc: BaseException | None = field(default=None, repr=False, compare=False)
    fatal: bool = True  # False: a note for the catalogue (FUZZ_COLLECT), not a test failure

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "kind": self.kind, "where": self.where,
                "line": self.line, "step": self.step, "detail": self.detail,
                "fatal": self.fatal}

    def signature(self) -> tuple[str, str, str]:
        return (self.category, self.kind, self.where)

    def __str__(self) -> str:
        at = f" at {self.where}:{self.line}" if self.where else ""
        return f"[{self.step}] {self.category}: {self.kind}{at}\n{self.detail}"


def root_cause(exc: BaseException) -> BaseException:
    """The exception a re-raise started from (SimPy re-raises a process's exception as a new
    one `from` it); implicit context ("during handling ...") is not followed."""
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def innermost_project_frame(exc: BaseException) -> tuple[str, int | None]:
    frames = traceback.extract_tb(root_cause(exc).__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(PROJECT_DIR))]
    chosen = ours[-1] if ours else (frames[-1] if frames else None)
    if chosen is None:
        return "", None
    name = chosen.filename
    if name.startswith(str(REPO_DIR)):
        name = os.path.relpath(name, REPO_DIR)
    else:
        name = "(outside the project) " + "/".join(Path(name).parts[-2:])
    return f"{name}:{chosen.name}", chosen.lineno


def traceback_tail(exc: BaseException, lines: int = 14) -> str:
    root = root_cause(exc)
    text = "".join(traceback.format_exception(root, chain=False)).rstrip().splitlines()
    tail = "\n".join(text[-lines:])
    if root is not exc:
        tail += f"\n(re-raised as {type(exc).__name__}: {str(exc)[:200]})"
    return tail


def exception_violation(exc: BaseException, step: str) -> Violation:
    where, line = innermost_project_frame(exc)
    if isinstance(exc, FuzzTimeout):
        return Violation("hang", "timeout", where, f"{exc} (interrupted at {where}:{line})\n"
                         + traceback_tail(exc, 8), step, line, exc)
    return Violation("traceback", type(root_cause(exc)).__name__, where, traceback_tail(exc),
                     step, line, exc)


def judge_exit(out: Outcome, names: Iterable[str], step: str) -> list[Violation]:
    """No traceback, no hang; exit 0, or 1/2 with `error:` naming one of `names`."""
    if out.exception is not None:
        return [exception_violation(out.exception, step)]
    if "Traceback (most recent call last)" in out.stdout + out.stderr:
        return [Violation("traceback", "printed traceback", "", out.stdout + out.stderr, step)]
    if out.exit_code not in (0, 1, 2):
        return [Violation("exit-code", f"exit {out.exit_code}", "", out.message[:2000], step)]
    if out.exit_code == 0:
        return []
    if "internal error (" in out.message:
        return [internal_error_violation(out.message, step)]
    if not out.message.startswith("error:"):
        return [Violation("message", "no 'error:' message", "",
                          f"exit {out.exit_code}; stderr: {out.message[:1500]!r}; "
                          f"stdout: {out.stdout[-500:]!r}", step)]
    wanted = [n for n in names if n]
    if wanted and not any(n.lower() in out.message.lower() for n in wanted):
        return [Violation("message", "error names neither file nor option", "",
                          f"expected one of {wanted[:8]} in: {out.message[:1500]}", step)]
    fault = _ENGINE_FAULT.search(out.message)
    if fault:  # keeps the promise, but is a Python exception the engine caught at a state
        return [Violation("engine-fault", fault.group(1), "", out.message[:1500], step,
                          fatal=False)]
    return []


_ENGINE_FAULT = re.compile(r"the engine failed on this state: (\w+)")


_LOGGED = re.compile(r"traceback written to (\S+?)\.?$", re.M)
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def internal_error_violation(message: str, step: str) -> Violation:
    """`error: internal error (Type: ...)`: a crash the CLI caught and logged. The traceback is
    read back from the log it names, for the innermost project frame."""
    kind = re.search(r"internal error \((\w+)", message)
    logged = _LOGGED.search(message)
    text = ""
    if logged:
        log = Path(logged.group(1))
        with contextlib.suppress(OSError):
            text = log.read_text(encoding="utf-8", errors="replace")
        if log.name.startswith("simulate-error-"):  # a temporary file: do not leave it
            log.unlink(missing_ok=True)
    root = text.split("The above exception was the direct cause")[0]
    root = root.split("During handling of the above exception")[-1]
    frames = [m for m in _FRAME.finditer(root) if m.group(1).startswith(str(PROJECT_DIR))]
    where, line = "", None
    if frames:
        last = frames[-1]
        where = f"{os.path.relpath(last.group(1), REPO_DIR)}:{last.group(3)}"
        line = int(last.group(2))
    tail = "\n".join(root.rstrip().splitlines()[-12:])
    return Violation("traceback", kind.group(1) if kind else "internal error", where,
                     f"reported as {message[:300]!r}\n{tail}", step, line)


def run_status(output: Path) -> str | None:
    try:
        return str(json.loads((output / "run.json").read_text(encoding="utf-8")).get("status"))
    except (OSError, ValueError, AttributeError):
        return None


def judge_run(out: Outcome, output: Path, names: Iterable[str], step: str = "run"
              ) -> list[Violation]:
    found = judge_exit(out, names, step)
    if not found and out.exit_code == 0:
        status = run_status(output)
        if status != "complete":
            found.append(Violation("unreported-failure", f"exit 0 but run.json status {status}",
                                   "", out.stdout[-1500:], step))
    return found


# ------------------------------------------------------------------ reporting


def report(test: str, violations: list[Violation], repro: dict[str, Any]) -> None:
    """Fail the example, or (FUZZ_COLLECT) record the violations and let hypothesis go on."""
    __tracebackhide__ = True
    EXAMPLES_RUN[test] += 1
    if not (violations if COLLECT else [v for v in violations if v.fatal]):
        return
    if COLLECT:
        with open(COLLECT, "a", encoding="utf-8") as fh:
            for v in violations:
                fh.write(json.dumps({"test": test, **v.to_json(), "repro": repro},
                                    ensure_ascii=True, default=str) + "\n")
        return
    violations = [v for v in violations if v.fatal]
    text = "\n\n".join(str(v) for v in violations)
    first = violations[0]
    # Raised from the exception the code under test raised (or from a class per kind of
    # violation), so that hypothesis tells distinct failures apart and reports each.
    cause = first.exc if first.exc is not None and not isinstance(first.exc, FuzzTimeout) \
        else _kind(first)(first.kind)
    error = PromiseBroken(f"{len(violations)} violation(s) of the promise:\n{text}\n\n"
                          f"reproduction:\n{format_repro(repro)}")
    error.__context__ = cause  # hypothesis tells failures apart by type, place and context
    raise error from cause


class PromiseBroken(AssertionError):
    """A fuzz example broke the promise (the message has the violations and a reproduction)."""


_KINDS: dict[str, type[Exception]] = {}


def _kind(v: Violation) -> type[Exception]:
    """One exception class per distinct violation: category, kind, and the innermost project
    frame or (for a message) the first line of the message without names and numbers."""
    what = v.where or re.sub(r"'[^']*'|\d+|(/[^\s:]+)+|[\w.-]+\.json", "_",
                             v.detail.split("\n")[0])[:100]
    name = f"{v.category}: {v.kind}: {what}"
    return _KINDS.setdefault(name, type(name, (Exception,), {}))


def format_repro(repro: dict[str, Any], limit: int = 4000) -> str:
    lines = []
    for key, value in repro.items():
        if key == "files" and isinstance(value, dict):
            for name, content in value.items():
                shown = content if len(content) <= limit else (
                    content[:limit] + f"... ({len(content)} characters)")
                lines.append(f"--- {name}\n{shown}")
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


@contextlib.contextmanager
def current_example(test: str, repro: dict[str, Any]) -> Iterator[None]:
    """With FUZZ_COLLECT, the example being run is kept in FILE.current while it runs: if the
    process dies (the backstop timer, the OOM killer), the catalogue still knows what did it."""
    if not COLLECT:
        yield
        return
    marker = Path(COLLECT + ".current")
    marker.write_text(json.dumps({"test": test, "repro": repro}, default=str), encoding="utf-8")
    yield
    marker.unlink(missing_ok=True)


def shown_files(files: dict[str, bytes], limit: int = 200_000) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, data in files.items():
        text = data.decode("utf-8", errors="backslashreplace")
        out[name] = text if len(text) <= limit else (
            text[:2000] + f"... [{len(text)} characters; head shown]")
    return out


@dataclass
class Paths:
    """The folders of one example."""

    root: Path
    modules: Path = field(init=False)
    output: Path = field(init=False)

    def __post_init__(self) -> None:
        self.modules = self.root / "modules"
        self.output = self.root / "out"
