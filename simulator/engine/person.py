"""The simulated person: attributes, symptoms, vital signs, the record being built.

Anything a blocked `Guard` or wellness `Encounter` may be waiting for is changed through this
class, which wakes the waiters (`watch` / `notify`): that is what makes the engine event-driven
instead of re-checking every module every week.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.engine.randomness import Stream, stream_id
from simulator.record import Encounter, Entry, Medication

# Signal keys other than attributes ("a:<name>") and symptoms ("s:<name>").
PRESENT = "present"  # a condition/allergy/medication/care plan/procedure/device started or ended
LOCK = "lock"  # the encounter lock was released
ENGINE_ENCOUNTER = "engine_encounter"  # the engine opened a wellness/symptom-driven visit
CHRONIC = "chronic"  # the chronic medication list changed
SYMPTOM_ANY = "symptom"  # any symptom changed (symptom-driven visits)


class Attributes(dict[str, Any]):
    """The attribute map, plus attributes computed when read (`computed`): values such as the
    cardiovascular risks or `days_until_death` that Synthea refreshes every week but that modules
    only ever read at a transition."""

    __slots__ = ("computed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.computed: dict[str, Callable[[], Any]] = {}

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key in self:
            return self[key]
        f = self.computed.get(key)
        if f is not None:
            value = f()
            return default if value is None else value
        return default


PERSON_STREAM = stream_id("person")  # draws made when the person is created


class Person:
    def __init__(self, index: int, seed: int, birth: int, attributes: dict[str, Any]) -> None:
        self.index = index
        self.seed = seed  # the person's key: every stream is derived from it
        self._streams: dict[int, Stream] = {}
        # The stream of what is being done now: the state a module is in, or the built-in
        # that is running (PersonSim binds it whenever a process resumes).
        self.rng: Stream = self.stream(PERSON_STREAM)
        self.birth = birth
        self.deathdate: int | None = None
        self.attributes: Attributes = Attributes(attributes)
        # set by the population sampler (population.people): the body trajectory, the bulk
        # uniforms for blood pressure and lipids, and the natural-death instant
        self.body: Any = None
        self.bulk: tuple[float, ...] | None = None
        self.natural_death: int | None = None
        self.attributes["birthdate"] = birth
        self.encounters: list[Encounter] = []
        self.present: dict[str, Entry] = {}
        self.chronic: dict[str, Medication] = {}
        # symptom name -> source module -> [value, time, addressed]
        self.symptoms: dict[str, dict[str, list[Any]]] = {}
        self.lock_owner: str | None = None
        self.engine_encounter: Encounter | None = None
        self._watch: dict[str, list[Any]] = {}
        # latest top-level observation per code string (for the Observation condition)
        self.latest_observation: dict[str, tuple[int, Any]] = {}

    def stream(self, stream: int) -> Stream:
        """The person's stream with this id (randomness.stream_id), made on first use."""
        found = self._streams.get(stream)
        if found is None:
            found = self._streams[stream] = Stream(self.seed, stream)
        return found

    # ------------------------------------------------------------ signals

    def watch(self, keys: list[str], event: Any) -> None:
        for key in keys:
            waiters = self._watch.get(key)
            if waiters is None:
                self._watch[key] = [event]
            else:
                if len(waiters) > 16:
                    waiters[:] = [e for e in waiters if not e.triggered]
                waiters.append(event)

    def notify(self, key: str) -> None:
        waiters = self._watch.pop(key, None)
        if waiters:
            for event in waiters:
                if not event.triggered:
                    event.succeed()

    # ------------------------------------------------------------ attributes

    def get(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)

    def set(self, name: str, value: Any) -> None:
        if value is None:
            if name in self.attributes:
                del self.attributes[name]
                self.notify("a:" + name)
            return
        self.attributes[name] = value
        if self._watch:
            self.notify("a:" + name)

    # ------------------------------------------------------------ life

    def alive(self, now: int) -> bool:
        return self.deathdate is None or self.deathdate > now

    @property
    def gender(self) -> str:
        return self.attributes.get("gender", "")

    # ------------------------------------------------------------ symptoms

    def set_symptom(self, name: str, source: str, value: int, now: int) -> None:
        self.symptoms.setdefault(name, {})[source] = [value, now, False]
        self.notify("s:" + name)
        self.notify(SYMPTOM_ANY)

    def symptom(self, name: str) -> int:
        sources = self.symptoms.get(name)
        if not sources:
            return 0
        return max((v[0] for v in sources.values() if not v[2]), default=0)

    def symptom_total(self) -> int:
        return sum(self.symptom(name) for name in self.symptoms)

    def address_largest_symptom(self) -> None:
        best: list[Any] | None = None
        for sources in self.symptoms.values():
            for entry in sources.values():
                if not entry[2] and (best is None or entry[0] > best[0]):
                    best = entry
        if best is not None:
            best[2] = True
