"""`simulate modules run MODULE`: run one module on a population and tabulate each state.

The module runs alone, with the built-in lifecycle around it (wellness visits, vital signs,
vaccinations, natural death) unless that is switched off, on people drawn as `simulate` draws
them. For each state the report gives how many people entered it, how often, how long they
stayed and how many were still in it when their life or the simulation ended; then what the
module recorded (conditions, medications, procedures, encounters ...) and who died of it.
Each person index is simulated once (as `simulator.testing.run_modules` does): a person who
dies before the reference date stays in the counts instead of being simulated again until
alive as `simulate` does, so the report follows whole lives and `--age` picks birth years.

How visits are observed
-----------------------
`PersonSim` looks up the executor of every state it enters in `sim.executors`, an instance
attribute holding `engine.states.EXECUTORS`. A trial gives each person's `PersonSim` a copy
of that table (`Worker.live`'s `executors`) in which every executor first notes the `Visit`
(and its frame and entry instant), then runs the real executor. The engine itself is
unchanged, so simulations that are not observed do no extra work and `simulate`'s output
cannot change; an observed person takes the same engine code path. Reading `Frame.history`
after the run was the alternative, but frames are local to a module's process and a Delay
that loops on itself keeps only its newest visit there.

The engine keeps updating a `Visit` after its executor returns, so the notes are read once
the person's life is over:

* `Visit.exited` is the instant the state was left; None means the person died or the
  simulation ended while in it.
* Hazard-loop fast-forward (`PersonSim._skip_hazard_loop`): a fixed-length Delay that chooses
  itself again is not re-entered visit by visit. The engine draws how many times it would
  have, sleeps that long and moves the visit's window to the last period. Every iteration
  lasts exactly the Delay's `period`, so the iterations are (last exit − first entry) /
  period; a loop still being skipped when the life ended (it is then the frame's last visit)
  went on from its last exit to the end.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from simulator.authoring.locate import ModuleSource, find_module, submodule_calls
from simulator.engine.program import CompiledModule, Program
from simulator.engine.simulation import Frame, PersonSim, Visit
from simulator.engine.timeutil import DAY, HOUR, MINUTE, YEAR_365
from simulator.errors import UserError
from simulator.gmf.loader import ModuleLoadError, Problem
from simulator.record import Entry
from simulator.worker import Worker, compile_modules

# What a state type records, as named in the report's sections (in this order).
PRODUCED_BY = {
    "ConditionOnset": "conditions",
    "AllergyOnset": "allergies",
    "MedicationOrder": "medications",
    "CarePlanStart": "careplans",
    "Procedure": "procedures",
    "Vaccine": "immunizations",
    "Device": "devices",
    "Encounter": "encounters",
}
# Kinds of entries that stay active until ended, so "active at end" means something.
LASTING = {"conditions", "allergies", "medications", "careplans", "devices"}
FORMATS = ("text", "json")


# ------------------------------------------------------------------ options


@dataclass(frozen=True)
class TrialOptions:
    population: int = 100
    seed: int = 0
    reference_date: date = field(default_factory=date.today)
    age: tuple[int, int] | None = None
    gender: str | None = None  # "M" | "F"
    lifecycle: bool = True


def parse_count(text: str, option: str, minimum: int | None) -> int:
    try:
        number = int(text)
    except ValueError:
        raise UserError(f"option {option}: expected a whole number, got {text!r}") from None
    if minimum is not None and number < minimum:
        raise UserError(f"option {option}: must be at least {minimum}, got {number}")
    return number


def parse_gender(text: str) -> str:
    gender = text.upper()
    if gender not in ("M", "F"):
        raise UserError(f"option --gender: expected M or F, got {text!r}")
    return gender


def parse_format(text: str) -> str:
    if text.lower() not in FORMATS:
        raise UserError(f"option --format: expected text or json, got {text!r}")
    return text.lower()


# ------------------------------------------------------------------ finding and loading


def load_trial_program(source: ModuleSource) -> Program:
    """Load the module and the submodules it calls (transitively), nothing else: a broken
    module elsewhere in the folder does not stop the trial, and a module file lying in a
    folder of unrelated JSON files can be tried. The module is the only one started."""
    keys = _call_closure(source)
    with tempfile.TemporaryDirectory(prefix="simulate-trial-") as tmp:
        for key in keys:  # copied byte for byte: the loader keeps numbers' literal text
            target = Path(tmp) / f"{key}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(source.root / f"{key}.json", target)
            except OSError as exc:
                raise UserError(f"module file {str(source.root / key)}.json: cannot read it: "
                                f"{exc.strerror}") from None
        try:
            program = compile_modules(tmp, lookup_dir=source.root / "lookup_tables")
        except ModuleLoadError as exc:
            raise ModuleLoadError([_real_file(p, source.root) for p in exc.problems]) from None
    for module in program.modules.values():  # runtime errors and the report name the real file
        module.file = str(source.root / module.file)
    program.top_level = [program.modules[source.key]]
    return program


def _call_closure(source: ModuleSource) -> list[str]:
    keys = [source.key]
    for key in keys:  # grows while walking
        for called in sorted(submodule_calls(source.root / f"{key}.json")):
            if called not in keys and (source.root / f"{called}.json").is_file():
                keys.append(called)
    return keys


def _real_file(problem: Problem, root: Path) -> Problem:
    return Problem(str(root / problem.file), problem.path, problem.message, problem.severity)


# ------------------------------------------------------------------ observing visits


@dataclass(slots=True)
class Seen:
    visit: Visit
    frame: Frame
    entered: int  # fast-forward moves visit.entered: the instant the state was entered


class VisitRecorder:
    """An executor table for one PersonSim at a time that notes every visit it runs."""

    def __init__(self, executors: dict[str, Callable[..., Any]]) -> None:
        self.seen: list[Seen] = []
        self.deaths: list[tuple[str, int]] = []  # (Death state, death instant it left)
        self.executors = {kind: self._noting(run) for kind, run in executors.items()}
        self.executors["Death"] = self._noting_death(executors["Death"])

    def start_person(self) -> None:
        self.seen = []
        self.deaths = []

    def _noting(self, run: Callable[..., Any]) -> Callable[..., Any]:
        def noted(sim: PersonSim, frame: Frame, visit: Visit) -> Any:
            self.seen.append(Seen(visit, frame, visit.entered))
            return run(sim, frame, visit)

        return noted

    def _noting_death(self, run: Callable[..., Any]) -> Callable[..., Any]:
        def noted(sim: PersonSim, frame: Frame, visit: Visit) -> Any:
            self.seen.append(Seen(visit, frame, visit.entered))
            before = sim.person.deathdate
            result = run(sim, frame, visit)
            if sim.person.deathdate is not None and sim.person.deathdate != before:
                self.deaths.append((visit.name, sim.person.deathdate))
            return result

        return noted


# ------------------------------------------------------------------ counting


@dataclass
class StateStats:
    name: str
    type: str
    people: int = 0
    entries: int = 0
    in_at_end: int = 0  # visits open when the person died or the simulation ended
    durations: Counter[int] = field(default_factory=Counter)  # ms -> finished visits

    @property
    def finished(self) -> int:
        return sum(self.durations.values())

    def mean_ms(self) -> float | None:
        n = self.finished
        return sum(d * c for d, c in self.durations.items()) / n if n else None

    def median_ms(self) -> float | None:
        n = self.finished
        if not n:
            return None
        ordered = sorted(self.durations.items())
        return (_nth(ordered, (n - 1) // 2) + _nth(ordered, n // 2)) / 2


def _nth(counted: list[tuple[int, int]], index: int) -> int:
    for value, count in counted:
        if index < count:
            return value
        index -= count
    raise IndexError(index)


@dataclass
class ProducedStats:
    system: str
    code: str
    display: str
    people: int = 0
    entries: int = 0
    active_at_end: int | None = None  # people; None for kinds that do not last


@dataclass
class TrialReport:
    module_key: str
    module_name: str
    file: str
    options: TrialOptions
    states: dict[str, list[StateStats]]  # module key -> its states in file order
    produced: dict[str, list[ProducedStats]]  # section -> items, most people first
    deaths: int = 0
    deaths_by_state: Counter[str] = field(default_factory=Counter)

    @property
    def module_deaths(self) -> int:
        return sum(self.deaths_by_state.values())


class Tally:
    """Adds up the visits of one person after another."""

    def __init__(self, program: Program, module: CompiledModule) -> None:
        self.states: dict[str, dict[str, StateStats]] = {}
        for key in [module.key, *sorted(k for k in program.modules if k != module.key)]:
            states = program.modules[key].states
            self.states[key] = {n: StateStats(n, st.type) for n, st in states.items()}
        self.produced: dict[str, dict[tuple[str, ...], ProducedStats]] = {}
        self.deaths = 0
        self.deaths_by_state: Counter[str] = Counter()

    def add_person(self, sim: PersonSim, seen: list[Seen], deaths: list[tuple[str, int]],
                   end: int) -> None:
        last_of_frame = {id(s.frame): s for s in seen}
        entered: set[tuple[str, str]] = set()
        for s in seen:
            key = s.frame.module.key
            stats = self.states[key][s.visit.name]
            entries, durations, still_in = visit_entries(s, last_of_frame[id(s.frame)] is s, end)
            stats.entries += entries
            stats.durations.update(durations)
            stats.in_at_end += still_in
            if (key, s.visit.name) not in entered:
                entered.add((key, s.visit.name))
                stats.people += 1
        self._add_produced(sim, seen)
        self._add_death(sim, deaths, end)

    def _add_produced(self, sim: PersonSim, seen: list[Seen]) -> None:
        entries: dict[tuple[str, tuple[str, ...]], set[str]] = {}
        for s in seen:
            section = PRODUCED_BY.get(s.visit.state.type)
            entry = s.visit.entry
            if section is None or not isinstance(entry, Entry):
                continue  # e.g. an onset whose target encounter never came
            if section == "encounters" and getattr(s.visit.state.model, "wellness", False):
                continue  # the engine's visit, joined, not started by the module
            entries.setdefault((section, _item_key(section, entry)), set()).add(entry.id)
        for (section, key), ids in entries.items():
            item = self._item(section, key)
            item.people += 1
            item.entries += len(ids)
            if item.active_at_end is not None and _active(sim, key[1]):
                item.active_at_end += 1

    def _item(self, section: str, key: tuple[str, ...]) -> ProducedStats:
        items = self.produced.setdefault(section, {})
        if key not in items:
            system, code, display = key[:3]
            items[key] = ProducedStats(system, code, display,
                                       active_at_end=0 if section in LASTING else None)
        return items[key]

    def _add_death(self, sim: PersonSim, deaths: list[tuple[str, int]], end: int) -> None:
        died = sim.person.deathdate
        if died is None or died > end:
            return
        self.deaths += 1
        # The earliest death ordered wins (PersonSim.record_death), so a module death is one
        # whose instant is the person's death instant.
        by = next((state for state, when in deaths if when == died), None)
        if by is not None:
            self.deaths_by_state[by] += 1

    def report(self, module: CompiledModule, options: TrialOptions) -> TrialReport:
        states = {
            key: list(by_name.values())
            for key, by_name in self.states.items()
            if key == module.key or any(st.people for st in by_name.values())
        }
        produced = {
            section: sorted(self.produced[section].values(),
                            key=lambda p: (-p.people, p.display, p.code))
            for section in dict.fromkeys(PRODUCED_BY.values())
            if section in self.produced
        }
        return TrialReport(module.key, module.module.schema.name, module.file, options, states,
                           produced, self.deaths, self.deaths_by_state)


def visit_entries(s: Seen, last_of_frame: bool, end: int) -> tuple[int, Counter[int], bool]:
    """(entries, durations of the finished ones, whether the last one was still open) for one
    noted visit, which stands for several entries when fast-forward skipped a hazard loop."""
    visit, period = s.visit, s.visit.state.period
    if visit.exited is None:
        return 1, Counter(), True
    if period <= 0:
        return 1, Counter({visit.exited - s.entered: 1}), False
    done = max(round((visit.exited - s.entered) / period), 1)
    if last_of_frame and end > visit.exited:
        # Still skipping when the life ended: iterations ran on from the last exit.
        more = math.ceil((end - visit.exited) / period)
        return done + more, Counter({period: done + more - 1}), True
    return done, Counter({period: done}), False


def _item_key(section: str, entry: Entry) -> tuple[str, ...]:
    code = entry.codes[0]
    if section == "encounters":
        cls = getattr(entry, "encounter_class", "")
        return code.system, code.code, f"{code.display} ({cls})"
    return code.system, code.code, code.display


def _active(sim: PersonSim, code: str) -> bool:
    # Through `present`, not the onset's entry: chronic medications are renewed as new entries.
    entry = sim.person.present.get(code)
    return entry is not None and entry.stop is None


# ------------------------------------------------------------------ running


def run_trial(
    program: Program,
    options: TrialOptions,
    progress: Callable[[int], None] | None = None,
) -> TrialReport:
    """Simulate `options.population` people with the program's one top-level module."""
    from simulator.engine.states import EXECUTORS
    from simulator.population.people import Population, PopulationOptions

    module = program.top_level[0]
    reference_time = (options.reference_date - date(1970, 1, 1)).days * DAY
    people = Population(PopulationOptions(
        seed=options.seed,
        reference_time=reference_time,
        gender=options.gender,
        min_age=options.age[0] if options.age else None,
        max_age=options.age[1] if options.age else None,
        natural_death=options.lifecycle,
    ))
    worker = Worker.for_modules(program, people, options.lifecycle)
    recorder = VisitRecorder(EXECUTORS)
    tally = Tally(program, module)
    for index, person in _people(people, options.population):
        recorder.start_person()
        record, sim = worker.live(person, executors=recorder.executors)
        tally.add_person(sim, recorder.seen, recorder.deaths, record.end_time)
        if progress is not None:
            progress(index + 1)
    return tally.report(module, options)


