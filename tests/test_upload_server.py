"""Uploads into a real FHIR server (Medplum's router, tests/fhir_server/) on 127.0.0.1, with and
without a fault-injecting proxy in front of it: every generated resource arrives exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_server import (  # noqa: E402
    FhirServer,
    FhirServerUnavailable,
    start_fault_proxy,
    start_server,
    stored_ids,
)

# whole lives: enough requests per person that --max-requests stops the upload mid-run
RUN = ["-s", "11", "-a", "18-35", "-m", "appendicitis:allergies", "--reference-date", "2025-01-01",
       "--years-of-history", "0"]


@pytest.fixture(scope="module")
def server() -> Iterator[FhirServer]:
    try:
        with start_server() as srv:
            yield srv
    except FhirServerUnavailable as error:
        pytest.skip(f"FHIR test server unavailable: {error}")


def _simulate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True,
                          text=True, timeout=900, cwd=cwd, env=env)


def _expected(ndjson: Path) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = defaultdict(set)
    for path in ndjson.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            ids[resource["resourceType"]].add(resource["id"])
    return ids


def _assert_exactly_once(server: FhirServer, expected: dict[str, set[str]]) -> None:
    for rtype, want in expected.items():
        got = stored_ids(server, rtype)
        assert len(got) == len(set(got)), f"{rtype}: {len(got) - len(set(got))} duplicates"
        assert set(got) == want, f"{rtype}: {len(want - set(got))} missing, {len(set(got) - want)} extra"


@pytest.fixture(scope="module")
def hundred(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    out = tmp_path_factory.mktemp("hundred")
    result = _simulate("-p", "100", "-w", "2", *RUN, "--format", "fhir,ndjson", "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out, _expected(out / "fhir_ndjson")


def test_a_100_person_run_arrives_exactly_once(server: FhirServer, hundred: tuple[Path, dict],
                                               tmp_path: Path) -> None:
    out, expected = hundred
    server.reset()
    report = tmp_path / "report.json"
    result = _simulate("upload", str(out), "--url", server.base_url, "--report", str(report),
                       "--upload-state", str(tmp_path / "state.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_exactly_once(server, expected)
    data = json.loads(report.read_text())
    total = sum(len(ids) for ids in expected.values())
    assert data["resources"] == total and data["failures"]["count"] == 0
    assert data["retries"] == 0 and set(data["statuses"]) == {"200"}
    assert data["latency_ms"]["p50"] <= data["latency_ms"]["p99"] <= data["latency_ms"]["max"]
    # the same command again finds everything done; --restart sends it all again, idempotently
    again = _simulate("upload", str(out), "--url", server.base_url,
                      "--upload-state", str(tmp_path / "state.jsonl"))
    assert again.returncode == 0 and "0 requests sent" in again.stdout
    assert "already uploaded before" in again.stdout


def test_through_a_faulty_proxy_every_resource_arrives_exactly_once(
        server: FhirServer, hundred: tuple[Path, dict], tmp_path: Path) -> None:
    out, expected = hundred
    server.reset()
    report = tmp_path / "report.json"
    with start_fault_proxy(server, fault_rate=0.25, seed=7, slow_ms=1500) as proxy:
        result = _simulate("upload", str(out), "--url", proxy.base_url, "--timeout", "1",
                           "--report", str(report), "--upload-state", str(tmp_path / "s.jsonl"))
        faults = proxy.stats()
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_exactly_once(server, expected)
    data = json.loads(report.read_text())
    injected = sum(faults["faults"].values())
    assert injected >= 0.10 * faults["requests"]
    assert data["requests"] == faults["requests"]
    assert data["failures"]["count"] == 0
    # Every injected fault cost one retry. Faults that reach the server (drop-after,
    # error-after) turn into timeouts when the server itself answers slower than --timeout,
    # which a loaded machine may also add on its own.
    assert data["retries"] == data["requests"] - data["statuses"]["200"] >= injected
    statuses = data["statuses"]
    f = faults["faults"]
    assert statuses.get("429", 0) == f["429"] and statuses.get("500", 0) == f["500"]
    assert f["503"] <= statuses.get("503", 0) <= f["503"] + f["error-after"]
    assert f["drop-before"] <= statuses.get("connection error", 0) <= f["drop-before"] + f["drop-after"]
    assert statuses.get("timeout", 0) >= f["slow"]
    assert f"{data['retries']} retries" in result.stdout


def test_streamed_upload_touches_no_disk_and_resumes(server: FhirServer, tmp_path: Path) -> None:
    expected_run = tmp_path / "expected"
    result = _simulate("-p", "12", "-w", "2", *RUN, "--format", "ndjson", "-o", str(expected_run))
    assert result.returncode == 0, result.stderr
    expected = _expected(expected_run / "fhir_ndjson")
    server.reset()
    work = tmp_path / "cwd"
    work.mkdir()
    state = tmp_path / "state.jsonl"
    with start_fault_proxy(server, fault_rate=0.15, seed=3, slow_ms=200) as proxy:
        stream = ["-p", "12", "-w", "2", *RUN, "--upload", proxy.base_url,
                  "--upload-state", str(state)]
        first = _simulate(*stream, "--max-requests", "25", "--concurrency", "2", cwd=work)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "stopped early: --max-requests 25 reached" in first.stdout
        done_first = len(state.read_text().splitlines()) - 1
        assert 0 < done_first < 12
        second = _simulate(*stream, cwd=work)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"resuming: {done_first} people already uploaded" in second.stdout
    assert list(work.iterdir()) == []  # nothing written but the state file, outside
    _assert_exactly_once(server, expected)


def test_ndjson_resources_are_put_one_by_one(server: FhirServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _simulate("-p", "4", "-w", "1", *RUN, "--format", "ndjson", "-o", str(out))
    assert result.returncode == 0, result.stderr
    expected = _expected(out / "fhir_ndjson")
    server.reset()
    report = tmp_path / "r.json"
    with start_fault_proxy(server, fault_rate=0.15, seed=5, slow_ms=100) as proxy:
        result = _simulate("upload", str(out), "--url", proxy.base_url, "--concurrency", "4",
                           "--report", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_exactly_once(server, expected)
    data = json.loads(report.read_text())
    total = sum(len(ids) for ids in expected.values())
    assert data["resources"] == total == data["requests"] - data["retries"]
