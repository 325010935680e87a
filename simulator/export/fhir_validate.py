"""Validate exported FHIR R4 resources and bundles.

Three independent checks per resource, each reported with the resource path that failed:

* ``schema``: the official HL7 FHIR R4 (4.0.1) JSON schema
  (``simulator/data/fhir.r4.schema.json.gz``, provenance in
  ``data-sources/fhir_r4_schema/README.md``), evaluated by a small compiler of the
  handful of JSON-schema keywords that file uses (see :class:`_SchemaCompiler` for why not
  fastjsonschema), plus a reference-shape check;
* ``r4b``: the ``fhir.resources.R4B`` pydantic models, which check primitive formats and
  choice-type rules the JSON schema cannot express, minus the few R4 constructs R4B dropped
  (:data:`R4B_TOLERATED`);
* ``us-core``: for every US Core 6.1.0 profile a resource claims in ``meta.profile``, the profile's
  mandatory elements, required slices, fixed unit codes and a few invariants (:data:`PROFILES`).

Bundles additionally get bdl-7 (unique fullUrl) and resolution of ``urn:uuid:`` references.
Every message is ``"<check>: <Type>.<path>: <problem>"``; bundle messages are prefixed with
``"Bundle: "`` (the bundle's own structure) or ``"entry[i] <Type>/<id>: "``.

    messages = validator().validate_bundle(bundle)   # [] when valid
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date as _date
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "fhir.r4.schema.json.gz"

# --------------------------------------------------------------------------------------------
# (a) The official R4 JSON schema
# --------------------------------------------------------------------------------------------

# A check appends "<path>: <problem>" strings to `errors`; `refs` collects (path, reference)
# pairs so a bundle can resolve them afterwards without walking every resource a second time.
# Paths travel as (parent, key) pairs and become text only for a message: formatting a string
# for every element visited was most of the walker's time.
Loc = Any  # str at the root, else tuple[Loc, str | int]
Check = Callable[[Any, Loc, "_Ctx"], None]


def path_text(path: Loc) -> str:
    parts: list[str] = []
    while type(path) is tuple:
        path, key = path
        parts.append(f"[{key}]" if type(key) is int else f".{key}")
    parts.append(path)
    return "".join(reversed(parts))


@dataclass
class _Ctx:
    errors: list[str] = field(default_factory=list)
    refs: list[tuple[Loc, str]] = field(default_factory=list)


def _accept(value: Any, path: Loc, ctx: _Ctx) -> None:
    return None


# Exact Python types of parsed JSON. A bool is not a JSON number even though bool subclasses
# int, which the exact test gets right for free.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    # JSON-schema patterns are ECMA regexes: a final `$` must not match before a trailing
    # newline, which Python's `$` does; `\Z` is the ECMA meaning.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Reference shapes allowed in our output (FHIR R4 references.html: relative `Type/id`, absolute
# URL, `#id` to a contained resource; bundle.html: `urn:uuid:`/`urn:oid:` fullUrls and, in
# transactions, conditional `Type?search` references). The uuid and id grammars are the schema's.
_UUID_REF = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_OID_REF = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+\Z")
_ID = r"[A-Za-z0-9\-\.]{1,64}"


class _SchemaCompiler:
    """Turns definitions of the FHIR JSON schema into nested Python closures, once each.

    The R4 schema only uses `$ref`, `oneOf`, `type`, `enum`, `const`, `pattern`, `items`,
    `properties`, `additionalProperties` (always false) and `required`; each gets the exact
    draft-06 meaning (keywords only constrain instances of their own JSON type). fastjsonschema
    would be the obvious tool, but every resource reaches every other through `contained`, so
    it generates ~78 MB of Python per resource type and needs 13-20 s to compile it; this walker
    builds in milliseconds and reports every error instead of the first. The tests check it
    against fastjsonschema on resources with `contained` cut off.
    """

    def __init__(self, schema: dict[str, Any], opaque: frozenset[str] = frozenset(),
                 reference_shapes: bool = True) -> None:
        self._defs: dict[str, Any] = schema["definitions"]
        self._reference_shapes = reference_shapes
        self.resource_types: frozenset[str] = frozenset(schema["discriminator"]["mapping"])
        self._opaque = opaque  # definitions accepted without looking (bundle shell)
        self._compiled: dict[str, Check] = {}
        # Choice elements (valueDateTime...) repeat their primitive's pattern inline; naming
        # the primitive makes "not a valid FHIR dateTime" messages possible there too.
        named: dict[str, list[str]] = {}
        for key, node in self._defs.items():
            if "pattern" in node:
                named.setdefault(node["pattern"], []).append(key)
        self._pattern_names = {pat: "/".join(keys) for pat, keys in named.items()}
        types = "|".join(sorted(self.resource_types, key=len, reverse=True))
        self._relative = re.compile(rf"(https?://\S+/)?({types})/{_ID}(/_history/{_ID})?\Z")
        self._conditional = re.compile(rf"({types})\?\S+\Z")

    def definition(self, name: str) -> Check:
        compiled = self._compiled.get(name)
        if compiled is not None:
            return compiled
        if name in self._opaque:
            self._compiled[name] = _accept
            return _accept
        # Recursive definitions (Extension inside Extension) see this trampoline until the
        # real closure exists.
        slot: list[Check] = []

        def later(value: Any, path: Loc, ctx: _Ctx) -> None:
            slot[0](value, path, ctx)

        self._compiled[name] = later
        if name == "ResourceList":
            check = self._resource_list()
        else:
            check = self._node(self._defs[name], name)
            if name == "Reference" and self._reference_shapes:
                check = self._with_reference_shape(check)
        slot.append(check)
        self._compiled[name] = check
        return check

    def _resource_list(self) -> Check:
        # `oneOf` over every resource, each pinning `resourceType` with `const`: at most one
        # branch can match, so dispatching on resourceType gives exactly the oneOf verdict
        # with the chosen branch's own messages.
        def check(value: Any, path: Loc, ctx: _Ctx) -> None:
            kind = value.get("resourceType") if isinstance(value, dict) else None
            if isinstance(kind, str) and kind in self.resource_types:
                self.definition(kind)(value, path, ctx)
            else:
                ctx.errors.append(
                    f"{path_text(path)}: not a resource of a known type ({_short(kind)})")

        return check

    def _with_reference_shape(self, base: Check) -> Check:
        def check(value: Any, path: Loc, ctx: _Ctx) -> None:
            base(value, path, ctx)
            ref = value.get("reference") if isinstance(value, dict) else None
            if not isinstance(ref, str):
                return
            ctx.refs.append((path, ref))
            if ref.startswith("urn:uuid:"):
                ok = _UUID_REF.match(ref) is not None
            elif ref.startswith("urn:oid:"):
                ok = _OID_REF.match(ref) is not None
            elif ref.startswith("#"):
                ok = re.fullmatch(_ID, ref[1:]) is not None
            else:
                ok = bool(self._relative.match(ref) or self._conditional.match(ref))
            if not ok:
                ctx.errors.append(
                    f"{path_text(path)}.reference: {_short(ref)} is not a literal reference "
                    "(Type/id, absolute URL, #id, urn:uuid:, urn:oid: or Type?query)"
                )

        return check

    def _node(self, node: dict[str, Any], name: str | None = None) -> Check:
        checks: list[Check] = []
        if "$ref" in node:
            checks.append(self.definition(node["$ref"].rsplit("/", 1)[-1]))
        if "oneOf" in node:
            branches = [self._node(branch) for branch in node["oneOf"]]
            checks.append(_one_of(branches))
        type_name = node.get("type")
        allowed = _JSON_TYPES[type_name] if type_name is not None else None
        if "enum" in node:
            checks.append(_enum(tuple(node["enum"])))
        if "const" in node:
            checks.append(_const(node["const"]))
        if "pattern" in node:
            what = self._pattern_names.get(node["pattern"], name)
            if type_name == "string" and len(node.keys() - {"description", "pattern"}) == 1:
                # The shape of every string primitive: one closure instead of three.
                return _typed_string(_ecma_pattern(node["pattern"]), what)
            checks.append(_pattern(_ecma_pattern(node["pattern"]), what))
        if "items" in node:
            checks.append(_items(self._node(node["items"])))
        if "properties" in node or "required" in node:
            props = {key: self._node(sub) for key, sub in node.get("properties", {}).items()}
            closed = node.get("additionalProperties") is False
            checks.append(_object(props, closed, tuple(node.get("required", ()))))
        elif node.get("additionalProperties") is False:
            checks.append(_object({}, True, ()))

        if allowed is None:
            # Most nodes are a bare `$ref` (plus a description): skip the wrapper.
            if not checks:
                return _accept
            if len(checks) == 1:
                return checks[0]
        expected = f"FHIR {name}" if name else type_name

        def check(value: Any, path: Loc, ctx: _Ctx) -> None:
            if allowed is not None and type(value) not in allowed:
                ctx.errors.append(f"{path_text(path)}: expected {expected}, got "
                                  f"{_json_type(value)} {_short(value)}")
                return
            for sub in checks:
                sub(value, path, ctx)

        return check


def _one_of(branches: list[Check]) -> Check:
    def check(value: Any, path: Loc, ctx: _Ctx) -> None:
        matches = 0
        for branch in branches:
            trial = _Ctx()
            branch(value, path, trial)
            matches += not trial.errors
        if matches != 1:
            ctx.errors.append(
                f"{path_text(path)}: must match exactly one alternative ({matches} match)")

    return check


def _enum(allowed: tuple[Any, ...]) -> Check:
    options = set(allowed)
    shown = ", ".join(map(str, allowed[:12])) + (", ..." if len(allowed) > 12 else "")

    def check(value: Any, path: Loc, ctx: _Ctx) -> None:
        if isinstance(value, str | int | float | bool) and value in options:
            return
        ctx.errors.append(
            f"{path_text(path)}: {_short(value)} is not one of the allowed codes ({shown})")

    return check


def _const(expected: Any) -> Check:
    def check(value: Any, path: Loc, ctx: _Ctx) -> None:
        if value != expected:
            ctx.errors.append(f"{path_text(path)}: must be {_short(expected)}, got {_short(value)}")

    return check


# The schema's date patterns accept any day 01-31 in any month, but the R4 datatype definitions
# (repeated in the schema's descriptions) say "Dates SHALL be valid dates". Checking it here,
# on every value, is what lets the R4B models (which do check it) run once per shape.
_CALENDAR_TYPES = frozenset({"date", "dateTime", "instant"})


def _calendar_ok(value: str) -> bool:
    if len(value) < 10 or value[8:10] <= "28":
        return True
    try:
        _date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def _pattern(regex: re.Pattern[str], name: str | None) -> Check:
    what = f"a valid FHIR {name}" if name else f"matching {regex.pattern}"
    calendar = name in _CALENDAR_TYPES

    def check(value: Any, path: Loc, ctx: _Ctx) -> None:
        if isinstance(value, str) and (regex.search(value) is None
                                       or (calendar and not _calendar_ok(value))):
            ctx.errors.append(f"{path_text(path)}: {_short(value)} is not {what}")

    return check


def _typed_string(regex: re.Pattern[str], name: str | None) -> Check:
    what = f"a valid FHIR {name}" if name else f"matching {regex.pattern}"
    search = regex.search
    calendar = name in _CALENDAR_TYPES

    def check(value: Any, path: Loc, ctx: _Ctx) -> None:
        if type(value) is not str:
            ctx.errors.append(f"{path_text(path)}: expected string ({name}), got "
                              f"{_json_type(value)} {_short(value)}")
        elif search(value) is None or (calendar and not _calendar_ok(value)):
            ctx.errors.append(f"{path_text(path)}: {_short(value)} is not {what}")

    return check


def _items(item: Check) -> Check:
    def check(value: Any, path: Loc, ctx: _Ctx) -> None:
        if type(value) is list:
            for i, element in enumerate(value):
                item(element, (path, i), ctx)

    return check


def _object(props: dict[str, Check], closed: bool, required: tuple[str, ...]) -> Check:
    def check(value: Any, path: Loc, ctx: _Ctx) -> None:
        if type(value) is not dict:
            return
        for key, element in value.items():
            sub = props.get(key)
            if sub is not None:
                sub(element, (path, key), ctx)
            elif closed:
                ctx.errors.append(f"{path_text(path)}: unknown element {key!r}")
        for key in required:
            if key not in value:
                ctx.errors.append(f"{path_text(path)}: missing required element {key!r}")

    return check


@cache
def load_schema() -> dict[str, Any]:
    """The official R4 schema, parsed once per process."""
    return json.loads(gzip.decompress(SCHEMA_PATH.read_bytes()))


# --------------------------------------------------------------------------------------------
# (b) fhir.resources R4B models
# --------------------------------------------------------------------------------------------

# R4 constructs that the R4B models reject. Found by walking every element of every R4 resource
# in the shipped schema against the R4B model fields (types and nested datatypes included):
#  - R4B turned these datatype parts from BackboneElement into Element, dropping
#    `modifierExtension`, which R4 allows on them;
#  - R4 4.0.1 added `Meta` to the open types (`valueMeta` & co.); R4B's Extension and
#    ElementDefinition lack those members.
# Keys are (R4B model class, JSON element name); everything else R4B rejects is reported, and
# the schema check still judges these elements.
R4B_TOLERATED: frozenset[tuple[str, str]] = frozenset(
    {(cls, "modifierExtension") for cls in (
        "TimingRepeat", "DosageDoseAndRate", "DataRequirementCodeFilter",
        "DataRequirementDateFilter", "DataRequirementSort", "ElementDefinitionBase",
        "ElementDefinitionBinding", "ElementDefinitionConstraint", "ElementDefinitionExample",
        "ElementDefinitionMapping", "ElementDefinitionSlicing",
        "ElementDefinitionSlicingDiscriminator", "ElementDefinitionType")}
    | {("Extension", "valueMeta"), ("ElementDefinitionExample", "valueMeta"),
       ("ElementDefinition", "defaultValueMeta"), ("ElementDefinition", "fixedMeta"),
       ("ElementDefinition", "patternMeta")}
)
# R4 resource types R4B removed (no model) or rebuilt (Evidence, EvidenceVariable: 10 and 19
# R4 elements gone): not model-checked at all. None of them is exported.
R4B_UNCHECKED: frozenset[str] = frozenset(
    {"EffectEvidenceSynthesis", "RiskEvidenceSynthesis", "Evidence", "EvidenceVariable",
     "MedicinalProduct", "MedicinalProductAuthorization", "MedicinalProductContraindication",
     "MedicinalProductIndication", "MedicinalProductIngredient",
     "MedicinalProductInteraction", "MedicinalProductManufactured",
     "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
     "MedicinalProductUndesirableEffect", "SubstanceNucleicAcid", "SubstancePolymer",
     "SubstanceProtein", "SubstanceReferenceInformation", "SubstanceSourceMaterial",
     "SubstanceSpecification"}
)


def shape(value: Any) -> Any:
    """A hashable outline of a JSON value: keys, nesting and JSON types, not the values.

    List lengths are folded (distinct element outlines only) and integers keep their sign,
    since R4B checks unsignedInt/positiveInt ranges that the schema leaves to patterns it
    cannot apply to numbers.
    """
    # Exact type tests, most frequent first: this runs on every node of every resource.
    kind = type(value)
    if kind is str:
        return "s" if value else "s0"
    if kind is dict:
        return tuple([(key, shape(item)) for key, item in value.items()])
    if kind is list:
        return ("[", *dict.fromkeys([shape(item) for item in value]))
    if kind is bool:
        return "b"
    if kind is int:
        return "i+" if value > 0 else ("i0" if value == 0 else "i-")
    return kind.__name__


@cache
def _r4b_model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _r4b_parent_class(model: Any, loc: tuple[Any, ...]) -> str | None:
    """Class name of the model that owns the element at ``loc`` (None when not resolvable)."""
    import typing

    cls = model
    for step in loc[:-1]:
        if isinstance(step, int):
            continue
        fields = {f.alias or n: f for n, f in cls.model_fields.items()}
        f = fields.get(step)
        if f is None:
            return None
        pending, found = [f.annotation], None
        while pending:
            ann = pending.pop()
            if hasattr(ann, "get_model_klass"):
                found = ann.get_model_klass()
                break
            pending.extend(typing.get_args(ann))
        if found is None:
            return None
        cls = found
    return cls.__name__


def _r4b_messages(resource: dict[str, Any], kind: str) -> list[str]:
    from pydantic import ValidationError

    if kind in R4B_UNCHECKED:
        return []
    model = _r4b_model(kind)
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            if (
                err.get("type") == "extra_forbidden"
                and loc
                and (_r4b_parent_class(model, loc), loc[-1]) in R4B_TOLERATED
            ):
                continue
            path = kind + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in loc)
            msg = " ".join(str(err.get("msg", "")).split())
            out.append(f"{path}: {msg}")
        return out
    return []


# --------------------------------------------------------------------------------------------
# (c) US Core 6.1.0 required elements
# --------------------------------------------------------------------------------------------
#
# Paths are dotted element names relative to the resource; `name[x]` is a choice element and
# `a|b` is satisfied by either. A required path `a.b.c` means every `a.b` present has a `c`
# (FHIR minimum cardinalities are relative to the parent), so top-level mandatory elements are
# listed as one-step paths.
#
# Sources, per profile: the "Mandatory and Must Support" section and formal views of
# https://hl7.org/fhir/us/core/STU6.1/StructureDefinition-<profile>.html. The mandatory element
# lists were read from the machine extraction of the 6.1.0 package in the ONC/Inferno US Core
# test kit (inferno-framework/us-core-test-kit, lib/us_core_test_kit/generated/v6.1.0/<profile>/
# metadata.yml, `mandatory_elements`), which includes children that are mandatory in the base
# R4 resource once their parent is present. Slice cardinalities (`_required` / min 1) come from
# the US Core FHIR-Schema renderings of the same StructureDefinitions (get-ig.org, package
# hl7.fhir.us.core). Unit value sets: R4 valueset-ucum-bodyweight/-bodylength/-bodytemp.

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
_OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_LOINC = "http://loinc.org"
_UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Slice:
    """A slice with min >= 1: some element at `path` carries the coding system#code."""

    name: str
    path: str
    coding: str  # path from the sliced element to its Coding list
    system: str
    codes: frozenset[str]
    fixed: tuple[tuple[str, frozenset[str]], ...] = ()  # applied to matching elements