def _people(people: Any, count: int, chunk: int = 256) -> Iterator[tuple[int, Any]]:
    """People drawn a chunk at a time: the sampler is much faster in bulk."""
    for start in range(0, count, chunk):
        indices = list(range(start, min(start + chunk, count)))
        ints, floats = people.draw(indices)
        for row, index in enumerate(indices):
            yield index, people.person(index, 0, ints[row], floats[row])


# ------------------------------------------------------------------ output


def readable_duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms == 0:
        return "0"
    for unit, size in (("y", YEAR_365), ("d", DAY), ("h", HOUR), ("min", MINUTE)):
        if ms >= size:
            return f"{_short_number(ms / size)} {unit}"
    return f"{ms / 1000:g} s"


def _short_number(x: float) -> str:
    return f"{x:.0f}" if x >= 100 or x == int(x) else f"{x:.3g}"


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _days(ms: float | None) -> float | None:
    return None if ms is None else ms / DAY


def report_json(report: TrialReport) -> dict[str, Any]:
    n = report.options.population
    opts = report.options
    return {
        "module": {"key": report.module_key, "name": report.module_name, "file": report.file},
        "options": {
            "population": n, "seed": opts.seed, "reference_date": opts.reference_date.isoformat(),
            "age": list(opts.age) if opts.age else None, "gender": opts.gender,
            "lifecycle": opts.lifecycle,
        },
        "modules": {
            key: [
                {
                    "state": st.name, "type": st.type, "people": st.people,
                    "people_percent": percent(st.people, n), "entries": st.entries,
                    "in_at_end": st.in_at_end, "finished_visits": st.finished,
                    "mean_days": _days(st.mean_ms()), "median_days": _days(st.median_ms()),
                }
                for st in states
            ]
            for key, states in report.states.items()
        },
        "produced": {
            section: [
                {
                    "system": p.system, "code": p.code, "display": p.display,
                    "people": p.people, "people_percent": percent(p.people, n),
                    "entries": p.entries, "active_at_end": p.active_at_end,
                }
                for p in items
            ]
            for section, items in report.produced.items()
        },
        "deaths": {
            "total": report.deaths,
            "by_module": report.module_deaths,
            "natural_or_other": report.deaths - report.module_deaths,
            "by_state": dict(report.deaths_by_state),
        },
    }


