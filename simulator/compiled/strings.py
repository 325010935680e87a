"""The compiled engine's strings: the program's first, then the texts a person brings (names,
addresses, identifiers), and the per-string arrays the kernel reads in place of the texts.

A person's own strings are forgotten when the person is finished, so a worker's tables stay the
size of the program's plus one person's however many people it lives (the ids they had are
never read again: the kernel's buffers are reset for the next person, and the record is built).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.compiled import vitals as vt
from simulator.compiled.lower import Interner


class StringTable(Interner):
    """Interned values (``values``: mostly strings, shared with the replay) and, per id, the
    kernel's tables: ``lower`` (the id of the lower-case text, -1 for a non-text), ``info``
    (vitals.string_info), ``off`` (start and length of its code points in ``cp``)."""

    def __init__(self, program_strings: Sequence[Any]) -> None:
        super().__init__()
        self.values.extend(program_strings)
        self.ids.update((value, i) for i, value in enumerate(self.values))
        self.lower = np.zeros(0, dtype=np.int64)
        self.info = np.zeros((0, 2))
        self.off = np.zeros((0, 2), dtype=np.int64)
        self.cp = np.zeros(0, dtype=np.int32)
        self._done = 0  # ids whose table rows are filled
        self._cp_used = 0
        self._mark: tuple[int, int] | None = None  # (ids, code points) the program owns

    intern = Interner.__call__

    def extend(self) -> bool:
        """Fills the tables for new strings (growing them by doubling); True when the arrays
        were replaced, so the kernel must be handed the new ones."""
        done = self._done
        if done == len(self.values):
            return False
        i = done
        while i < len(self.values):  # the lower-case texts are interned too
            if isinstance(self.values[i], str):
                self.intern(self.values[i].lower())
            i += 1
        n = len(self.values)
        new = self.values[done:n]
        points = [np.frombuffer(v.encode("utf-32-le"), dtype=np.int32) if isinstance(v, str)
                  else np.zeros(0, dtype=np.int32) for v in new]
        cp_need = self._cp_used + sum(len(p) for p in points)
        replaced = n > len(self.lower) or cp_need > len(self.cp)
        if n > len(self.lower):
            size = max(2 * len(self.lower), n, 1024)
            self.lower = _grown(self.lower, size, done, -1)
            self.info = _grown(self.info, size, done, 0)
            self.off = _grown(self.off, size, done, 0)
        if cp_need > len(self.cp):
            self.cp = _grown(self.cp, max(2 * len(self.cp), cp_need, 16384), self._cp_used, 0)
        ids = self.ids
        at = self._cp_used
        for j, (value, p) in enumerate(zip(new, points, strict=True)):
            self.lower[done + j] = ids[value.lower()] if isinstance(value, str) else -1
            self.off[done + j] = (at, len(p))
            self.cp[at:at + len(p)] = p
            at += len(p)
        self.info[done:n] = vt.string_info(new)[:n - done]
        self._done, self._cp_used = n, at
        return replaced

    def settle(self) -> None:
        """What is interned so far belongs to the program and stays."""
        self.extend()
        self._mark = (len(self.values), self._cp_used)

    def forget_person(self) -> None:
        """Drops the strings interned since :meth:`settle` (one person's)."""
        assert self._mark is not None
        n, cp_used = self._mark
        for value in self.values[n:]:
            if self.ids.get(value, -1) >= n:
                del self.ids[value]
        del self.values[n:]
        self._done = min(self._done, n)
        self._cp_used = cp_used


def _grown(array: np.ndarray, size: int, keep: int, fill: int) -> np.ndarray:
    grown = np.full((size, *array.shape[1:]), fill, dtype=array.dtype)
    grown[:keep] = array[:keep]
    return grown
