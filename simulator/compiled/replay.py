"""The kernel's journal, replayed into today's HealthRecord so every exporter, cohort rule and
upload works unchanged with the compiled engine. The kernel decided everything (which
entries, when, with which ids); this only builds the objects, in the order the reference
engine builds them."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.builtin.immunizations import SCHEDULE
from simulator.compiled.insurance import plans_in_order
from simulator.compiled.lower import (
    K_BOOL,
    K_CODE,
    K_ENTRY,
    K_FLOAT,
    K_FORMAT,
    K_INT,
    K_LIST,
    K_NONE,
    K_SERIES,
    K_STR,
    Lowered,
)
from simulator.compiled.ops import J
from simulator.engine import timeutil as tu
from simulator.engine.randomness import uuid_texts
from simulator.engine.simulation import (
    CAUSE_OF_DEATH,
    DEATH_CERTIFICATE,
    merge_codes,
)
from simulator.payers.billing import Billing
from simulator.payers.plans import load_payers
from simulator.payers.prices import (
    IMMUNIZATION_COST,
    PROCEDURE_COST,
    REPORT_COST,
    encounter_cost,
    medication_cost,
)
from simulator.record import (
    Allergy,
    CarePlan,
    Condition,
    Device,
    Encounter,
    Entry,
    ImagingInstance,
    ImagingSeries,
    ImagingStudy,
    Immunization,
    Medication,
    Observation,
    Procedure,
    Reaction,
    Report,
    Supply,
)

_SEVERITY = ("none", "mild", "moderate", "severe")
_NEVER = -(1 << 62)  # a time no row is at or before: nothing is left out
_FOREVER = 1 << 62  # a time every row is at or before: every observation is left out

# The journal kinds as plain ints: the rows come as ints (tolist), and an int compares with an
# int many times faster than with the kernel's numpy constants or an IntEnum.
(J_ENCOUNTER, J_ENCOUNTER_END, J_ENCOUNTER_REASON, J_CONDITION, J_ALLERGY, J_ALLERGY_REACTION,
 J_TOUCH, J_END_ENTRY, J_MEDICATION, J_CHRONIC, J_PRESCRIBE, J_REASON_CODE, J_REASON_ENTRY,
 J_CAREPLAN, J_PROCEDURE, J_OBSERVATION, J_IMMUNIZATION, J_SUPPLY, J_RENEW, J_DEATH,
 J_PENDING, J_PANEL, J_REPORT, J_DEVICE, J_DEVICE_NUMBERS, J_IMAGING, J_IMAGING_SERIES,
 J_IMAGING_INSTANCE, J_VACCINATION, J_COVID_DOSE, J_PLAN, J_SERIES) = (int(j) for j in J)
assert all(globals()[f"J_{j.name}"] == j for j in J)  # each name has its own kind


class Replay:
    """Builds records for one lowered program; `strings` is the engine's (growing) string
    table, program strings first."""

    def __init__(self, lowered: Lowered, strings: list[Any]) -> None:
        self.lowered = lowered
        self.strings = strings
        self.codes = lowered.codes
        self.models = lowered.models
        self.names = [name for _, name in lowered.states]
        self.state_codes = [_codes_of(m) for m in self.models]
        # (codes, name, unit, category) of each state, for the most frequent row
        self.observed = [
            (codes, name, getattr(m, "unit", None) or "", getattr(m, "category", None))
            for codes, name, m in zip(self.state_codes, self.names, self.models, strict=True)]
        self.person_attributes: Any = {}  # the person being written back (formatted names)
        self.network: Any = None  # the world's provider network, if any
        self.preferred: dict[str, Any] = {}  # the person's provider per encounter class
        self.payers: Any = None  # the world's payer catalog, if any (claims are made then)
        self.plans = plans_in_order(load_payers())  # the insurance process's, by kernel index
        self.samples: dict[int, list[float]] = {}  # observation entry -> its sampled data
        # Observations the export window drops may be left out (build's `since`) unless an
        # observation or report of the program is one the window keeps whatever its age.
        kept_codes = {CAUSE_OF_DEATH.code, DEATH_CERTIFICATE.code}
        self.window_safe = not any(c.code in kept_codes for codes in self.state_codes
                                   for c in codes)
        self._observed_text: list[tuple[str, str]] | None = None  # see observation_lines

    def value(self, kind: int, number: float, ref: int, entries: dict[int, Entry]) -> Any:
        if kind == K_NONE:
            return None
        if kind == K_BOOL:
            return number != 0.0
        if kind == K_INT:
            return int(number)
        if kind == K_FLOAT:
            return float(number)
        if kind == K_STR:
            return self.strings[ref]
        if kind == K_CODE:
            return self.codes[ref]
        if kind == K_ENTRY:
            return entries[ref]
        if kind == K_FORMAT:
            return self.formatted(ref, int(number))
        if kind == K_LIST:  # an observation's sampled data (J.SERIES rows before it)
            return list(self.samples.get(ref, ()))
        if kind == K_SERIES:
            return {"series": list(self.lowered.values[ref]), "period": number}
        raise AssertionError(f"attribute kind {kind}")

    def formatted(self, which: int, n: int, person: Any = None) -> str:
        """A text the lifecycle made (kernel.F_*): identifiers and married names."""
        if which == 0:
            return f"S999{n}"
        if which == 1:
            return f"X{n}X"
        from simulator.population.names import locale_names, numbered

        last = numbered(locale_names("en_US").last.names[n])
        if which == 2:
            return last
        a = self.person_attributes
        parts = [a.get("first_name"), a.get("middle_name"), last]
        return " ".join(p for p in parts if p)

    def assign_provider(self, enc: Encounter, network: Any, u: float) -> None:
        """PersonSim._assign_provider's provider part, with the clinician draw the kernel
        made: the person's nearest organization for the class (found once), a clinician there."""
        from simulator.engine.simulation import GENERAL_PRACTICE

        org = self.preferred.get(enc.encounter_class)
        if org is None:
            a = self.person_attributes
            org = network.nearest(a.get("lat", 0.0), a.get("lon", 0.0), enc.encounter_class)
            self.preferred[enc.encounter_class] = org
        enc.organization_id = org.id
        enc.clinician_id = network.clinician(org, GENERAL_PRACTICE, u).id

    def build(self, rows: np.ndarray, values: np.ndarray, since: int | None = None,
              as_text: bool = False) -> tuple[list[Encounter], dict[int, Entry], Billing]:
        """Encounters in creation order, the entries by kernel id, and the person's plans and
        claims (billed as the reference engine bills them, in the same order).

        With ``since`` (the export window's cut-off, simulator.export.history), observations
        and panels made at or before it are left out of the encounters: the window drops
        them, and they are 40% of a record's rows. A report made then keeps no observations
        (it is dropped too, and billed all the same). An entry left out is still made if a
        later row or attribute asks for it (``entries[id]``).

        ``as_text``: no observation or panel is made at all (reports keep none):
        :meth:`observation_lines` writes them as CSV lines instead."""
        skip_until = _FOREVER if as_text else (
            since if since is not None and self.window_safe else _NEVER)
        billing = Billing(self.payers)
        plans = self.plans

        def put(enc: Encounter, group: str, entry: Entry) -> None:
            """PersonSim.record_entry."""
            getattr(enc, group).append(entry)
            if enc.claim is not None:  # only an entry recorded after its visit was billed
                billing.recorded(enc, entry, group)

        encounters: list[Encounter] = []
        entries: dict[int, Entry] = _Entries(self, rows, values)
        codes = self.codes
        strings = self.strings
        models = self.models
        names = self.names
        state_codes = self.state_codes
        observed = self.observed
        code_lists = self.lowered.code_lists
        imaging_state = -1
        series_spec: Any = None
        network = self.network
        self.preferred = {}
        self.samples = {}
        # the rows left out are not visited at all (entries still finds them by id)
        left_out = _observation_rows(rows) & (rows[:, 1] <= skip_until)
        if left_out.any():
            made = np.flatnonzero(~left_out)
            rows, values = rows[made], values[made]
        floats = values.tolist()
        ids = uuid_texts(rows[:, 7], rows[:, 8])  # each row's entry id, if it makes an entry
        # by columns: a list per row would be allocated and freed 3,000 times a person
        columns = rows[:, :7].T.tolist()
        for i, (kind, time, a, b, c, d, e) in enumerate(zip(*columns, strict=True)):
            if kind == J_OBSERVATION:  # the most frequent rows first
                obs_codes, name, unit, category = observed[b]
                if d == K_FLOAT:
                    value = floats[i]
                elif d == K_INT:
                    value = int(floats[i])
                else:
                    value = self.value(d, floats[i], e, entries)
                obs = Observation(ids[i], time, list(obs_codes), name, time, value, unit,
                                  category)
                entries[a] = obs
                encounters[c].observations.append(obs)  # put(): an observation is never billed
            elif kind == J_PROCEDURE:
                proc = Procedure(ids[i], time,
                                 list(state_codes[b]) or [models[b].procedure_code],
                                 names[b], d, [], PROCEDURE_COST)
                entries[a] = proc
                put(encounters[c], "procedures", proc)
            elif kind in (J_REASON_ENTRY, J_REASON_CODE):
                target: Any = entries[a]
                if kind == J_REASON_CODE:
                    found = [codes[b]]
                else:
                    source = entries[b].codes
                    found = [source[0]] if d else source
                reasons = target.reasons
                for code in found:
                    if not c or code not in reasons:
                        reasons.append(code)
            elif kind == J_END_ENTRY:
                entry = entries[a]
                if entry.stop is None:
                    entry.stop = time
                if b >= 0 and hasattr(entry, "stop_reason"):
                    entry.stop_reason = codes[b]  # type: ignore[attr-defined]
            elif kind == J_ENCOUNTER:
                enc = Encounter(
                    id=ids[i], start=time, codes=[codes[x] for x in code_lists[d]],
                    name=strings[e], encounter_class=strings[b], owner=strings[c],
                    base_cost=encounter_cost(strings[b]),
                )
                if network is not None:
                    self.assign_provider(enc, network, floats[i])
                payer = billing.payer_id()
                if payer is not None:
                    enc.payer_id = payer
                encounters.append(enc)
            elif kind == J_ENCOUNTER_END:
                enc = encounters[a]
                enc.stop = b
                if not enc.ended:
                    enc.ended = True
                    billing.adjudicate(enc)
                if c >= 0:
                    enc.discharge = codes[c]
            elif kind == J_PLAN:
                billing.enrol(plans[a], time, b, c, lambda i=i: ids[i])
            elif kind == J_ENCOUNTER_REASON:
                encounters[a].reason = codes[b]
            elif kind == J_CONDITION:
                entry = Condition(id=ids[i], start=time, codes=list(state_codes[b]),
                                  name=names[b])
                entries[a] = entry
                put(encounters[c], "conditions", entry)
            elif kind == J_PENDING:
                entries[a] = Condition(id="", start=time, codes=list(state_codes[b]),
                                       name=names[b])
            elif kind == J_ALLERGY:
                st = models[b]
                entry = Allergy(id=ids[i], start=time, codes=list(st.codes),
                                name=names[b], allergy_type=st.allergy_type,
                                category=st.category, reactions=[])
                entries[a] = entry
                put(encounters[c], "allergies", entry)
            elif kind == J_ALLERGY_REACTION:
                allergy = entries[a]
                spec = models[d].reactions[b]
                allergy.reactions.append(Reaction(spec.reaction, _SEVERITY[c]))  # type: ignore[attr-defined]
            elif kind == J_TOUCH:
                entry = entries[a]
                entry.name = names[b]
                merge_codes(entry, state_codes[b])
            elif kind == J_MEDICATION:
                med_codes = state_codes[b]
                med = Medication(id=ids[i], start=time, codes=list(med_codes),
                                 name=names[b], stop=time if d else None,
                                 administration=bool(d), cost=medication_cost(med_codes[0].code))
                entries[a] = med
                put(encounters[c], "medications", med)
            elif kind == J_CHRONIC:
                entries[a].chronic = True  # type: ignore[attr-defined]
            elif kind == J_PRESCRIBE:
                entries[a].prescription = models[b].prescription  # type: ignore[attr-defined]
            elif kind == J_CAREPLAN:
                st = models[b]
                plan = CarePlan(id=ids[i], start=time, codes=list(st.codes),
                                name=names[b], activities=list(st.activities),
                                goals=list(st.goals))
                entries[a] = plan
                put(encounters[c], "careplans", plan)
            elif kind == J_SERIES:
                self.samples.setdefault(a, []).extend(self.lowered.values[b])
            elif kind == J_IMMUNIZATION:
                st = models[b]
                imm = Immunization(id=ids[i], start=time, codes=list(st.codes),
                                   name=names[b], series=st.series, cost=IMMUNIZATION_COST)
                entries[a] = imm
                put(encounters[c], "immunizations", imm)
            elif kind == J_SUPPLY:
                item = models[b].supplies[d]
                supply = Supply(id=ids[i], start=time, codes=[item.code],
                                name=names[b], stop=time, quantity=item.quantity)
                entries[a] = supply
                put(encounters[c], "supplies", supply)
            elif kind == J_RENEW:
                old: Any = entries[b]
                renewed = Medication(
                    id=ids[i], start=time, codes=list(old.codes), name=old.name,
                    reasons=list(old.reasons), prescription=old.prescription, chronic=True,
                    administration=old.administration, cost=old.cost,
                )
                entries[a] = renewed
                put(encounters[c], "medications", renewed)
            elif kind == J_PANEL:
                st = models[b]
                enc = encounters[c]
                moved = [enc.observations.pop() for _ in range(d)]
                panel = Observation(id=ids[i], start=time, codes=list(st.codes),
                                    name=names[b], stop=time, value=None, category=st.category,
                                    children=moved)
                entries[a] = panel
                enc.observations.append(panel)
            elif kind == J_REPORT:
                st = models[b]
                children = encounters[c].observations[-d:] if d and time > skip_until else []
                report = Report(id=ids[i], start=time, codes=list(st.codes),
                                name=names[b], stop=time, observations=list(children),
                                cost=REPORT_COST)
                entries[a] = report
                put(encounters[c], "reports", report)
            elif kind == J_DEVICE:
                st = models[b]
                device = Device(id=ids[i], start=time, codes=[st.code], name=names[b],
                                manufacturer=st.manufacturer, model=st.model,
                                device_identifier=str(d).rjust(14, "0")[:14],
                                manufacture_time=time - 3 * tu.WEEK,
                                expiration_time=time + 25 * tu.YEAR_365)
                entries[a] = device
                put(encounters[c], "devices", device)
            elif kind == J_DEVICE_NUMBERS:
                device = entries[a]  # type: ignore[assignment]
                device.lot_number = str(c)[:b]
                device.serial_number = str(e)[:d]
                device.udi = (f"(01){device.device_identifier}(11){_yymmdd(device.manufacture_time)}"
                              f"(17){_yymmdd(device.expiration_time)}(10){device.lot_number}"
                              f"(21){device.serial_number}")
            elif kind == J_IMAGING:
                st = models[b]
                study = ImagingStudy(id=ids[i], start=time, codes=[st.procedure_code],
                                     name=names[b], stop=time, uid=_dicom(time, d), series=[])
                entries[a] = study
                put(encounters[c], "imaging_studies", study)
                imaging_state = b
            elif kind == J_IMAGING_SERIES:
                study = entries[a]  # type: ignore[assignment]
                spec = models[imaging_state].series[b]
                number = len(study.series) + 1
                study.series.append(ImagingSeries(_dicom(time, d, number), spec.body_site,
                                                  spec.modality, []))
                series_spec = spec
            elif kind == J_IMAGING_INSTANCE:
                study = entries[a]  # type: ignore[assignment]
                series = study.series[-1]
                inst = series_spec.instances[b]
                series.instances.append(ImagingInstance(
                    _dicom(time, c, len(study.series), len(series.instances) + 1), inst.title,
                    inst.sop_class))
            elif kind == J_VACCINATION:
                vaccine = SCHEDULE[b]
                encounters[c].immunizations.append(Immunization(
                    id=ids[i], start=time, codes=[vaccine.code], name=vaccine.key,
                    series=d, cost=IMMUNIZATION_COST))
            elif kind == J_COVID_DOSE:
                encounters[c].immunizations.append(Immunization(
                    id=ids[i], start=time, codes=[codes[b]], name="covid19",
                    series=d, cost=IMMUNIZATION_COST))
            elif kind == J_DEATH:
                pass  # the kernel's final state says who died when
            else:
                raise AssertionError(f"journal record {kind}")
        return encounters, entries, billing

    def observation_lines(self, rows: np.ndarray, values: np.ndarray, entries: dict[int, Entry],
                          encounters: list[Encounter], patient_id: str,
                          since: int | None = None, died: int | None = None) -> None:
        """The observations ``build(..., as_text=True)`` left out, written into their
        encounters' ``observation_lines`` as the CSV exporter writes Observation objects: only
        those after ``since`` (the export window's cut-off; the program is ``window_safe``),
        none in an encounter after ``died``; in each encounter's order, a panel in place of
        the observations it took (the last first), written as those of them with a value."""
        from simulator.export.csv import observation_value
        from simulator.export.csv_text import clean, format_datetime, format_decimal1

        states = self._observed_text
        if states is None:
            states = self._observed_text = [
                (f"{category or ''},{codes[0].code if codes else ''},"
                 f"{clean(codes[0].display) if codes else ''}", clean(unit))
                for codes, _, unit, category in self.observed]
        kinds = rows[:, 0]
        chosen = np.flatnonzero((kinds == J_OBSERVATION) | (kinds == J_PANEL))
        if since is not None:
            chosen = chosen[rows[chosen, 1] > since]
        if not len(chosen):
            return
        # each encounter's list as build would leave it: a position in `chosen`, or a panel's
        # children (a list)
        kind_of, times, _, states_of, encounter_of, value_kinds, refs = (
            rows[chosen, :7].T.tolist())
        floats = values[chosen].tolist()
        held: dict[int, list[Any]] = {}
        for p, (kind, c, d) in enumerate(zip(kind_of, encounter_of, value_kinds, strict=True)):
            items = held.get(c)
            if items is None:
                items = held[c] = []
            if kind == J_OBSERVATION:
                items.append(p)
            else:  # a panel: d is how many observations it takes
                moved = items[len(items) - d:] if d else []
                del items[len(items) - len(moved):]
                moved.reverse()
                items.append(moved)
        for c, items in held.items():
            encounter = encounters[c]
            if died is not None and encounter.start > died:
                continue  # the record ends before it
            written: list[int] = []
            for item in items:
                if type(item) is int:
                    written.append(item)
                else:  # a panel: its children that are observations (a panel has no value)
                    written.extend(child for child in item if type(child) is int)
            prefix = f",{patient_id},{encounter.id},"
            lines = []
            for p in written:
                d = value_kinds[p]
                if d == K_FLOAT:
                    value, kind = format_decimal1(floats[p]), "numeric"
                elif d == K_INT:
                    value, kind = str(int(floats[p])), "text"
                elif d == K_NONE:
                    continue  # no value: not written
                else:
                    value, kind = observation_value(self.value(d, floats[p], refs[p], entries))
                coded, unit = states[states_of[p]]
                lines.append(f"{format_datetime(times[p])}{prefix}{coded},{value},{unit},{kind}")
            if lines:
                encounter.observation_lines = lines