def print_report(report: TrialReport, console: Any) -> None:
    n = report.options.population
    console.print(_headline(report), highlight=False)
    for key, states in report.states.items():
        title = "states" if key == report.module_key else f"submodule {key}: states"
        table = _table(title, ("state", "left"), ("type", "left"), ("people", "right"),
                       ("%", "right"), ("entries", "right"), ("in at end", "right"),
                       ("mean time", "right"), ("median time", "right"))
        for st in states:
            table.add_row(st.name, st.type, str(st.people), f"{percent(st.people, n):.1f}",
                          str(st.entries), str(st.in_at_end), readable_duration(st.mean_ms()),
                          readable_duration(st.median_ms()), style=None if st.people else "dim")
        console.print()
        console.print(table)
    for section, items in report.produced.items():
        lasting = section in LASTING
        columns = [("code", "left"), ("display", "left"), ("people", "right"), ("%", "right"),
                   ("entries", "right")] + ([("active at end", "right")] if lasting else [])
        table = _table(f"{section} recorded", *columns)
        for p in items:
            row = [p.code, p.display, str(p.people), f"{percent(p.people, n):.1f}", str(p.entries)]
            table.add_row(*row, *([str(p.active_at_end)] if lasting else []))
        console.print()
        console.print(table)
    console.print()
    if not report.produced:
        console.print("The module recorded no conditions, medications, procedures or encounters.")
    console.print(_death_line(report), highlight=False)