@dataclass(frozen=True)
class Profile:
    resource_type: str
    required: tuple[str, ...]
    slices: tuple[Slice, ...] = ()
    fixed: tuple[tuple[str, frozenset[str]], ...] = ()  # value, when present, from this set
    invariants: tuple[str, ...] = ()
    source: str = ""


def _page(profile_id: str) -> str:
    return f"https://hl7.org/fhir/us/core/STU6.1/StructureDefinition-{profile_id}.html"


_OBS_BASE = ("status", "code", "subject", "component.code")
_VITALS_REQ = (*_OBS_BASE, "category", "category.coding", "category.coding.system",
               "category.coding.code", "effective[x]")
_QTY_REQ = ("valueQuantity.value", "valueQuantity.unit", "valueQuantity.system",
            "valueQuantity.code")
_VSCAT = Slice("VSCat", "category", "coding", _OBS_CATEGORY, frozenset({"vital-signs"}))


def _vital(profile_id: str, loinc: Iterable[str], units: Iterable[str] | None) -> Profile:
    fixed: tuple[tuple[str, frozenset[str]], ...] = (("valueQuantity.system", frozenset({_UCUM})),)
    if units is not None:
        fixed += (("valueQuantity.code", frozenset(units)),)
    return Profile(
        "Observation",
        (*_VITALS_REQ, *_QTY_REQ),
        (_VSCAT, Slice("code", "code", "coding", _LOINC, frozenset(loinc))),
        fixed,
        ("vs-2",),
        _page(profile_id),
    )


