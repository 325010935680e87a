"""The upload state file: one JSON line per finished unit after a header naming the server and
the source. Appended and flushed as each unit finishes, so a killed upload loses at most the
units in flight, which are sent again (idempotently) when the same upload is started again."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import orjson

VERSION = 1


class Journal:
    def __init__(self, path: Path | None, url: str, source: str, restart: bool = False) -> None:
        self.path = path
        self.done: set[str] = set()
        self.notes: dict[str, object] = {}  # unit key -> what the unit asked to keep
        self.resumed = False
        self._fh: IO[bytes] | None = None
        if path is None:
            return
        header = {"upload_journal": VERSION, "url": url, "source": source}
        if path.exists() and not restart:
            self.done, self.notes, self.resumed = self._read(path, header)
        if not self.resumed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(header) + b"\n")
        self._fh = open(path, "ab")  # noqa: SIM115 - closed by close()

    @staticmethod
    def _read(path: Path, header: dict[str, object]
              ) -> tuple[set[str], dict[str, object], bool]:
        lines = path.read_bytes().splitlines()
        try:
            if not lines or orjson.loads(lines[0]) != header:
                return set(), {}, False  # another server or other data: start afresh
        except orjson.JSONDecodeError:
            return set(), {}, False
        done: set[str] = set()
        notes: dict[str, object] = {}
        for line in lines[1:]:
            try:
                data = orjson.loads(line)
                key = data["done"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                break  # a line cut short by a kill: everything before it counts
            done.add(key)
            if "note" in data:
                notes[key] = data["note"]
        return done, notes, True

    def finished(self, key: str, note: object = None) -> None:
        self.done.add(key)
        if note is not None:
            self.notes[key] = note
        if self._fh is not None:
            line = {"done": key} if note is None else {"done": key, "note": note}
            self._fh.write(orjson.dumps(line) + b"\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