def _table(title: str, *columns: tuple[str, str]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    return table


def _headline(report: TrialReport) -> str:
    opts = report.options
    who = f"{opts.population} people"
    if opts.gender:
        who += f", {'male' if opts.gender == 'M' else 'female'}"
    if opts.age:
        who += f", aged {opts.age[0]}-{opts.age[1]}"
    life = "built-in lifecycle on" if opts.lifecycle else "no built-in lifecycle"
    return (f"{report.module_name} ({_shown_path(report.file)}): {who}, seed {opts.seed}, "
            f"simulated to {opts.reference_date.isoformat()}, {life}")


def _shown_path(file: str) -> str:
    try:
        return Path(file).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return file


def _death_line(report: TrialReport) -> str:
    n = report.options.population
    if not report.deaths:
        return f"deaths: none of {n} people died"
    by_state = ", ".join(f"{state} {count}" for state, count in report.deaths_by_state.items())
    module = f"{report.module_deaths} by the module's Death states" + (
        f" ({by_state})" if by_state else "")
    return (f"deaths: {report.deaths} of {n} people ({percent(report.deaths, n):.1f}%): {module}, "
            f"{report.deaths - report.module_deaths} natural or other causes")


def trial_json(report: TrialReport) -> str:
    return json.dumps(report_json(report), indent=2)


# ------------------------------------------------------------------ command line


def run_from_command_line(spec: str, params: dict[str, Any]) -> None:
    """`simulate modules run`: options as typed (strings) -> report on stdout. UserError for
    anything the user can fix."""
    from simulator.config import PROJECT_MODULES, parse_age_range, parse_date

    output_format = parse_format(params["output_format"])
    options = TrialOptions(
        population=parse_count(params["population"], "--population", minimum=1),
        seed=parse_count(params["seed"], "--seed", minimum=None),
        reference_date=(parse_date(params["reference_date"]) if params["reference_date"]
                        else date.today()),
        age=parse_age_range(params["age"]) if params["age"] else None,
        gender=parse_gender(params["gender"]) if params["gender"] else None,
        lifecycle=params["lifecycle"],
    )
    source = find_module(spec, Path(params["modules_dir"] or PROJECT_MODULES))
    program = load_trial_program(source)
    report = _run_with_progress(program, options)
    if output_format == "json":
        print(trial_json(report))
    else:
        print_report(report, _stdout_console())


def _run_with_progress(program: Program, options: TrialOptions) -> TrialReport:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    stderr = Console(stderr=True)
    if not stderr.is_terminal:
        return run_trial(program, options)
    columns = ("simulating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("people", total=options.population)
        return run_trial(program, options, lambda done: bar.update(task, completed=done))


def _stdout_console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    # Piped into a file or a pager: wide enough that no column is folded, and no colour.
    return console if console.is_terminal else Console(highlight=False, width=200)