_BP_COMPONENT_FIXED = (
    ("valueQuantity.system", frozenset({_UCUM})),
    ("valueQuantity.code", frozenset({"mm[Hg]"})),
)

PROFILES: dict[str, Profile] = {
    "us-core-patient": Profile(
        "Patient",
        ("identifier", "identifier.system", "identifier.value", "name", "telecom.system",
         "telecom.value", "gender", "communication.language", "link.other", "link.type"),
        invariants=("us-core-6",),
        source=_page("us-core-patient"),
    ),
    "us-core-encounter": Profile(
        "Encounter",
        ("identifier.system", "identifier.value", "status", "statusHistory.status",
         "statusHistory.period", "class", "classHistory.class", "classHistory.period", "type",
         "subject", "diagnosis.condition", "location.location"),
        source=_page("us-core-encounter"),
    ),
    "us-core-condition-encounter-diagnosis": Profile(
        "Condition",
        ("category", "code", "subject"),
        (Slice("us-core", "category", "coding",
               "http://terminology.hl7.org/CodeSystem/condition-category",
               frozenset({"encounter-diagnosis"})),),
        source=_page("us-core-condition-encounter-diagnosis"),
    ),
    "us-core-allergyintolerance": Profile(
        "AllergyIntolerance",
        ("code", "patient", "reaction.manifestation"),
        source=_page("us-core-allergyintolerance"),
    ),
    "us-core-vital-signs": Profile(
        "Observation", _VITALS_REQ, (_VSCAT,), invariants=("vs-2",),
        source=_page("us-core-vital-signs"),
    ),
    "us-core-blood-pressure": Profile(
        "Observation",
        (*_VITALS_REQ, "component", "component.valueQuantity.value",
         "component.valueQuantity.unit", "component.valueQuantity.system",
         "component.valueQuantity.code"),
        (
            _VSCAT,
            Slice("code", "code", "coding", _LOINC, frozenset({"85354-9"})),
            Slice("systolic", "component", "code.coding", _LOINC, frozenset({"8480-6"}),
                  _BP_COMPONENT_FIXED),
            Slice("diastolic", "component", "code.coding", _LOINC, frozenset({"8462-4"}),
                  _BP_COMPONENT_FIXED),
        ),
        invariants=("vs-2", "vs-3"),
        source=_page("us-core-blood-pressure"),
    ),
    "us-core-heart-rate": _vital("us-core-heart-rate", ["8867-4"], ["/min"]),
    "us-core-respiratory-rate": _vital("us-core-respiratory-rate", ["9279-1"], ["/min"]),
    "us-core-body-temperature": _vital("us-core-body-temperature", ["8310-5"],
                                       ["Cel", "[degF]"]),
    "us-core-body-height": _vital("us-core-body-height", ["8302-2"], ["cm", "[in_i]"]),
    "us-core-head-circumference": _vital("us-core-head-circumference", ["9843-4"],
                                         ["cm", "[in_i]"]),
    "us-core-body-weight": _vital("us-core-body-weight", ["29463-7"], ["kg", "[lb_av]", "g"]),
    "us-core-bmi": _vital("us-core-bmi", ["39156-5"], ["kg/m2"]),
    "us-core-pulse-oximetry": _vital("us-core-pulse-oximetry", ["59408-5", "2708-6"], ["%"]),
    "pediatric-bmi-for-age": _vital("pediatric-bmi-for-age", ["59576-9"], ["%"]),
    "pediatric-weight-for-height": _vital("pediatric-weight-for-height", ["77606-2"], ["%"]),
    "head-occipital-frontal-circumference-percentile": _vital(
        "head-occipital-frontal-circumference-percentile", ["8289-1"], ["%"]),
    "us-core-smokingstatus": Profile(
        "Observation",
        (*_OBS_BASE, "category", "effective[x]", "value[x]"),
        (Slice("SocialHistory", "category", "coding", _OBS_CATEGORY,
               frozenset({"social-history"})),
         Slice("code", "code", "coding", _LOINC, frozenset({"72166-2"}))),
        # required binding us-core-observation-smoking-status-status
        (("status", frozenset({"final", "entered-in-error"})),),
        source=_page("us-core-smokingstatus"),
    ),
    "us-core-observation-lab": Profile(
        "Observation",
        (*_OBS_BASE, "category"),
        (Slice("us-core", "category", "coding", _OBS_CATEGORY, frozenset({"laboratory"})),),
        invariants=("us-core-2",),
        source=_page("us-core-observation-lab"),
    ),
    "us-core-observation-clinical-result": Profile(
        "Observation", (*_OBS_BASE, "category"),
        source=_page("us-core-observation-clinical-result"),
    ),
    "us-core-simple-observation": Profile(
        "Observation", (*_OBS_BASE, "category"), source=_page("us-core-simple-observation"),
    ),
    "us-core-observation-screening-assessment": Profile(
        "Observation", (*_OBS_BASE, "category"),
        source=_page("us-core-observation-screening-assessment"),
    ),
    "us-core-observation-pregnancystatus": Profile(
        "Observation",
        (*_OBS_BASE, "effective[x]", "valueCodeableConcept"),
        (Slice("code", "code", "coding", _LOINC, frozenset({"82810-3"})),),
        source=_page("us-core-observation-pregnancystatus"),
    ),
    "us-core-observation-sexual-orientation": Profile(
        "Observation", _OBS_BASE,
        (Slice("code", "code", "coding", _LOINC, frozenset({"76690-7"})),),
        source=_page("us-core-observation-sexual-orientation"),
    ),
    "us-core-procedure": Profile(
        "Procedure",
        ("status", "code", "subject", "performer.actor", "focalDevice.manipulated"),
        source=_page("us-core-procedure"),
    ),
    "us-core-implantable-device": Profile(
        "Device",
        ("udiCarrier.deviceIdentifier", "deviceName.name", "deviceName.type", "type",
         "specialization.systemType", "version.value", "property.type", "patient"),
        source=_page("us-core-implantable-device"),
    ),
    "us-core-medicationrequest": Profile(
        "MedicationRequest",
        ("status", "intent", "medication[x]", "subject", "substitution.allowed[x]"),
        source=_page("us-core-medicationrequest"),
    ),
    "us-core-medication": Profile("Medication", ("code",), source=_page("us-core-medication")),
    "us-core-immunization": Profile(
        "Immunization",
        ("status", "vaccineCode", "patient", "occurrence[x]", "performer.actor",
         "protocolApplied.doseNumber[x]"),
        source=_page("us-core-immunization"),
    ),
    "us-core-diagnosticreport-lab": Profile(
        "DiagnosticReport",
        ("status", "category", "code", "subject", "media.link"),
        (Slice("LaboratorySlice", "category", "coding",
               "http://terminology.hl7.org/CodeSystem/v2-0074", frozenset({"LAB"})),),
        source=_page("us-core-diagnosticreport-lab"),
    ),
    "us-core-diagnosticreport-note": Profile(
        "DiagnosticReport",
        ("status", "category", "code", "subject", "media.link"),
        source=_page("us-core-diagnosticreport-note"),
    ),
    "us-core-documentreference": Profile(
        "DocumentReference",
        ("status", "type", "category", "subject", "relatesTo.code", "relatesTo.target",
         "content", "content.attachment"),
        source=_page("us-core-documentreference"),
    ),
    "us-core-careteam": Profile(
        "CareTeam",
        ("subject", "participant", "participant.role", "participant.member"),
        source=_page("us-core-careteam"),
    ),
    "us-core-goal": Profile(
        "Goal", ("lifecycleStatus", "description", "subject"), source=_page("us-core-goal"),
    ),
    "us-core-careplan": Profile(
        "CarePlan",
        ("text", "text.status", "text.div", "status", "intent", "category", "subject",
         "activity.detail.status"),
        (Slice("AssessPlan", "category", "coding",
               "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
               frozenset({"assess-plan"})),),
        source=_page("us-core-careplan"),
    ),
    "us-core-provenance": Profile(
        "Provenance",
        ("target", "recorded", "agent", "agent.who", "agent.type", "entity.role",
         "entity.what"),
        source=_page("us-core-provenance"),
    ),
    "us-core-organization": Profile(
        "Organization", ("active", "name"), source=_page("us-core-organization"),
    ),
    "us-core-location": Profile("Location", ("name",), source=_page("us-core-location")),
    "us-core-practitioner": Profile(
        "Practitioner",
        ("identifier", "identifier.system", "identifier.value", "name", "name.family",
         "qualification.code"),
        source=_page("us-core-practitioner"),
    ),
    "us-core-practitionerrole": Profile(
        "PractitionerRole",
        ("telecom.system", "telecom.value", "notAvailable.description"),
        source=_page("us-core-practitionerrole"),
    ),
}


