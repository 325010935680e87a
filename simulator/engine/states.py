"""What each state type does when a person enters it (module-format.md §6).

An executor returns None when the state passes at once, or a generator that yields SimPy
events while the state blocks (Delay, Guard, Encounter, Procedure with a duration,
CallSubmodule).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from simulator.engine import timeutil as tu
from simulator.engine.expressions_runtime import evaluate_expression
from simulator.engine.person import CHRONIC, ENGINE_ENCOUNTER, LOCK
from simulator.engine.randomness import sample_distribution, sample_range
from simulator.engine.simulation import (
    STOPPED_MEDICAL_ADVICE,
    Frame,
    PersonSim,
    Visit,
    merge_codes,
)
from simulator.gmf import schema as s
from simulator.payers.prices import IMMUNIZATION_COST, REPORT_COST, medication_cost
from simulator.record import (
    Allergy,
    CarePlan,
    Code,
    Condition,
    Device,
    Entry,
    ImagingInstance,
    ImagingSeries,
    ImagingStudy,
    Immunization,
    Medication,
    Observation,
    Reaction,
    Report,
    Supply,
)

Executor = Callable[[PersonSim, Frame, Visit], Generator[Any, Any, None] | simpy.Event | None]

CAREPLAN_DONE = Code("SNOMED-CT", "385658003", "Done")
SEVERITY_ORDER = ("mild", "moderate", "severe")


def _model(visit: Visit) -> Any:
    return visit.state.model


# ---------------------------------------------------------------- control states


def initial(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    # The state named "Initial" may be of any type (encounter/vitals.json starts with an
    # Observation); a real Initial does nothing.
    return None


def terminal(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    return None


def guard(sim: PersonSim, fr: Frame, visit: Visit) -> Generator[Any, Any, None] | None:
    st = visit.state
    assert st.allow is not None and st.deps is not None
    if st.allow(sim, fr):
        return None
    return _guard_wait(sim, fr, visit)


def _guard_wait(sim: PersonSim, fr: Frame, visit: Visit) -> Generator[Any, Any, None]:
    st = visit.state
    allow, deps = st.allow, st.deps
    assert allow is not None and deps is not None
    keys = list(deps.signals)
    person = sim.person
    while True:
        at: int | None = None
        for flip in deps.flips:
            t = flip(person.birth, sim.now)
            if t is not None and (at is None or t < at):
                at = t
        if deps.poll:
            poll_at = sim.now + tu.STEP
            at = poll_at if at is None or poll_at < at else at
        if not keys and at is None:
            yield sim.env.event()  # can never become true: blocks until the end of the life
        yield sim.wait_for(keys, at)
        if allow(sim, fr):
            return


def delay(sim: PersonSim, fr: Frame, visit: Visit) -> simpy.Event | None:
    st: s.Delay = _model(visit)
    rng = sim.person.rng
    if st.exact is not None:
        duration = tu.fractional_ms(st.exact.quantity, st.exact.unit)
    elif st.range is not None:
        q = st.range.low + (st.range.high - st.range.low) * rng.random()
        duration = tu.fractional_ms(q, st.range.unit)
    else:
        assert st.distribution is not None and st.unit is not None
        duration = tu.integer_ms(sample_distribution(st.distribution, rng), st.unit)
    if duration <= 0:
        return None
    return sim.env.timeout(duration)


def set_attribute(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.SetAttribute = _model(visit)
    person = sim.person
    rng = person.rng
    if st.expression is not None:
        value = evaluate_expression(sim, fr, st.expression)
    elif st.range is not None:
        value = sample_range(rng, st.range.low, st.range.high, st.range.decimals)
    elif st.series_data is not None:
        period = st.period if st.period > 0 else 1.0
        value = {"series": [float(x) for x in st.series_data.split()], "period": period}
    elif st.distribution is not None:
        value = sample_distribution(st.distribution, rng)
    elif st.value_code is not None:
        value = st.value_code
    elif st.value_attribute is not None and st.value_attribute in person.attributes:
        value = person.attributes[st.value_attribute]
    else:
        value = st.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
    person.set(st.attribute, value)


def counter(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.Counter = _model(visit)
    person = sim.person
    current = person.attributes.get(st.attribute)
    try:
        number = float(current) if current is not None and not isinstance(current, bool) else 0.0
    except (TypeError, ValueError):
        raise sim.error(fr, f"Counter attribute {st.attribute!r} holds {current!r}, not a number") from None
    amount = st.amount or 1
    number = number + amount if st.action == "increment" else number - amount
    person.set(st.attribute, float(number))


def call_submodule(sim: PersonSim, fr: Frame, visit: Visit) -> Generator[Any, Any, None]:
    st: s.CallSubmodule = _model(visit)
    module = sim.program.modules[st.submodule]
    sub = Frame(module=module, owner=fr.owner, history=[], top=False, binding=fr.binding)
    completed = yield from sim.run_frame(sub)
    if completed:
        # The caller sees the submodule's states, then this state again marking the return.
        fr.history.extend(sub.history)
        fr.history.append(Visit(visit.name, visit.state, visit.entered, sim.now))


def physiology(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    return None  # disabled, as in Synthea's default configuration: alt_direct_transition


# ---------------------------------------------------------------- encounters


def encounter(sim: PersonSim, fr: Frame, visit: Visit) -> Generator[Any, Any, None] | None:
    st: s.Encounter = _model(visit)
    if st.wellness:
        return _wellness_encounter(sim, fr, visit)
    person = sim.person
    if person.lock_owner is not None and person.lock_owner != fr.owner:
        return _encounter_after_lock(sim, fr, visit)
    _open_encounter(sim, fr, visit)
    return None


def _encounter_after_lock(sim: PersonSim, fr: Frame, visit: Visit) -> Generator[Any, Any, None]:
    person = sim.person
    while person.lock_owner is not None and person.lock_owner != fr.owner:
        yield sim.wait_for([LOCK])
    _open_encounter(sim, fr, visit)


_TELEMED_EARLY = tu.ymd_ms(2016, 1, 1) + 12 * tu.HOUR
_TELEMED_LATE = tu.ymd_ms(2020, 4, 1) + 12 * tu.HOUR


def _open_encounter(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.Encounter = _model(visit)
    person = sim.person
    if person.lock_owner == fr.owner:
        sim.end_module_encounter(fr.owner, None)
    cls = (st.encounter_class or "ambulatory").lower()
    tele = (st.telemedicine_possibility or "none").lower()
    if tele == "always":
        cls = "virtual"
    elif tele == "possible" and sim.now >= _TELEMED_EARLY:
        u = person.rng.random()
        if u <= (0.004 if sim.now < _TELEMED_LATE else 0.15):
            cls = "virtual"
    enc = sim.start_module_encounter(fr, cls, st.codes, visit.name)
    visit.entry = enc
    _diagnose_pending(sim, fr, visit)
    if st.reason is not None:
        codes = _resolve_reason(sim, fr, st.reason, all_entries=False)[0]
        if codes:
            enc.reason = codes[0]


def _wellness_encounter(sim: PersonSim, fr: Frame, visit: Visit) -> Generator[Any, Any, None]:
    person = sim.person
    while True:
        enc = person.engine_encounter
        # Synthea re-creates the module's flag only at its next time step, so after an
        # EncounterEnd a module can join the *next* engine visit, never the same one again.
        if (
            enc is not None
            and not sim.wellness_flag.get(fr.owner)
            and sim.wellness_joined.get(fr.owner) is not enc
        ):
            sim.wellness_flag[fr.owner] = True
            sim.wellness_joined[fr.owner] = enc
            visit.entry = enc
            _diagnose_pending(sim, fr, visit)
            sim.renew_chronic_medications(enc)
            return
        yield sim.wait_for([ENGINE_ENCOUNTER])


def encounter_end(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.EncounterEnd = _model(visit)
    person = sim.person
    if person.lock_owner == fr.owner and fr.owner in sim.module_encounter:
        sim.end_module_encounter(fr.owner, st.discharge_disposition)
    else:
        sim.wellness_flag[fr.owner] = False


def _diagnose_pending(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    name = visit.name
    if name not in fr.module.targeted:
        return
    history = fr.history
    for i in range(len(history) - 2, -1, -1):
        past = history[i]
        if past.name == name and past.state.type == "Encounter":
            break
        if past.diagnosed or past.state.type not in ("ConditionOnset", "AllergyOnset"):
            continue
        if past.state.model.target_encounter == name:
            _diagnose(sim, fr, past)


def _resolve_reason(
    sim: PersonSim, fr: Frame, reason: str, all_entries: bool
) -> tuple[list[Code], bool]:
    """Reason codes for an Encounter/Medication/CarePlan/Procedure `reason`, and whether the
    prior-state rule was used. The first rule whose precondition holds wins (§6.10)."""
    attrs = sim.person.attributes
    if reason in attrs:
        value = attrs[reason]
        if isinstance(value, Entry):
            return list(value.codes), False
        if isinstance(value, Code):
            return [value], False
        return [], False
    if any(v.name == reason for v in fr.history):
        codes: list[Code] = []
        for entry in sim.person.present.values():
            if entry.name == reason:
                if not all_entries:
                    return [entry.codes[0]], True
                codes.extend(entry.codes)
        return codes, True
    st = fr.module.states.get(reason)
    if st is not None and isinstance(st.model, s.ConditionOnset):
        return [st.model.codes[0]], False
    return [], False


# ---------------------------------------------------------------- conditions and allergies


def condition_onset(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.ConditionOnset = _model(visit)
    target = st.target_encounter
    owned = sim.module_encounter.get(fr.owner)
    if not target or (
        sim.person.lock_owner == fr.owner and owned is not None and owned.name == target
    ):
        _diagnose(sim, fr, visit)
    elif st.assign_to_attribute:
        # Pending: the attribute holds an unrecorded entry until the target encounter happens.
        pending = Condition(id="", start=sim.now, codes=list(st.codes), name=visit.name)
        sim.person.set(st.assign_to_attribute, pending)


def _diagnose(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st = visit.state.model
    visit.diagnosed = True
    person = sim.person
    if isinstance(st, s.AllergyOnset):
        existing = person.present.get(st.codes[0].code)
        if existing is not None:
            entry: Entry = existing
        else:
            reactions = []
            for spec in st.reactions:
                u = person.rng.random()
                total = 0.0
                level = "none"
                for option in spec.possible_severities:
                    total += option.value
                    if u < total:
                        level = option.level
                        break
                if level != "none":
                    reactions.append(Reaction(spec.reaction, level))
            entry = Allergy(
                id=person.rng.uuid(), start=sim.now, codes=list(st.codes), name=visit.name,
                allergy_type=st.allergy_type, category=st.category, reactions=reactions,
            )
            sim.record_entry(entry, "allergies")
            sim.present_add(entry)
        entry.name = visit.name
        merge_codes(entry, st.codes)
    else:
        entry = sim.start_condition(st.codes, visit.name)
    visit.entry = entry
    if st.assign_to_attribute:
        person.set(st.assign_to_attribute, entry)


def _end_selected(
    sim: PersonSim, fr: Frame, by_name: str | None, attr: str | None, codes: list[Code] | None,
    kinds: tuple[type, ...], reason: Code | None = None,
) -> None:
    person = sim.person
    if by_name is not None:
        for entry in list(person.present.values()):
            if entry.name == by_name and isinstance(entry, kinds):
                sim.end_entry(entry, reason)
                return
        return
    if attr is not None:
        entry = person.attributes.get(attr)
        if isinstance(entry, Entry):
            live = person.present.get(entry.codes[0].code)
            sim.end_entry(live if live is not None else entry, reason)
        return
    for code in codes or []:
        entry = person.present.get(code.code)
        if entry is not None:
            sim.end_entry(entry, reason)


def condition_end(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.ConditionEnd = _model(visit)
    _end_selected(sim, fr, st.condition_onset, st.referenced_by_attribute, st.codes, (Entry,))


def allergy_onset(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    condition_onset(sim, fr, visit)


def allergy_end(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.AllergyEnd = _model(visit)
    _end_selected(sim, fr, st.allergy_onset, st.referenced_by_attribute, st.codes, (Entry,))


# ---------------------------------------------------------------- medications, care plans


def medication_order(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.MedicationOrder = _model(visit)
    person = sim.person
    reasons = _resolve_reason(sim, fr, st.reason, all_entries=True)[0] if st.reason else []
    entries: list[Medication] = []
    if st.administration:
        admin = Medication(
            id=person.rng.uuid(), start=sim.now, codes=list(st.codes), name=visit.name,
            stop=sim.now, administration=True, cost=medication_cost(st.codes[0].code),
        )
        sim.record_entry(admin, "medications")
        entries.append(admin)
    if not st.administration or st.chronic:
        existing = person.present.get(st.codes[0].code)
        if isinstance(existing, Medication) and existing.stop is None:
            med = existing
        else:
            med = Medication(
                id=person.rng.uuid(), start=sim.now, codes=list(st.codes), name=visit.name,
                cost=medication_cost(st.codes[0].code),
            )
            sim.record_entry(med, "medications")
            sim.present_add(med)
        if st.chronic:
            med.chronic = True
            person.chronic[med.codes[0].code] = med
            person.notify(CHRONIC)
        entries.append(med)
    for med in entries:
        med.name = visit.name
        merge_codes(med, st.codes)
        for r in reasons:
            if r not in med.reasons:
                med.reasons.append(r)
        med.prescription = st.prescription
    visit.entry = entries[-1]
    if st.assign_to_attribute:
        person.set(st.assign_to_attribute, entries[-1])


def medication_end(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.MedicationEnd = _model(visit)
    _end_selected(
        sim, fr, st.medication_order, st.referenced_by_attribute, st.codes, (Medication,),
        STOPPED_MEDICAL_ADVICE,
    )


def careplan_start(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.CarePlanStart = _model(visit)
    person = sim.person
    existing = person.present.get(st.codes[0].code)
    if isinstance(existing, CarePlan) and existing.stop is None:
        plan = existing
    else:
        plan = CarePlan(
            id=person.rng.uuid(), start=sim.now, codes=list(st.codes), name=visit.name,
            activities=list(st.activities), goals=list(st.goals),
        )
        sim.record_entry(plan, "careplans")
        sim.present_add(plan)
    plan.name = visit.name
    merge_codes(plan, st.codes)
    if st.reason:
        # Synthea appends prior-state reasons to the plan's codes; we keep them as reasons
        # (docs/compatibility.md).
        for r in _resolve_reason(sim, fr, st.reason, all_entries=True)[0]:
            if r not in plan.reasons:
                plan.reasons.append(r)
    visit.entry = plan
    if st.assign_to_attribute:
        person.set(st.assign_to_attribute, plan)


def careplan_end(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.CarePlanEnd = _model(visit)
    _end_selected(
        sim, fr, st.careplan, st.referenced_by_attribute, st.codes, (CarePlan,), CAREPLAN_DONE
    )


# ---------------------------------------------------------------- procedures, observations


def procedure(sim: PersonSim, fr: Frame, visit: Visit) -> simpy.Event | None:
    st: s.Procedure = _model(visit)
    rng = sim.person.rng
    duration: int | None = None
    if st.duration is not None:
        q = st.duration.low + (st.duration.high - st.duration.low) * rng.random()
        duration = tu.fractional_ms(q, st.duration.unit)
    elif st.distribution is not None and st.unit is not None:
        duration = tu.fractional_ms(sample_distribution(st.distribution, rng), st.unit)
    proc = sim.record_procedure(st.codes, visit.name, duration)
    if st.reason:
        proc.reasons.extend(_resolve_reason(sim, fr, st.reason, all_entries=True)[0])
    visit.entry = proc
    if st.assign_to_attribute:
        sim.person.set(st.assign_to_attribute, proc)
    if duration is not None and duration > 0:
        return sim.env.timeout(duration)
    return None


def _observation_value(sim: PersonSim, fr: Frame, spec: s.ObservationSpec) -> Any:
    rng = sim.person.rng
    if spec.range is not None:
        return sample_range(rng, spec.range.low, spec.range.high, spec.range.decimals)
    if spec.exact is not None:
        return spec.exact.quantity
    if spec.distribution is not None:
        return sample_distribution(spec.distribution, rng)
    if spec.attribute is not None:
        return sim.person.attributes.get(spec.attribute)
    if spec.vital_sign is not None:
        return sim.read_vital(fr, spec.vital_sign)
    if spec.value_code is not None:
        return spec.value_code
    if spec.expression is not None:
        return evaluate_expression(sim, fr, spec.expression)
    if spec.sampled_data is not None:
        values: list[float] = []
        for name in spec.sampled_data.attributes:
            series = sim.person.attributes.get(name)
            if isinstance(series, dict):
                values.extend(series.get("series", []))
        return values
    if spec.attachment is not None:
        return spec.attachment.get("data") or spec.attachment.get("url") or ""
    return None


def _make_observation(sim: PersonSim, fr: Frame, spec: s.ObservationSpec, name: str) -> Observation:
    value = _observation_value(sim, fr, spec)
    if isinstance(value, float) and not math.isfinite(value):
        raise sim.error(fr, f"observation {spec.codes[0].code} would record {value}, not a "
                            "finite number")
    return Observation(
        id=sim.person.rng.uuid(), start=sim.now, codes=list(spec.codes), name=name, stop=sim.now,
        value=value, unit=spec.unit or "", category=spec.category,
    )


def observation(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.Observation = _model(visit)
    obs = _make_observation(sim, fr, st, visit.name)
    sim.record_observation(obs)
    visit.entry = obs


def multi_observation(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.MultiObservation = _model(visit)
    index = sim.person.latest_observation
    saved = {spec.codes[0].code: index.get(spec.codes[0].code) for spec in st.observations}
    children = []
    for spec in st.observations:
        child = _make_observation(sim, fr, spec, visit.name)
        sim.record_observation(child)
        children.append(child)
    enc = sim.current_encounter()
    n = len(children)
    moved = []
    for _ in range(n):  # taken from the end: children end up in reverse definition order
        moved.append(enc.observations.pop())
    for code, prev in saved.items():  # panel children are invisible to Observation conditions
        if prev is None:
            index.pop(code, None)
        else:
            index[code] = prev
    panel = Observation(
        id=sim.person.rng.uuid(), start=sim.now, codes=list(st.codes), name=visit.name,
        stop=sim.now, value=None, category=st.category, children=moved,
    )
    sim.record_observation(panel)
    visit.entry = panel


def diagnostic_report(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.DiagnosticReport = _model(visit)
    children = []
    for spec in st.observations:
        child = _make_observation(sim, fr, spec, visit.name)
        sim.record_observation(child)
        children.append(child)
    report = Report(
        id=sim.person.rng.uuid(), start=sim.now, codes=list(st.codes), name=visit.name,
        stop=sim.now, observations=children, cost=REPORT_COST,
    )
    sim.record_entry(report, "reports")
    visit.entry = report


def _dicom_uid(sim: PersonSim, *parts: int) -> str:
    salt = sim.person.rng.int_between(10_000_000, 99_999_999)
    middle = "".join(f".{p}" for p in parts)
    return f"1.2.840.99999999{middle}.{salt}.{abs(sim.now)}"


def imaging_study(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.ImagingStudy = _model(visit)
    rng = sim.person.rng
    specs = list(st.series)
    if st.min_number_series > 0 and st.max_number_series >= st.min_number_series:
        count = rng.int_between(st.min_number_series, st.max_number_series)
        specs = [st.series[0]] * count
    series = []
    for i, spec in enumerate(specs, start=1):
        insts = list(spec.instances)
        if spec.min_number_instances > 0 and spec.max_number_instances >= spec.min_number_instances:
            insts = [spec.instances[0]] * rng.int_between(
                spec.min_number_instances, spec.max_number_instances
            )
        instances = [
            ImagingInstance(_dicom_uid(sim, i, j), inst.title, inst.sop_class)
            for j, inst in enumerate(insts, start=1)
        ]
        series.append(ImagingSeries(_dicom_uid(sim, i), spec.body_site, spec.modality, instances))
    study = ImagingStudy(
        id=rng.uuid(), start=sim.now, codes=[st.procedure_code], name=visit.name, stop=sim.now,
        uid=_dicom_uid(sim), series=series,
    )
    sim.record_entry(study, "imaging_studies")
    sim.record_procedure([st.procedure_code], visit.name, 30 * tu.MINUTE)
    visit.entry = study


def device(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.Device = _model(visit)
    rng = sim.person.rng
    now = sim.now

    def digits(n: int) -> str:
        return str(rng.getrandbits(63))[:n]

    di = str(rng.getrandbits(63)).rjust(14, "0")[:14]
    lot = digits(rng.int_between(4, 19))
    serial = digits(rng.int_between(4, 19))
    made = now - 3 * tu.WEEK
    expires = now + 25 * tu.YEAR_365

    def yymmdd(ms: int) -> str:
        y, m, d = tu.ymd(ms)
        return f"{y % 100:02d}{m:02d}{d:02d}"

    entry = Device(
        id=rng.uuid(), start=now, codes=[st.code], name=visit.name,
        manufacturer=st.manufacturer, model=st.model, device_identifier=di, lot_number=lot,
        serial_number=serial, manufacture_time=made, expiration_time=expires,
        udi=f"(01){di}(11){yymmdd(made)}(17){yymmdd(expires)}(10){lot}(21){serial}",
    )
    sim.record_entry(entry, "devices")
    sim.present_add(entry)
    visit.entry = entry
    if st.assign_to_attribute:
        sim.person.set(st.assign_to_attribute, entry)


def device_end(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.DeviceEnd = _model(visit)
    _end_selected(sim, fr, st.device, st.referenced_by_attribute, st.codes, (Device,))


def supply_list(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.SupplyList = _model(visit)
    for item in st.supplies:
        supply = Supply(
            id=sim.person.rng.uuid(), start=sim.now, codes=[item.code], name=visit.name,
            stop=sim.now, quantity=item.quantity,
        )
        sim.record_entry(supply, "supplies")


def vaccine(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.Vaccine = _model(visit)
    imm = Immunization(
        id=sim.person.rng.uuid(), start=sim.now, codes=list(st.codes), name=visit.name,
        series=st.series, cost=IMMUNIZATION_COST,
    )
    sim.record_entry(imm, "immunizations")
    visit.entry = imm


def symptom(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.Symptom = _model(visit)
    rng = sim.person.rng
    probability = st.probability if 0.0 <= st.probability <= 1.0 else 1.0
    if rng.random() > probability:
        return
    if st.exact is not None:
        value = int(float(st.exact.quantity))
    elif st.range is not None:
        value = int(st.range.low + (st.range.high - st.range.low) * rng.random())
    elif st.distribution is not None:
        value = int(sample_distribution(st.distribution, rng))
    else:
        value = 0
    sim.person.set_symptom(st.symptom, st.cause or fr.owner, value, sim.now)


def vital_sign(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.VitalSign = _model(visit)
    rng = sim.person.rng
    if st.exact is not None:
        constant = float(st.exact.quantity)
        source: Callable[[int], float] = lambda t: constant  # noqa: E731
    elif st.range is not None:
        low, high = st.range.low, st.range.high
        source = lambda t: low + (high - low) * rng.random()  # noqa: E731
    elif st.expression is not None:
        result = evaluate_expression(sim, fr, st.expression)
        try:
            constant_e = float(result)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise sim.error(fr, f"VitalSign expression gave {result!r}, not a number") from None
        source = lambda t: constant_e  # noqa: E731
    else:
        dist = st.distribution
        assert dist is not None
        source = lambda t: sample_distribution(dist, rng)  # noqa: E731
    sim.vitals.override(st.vital_sign, source, sim.now)


def death(sim: PersonSim, fr: Frame, visit: Visit) -> None:
    st: s.Death = _model(visit)
    person = sim.person
    cause: Code | None = None
    if st.codes:
        cause = st.codes[0]
    elif st.condition_onset is not None:
        if any(v.name == st.condition_onset for v in fr.history):
            for entry in person.present.values():
                if entry.name == st.condition_onset:
                    cause = entry.codes[0]
                    break
        else:
            onset = fr.module.states.get(st.condition_onset)
            if onset is not None and isinstance(onset.model, s.ConditionOnset):
                cause = onset.model.codes[0]
    elif st.referenced_by_attribute is not None:
        value = person.attributes.get(st.referenced_by_attribute)
        if value is None:
            raise sim.error(fr, f"Death: attribute {st.referenced_by_attribute!r} is not set")
        if isinstance(value, Entry):
            cause = value.codes[0]
        elif isinstance(value, Code):
            cause = value
    when = sim.now
    if st.exact is not None:
        when += tu.fractional_ms(st.exact.quantity, st.exact.unit)
    elif st.range is not None:
        q = st.range.low + (st.range.high - st.range.low) * person.rng.random()
        when += tu.fractional_ms(q, st.range.unit)
    sim.record_death(max(when, sim.now), cause, f"{fr.module.file}: state {visit.name!r}")


EXECUTORS: dict[str, Executor] = {
    "Initial": initial,
    "Terminal": terminal,
    "Simple": initial,
    "Guard": guard,
    "Delay": delay,
    "SetAttribute": set_attribute,
    "Counter": counter,
    "CallSubmodule": call_submodule,
    "Physiology": physiology,
    "Encounter": encounter,
    "EncounterEnd": encounter_end,
    "ConditionOnset": condition_onset,
    "ConditionEnd": condition_end,
    "AllergyOnset": allergy_onset,
    "AllergyEnd": allergy_end,
    "MedicationOrder": medication_order,
    "MedicationEnd": medication_end,
    "CarePlanStart": careplan_start,
    "CarePlanEnd": careplan_end,
    "Procedure": procedure,
    "Observation": observation,
    "MultiObservation": multi_observation,
    "DiagnosticReport": diagnostic_report,
    "ImagingStudy": imaging_study,
    "Device": device,
    "DeviceEnd": device_end,
    "SupplyList": supply_list,
    "Vaccine": vaccine,
    "Symptom": symptom,
    "VitalSign": vital_sign,
    "Death": death,
}

__all__ = ["EXECUTORS"]
