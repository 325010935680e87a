"""Given names and family names, from Faker's per-locale name lists (shipped offline).

The en_US lists carry frequency weights (first names from SSA baby-name counts, family names
from the Census surname file), so common names are common. A person's first language picks the
locale (engine-behaviour.md §4.3.1 uses Spanish lists for Spanish speakers); languages without
a Latin-script list in Faker use the en_US lists. As in Synthea's default, every generated name
gets a numeric suffix so no synthetic name can be mistaken for a real person's.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

import numpy as np

from simulator.population.geography import LANGUAGES
from simulator.population.rng import cdf_of

_LOCALE_OF_LANGUAGE = {
    "spanish": "es_MX", "french": "fr_FR", "german": "de_DE", "italian": "it_IT",
    "portuguese": "pt_BR", "vietnamese": "vi_VN", "japanese": "ja_JP",
}


@dataclass(frozen=True)
class NameList:
    names: tuple[str, ...]
    cdf: np.ndarray


@dataclass(frozen=True)
class LocaleNames:
    male: NameList
    female: NameList
    last: NameList


def _list(values: object) -> NameList:
    if isinstance(values, dict):
        names = tuple(values)
        weights = [float(w) for w in values.values()]
    else:
        names = tuple(values)  # type: ignore[arg-type]
        weights = [1.0] * len(names)
    return NameList(names, cdf_of(weights))


@functools.cache
def locale_names(locale: str) -> LocaleNames:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    if locale == "ja_JP":
        return LocaleNames(_list(provider.first_romanized_names_male),
                           _list(provider.first_romanized_names_female),
                           _list(provider.last_romanized_names))
    return LocaleNames(_list(provider.first_names_male), _list(provider.first_names_female),
                       _list(provider.last_names))


LOCALES = ("en_US", *sorted(set(_LOCALE_OF_LANGUAGE.values())))


def locale_index(language: str) -> int:
    return LOCALES.index(_LOCALE_OF_LANGUAGE.get(language, "en_US"))


LANGUAGE_LOCALE = np.array([locale_index(lang) for lang in LANGUAGES], dtype=np.int64)


def java_string_hash(text: str) -> int:
    """Java's String.hashCode (32-bit, signed overflow) over UTF-16 code units."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def numbered(name: str) -> str:
    """Synthea's synthetic-name marker: the name plus abs(hash % 1000), Java remainder semantics."""
    h = java_string_hash(name)
    remainder = abs(h) % 1000
    if h < 0:
        remainder = -remainder
    return f"{name}{abs(remainder)}"
