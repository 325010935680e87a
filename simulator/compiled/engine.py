"""The compiled engine: lowers a Program once, lives people in the numba kernel and replays
their journals into HealthRecords (what PersonSim.run gives with the reference engine)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from simulator.builtin.lifecycle import NATURAL_CAUSES
from simulator.compiled import kernel as k
from simulator.compiled import ops
from simulator.compiled import vitals as vt
from simulator.compiled.buffers import Capacities, make_work, reset, set_strings
from simulator.compiled.insurance import state_params
from simulator.compiled.lower import (
    K_BOOL,
    K_CODE,
    K_FLOAT,
    K_INT,
    K_NONE,
    K_OTHER,
    K_STR,
    Unsupported,
    lower,
)
from simulator.compiled.replay import Replay
from simulator.compiled.strings import StringTable
from simulator.engine.person import Person
from simulator.engine.program import CompiledModule, Program
from simulator.engine.randomness import stream_id
from simulator.engine.simulation import (
    PersonSim,
    World,
    patient_snapshot,
)
from simulator.errors import SimulationError
from simulator.payers.billing import Billing
from simulator.payers.insurance import coverage_draw, person_state
from simulator.payers.plans import load_payers
from simulator.record import Code, Encounter, HealthRecord

_TYPE_NAMES = {int(v): name for name, v in ops.STATE_TYPES.items()}


@dataclass
class Life:
    """What one compiled life gives: the record, and what the run reports about it."""

    record: HealthRecord
    death_source: str
    kept: bool | None = None  # the keep module's verdict, when the engine has one

    def keep(self, module: CompiledModule) -> bool:
        """PersonSim.keep for the engine's keep module (walked in the kernel at the end of
        the life)."""
        if self.kept is None:
            raise AssertionError(f"the compiled engine was not given the keep module {module.file}")
        return self.kept


class CompiledEngine:
    """Lives people of one Program in a World, with the built-in lifecycle processes given;
    a process it has no port of is refused when the engine is made."""

    def __init__(self, program: Program, lifecycle: tuple[Any, ...] | list[Any] = (),
                 world: World | None = None, keep: CompiledModule | None = None) -> None:
        from simulator.builtin.covid19_immunization import covid19_immunization
        from simulator.builtin.lifecycle import life_events, natural_death
        from simulator.builtin.weight_management import weight_management
        from simulator.payers.insurance import insurance_process

        compiled = {natural_death: k.P_NATURAL_DEATH, life_events: k.P_LIFE_EVENTS,
                    covid19_immunization: k.P_COVID, insurance_process: k.P_INSURANCE,
                    weight_management: k.P_WEIGHT}
        missing = [proc.__name__ for proc in lifecycle if proc not in compiled]
        if missing:
            raise Unsupported(None, None, "the built-in lifecycle's "
                              + ", ".join(m.replace("_", " ") for m in missing))
        self.program = program
        self.lifecycle = tuple(lifecycle)
        self.world = world or World(immunizations=False)
        self.keep_module = keep
        if keep is not None:  # lowered beside the run's modules, never started
            keep = dataclasses.replace(keep, key=f"keep:{keep.key}")
            program = Program({**program.modules, keep.key: keep}, program.top_level,
                              program.lookup_tables)
        self.lowered = lowered = lower(program, [keep.key] if keep is not None else [])
        self.P = lowered.arrays
        self.KP = lowered.kernel_program
        self.P.consts[k.C_IMMUNIZE] = int(self.world.immunizations)
        self.P.consts[k.C_WORLD_NETWORK] = int(self.world.network is not None)
        self.texts = StringTable(lowered.strings)
        self.strings = self.texts.values  # shared with the replay
        self.replay = Replay(lowered, self.strings)
        self.replay.network = self.world.network
        self.replay.payers = self.world.payers
        self._insured = insurance_process in lifecycle
        self.caps = Capacities()
        # (kind, module, owner, spawned later), in the order the reference starts them: the
        # lifecycle, the engine's visits, the modules; then what the lifecycle spawns
        self.processes = [(compiled[proc], -1, -1, 0) for proc in lifecycle]
        self.processes.append((k.P_ENGINE, -1, int(self.P.consts[k.C_ENGINE_OWNER]), 0))
        self.processes += [(k.P_MODULE, m, int(self.P.MOD[m, k.MOD_OWNER]), 0)
                           for m in lowered.top_level]
        self._keep_proc = -1
        if keep is not None:
            self._keep_proc = len(self.processes)
            m = len(lowered.modules) - 1  # the last module of the set
            self.processes.append((k.P_MODULE, m, int(self.P.MOD[m, k.MOD_OWNER]), 1))
        if life_events in lifecycle:
            self.processes += [(kind, -1, -1, 1) for kind in (
                k.P_EMPLOYMENT, k.P_QUIT_SMOKING, k.P_QUIT_ALCOHOLISM)]
        self.n_streams = len(self.P.mixed)
        self._keep_name = self.texts.intern("Keep")
        self.kernel_seconds = 0.0  # CPU time in the kernel, for the run's figures
        self._covid = covid19_immunization in lifecycle
        self.texts.settle()
        self.KW, self.W = self._work()

    def warm(self, notice: Callable[[str], None] | None = None) -> None:
        """Loads the kernel from numba's on-disk cache, or compiles it (once per install, about
        90 CPU-s; `notice` is told when it takes long). A run does this in the parent, so the
        workers it forks inherit the kernel instead of each loading or compiling it."""
        timer = None
        if notice is not None:
            timer = threading.Timer(3.0, notice, [
                "compiling the simulation kernel for this install (once; about a minute and a "
                "half)..."])
            timer.daemon = True
            timer.start()
        try:
            P, W = nb.typeof(self.KP), nb.typeof(self.KW)
            k.live.compile((P, W))
            if self._keep_proc >= 0:
                k.keep_walk.compile((P, W, nb.int64, nb.int64))
        finally:
            if timer is not None:
                timer.cancel()

    def _work(self) -> Any:
        return make_work(self.P, self.caps, self.processes, self.n_streams, self.texts)

    # ------------------------------------------------------------ a life

    def _load(self, person: Person) -> list[tuple[int, float, int]]:
        """The person's attributes into the kernel's slots; returns what was loaded."""
        W = self.W
        loaded = []
        attrs = person.attributes
        for name in self.lowered.attributes:
            value = dict.get(attrs, name)  # the stored value: computed ones stay computed
            if value is None:
                row = (K_NONE, 0.0, 0)
            elif isinstance(value, bool):
                row = (K_BOOL, float(value), 0)
            elif isinstance(value, int) and abs(value) <= 2**53:
                row = (K_INT, float(value), 0)
            elif isinstance(value, float):
                row = (K_FLOAT, value, 0)
            elif isinstance(value, str):
                row = (K_STR, 0.0, self.texts.intern(value))
            elif isinstance(value, Code) and value in self._code_ids:
                row = (K_CODE, 0.0, self._code_ids[value])
            else:
                row = (K_OTHER, 0.0, 0)
            loaded.append(row)
        texts = self.texts
        if texts.extend():
            set_strings(self.KW, texts.lower, texts.info, texts.off, texts.cp)
            W.str_lower, W.str_info, W.str_off, W.str_cp = (
                texts.lower, texts.info, texts.off, texts.cp)
        if loaded:  # column by column: a numpy item at a time costs more than the rest
            n = len(loaded)
            kinds, numbers, refs = zip(*loaded, strict=True)
            W.A[:n, k.A_KIND] = kinds
            W.a_num[:n] = numbers
            W.A[:n, k.A_REF] = refs
        return loaded

    @property
    def _code_ids(self) -> dict[Code, int]:
        found = getattr(self, "_code_id_map", None)
        if found is None:
            found = self._code_id_map = {}
            for i, code in enumerate(self.lowered.codes):
                found.setdefault(code, i)
        return found

    def live(self, person: Person, end_time: int, stats: Counter[str] | None = None,
             since: int | None = None, observation_text: bool = False) -> Life:
        """One person's life (PersonSim(...).run() with the reference engine); ``since``: the
        export window's cut-off, before which the record may leave observations out
        (Replay.build); ``observation_text``: the record's observations are CSV lines
        (Encounter.observation_lines), not objects, where the program allows it."""
        while True:
            reset(self.KW, person.birth, end_time)
            self.W.pkey[0] = np.uint64(person.seed)
            self.W.n[k.N_NATURAL] = (person.natural_death if person.natural_death is not None
                                     else k.NONE)
            self.W.person_f[0] = employment_rate(person)
            if self._insured:
                self.W.person_f[1:5] = state_params(load_payers(), person_state(person))
                self.W.person_f[5] = coverage_draw(person)
            self.W.body[:], self.W.bulk[:] = vt.body_arrays(person)
            if self._covid:
                self.W.n[k.N_C19_FIRST], self.W.n[k.N_C19_SECOND], self.W.n[k.N_C19_VACCINE] = (
                    covid_plan(person))
            loaded = self._load(person)
            began = time.process_time()
            result = k.live(self.KP, self.KW)
            kept = None
            if result == ops.OK and self._keep_proc >= 0:
                verdict = k.keep_walk(self.KP, self.KW, self._keep_proc, self._keep_name)
                kept = verdict == 1
                result = ops.GROW if self.W.n[k.N_GROW] >= 0 else (
                    ops.FAULT if verdict < 0 else ops.OK)
            self.kernel_seconds += time.process_time() - began
            if result == ops.GROW:
                self.caps.grow(int(self.W.n[k.N_GROW]))
                self.KW, self.W = self._work()
                continue
            break
        W = self.W
        if result == ops.FAULT:
            self._fault(person, end_time)
        if stats is not None:
            for type_code, count in enumerate(W.stats[:len(_TYPE_NAMES)]):
                if count:
                    stats[_TYPE_NAMES[type_code]] += int(count)
        life = self._record(person, end_time, loaded, since,
                            observation_text and (since is None or self.replay.window_safe))
        life.kept = kept
        self.texts.forget_person()
        return life

    def _fault(self, person: Person, end_time: int) -> None:
        """The kernel stopped on something the reference engine reports as an error (or on
        something the kernel cannot do). The reference engine lives the same life, so living
        the person again with it raises the error with its whole account."""
        W = self.W
        state = int(W.n[k.N_ERRSTATE])
        module, name = self.lowered.states[state] if state >= 0 else (None, "?")
        file = module.file if module else "engine"
        if int(W.n[k.N_ERR]) == k.F_UNSUPPORTED:
            raise Unsupported(file, name, "this value at run time", person.index)
        sim = PersonSim(self.program, person, end_time, None, self.lifecycle, self.world)
        sim.run()
        if self.keep_module is not None:
            sim.keep(self.keep_module)
        raise SimulationError(file, name, "the module failed here, and the reference engine "
                              "lives this person without error: please report this as a bug",
                              person.index)

    def _record(self, person: Person, end_time: int, loaded: list[tuple[int, float, int]],
                since: int | None = None, as_text: bool = False) -> Life:
        W = self.W
        journal = int(W.n[k.N_J])
        made, made_values = W.j[:journal], W.jf[:journal]
        self.replay.person_attributes = person.attributes
        encounters, entries, billing = self.replay.build(made, made_values, since, as_text)
        death = int(W.n[k.N_DEATH])
        source = ""
        if death != k.NONE:
            person.deathdate = death
            state = int(W.n[k.N_DEATH_SRC])
            if state == -2:
                source = NATURAL_CAUSES
            elif state >= 0:
                module, name = self.lowered.states[state]
                source = f"{module.file}: state {name!r}"
        attrs = person.attributes
        self.replay.person_attributes = attrs
        n = len(loaded)
        rows = zip(W.A[:n, k.A_KIND].tolist(), W.a_num[:n].tolist(), W.A[:n, k.A_REF].tolist(),
                   strict=True)
        for name, row, before in zip(self.lowered.attributes, rows, loaded, strict=True):
            if row == before:
                continue
            if row[0] == K_NONE:
                attrs.pop(name, None)
            else:
                attrs[name] = self.replay.value(row[0], row[1], row[2], entries)
        if W.n[k.N_VACCINATED]:
            from simulator.builtin.immunizations import ATTRIBUTE, SCHEDULE

            given = attrs.setdefault(ATTRIBUTE, {})
            for v, vaccine in enumerate(SCHEDULE):
                count = int(W.VD[v, 0])
                if count:
                    given[vaccine.key] = [int(x) for x in W.VD[v, 1:1 + count]]
        person.symptoms = symptoms = {}
        for row in W.SY[:int(W.n[k.N_SYM])]:
            name = self.lowered.symptoms[int(row[k.SY_NAME])]
            symptoms.setdefault(name, {})[self.strings[int(row[k.SY_SOURCE])]] = [
                int(row[k.SY_VALUE]), int(row[k.SY_TIME]), bool(row[k.SY_ADDR])]
        end = int(W.n[k.N_NOW])
        died = death if death != k.NONE and death <= end else None
        kept = [e for e in encounters if died is None or e.start <= died]
        if died is not None:
            cause = attrs.get("cause_of_death")
            if isinstance(cause, Code):
                kept.append(death_certificate(person, died, cause, self.world,
                                              self.replay.preferred, billing))
        billing.close(end)
        record = HealthRecord(patient=patient_snapshot(person, end), index=person.index,
                              end_time=end, encounters=kept, coverage=billing.periods(end))
        if as_text:
            self.replay.observation_lines(made, made_values, entries, encounters,
                                          record.patient.id, since, died)
        return Life(record, source)


def covid_plan(person: Person) -> tuple[int, int, int]:
    """(first dose, second dose, vaccine: 0 Moderna, 1 Pfizer, -1 none) the covid process will
    decide at the programme start: its first two draws are its own stream's first two."""
    from simulator.builtin import covid19_immunization as c19

    stream = person.stream(stream_id("builtin:covid19_immunization"))
    saved = stream.n
    stream.n = 0
    u = stream.random()
    pfizer = stream.random() < c19.PFIZER_SHARE
    stream.n = saved
    plan = c19.plan_vaccination(person.birth, u, pfizer)
    if plan is None:
        return 0, 0, -1
    return plan.first, plan.second, 1 if plan.vaccine == c19.PFIZER else 0


def employment_rate(person: Person) -> float:
    """lifecycle._employment's unemployment rate for the person's state."""
    from simulator.errors import UserError
    from simulator.population.state_data import state_profile

    try:
        return float(state_profile(person.get("state") or "Massachusetts").sdoh.get(
            "unemployed", 0.0))
    except UserError:
        return 0.0


def death_certificate(person: Person, when: int, cause: Code, world: World,
                      preferred: dict[str, Any], billing: Billing) -> Encounter:
    """PersonSim._death_certificate (the provider the person had for wellness visits, billed
    to the plan the person had)."""
    sim = PersonSim.__new__(PersonSim)
    sim.person = person
    sim.world = world
    sim.preferred = preferred
    sim.billing = billing
    return PersonSim._death_certificate(sim, when, cause)
