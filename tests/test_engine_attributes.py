"""The attributes the engine sets are one list (simulator.engine.attributes), and it is whole:
every attribute the source writes by name is in it, so `modules check` never warns about an
attribute the engine sets (Synthea's encounter/sdoh_hrsn.json reads several of them)."""

from __future__ import annotations

import re
from pathlib import Path

from simulator.authoring.check import check_paths
from simulator.engine.attributes import ENGINE_ATTRIBUTES, set_by_engine

SOURCE = Path(__file__).resolve().parents[1] / "simulator"
# person.set("x", ...), attributes["x"] = ..., a["x"] = ... (population/people.py),
# setdefault("x", ...) on the attributes
WRITES = re.compile(r"""(?:\.set\(|attributes\[|\ba\[|attributes\.setdefault\()\s*"([^"]+)"\s*(?:\]\s*=[^=]|,)""")
NOT_PERSON = {"simulator/runstate.py", "simulator/shard.py", "simulator/upload/command.py"}


def written_attributes() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        rel = path.relative_to(SOURCE.parent).as_posix()
        if rel in NOT_PERSON or rel.startswith("simulator/authoring/"):
            continue
        for name in WRITES.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, rel)
    return found


def test_every_attribute_the_engine_writes_is_listed() -> None:
    written = written_attributes()
    assert len(written) > 40  # the scan sees the demographics, lifecycle and built-ins
    missing = {name: where for name, where in written.items() if name not in ENGINE_ATTRIBUTES}
    assert not missing, f"add these to simulator/engine/attributes.py: {missing}"


def test_social_determinants_and_immunizations_are_known() -> None:
    for name in ("food_insecurity", "uninsured", "no_vehicle_access",
                 "severe_housing_cost_burden", "immunizations", "active_wellness_encounter_x"):
        assert set_by_engine(name), name
    assert not set_by_engine("no_such_attribute")


def test_check_does_not_warn_about_engine_attributes(tmp_path: Path) -> None:
    reads = [{"condition_type": "Attribute", "attribute": name, "operator": "is not nil"}
             for name in ("food_insecurity", "uninsured", "immunizations", "made_up")]
    module = {"name": "Reads", "states": {
        "Initial": {"type": "Initial", "conditional_transition": [
            *({"condition": c, "transition": "Terminal"} for c in reads),
            {"transition": "Terminal"}]},
        "Terminal": {"type": "Terminal"}}}
    import json

    (tmp_path / "reads.json").write_text(json.dumps(module))
    warned = {f.message.split("'")[1] for f in check_paths([tmp_path])
              if "is read but no module sets it" in f.message}
    assert warned == {"made_up"}
