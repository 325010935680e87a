from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("SYNTHEA_MODULES", ROOT.parent / "shared" / "synthea-modules"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"Synthea module corpus not found at {CORPUS}")
    return CORPUS
