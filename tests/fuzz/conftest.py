"""Fuzz tests: CI budget by default (about two minutes on two cores); a deep session with

    FUZZ_EXAMPLES=2000 FUZZ_TIMEOUT=60 FUZZ_COLLECT=/tmp/fuzz.jsonl \\
        nice -n 19 pytest tests/fuzz -p no:cacheprovider
    python tests/fuzz/catalogue.py /tmp/fuzz.jsonl > /tmp/fuzz_catalogue.md

The settings themselves (max_examples from FUZZ_EXAMPLES, derandomized without a database in
CI, no shrinking of hanging examples) are made by harness.fuzz_settings; see harness.py for
every environment variable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import COLLECT, EXAMPLES_RUN


@pytest.fixture(scope="session")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session-wide parent of the per-example folders (harness.example_dir makes one fresh
    folder per hypothesis example and removes it; tmp_path would be shared by all examples)."""
    return tmp_path_factory.mktemp("fuzz")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if COLLECT and EXAMPLES_RUN:
        stats = Path(COLLECT + ".stats.json")
        before: dict[str, int] = {}
        if stats.is_file():
            try:
                before = json.loads(stats.read_text(encoding="utf-8"))
            except ValueError:
                before = {}
        for test, count in EXAMPLES_RUN.items():
            before[test] = before.get(test, 0) + count
        stats.write_text(json.dumps(before, indent=2), encoding="utf-8")
