"""The Patient resource (fhir-export.md §3.1)."""

from __future__ import annotations

from typing import Any

from simulator.export.fhir.codes import SYNTHEA, TERMINOLOGY, US_CORE, date, datetime
from simulator.record import Patient

_OMB = "urn:oid:2.16.840.1.113883.6.238"
RACES = {
    "white": ("2106-3", "White"),
    "black": ("2054-5", "Black or African American"),
    "asian": ("2028-9", "Asian"),
    "native": ("1002-5", "American Indian or Alaska Native"),
    "hawaiian": ("2076-8", "Native Hawaiian or Other Pacific Islander"),
}
ETHNICITIES = {"hispanic": ("2135-2", "Hispanic or Latino"),
               "nonhispanic": ("2186-5", "Not Hispanic or Latino")}
MARITAL = {"M": "Married", "S": "Never Married", "D": "Divorced", "W": "Widowed",
           "A": "Annulled", "I": "Interlocutory", "L": "Legally Separated",
           "P": "Polygamous", "T": "Domestic partner", "U": "unmarried"}
# BCP-47 tags (IANA language subtag registry) for the first languages the population draws
# (simulator.population.geography.LANGUAGES).
LANGUAGES = {
    "english": ("en-US", "English (United States)"), "spanish": ("es", "Spanish"),
    "french": ("fr", "French"), "german": ("de", "German"), "italian": ("it", "Italian"),
    "polish": ("pl", "Polish"), "portuguese": ("pt", "Portuguese"), "russian": ("ru", "Russian"),
    "greek": ("el", "Greek"), "chinese": ("zh", "Chinese"), "japanese": ("ja", "Japanese"),
    "korean": ("ko", "Korean"), "vietnamese": ("vi", "Vietnamese"), "hindi": ("hi", "Hindi"),
    "hawaiian": ("haw", "Hawaiian"), "arabic": ("ar", "Arabic"),
}


def official_name(p: Patient) -> str:
    """The name as one string, e.g. "Mr. John123 Smith456" (Encounter.subject.display)."""
    return " ".join(x for x in (p.prefix, p.first, p.last) if x)


def _omb(url: str, code: str, display: str, system: str = _OMB) -> dict[str, Any]:
    return {"url": url, "extension": [
        {"url": "ombCategory", "valueCoding": {"system": system, "code": code, "display": display}},
        {"url": "text", "valueString": display},
    ]}


def patient_resource(p: Patient, text: str) -> dict[str, Any]:
    race = RACES.get(p.race)
    if race is None:
        race_ext = {"url": US_CORE + "us-core-race", "extension": [
            {"url": "ombCategory", "valueCoding": {"system": TERMINOLOGY + "v3-NullFlavor",
                                                   "code": "UNK", "display": "Unknown"}},
            {"url": "text", "valueString": "Other"}]}
    else:
        race_ext = _omb(US_CORE + "us-core-race", *race)
    eth = ETHNICITIES.get(p.ethnicity, ETHNICITIES["nonhispanic"])
    extension: list[dict[str, Any]] = [race_ext, _omb(US_CORE + "us-core-ethnicity", *eth)]
    if p.mothers_maiden_name:
        extension.append({"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
                          "valueString": p.mothers_maiden_name})
    extension.append({"url": US_CORE + "us-core-birthsex", "valueCode": p.gender or "UNK"})
    if p.birth_city or p.birth_state or p.birth_country:
        place = {k: v for k, v in (("city", p.birth_city), ("state", p.birth_state),
                                   ("country", p.birth_country)) if v}
        extension.append({"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                          "valueAddress": place})

    v2 = TERMINOLOGY + "v2-0203"
    identifier: list[dict[str, Any]] = [
        {"system": SYNTHEA, "value": p.id},
        {"type": {"coding": [{"system": v2, "code": "MR", "display": "Medical Record Number"}],
                  "text": "Medical Record Number"},
         "system": "http://hospital.smarthealthit.org", "value": p.id},
    ]
    if p.ssn:
        identifier.append({"type": {"coding": [{"system": v2, "code": "SS",
                                                "display": "Social Security Number"}],
                                    "text": "Social Security Number"},
                           "system": "http://hl7.org/fhir/sid/us-ssn", "value": p.ssn})
    if p.drivers:
        identifier.append({"type": {"coding": [{"system": v2, "code": "DL",
                                                "display": "Driver's license number"}],
                                    "text": "Driver's license number"},
                           "system": "urn:oid:2.16.840.1.113883.4.3.25", "value": p.drivers})
    if p.passport:
        identifier.append({"type": {"coding": [{"system": v2, "code": "PPN",
                                                "display": "Passport Number"}],
                                    "text": "Passport Number"},
                           "system": "http://hl7.org/fhir/sid/passport-USA", "value": p.passport})

    name: dict[str, Any] = {"use": "official", "family": p.last or "Unknown"}
    given = [x for x in (p.first, p.middle) if x]
    if given:
        name["given"] = given
    if p.prefix:
        name["prefix"] = [p.prefix]
    if p.suffix:
        name["suffix"] = [p.suffix]
    names = [name]
    if p.maiden and p.gender == "F" and p.marital == "M":
        maiden = {"use": "maiden", "family": p.maiden}
        if given:
            maiden["given"] = given
        names.append(maiden)

    r: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p.id,
        "meta": {"profile": [US_CORE + "us-core-patient"]},
        "text": {"status": "generated",
                 "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'},
        "extension": extension,
        "identifier": identifier,
        "name": names,
    }
    if p.phone:
        r["telecom"] = [{"system": "phone", "value": p.phone, "use": "home"}]
    r["gender"] = "female" if p.gender == "F" else "male" if p.gender == "M" else "unknown"
    r["birthDate"] = date(p.birthdate)
    if p.deathdate is not None:
        r["deceasedDateTime"] = datetime(p.deathdate)
    address: dict[str, Any] = {}
    if p.lat is not None and p.lon is not None:
        address["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/geolocation",
                                 "extension": [{"url": "latitude", "valueDecimal": p.lat},
                                               {"url": "longitude", "valueDecimal": p.lon}]}]
    if p.address:
        address["line"] = [p.address]
    for key, value in (("city", p.city), ("state", _state_abbreviation(p.state)),
                       ("postalCode", p.zip)):
        if value:
            address[key] = value
    address["country"] = "US"
    r["address"] = [address]
    status = p.marital or "S"
    r["maritalStatus"] = {"coding": [{"system": TERMINOLOGY + "v3-MaritalStatus",
                                      "code": status, "display": MARITAL.get(status, status)}],
                          "text": MARITAL.get(status, status)}
    if p.multiple_birth:
        r["multipleBirthInteger"] = p.multiple_birth
    else:
        r["multipleBirthBoolean"] = False
    tag, display = LANGUAGES.get(p.language.lower(), ("en-US", "English (United States)"))
    r["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": tag,
                                                    "display": display}],
                                        "text": display}}]
    return r


def _state_abbreviation(state: str) -> str:
    if len(state) <= 2:
        return state
    from simulator.errors import UserError
    from simulator.population.state_data import state_profile

    try:
        return state_profile(state).abbreviation
    except UserError:  # a state name we do not know is written as given
        return state