def _observation_rows(rows: np.ndarray) -> np.ndarray:
    """Which journal rows make an observation or a panel: the rows build may leave out."""
    kinds = rows[:, 0]
    return (kinds == J_OBSERVATION) | (kinds == J_PANEL)


class _Entries(dict[int, Entry]):
    """A person's entries by kernel id; an observation that build left out is made on the
    first ask (a reason or an attribute naming it), outside any encounter."""

    def __init__(self, replay: Replay, rows: np.ndarray, values: np.ndarray) -> None:
        super().__init__()
        self.replay = replay
        self.rows = rows
        self.values = values

    def __missing__(self, key: int) -> Entry:
        found = np.flatnonzero(_observation_rows(self.rows) & (self.rows[:, 2] == key))
        if len(found) == 0:
            raise KeyError(key)
        i = int(found[0])
        kind, time, _, b, _, d, e = (int(x) for x in self.rows[i, :7])
        replay = self.replay
        (uid,) = uuid_texts(self.rows[i:i + 1, 7], self.rows[i:i + 1, 8])
        obs_codes, name, unit, category = replay.observed[b]
        if kind == J_PANEL:
            value = None
            unit, category = "", getattr(replay.models[b], "category", None)
        else:
            value = replay.value(d, float(self.values[i]), e, self)
        entry = self[key] = Observation(uid, time, list(obs_codes), name, time, value, unit,
                                        category)
        return entry


def _codes_of(model: Any) -> list[Any]:
    return list(getattr(model, "codes", None) or [])


def _yymmdd(ms: int) -> str:
    y, m, d = tu.ymd(ms)
    return f"{y % 100:02d}{m:02d}{d:02d}"


def _dicom(now: int, salt: int, *parts: int) -> str:
    """states._dicom_uid from its drawn salt."""
    middle = "".join(f".{p}" for p in parts)
    return f"1.2.840.99999999{middle}.{salt}.{abs(now)}"