@cache
def _parse_step(step: str) -> tuple[tuple[str, bool], ...]:
    """`a|b[x]` -> (("a", False), ("b", True)): name and whether it is a choice element."""
    return tuple((alt[:-3], True) if alt.endswith("[x]") else (alt, False)
                 for alt in step.split("|"))


@cache
def _parse_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


_EMPTY: tuple[Any, ...] = (None, [], {}, "")


def _present(node: Any, step: str) -> list[tuple[str, Any]]:
    """(key, value) pairs of `node` matching one path step (`a`, `a[x]`, `a|b`)."""
    if type(node) is not dict:
        return []
    alts = _parse_step(step)
    if len(alts) == 1 and not alts[0][1]:  # the usual plain element name
        value = node.get(step)
        return [] if value in _EMPTY else [(step, value)]
    out = []
    for name, choice in alts:
        if choice:
            cut = len(name)
            out.extend((k, v) for k, v in node.items()
                       if k.startswith(name) and k[cut:cut + 1].isupper() and v not in _EMPTY)
        else:
            value = node.get(name)
            if value not in _EMPTY:
                out.append((name, value))
    return out


def _walk(node: Any, path: str, steps: Iterable[str]) -> list[tuple[str, Any]]:
    """Every element reached by following `steps` from `node`, with its concrete path."""
    current = [(path, node)]
    for step in steps:
        found: list[tuple[str, Any]] = []
        for here, item in current:
            for key, value in _present(item, step):
                if type(value) is list:
                    found.extend((f"{here}.{key}[{i}]", v) for i, v in enumerate(value))
                else:
                    found.append((f"{here}.{key}", value))
        current = found
    return current


