"""The numbers the lowering and the kernel agree on: state types, condition bytecode, journal
records and kernel results."""

from __future__ import annotations

from enum import IntEnum


class StateType(IntEnum):
    INITIAL = 0
    TERMINAL = 1
    SIMPLE = 2
    GUARD = 3
    DELAY = 4
    SET_ATTRIBUTE = 5
    COUNTER = 6
    CALL_SUBMODULE = 7
    PHYSIOLOGY = 8
    ENCOUNTER = 9
    ENCOUNTER_END = 10
    CONDITION_ONSET = 11
    CONDITION_END = 12
    ALLERGY_ONSET = 13
    ALLERGY_END = 14
    MEDICATION_ORDER = 15
    MEDICATION_END = 16
    CAREPLAN_START = 17
    CAREPLAN_END = 18
    PROCEDURE = 19
    OBSERVATION = 20
    VACCINE = 21
    SUPPLY_LIST = 22
    SYMPTOM = 23
    DEATH = 24
    MULTI_OBSERVATION = 25
    DIAGNOSTIC_REPORT = 26
    IMAGING_STUDY = 27
    DEVICE = 28
    DEVICE_END = 29
    VITAL_SIGN = 30


STATE_TYPES = {
    "Initial": StateType.INITIAL, "Terminal": StateType.TERMINAL, "Simple": StateType.SIMPLE,
    "Guard": StateType.GUARD, "Delay": StateType.DELAY, "SetAttribute": StateType.SET_ATTRIBUTE,
    "Counter": StateType.COUNTER, "CallSubmodule": StateType.CALL_SUBMODULE,
    "Physiology": StateType.PHYSIOLOGY, "Encounter": StateType.ENCOUNTER,
    "EncounterEnd": StateType.ENCOUNTER_END, "ConditionOnset": StateType.CONDITION_ONSET,
    "ConditionEnd": StateType.CONDITION_END, "AllergyOnset": StateType.ALLERGY_ONSET,
    "AllergyEnd": StateType.ALLERGY_END, "MedicationOrder": StateType.MEDICATION_ORDER,
    "MedicationEnd": StateType.MEDICATION_END, "CarePlanStart": StateType.CAREPLAN_START,
    "CarePlanEnd": StateType.CAREPLAN_END, "Procedure": StateType.PROCEDURE,
    "Observation": StateType.OBSERVATION, "Vaccine": StateType.VACCINE,
    "SupplyList": StateType.SUPPLY_LIST, "Symptom": StateType.SYMPTOM, "Death": StateType.DEATH,
    "MultiObservation": StateType.MULTI_OBSERVATION,
    "DiagnosticReport": StateType.DIAGNOSTIC_REPORT, "ImagingStudy": StateType.IMAGING_STUDY,
    "Device": StateType.DEVICE, "DeviceEnd": StateType.DEVICE_END,
    "VitalSign": StateType.VITAL_SIGN,
}


class Op(IntEnum):
    """Condition bytecode: a stack machine over booleans; operands follow the opcode."""

    END = 0
    TRUE = 1
    FALSE = 2
    NOT = 3
    POP = 4
    JUMP_FALSE = 5  # target: jump if the top is False (keeping it)
    JUMP_TRUE = 6  # target
    AT_LEAST = 7  # n, minimum
    AT_MOST = 8  # n, maximum
    ATTR_IS_STR = 9  # slot, string: attributes.get(slot) == string
    RACE = 10  # slot, lower-case string
    AGE = 11  # months per unit, operator, const
    YEAR = 12  # operator, const
    MONTH = 13  # operator, const
    INSTANT = 14  # operator, const
    SYMPTOM = 15  # symptom, operator, const
    ATTRIBUTE = 16  # slot, operator, kind, const, ref
    PRIOR_STATE = 17  # name, since (or -1), const within ms (or -1)
    ACTIVE_CODES = 18  # must be open, n, code texts...
    ACTIVE_ATTR = 19  # must be open, slot
    OBSERVATION_CODES = 20  # operator, kind, const, ref, n, code texts...
    OBSERVATION_ATTR = 21  # operator, kind, const, ref, slot
    VITAL = 22  # vital sign, operator, const


# Guard flip kinds (rows of the flips table: kind, a, b, c)
FLIP_AGE = 0  # up to three ages in months (or -1)
FLIP_POINTS = 1  # two instants
FLIP_MONTH = 2  # the 1st of the next month


class J(IntEnum):
    """Journal records: what the kernel did to the record, in order, for the replay.
    Every row is (kind, time, a, b, c, d, e) integers plus one float."""

    ENCOUNTER = 0  # entry id, state (or -1 engine), class string, owner string, code list, name
    ENCOUNTER_END = 1  # encounter, stop, discharge code (or -1)
    ENCOUNTER_REASON = 2  # encounter, code
    CONDITION = 3  # entry, state, encounter
    ALLERGY = 4  # entry, state, encounter; reactions follow as ALLERGY_REACTION rows
    ALLERGY_REACTION = 5  # entry, reaction index, severity (0 mild, 1 moderate, 2 severe)
    TOUCH = 6  # entry, state: name := state's name, merge the state's codes
    END_ENTRY = 7  # entry, stop reason code (or -1)
    MEDICATION = 8  # entry, state, encounter, administration
    CHRONIC = 9  # entry
    PRESCRIBE = 10  # entry, state: the state's prescription
    REASON_CODE = 11  # entry, code
    REASON_ENTRY = 12  # entry, source entry: all its codes now (or only the first: c=1)
    CAREPLAN = 13  # entry, state, encounter
    PROCEDURE = 14  # entry, state (or code list with b<0), encounter, stop
    OBSERVATION = 15  # entry, state, encounter, value kind, value ref; float value
    IMMUNIZATION = 16  # entry, state, encounter
    SUPPLY = 17  # entry, state, encounter, supply index
    RENEW = 18  # new entry, old entry, encounter
    DEATH = 19  # when, cause code (or -1)
    PENDING = 20  # entry, state: an onset waiting for its encounter (in an attribute only)
    PANEL = 21  # entry, state, encounter, children: the last children observations move in
    REPORT = 22  # entry, state, encounter, children: the last children observations
    DEVICE = 23  # entry, state, encounter, device-identifier bits
    DEVICE_NUMBERS = 24  # entry, lot digits, lot bits, serial digits, serial bits
    IMAGING = 25  # entry, state, encounter, study uid salt
    IMAGING_SERIES = 26  # entry, series spec, instances, uid salt
    IMAGING_INSTANCE = 27  # entry, instance spec, uid salt
    VACCINATION = 28  # -, vaccine (immunizations.SCHEDULE), encounter, series
    COVID_DOSE = 29  # -, vaccine code, encounter, series
    PLAN = 30  # plan (insurance.plans_in_order), period end, age, new period; member id bits
    SERIES = 31  # entry, series (Lowered.series): samples of the entry's sampled data


# Kernel results
OK = 0
GROW = 1  # a buffer was too small: grow it (which one: in the result's detail) and run again
FAULT = 2  # the module did something the reference engine reports as an error
