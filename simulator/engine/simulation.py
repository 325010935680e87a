"""One person's life as a SimPy discrete-event simulation.

Each top-level module is a SimPy process that walks its state machine and sleeps only where a
state blocks: a `Delay` until its end, a `Guard` until what its condition reads changes (or an
age/date threshold passes), an `Encounter` until an engine visit opens or the encounter lock
frees. Built-in behaviour (the wellness schedule, symptom-driven visits, lifecycle events) runs
as processes beside the modules in the same environment.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

import simpy
from simpy.core import URGENT

from simulator.builtin.computed import computed_attributes
from simulator.builtin.immunizations import give_immunizations
from simulator.engine import timeutil as tu
from simulator.engine.person import CHRONIC, ENGINE_ENCOUNTER, LOCK, PRESENT, SYMPTOM_ANY, Person
from simulator.engine.program import (
    CompiledModule,
    CompiledState,
    Program,
    outcome_probabilities,
)
from simulator.engine.randomness import Stream, stream_id
from simulator.engine.vitals import VitalNotSet, Vitals
from simulator.errors import SimulationError
from simulator.gmf.rules import MAX_STATES_PER_LIFE
from simulator.payers.billing import Billing
from simulator.payers.prices import (
    IMMUNIZATION_COST,
    PROCEDURE_COST,
    REPORT_COST,
    encounter_cost,
)
from simulator.record import (
    Code,
    Condition,
    Encounter,
    Entry,
    HealthRecord,
    Immunization,
    Medication,
    Observation,
    Patient,
    Procedure,
    Report,
)

MAX_STATES_PER_INSTANT = 20_000
# What a state's rules can raise when a module asks for something the engine cannot do; it is
# reported with the module, state and person (see run_frame).
STATE_FAULTS = (ArithmeticError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                RecursionError)
FAST_FORWARD = os.environ.get("SIMULATOR_NO_FAST_FORWARD", "") == ""
LATE = 2  # priority of "end of instant" events: after everything else at the same time

WELL_CHILD = Code("SNOMED-CT", "410620009", "Well child visit (procedure)")
GENERAL_EXAM = Code("SNOMED-CT", "162673000", "General examination of patient (procedure)")
EMERGENCY_VISIT = Code("SNOMED-CT", "50849002", "Emergency room admission (procedure)")
URGENT_VISIT = Code("SNOMED-CT", "702927004", "Urgent care clinic (environment)")
CHECKUP_VISIT = Code("SNOMED-CT", "185349003", "Encounter for check up (procedure)")
DEATH_CERTIFICATION = Code("SNOMED-CT", "308646001", "Death Certification")
CAUSE_OF_DEATH = Code("LOINC", "69453-9", "Cause of Death [US Standard Certificate of Death]")
DEATH_CERTIFICATE = Code("LOINC", "69409-1", "U.S. standard certificate of death - 2003 revision")
VACCINATION_VISIT = Code("SNOMED-CT", "33879002",
                         "Administration of vaccine to produce active immunity (procedure)")
GENERAL_PRACTICE = "GENERAL PRACTICE"
STOPPED_MEDICAL_ADVICE = Code("SNOMED-CT", "182840001", "Drug treatment stopped - medical advice")

ENGINE_ENCOUNTERS = stream_id("engine:encounters")  # wellness and symptom-driven visits
DEATH_STREAM = stream_id("engine:death")  # the death certificate
ENGINE_OWNER = "Encounter"
DEATH_OWNER = "DeathModule"

DEFAULT_MINUTES = {"emergency": 60, "inpatient": 24 * 60, "hospice": 24 * 60, "snf": 24 * 60}


@dataclass(slots=True, eq=False)
class Visit:
    """One visit of a state by one person (the per-visit copy of module-format.md §6.0)."""

    name: str
    state: CompiledState
    entered: int
    exited: int | None = None
    entry: Any = None
    diagnosed: bool = False


class Binding:
    """The random stream a process draws from: the state it is in (set as each state is
    entered), or its built-in's own stream. PersonSim makes it the person's current stream
    whenever the process resumes."""

    __slots__ = ("stream",)

    def __init__(self, stream: Stream) -> None:
        self.stream = stream


@dataclass(slots=True, eq=False)
class Frame:
    """A running module or submodule. `owner` is the top-level module's runtime name, used for
    encounter ownership, the wellness flag and symptom sources."""

    module: CompiledModule
    owner: str
    history: list[Visit]
    top: bool
    binding: Binding


class PersonDied(Exception):
    pass


@dataclass
class World:
    """What people share in a run: the state's provider network and the payers. Either may be
    absent (module tests), and then encounters carry no organization, clinician or payer."""

    network: Any = None  # providers.network.ProviderNetwork
    payers: Any = None  # payers.plans.PayerCatalog
    immunizations: bool = True  # give scheduled vaccines at engine visits (§4.7)


class PersonSim:
    def __init__(
        self,
        program: Program,
        person: Person,
        end_time: int,
        stats: Counter[str] | None = None,
        lifecycle: Iterable[Callable[[PersonSim], Generator[Any, Any, None]]] = (),
        world: World | None = None,
    ) -> None:
        from simulator.engine.states import EXECUTORS  # circular: states use PersonSim

        self.executors = EXECUTORS
        self.program = program
        self.person = person
        self.end_time = end_time
        self.env = simpy.Environment(initial_time=person.birth)
        self.vitals = Vitals(person)
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self.module_encounter: dict[str, Encounter] = {}
        self.wellness_flag: dict[str, bool] = {}
        self.wellness_joined: dict[str, Encounter] = {}
        self.renewed_at: set[str] = set()
        self.stop = self.env.event()
        self.lifecycle = list(lifecycle)
        self.fast_forward = FAST_FORWARD
        self.world = world or World()
        self.billing = Billing(self.world.payers)
        self.preferred: dict[str, Any] = {}  # encounter class -> Organization
        self.entered = 0  # states entered in this life (MAX_STATES_PER_LIFE)
        self.death_source = ""  # what caused the death that counts: a module state, or nature
        computed_attributes(self)

    @property
    def now(self) -> int:
        return self.env.now  # type: ignore[return-value]

    # ------------------------------------------------------------ running

    def run(self) -> HealthRecord:
        env = self.env
        person = self.person
        if self.end_time > person.birth:
            end = env.timeout(self.end_time - person.birth)
            end.callbacks.append(lambda _: self._trigger_stop())
            for proc in self.lifecycle:  # insurance first: the first visit needs a payer
                stream = person.stream(stream_id(f"builtin:{proc.__name__}"))
                env.process(self._bound(proc(self), Binding(stream)))
            env.process(self._bound(self._engine_encounters(),
                                    Binding(person.stream(ENGINE_ENCOUNTERS))))
            for module in self.program.top_level:
                binding = Binding(person.rng)
                env.process(self._bound(self._run_top(module, binding), binding))
            env.run(until=self.stop)
        return self._finish()

    def spawn(self, process: Generator[Any, Any, Any], name: str) -> None:
        """Starts a process a built-in makes as it goes (employment, quitting smoking...): it
        draws from a stream of its own, `builtin:<name>`, never from whichever stream was
        current when it started."""
        stream = self.person.stream(stream_id(f"builtin:{name}"))
        self.env.process(self._bound(process, Binding(stream)))

    def _bound(self, process: Generator[Any, Any, Any], binding: Binding
               ) -> Generator[Any, Any, Any]:
        """Runs a process with the person's current stream set to the process's own whenever
        it resumes (two processes interleave at one instant; each draws from its own
        stream)."""
        person = self.person
        value: Any = None
        error: BaseException | None = None
        while True:
            person.rng = binding.stream
            try:
                event = process.send(value) if error is None else process.throw(error)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                value = yield event
            except GeneratorExit:  # the life is over: the process ends with it
                process.close()
                raise
            except BaseException as exc:  # an interrupt: passed on to the process
                error = exc

    def keep(self, module: CompiledModule) -> bool:
        """Walks a keep module once at the end of the simulation, death ignored (§3.6): True
        iff the walk stops on the state named Keep. A state that would wait stops the walk."""
        frame = Frame(module=module, owner=module.name, history=[], top=False,
                      binding=Binding(self.person.rng))
        state = module.states["Initial"]
        for _ in range(MAX_STATES_PER_INSTANT):
            visit = Visit(state.name, state, self.now)
            frame.history.append(visit)
            self.person.rng = self.person.stream(state.stream)
            result = self.executors[state.type](self, frame, visit)
            if result is not None:
                if hasattr(result, "close"):
                    result.close()
                return state.name == "Keep"
            if state.next is None:
                return state.name == "Keep"
            state = module.states[state.next(self, frame)]
        raise self.error(frame, f"the keep module enters more than {MAX_STATES_PER_INSTANT} "
                                "states without stopping")

    def _trigger_stop(self) -> None:
        if not self.stop.triggered:
            self.stop._ok = True
            self.stop._value = None
            self.env.schedule(self.stop, URGENT)

    def _schedule_death(self, when: int) -> None:
        if when <= self.now:
            self._trigger_stop()
            return
        timer = simpy.Event(self.env)
        timer._ok = True
        timer._value = None

        def fire(_: Any) -> None:
            if self.person.deathdate == when:
                self._trigger_stop()

        timer.callbacks.append(fire)
        self.env.schedule(timer, URGENT, when - self.now)

    def error(self, frame: Frame | None, message: str) -> SimulationError:
        module = frame.module.file if frame else "engine"
        state = frame.history[-1].name if frame and frame.history else "?"
        return SimulationError(module, state, message, self.person.index)

    def _run_top(self, module: CompiledModule, binding: Binding) -> Generator[Any, Any, None]:
        frame = Frame(module=module, owner=module.name, history=[], top=True, binding=binding)
        self.wellness_flag.setdefault(module.name, False)
        yield from self.run_frame(frame)

    def run_frame(self, frame: Frame) -> Generator[Any, Any, bool]:
        """Walk a module's states. Returns True when a Terminal was reached, False on death."""
        person = self.person
        env = self.env
        states = frame.module.states
        executors = self.executors
        stats = self.stats
        history = frame.history
        state = states["Initial"]
        loop_time, loop_count = env._now, 0
        while True:
            now = env._now
            if now != loop_time:
                loop_time, loop_count = now, 0
            loop_count += 1
            if loop_count > MAX_STATES_PER_INSTANT:
                raise self.error(
                    frame,
                    f"more than {MAX_STATES_PER_INSTANT} states entered at one instant: the module "
                    "loops without a blocking state (Delay, Guard, Encounter) on the way",
                )
            self.entered += 1
            if self.entered > MAX_STATES_PER_LIFE:
                raise self.error(
                    frame,
                    f"more than {MAX_STATES_PER_LIFE:,} states entered in one life, at "
                    f"{tu.iso_datetime(now)[:10]}: the module goes round a loop of very short "
                    "Delays; make them longer or give the loop a way out",
                )
            death = person.deathdate
            if death is not None and death <= now:
                return False
            visit = Visit(state.name, state, now)
            if history and history[-1].state is state and state.type == "Delay":
                # A Delay looping on itself: only the newest of consecutive identical visits
                # can ever be reached by PriorState, so keep just that one.
                history[-1] = visit
            else:
                history.append(visit)
            stats[state.type] += 1
            person.rng = frame.binding.stream = person.stream(state.stream)
            try:
                result = executors[state.type](self, frame, visit)
                if result is not None:
                    if isinstance(result, simpy.Event):
                        yield result
                    else:
                        yield from result
                        # a submodule drew from its own states' streams: back to this one's
                        person.rng = frame.binding.stream = person.stream(state.stream)
                    death = person.deathdate
                if death is not None and death <= env._now:
                    return False
                if visit.exited is None:
                    visit.exited = env._now
                if state.next is None:  # Terminal
                    if frame.top and person.lock_owner == frame.owner:
                        self.end_module_encounter(frame.owner, None)
                    return True
                target = state.next(self, frame)
            except SimulationError:
                raise
            except STATE_FAULTS as exc:
                raise self.error(frame, f"the engine failed on this state: "
                                        f"{type(exc).__name__}: {exc}") from exc
            while target == state.name and state.profile is not None and self.fast_forward:
                skipped = yield from self._skip_hazard_loop(frame, state, visit)
                if person.deathdate is not None and person.deathdate <= env._now:
                    return False
                if skipped is None:
                    target = state.next(self, frame)
                else:
                    target = skipped
                    break
            state = states[target]

    def _skip_hazard_loop(
        self, frame: Frame, state: CompiledState, visit: Visit
    ) -> Generator[Any, Any, str | None]:
        """Fast-forward a fixed-length Delay that has just chosen itself again (see
        program.compile_profile). Returns the next state, or None to evaluate the transition
        normally at the current instant."""
        assert state.profile is not None
        profile = state.profile(self, frame)
        if profile is None:
            return state.name
        options, horizon, signals = profile
        probs = outcome_probabilities(options)
        p_self = sum(p for target, p in probs if target == state.name)
        d = state.period
        t1 = self.now
        # evaluations happen at t1 + j·d (j ≥ 1); those before `horizon` see the same odds
        limit = None if horizon is None else (horizon - t1 - 1) // d
        if limit is not None and limit <= 0:
            return state.name
        q = 1.0 - p_self
        if q <= 1e-12:
            returns = None  # never leaves while the odds stay the same
        elif q >= 1.0:
            returns = 0
        else:
            returns = int(math.log(1.0 - self.person.rng.random()) / math.log1p(-q))
        if returns is not None and (limit is None or returns + 1 <= limit):
            steps, leaving = returns + 1, True
        else:
            steps, leaving = limit, False
        wake_at = None if steps is None else t1 + steps * d
        if wake_at is None and not signals:
            yield self.env.event()  # nothing can change the odds: loop until the end of life
        yield self.wait_for(signals, at=wake_at)
        now = self.now
        if wake_at is None or now < wake_at:
            # Something the odds depend on changed: go on from the next iteration boundary.
            j = max(-(-(now - t1) // d), 1)
            boundary = t1 + j * d
            if boundary > now:
                yield self.env.timeout(boundary - now)
            self.stats["Delay"] += j - 1
            visit.entered, visit.exited = boundary - d, boundary
            return None
        self.stats["Delay"] += steps - 1 if leaving else steps
        visit.entered, visit.exited = now - d, now
        if not leaving:
            return state.name
        others = [(target, p) for target, p in probs if target != state.name and p > 0]
        u = self.person.rng.random() * sum(p for _, p in others)
        for target, p in others:
            u -= p
            if u < 0:
                return target
        return others[-1][0]

    # ------------------------------------------------------------ waiting

    def wait_for(self, keys: list[str], at: int | None = None) -> simpy.Event:
        """An event that fires when any signal in `keys` is notified, or at instant `at`."""
        event = self.env.event()
        if keys:
            self.person.watch(keys, event)
        if at is not None:
            delay = max(at - self.now, 0)
            timer = self.env.timeout(delay)
            timer.callbacks.append(lambda _: event.succeed() if not event.triggered else None)
        return event

    # ------------------------------------------------------------ vital signs

    def read_vital(self, frame: Frame | None, name: str) -> float:
        try:
            return self.vitals.read(name, self.now)
        except VitalNotSet as exc:
            raise self.error(frame, str(exc)) from None

    # ------------------------------------------------------------ encounters

    def current_encounter(self) -> Encounter:
        encounters = self.person.encounters
        if not encounters:
            enc = self._new_encounter("wellness", [WELL_CHILD], ENGINE_OWNER, "First Wellness")
            enc.ended = True
            enc.stop = enc.start + 15 * tu.MINUTE
            return enc
        return encounters[-1]

    def _new_encounter(self, cls: str, codes: list[Code], owner: str, name: str) -> Encounter:
        person = self.person
        enc = Encounter(
            id=person.rng.uuid(),
            start=self.now,
            codes=list(codes),
            name=name,
            encounter_class=cls,
            owner=owner,
            base_cost=encounter_cost(cls),
        )
        self._assign_provider(enc)
        person.encounters.append(enc)
        return enc

    def _assign_provider(self, enc: Encounter) -> None:
        """The person's preferred provider for the class (the nearest, found once), a clinician
        there, and the payer of the current plan (engine-behaviour.md §4.2, §7)."""
        world = self.world
        if world.network is not None:
            org = self.preferred.get(enc.encounter_class)
            if org is None:
                a = self.person.attributes
                org = world.network.nearest(a.get("lat", 0.0), a.get("lon", 0.0), enc.encounter_class)
                self.preferred[enc.encounter_class] = org
            enc.organization_id = org.id
            enc.clinician_id = world.network.clinician(org, GENERAL_PRACTICE, self.person.rng.random()).id
        payer = self.billing.payer_id()
        if payer is not None:
            enc.payer_id = payer

    def record_engine_immunization(self, vaccine: Code, series: int) -> None:
        """A vaccination outside the wellness schedule (COVID-19 doses): a short ambulatory visit
        of its own, which does not take the encounter lock."""
        enc = self._new_encounter("ambulatory", [VACCINATION_VISIT], ENGINE_OWNER, "Vaccination")
        enc.immunizations.append(Immunization(
            id=self.person.rng.uuid(), start=self.now, codes=[vaccine], name="covid19", series=series,
            cost=IMMUNIZATION_COST,
        ))
        self.end_encounter(enc)

    def start_module_encounter(
        self, frame: Frame, cls: str, codes: list[Code], name: str
    ) -> Encounter:
        enc = self._new_encounter(cls, codes, frame.owner, name)
        self.person.lock_owner = frame.owner
        self.module_encounter[frame.owner] = enc
        return enc

    def end_encounter(
        self, enc: Encounter, discharge: Code | None = None, at: int | None = None
    ) -> None:
        """End at `at` (default now), or later if entries recorded in it last longer."""
        if enc.ended:
            return
        stop = enc.start + DEFAULT_MINUTES.get(enc.encounter_class, 15) * tu.MINUTE
        for group in (enc.observations, enc.reports, enc.procedures, enc.immunizations,
                      enc.imaging_studies, enc.supplies):
            for entry in group:
                if entry.stop is not None and entry.stop > stop:
                    stop = entry.stop
        enc.stop = max(stop, self.now if at is None else at)
        enc.ended = True
        self.billing.adjudicate(enc)
        if discharge is not None:
            enc.discharge = discharge

    def end_module_encounter(self, owner: str, discharge: Code | None) -> None:
        enc = self.module_encounter.pop(owner, None)
        if enc is not None:
            self.end_encounter(enc, discharge)
        if self.person.lock_owner == owner:
            self.release_lock()

    def release_lock(self) -> None:
        self.person.lock_owner = None
        self.person.notify(LOCK)

    def start_engine_encounter(self, cls: str, code: Code, flag: str) -> Encounter:
        person = self.person
        enc = self._new_encounter(cls, [code], ENGINE_OWNER, "Encounter Module")
        person.lock_owner = ENGINE_OWNER
        person.engine_encounter = enc
        person.attributes[flag] = True
        person.notify(ENGINE_ENCOUNTER)
        end = simpy.Event(self.env)
        end._ok = True
        end._value = None
        end.callbacks.append(lambda _: self._end_engine_encounter(enc))
        self.env.schedule(end, LATE)
        return enc

    def _end_engine_encounter(self, enc: Encounter) -> None:
        person = self.person
        self.end_encounter(enc)
        for flag in ("active_wellness_encounter", "active_emergency_encounter",
                     "active_urgent_care_encounter"):
            person.attributes.pop(flag, None)
        if person.engine_encounter is enc:
            person.engine_encounter = None
        if person.lock_owner == ENGINE_OWNER:
            self.release_lock()

    def _engine_encounters(self) -> Generator[Any, Any, None]:
        """Wellness visits on the age schedule, and symptom-driven visits (§4.2)."""
        person = self.person
        last_wellness: int | None = None
        last_total = 0
        while True:
            now = self.now
            due = next_wellness_due(person.birth, last_wellness, bool(person.chronic))
            if person.lock_owner is None:
                if due <= now:
                    code = WELL_CHILD if tu.age_years(person.birth, now) < 18 else GENERAL_EXAM
                    enc = self.start_engine_encounter("wellness", code, "active_wellness_encounter")
                    if self.world.immunizations:
                        give_immunizations(self, enc)
                    last_wellness = now
                    yield self.wait_for([LOCK])
                    continue
                total = person.symptom_total()
                if total != last_total and total > 300:
                    last_total = total
                    person.attributes["last_visit_symptom_total"] = total
                    person.address_largest_symptom()
                    if total > 500:
                        args = ("emergency", EMERGENCY_VISIT, "active_emergency_encounter")
                    elif total > 350:
                        args = ("urgentcare", URGENT_VISIT, "active_urgent_care_encounter")
                    else:
                        args = ("outpatient", CHECKUP_VISIT, "active_wellness_encounter")
                    enc = self.start_engine_encounter(*args)
                    if self.world.immunizations:
                        give_immunizations(self, enc)
                    yield self.wait_for([LOCK])
                    continue
                yield self.wait_for([CHRONIC, SYMPTOM_ANY], at=due)
            else:
                yield self.wait_for([LOCK])

    # ------------------------------------------------------------ record entries

    def record_entry(self, entry: Entry, kind: str) -> Encounter:
        enc = self.current_encounter()
        getattr(enc, kind).append(entry)
        self.billing.recorded(enc, entry, kind)
        return enc

    def present_add(self, entry: Entry) -> None:
        self.person.present[entry.codes[0].code] = entry
        self.person.notify(PRESENT)

    def end_entry(self, entry: Entry, reason: Code | None = None) -> None:
        person = self.person
        if entry.stop is None:
            entry.stop = self.now
        if reason is not None and hasattr(entry, "stop_reason"):
            entry.stop_reason = reason  # type: ignore[attr-defined]
        code = entry.codes[0].code
        if person.present.get(code) is entry:
            del person.present[code]
        if isinstance(entry, Medication) and person.chronic.get(code) is entry:
            del person.chronic[code]
            person.notify(CHRONIC)
        person.notify(PRESENT)

    def start_condition(self, codes: list[Code], name: str) -> Entry:
        person = self.person
        existing = person.present.get(codes[0].code)
        if existing is not None:
            entry = existing
        else:
            entry = Condition(id=person.rng.uuid(), start=self.now, codes=list(codes), name=name)
            self.record_entry(entry, "conditions")
            self.present_add(entry)
        entry.name = name
        merge_codes(entry, codes)
        return entry

    def record_observation(self, obs: Observation) -> None:
        self.record_entry(obs, "observations")
        index = self.person.latest_observation
        code = obs.codes[0].code
        # newest encounter wins; within one encounter the first recorded observation wins
        enc_pos = len(self.person.encounters) - 1
        prev = index.get(code)
        if prev is None or prev[0] < enc_pos:
            index[code] = (enc_pos, obs)

    def record_procedure(self, codes: list[Code], name: str, duration: int | None) -> Procedure:
        proc = Procedure(
            id=self.person.rng.uuid(), start=self.now, codes=list(codes), name=name,
            cost=PROCEDURE_COST,
        )
        proc.stop = self.now + (duration if duration is not None else 15 * tu.MINUTE)
        self.record_entry(proc, "procedures")
        self.present_add(proc)
        return proc

    def renew_chronic_medications(self, enc: Encounter) -> None:
        if enc.id in self.renewed_at or not self.person.chronic:
            return
        self.renewed_at.add(enc.id)
        for med in list(self.person.chronic.values()):
            self.end_entry(med, STOPPED_MEDICAL_ADVICE)
            renewed = Medication(
                id=self.person.rng.uuid(),
                start=self.now,
                codes=list(med.codes),
                name=med.name,
                reasons=list(med.reasons),
                prescription=med.prescription,
                chronic=True,
                administration=med.administration,
                cost=med.cost,
            )
            self.record_entry(renewed, "medications")
            self.present_add(renewed)
            self.person.chronic[renewed.codes[0].code] = renewed
        self.person.notify(CHRONIC)

    # ------------------------------------------------------------ death

    def record_death(self, when: int, cause: Code | None, source: str) -> None:
        """`source` names what caused it (a module's Death state, or natural causes)."""
        person = self.person
        if person.deathdate is not None and person.deathdate <= when:
            return
        self.death_source = source
        person.deathdate = when
        person.attributes["deathdate"] = when
        if cause is not None:
            person.attributes["cause_of_death"] = cause
        else:
            person.attributes.pop("cause_of_death", None)
        self._schedule_death(when)

    # ------------------------------------------------------------ finish

    def _finish(self) -> HealthRecord:
        person = self.person
        now = min(self.now, self.end_time) if self.now >= person.birth else person.birth
        death = person.deathdate if person.deathdate is not None and person.deathdate <= now else None
        end = death if death is not None else now
        for enc in person.encounters:
            if not enc.ended:
                self.end_encounter(enc, at=max(end, enc.start))
                if death is not None and enc.stop is not None and enc.stop > death:
                    enc.stop = max(death, enc.start)
        encounters = [e for e in person.encounters if death is None or e.start <= death]
        if death is not None:
            cause = person.attributes.get("cause_of_death")
            if isinstance(cause, Code):
                encounters.append(self._death_certificate(death, cause))
        self.billing.close(end)
        coverage = self.billing.periods(end)
        return HealthRecord(
            patient=patient_snapshot(person, end),
            index=person.index,
            end_time=end,
            encounters=encounters,
            coverage=coverage,
        )

    def _death_certificate(self, when: int, cause: Code) -> Encounter:
        rng = self.person.rng = self.person.stream(DEATH_STREAM)
        enc = Encounter(
            id=rng.uuid(), start=when, codes=[DEATH_CERTIFICATION], name="Death Certification",
            encounter_class="wellness", owner=DEATH_OWNER, reason=cause,
            base_cost=encounter_cost("wellness"),
        )
        self._assign_provider(enc)
        obs = Observation(
            id=rng.uuid(), start=when, codes=[CAUSE_OF_DEATH], value=cause, category="exam",
            stop=when,
        )
        report = Report(
            id=rng.uuid(), start=when, codes=[DEATH_CERTIFICATE], observations=[obs],
            cost=REPORT_COST, stop=when,
        )
        enc.observations.append(obs)
        enc.reports.append(report)
        enc.stop = when + 15 * tu.MINUTE
        enc.ended = True
        self.billing.adjudicate(enc)
        return enc


def merge_codes(entry: Entry, codes: list[Code]) -> None:
    for code in codes:
        if code not in entry.codes:
            entry.codes.append(code)


# Wellness schedule (§4.2): (age in months from which it applies, interval in days)
_WELLNESS_BANDS = [(0, 30), (2, 60), (6, 90), (18, 180), (48, 365), (240, 3 * 365),
                   (480, 2 * 365), (600, 365)]


def _wellness_interval(birth: int, at: int, chronic: bool) -> int:
    months = tu.age_months(birth, at)
    days = 30
    for start, interval in _WELLNESS_BANDS:
        if months >= start:
            days = interval
    if chronic:
        days = min(days, 365)
    return days * tu.DAY


def next_wellness_due(birth: int, last: int | None, chronic: bool) -> int:
    """Earliest instant t with t − last ≥ the interval for the age at t (first visit at birth)."""
    if last is None:
        return birth
    t = last
    while True:
        due = last + _wellness_interval(birth, t, chronic)
        months = tu.age_months(birth, t)
        boundary = next((m for m, _ in _WELLNESS_BANDS if m > months), None)
        if boundary is None:
            return max(due, t)
        boundary_at = tu.age_reached_ms(birth, boundary)
        if due <= boundary_at:
            return max(due, t)
        t = boundary_at


def patient_snapshot(person: Person, end_time: int | None = None) -> Patient:
    """Demographics as exported; a death after `end_time` has not happened yet."""
    a = person.attributes
    died = person.deathdate is not None and (end_time is None or person.deathdate <= end_time)

    def text(key: str) -> str:
        v = a.get(key)
        return "" if v is None else str(v)

    income = a.get("income")
    return Patient(
        id=text("id") or person.rng.uuid(),
        birthdate=person.birth,
        gender=text("gender"),
        race=text("race"),
        ethnicity=text("ethnicity"),
        deathdate=person.deathdate if died else None,
        cause_of_death=a.get("cause_of_death") if died and isinstance(a.get("cause_of_death"), Code) else None,
        ssn=text("identifier_ssn"),
        drivers=text("identifier_drivers"),
        passport=text("identifier_passport"),
        prefix=text("name_prefix"),
        first=text("first_name"),
        middle=text("middle_name"),
        last=text("last_name"),
        suffix=text("name_suffix"),
        maiden=text("maiden_name"),
        marital=text("marital_status"),
        birthplace=text("birthplace"),
        address=text("address"),
        city=text("city"),
        state=text("state"),
        county=text("county"),
        fips=text("fips"),
        zip=text("zip"),
        lat=a.get("lat"),
        lon=a.get("lon"),
        income=int(income) if isinstance(income, int | float) else None,
        phone=text("telecom"),
        language=text("first_language"),
        mothers_maiden_name=text("name_mother"),
        birth_city=text("birth_city"),
        birth_state=text("birth_state"),
        birth_country=text("birth_country"),
        multiple_birth=a.get("multiple_birth_status") if isinstance(a.get("multiple_birth_status"), int) else None,
        sexual_orientation=text("sexual_orientation"),
    )