def _codings(node: Any, coding_path: str) -> Iterator[dict[str, Any]]:
    for _, coding in _walk(node, "", _parse_path(coding_path)):
        if isinstance(coding, dict):
            yield coding


def _has_value_or_absent(node: Any) -> bool:
    return bool(_present(node, "value[x]") or _present(node, "dataAbsentReason"))


def _inv_vs2(res: dict[str, Any], kind: str) -> list[str]:
    # R4 vitalsigns vs-2: without component or hasMember, a value or dataAbsentReason.
    if _present(res, "component") or _present(res, "hasMember") or _has_value_or_absent(res):
        return []
    return [f"{kind}: vs-2 needs value[x] or dataAbsentReason when there is no component"]


def _inv_vs3(res: dict[str, Any], kind: str) -> list[str]:
    # R4 vitalsigns vs-3: each component has a value or a dataAbsentReason.
    return [f"{p}: vs-3 needs value[x] or dataAbsentReason"
            for p, comp in _walk(res, kind, ["component"]) if not _has_value_or_absent(comp)]


def _inv_us_core_2(res: dict[str, Any], kind: str) -> list[str]:
    # us-core-2: no component or hasMember -> value[x] or dataAbsentReason.
    if _present(res, "component") or _present(res, "hasMember") or _has_value_or_absent(res):
        return []
    return [f"{kind}: us-core-2 needs value[x] or dataAbsentReason when there is no "
            "component or hasMember"]


_DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _inv_us_core_6(res: dict[str, Any], kind: str) -> list[str]:
    # us-core-6: (family or given) xor a data-absent-reason extension on each name.
    out = []
    for p, name in _walk(res, kind, ["name"]):
        has_part = bool(_present(name, "family") or _present(name, "given"))
        extensions = name.get("extension") if isinstance(name, dict) else None
        absent = any(isinstance(e, dict) and e.get("url") == _DATA_ABSENT
                     for e in extensions or [])
        if has_part == absent:
            out.append(f"{p}: us-core-6 needs family or given (or only a data-absent-reason)")
    return out


_INVARIANTS: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "vs-2": _inv_vs2,
    "vs-3": _inv_vs3,
    "us-core-2": _inv_us_core_2,
    "us-core-6": _inv_us_core_6,
}


def _fixed_messages(node: Any, path: str, fixed: Iterable[tuple[str, frozenset[str]]],
                    label: str) -> list[str]:
    out = []
    for rel, allowed in fixed:
        for p, value in _walk(node, path, _parse_path(rel)):
            if value not in allowed:
                out.append(f"{p}: {_short(value)} not allowed by {label} "
                           f"(expected {' or '.join(sorted(allowed))})")
    return out


def us_core_messages(resource: dict[str, Any]) -> list[str]:
    """Violations of every US Core 6.1.0 profile the resource claims in meta.profile."""
    kind = resource.get("resourceType", "?")
    meta = resource.get("meta")
    claimed = meta.get("profile") if isinstance(meta, dict) else None
    out: list[str] = []
    # A profile may be listed twice; a malformed meta.profile is the schema check's finding.
    for url in dict.fromkeys(claimed if isinstance(claimed, list) else []):
        if not isinstance(url, str) or not url.startswith(US_CORE):
            continue
        name = url[len(US_CORE):].split("|", 1)[0]
        profile = PROFILES.get(name)
        label = f"US Core {name}"
        if profile is None:
            out.append(f"{kind}.meta.profile: {name} is not a US Core 6.1.0 profile we check")
            continue
        if profile.resource_type != kind:
            out.append(f"{kind}.meta.profile: {name} constrains {profile.resource_type}")
            continue
        for req in profile.required:
            steps = _parse_path(req)
            parents = _walk(resource, kind, steps[:-1]) if len(steps) > 1 else [(kind, resource)]
            for p, parent in parents:
                if not _present(parent, steps[-1]):
                    out.append(f"{p}.{steps[-1]}: missing, required (min 1) by {label}")
        for sl in profile.slices:
            matched = [
                (p, item) for p, item in _walk(resource, kind, _parse_path(sl.path))
                if any(c.get("system") == sl.system and c.get("code") in sl.codes
                       for c in _codings(item, sl.coding))
            ]
            if not matched:
                codes = "|".join(sorted(sl.codes))
                out.append(f"{kind}.{sl.path}: no element with {sl.system}#{codes} "
                           f"(slice {sl.name}, min 1 in {label})")
            for p, item in matched:
                out.extend(_fixed_messages(item, p, sl.fixed, label))
        out.extend(_fixed_messages(resource, kind, profile.fixed, label))
        for inv in profile.invariants:
            out.extend(f"{m} ({label})" for m in _INVARIANTS[inv](resource, kind))
    return out


# --------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------


MODEL_MODES = ("all", "shapes", "off")


class FhirValidator:
    """Built once (see :func:`validator`), reused for any number of resources.

    ``models`` chooses how much R4B model validation runs, by far the slowest check (about
    1,400 resources/s, against 16,000 for the schema walker and 25,000 for US Core, on
    exported bundles): ``"all"`` validates every resource;
    ``"shapes"`` (default) validates a resource only when its :func:`shape` has not yet
    passed, because everything R4B adds to the schema check depends on the shape (which
    elements, of which JSON types, where) rather than on string values, whose formats (and
    calendar validity) the schema check covers on every resource (R4B does not look inside
    xhtml either); ``"off"`` skips it.
    """

    def __init__(self, schema: bool = True, models: str = "shapes", us_core: bool = True) -> None:
        if models not in MODEL_MODES:
            raise ValueError(f"models must be one of {MODEL_MODES}, got {models!r}")
        self.checks = (schema, models != "off", us_core)
        self.models = models
        self._passed_shapes: set[Any] = set()
        doc = load_schema()
        self._schema = _SchemaCompiler(doc)
        # The bundle's own structure, with entry resources left to per-entry validation.
        self._shell = _SchemaCompiler(doc, opaque=frozenset({"ResourceList"}))

    def _run(self, resource: Any, compiler: _SchemaCompiler) -> tuple[list[str], _Ctx]:
        ctx = _Ctx()
        if not isinstance(resource, dict):
            return [f"schema: not a JSON object ({_json_type(resource)})"], ctx
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or kind not in compiler.resource_types:
            return [f"schema: unknown resourceType {_short(kind)}"], ctx
        out: list[str] = []
        schema, models, us_core = self.checks
        if schema:
            compiler.definition(kind)(resource, kind, ctx)
            out.extend(f"schema: {m}" for m in ctx.errors)
        if models:
            out.extend(f"r4b: {m}" for m in self._model_messages(resource, kind))
        if us_core:
            out.extend(f"us-core: {m}" for m in us_core_messages(resource))
        return out, ctx

    def _model_messages(self, resource: dict[str, Any], kind: str) -> list[str]:
        if self.models == "all":
            return _r4b_messages(resource, kind)
        outline = shape(resource)
        if outline in self._passed_shapes:
            return []
        messages = _r4b_messages(resource, kind)
        if not messages:
            self._passed_shapes.add(outline)
        return messages

    def validate(self, resource: dict[str, Any]) -> list[str]:
        """Messages ``"<check>: <Type>.<path>: <problem>"``; [] when valid."""
        return self._run(resource, self._schema)[0]

    def validate_bundle(self, bundle: dict[str, Any]) -> list[str]:
        """The bundle's own structure (prefix ``Bundle: ``), then each entry's resource (prefix
        ``entry[i] <Type>/<id>: ``), then the ``bundle:`` checks across entries."""
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        shell = dict(bundle) if isinstance(bundle, dict) else bundle
        if isinstance(entries, list):
            # The R4B Bundle model would parse every entry resource again.
            shell["entry"] = [
                {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                for e in entries
            ]
        out = [f"Bundle: {m}" for m in self._run(shell, self._shell)[0]]
        full_urls: dict[str, int] = {}
        versions: dict[tuple[str, Any], int] = {}
        history = isinstance(bundle, dict) and bundle.get("type") == "history"
        refs: list[tuple[str, Loc, str]] = []
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict):
                continue
            resource = entry.get("resource")
            label = f"entry[{i}]"
            if isinstance(resource, dict):
                label += f" {resource.get('resourceType')}/{resource.get('id')}"
                messages, ctx = self._run(resource, self._schema)
                out.extend(f"{label}: {m}" for m in messages)
                refs.extend((label, p, r) for p, r in ctx.refs)
            url = entry.get("fullUrl")
            if isinstance(url, str):
                # bdl-7 (R4 bundle.html): a fullUrl is unique in a bundle, unless the entries
                # are different versions (meta.versionId) or the bundle is a history.
                meta = resource.get("meta") if isinstance(resource, dict) else None
                version = (url, meta.get("versionId") if isinstance(meta, dict) else None)
                if version in versions and not history:
                    out.append(f"{label}: bundle: bdl-7 fullUrl {url} repeats "
                               f"entry[{versions[version]}]")
                versions.setdefault(version, i)
                full_urls.setdefault(url, i)
        if self.checks[0]:
            # R4 bundle.html "Resolving references in Bundles": a urn:uuid: reference can
            # only be resolved against a fullUrl in the same bundle.
            for label, path, ref in refs:
                if ref.startswith("urn:uuid:") and ref not in full_urls:
                    out.append(f"{label}: bundle: {path_text(path)}.reference: {ref} matches "
                               "no fullUrl in the bundle")
        return out


@cache
def validator() -> FhirValidator:
    """The shared validator (schema compiled lazily, per definition, once per process)."""
    return FhirValidator()
