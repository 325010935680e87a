"""The uploader (simulator.upload): idempotent requests, retries, reports, resumable state;
against a scripted transport here, and against a real FHIR server in test_upload_server.py."""

from __future__ import annotations

import asyncio
import email.utils
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from simulator.cli import main
from simulator.upload.client import UploadOptions, outcome_message, retry_after
from simulator.upload.journal import Journal
from simulator.upload.payload import PayloadError, Unit, bundle_items, ndjson_items
from simulator.upload.report import UploadStats, percentile
from simulator.upload.runner import Upload, file_units, plan_folder

BASE = "http://fhir.test/R4"


def _options(**kw: Any) -> UploadOptions:
    kw.setdefault("backoff", 0.001)
    kw.setdefault("backoff_cap", 0.002)
    return UploadOptions(url=BASE, **kw)


class Script:
    """A transport answering from a list of (status, headers, body) or exceptions, then 200s;
    it records every request."""

    def __init__(self, replies: list[Any] | None = None) -> None:
        self.replies = list(replies or [])
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else (200, {}, b'{"resourceType":"Bundle"}')
        if isinstance(reply, Exception):
            raise reply
        status, headers, body = reply
        return httpx.Response(status, headers=headers, content=body)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _patient(pid: str, refs: tuple[str, ...] = ()) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if refs:
        r["generalPractitioner"] = [{"reference": ref} for ref in refs]
    return r


def _unit(n: int, key: str = "u") -> Unit:
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"resource": _patient(f"p{i}")} for i in range(n)]}
    return Unit(key, bundle_items(bundle, BASE, key))


async def _source(units: list[Any]) -> Any:
    for unit in units:
        yield unit


def _upload(units: list[Any], script: Script, tmp_path: Path | None = None,
            **kw: Any) -> tuple[UploadStats, Journal]:
    options = _options(**kw)
    journal = Journal(tmp_path / "state.jsonl" if tmp_path else None, BASE, "test")
    upload = Upload(options, journal, transport=script.transport())
    stats = asyncio.run(upload.run(_source(units)))
    return stats, journal


# ------------------------------------------------------------------ payloads


def test_urn_uuid_references_become_literal_and_requests_are_puts() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:org-1", "resource": {"resourceType": "Organization", "id": "org-1"},
         "request": {"method": "POST", "url": "Organization", "ifNoneExist": "identifier=x|1"}},
        {"fullUrl": "urn:uuid:p-1", "resource": _patient("p-1", ("urn:uuid:org-1", "urn:uuid:zzz",
                                                                  "Organization?identifier=x|1")),
         "request": {"method": "POST", "url": "Patient"}},
    ]}
    items = bundle_items(bundle, BASE, "b.json")
    assert [(i.key, i.shared) for i in items] == [("Organization/org-1", True), ("Patient/p-1", False)]
    entry = orjson.loads(items[1].body)
    assert entry["request"] == {"method": "PUT", "url": "Patient/p-1"}
    assert entry["fullUrl"] == f"{BASE}/Patient/p-1"
    # an entry's fullUrl is rewritten; unknown and conditional references are left as they are
    assert [r["reference"] for r in entry["resource"]["generalPractitioner"]] == [
        "Organization/org-1", "urn:uuid:zzz", "Organization?identifier=x|1"]


@pytest.mark.parametrize(("bundle", "message"), [
    ({"resourceType": "Patient"}, "b.json: not a FHIR Bundle"),
    ({"resourceType": "Bundle", "entry": {}}, "b.json: $.entry is not a list"),
    ({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]},
     "b.json: $.entry[0].resource: the Patient has no id"),
    ({"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]},
     "b.json: $.entry[0].resource: the resource has no resourceType"),
])
def test_bad_bundles_name_the_file_and_json_path(bundle: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=None) as err:
        bundle_items(bundle, BASE, "b.json")
    assert str(err.value).startswith(message)


def test_bad_ndjson_lines_name_file_and_line() -> None:
    with pytest.raises(PayloadError, match=r"^x.ndjson:8: not JSON"):
        ndjson_items([b'{"resourceType":"Patient","id":"a"}', b"{oops"], 7, "x.ndjson")


# ------------------------------------------------------------------ retries


def test_retries_transient_statuses_and_transport_errors_then_succeeds() -> None:
    script = Script([
        (503, {}, b""), (429, {"Retry-After": "0"}, b""), httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), (500, {}, b""),
    ])
    stats, _ = _upload([_unit(3)], script)
    assert stats.requests == 7 and stats.retries == 6
    assert stats.resources == 3 and stats.failure_count == 0 and stats.units_done == 1
    assert stats.statuses == {"200": 1, "500": 1, "503": 1, "429": 1, "connection error": 2,
                              "timeout": 1}
    bodies = {r.content for r in script.requests}
    assert len(bodies) == 1  # the very same idempotent request each time


def test_client_errors_are_not_retried_and_carry_the_operation_outcome() -> None:
    outcome = orjson.dumps({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "diagnostics": "Invalid birthDate", "expression": ["Patient.birthDate"]}]})
    script = Script([(400, {}, outcome)])
    stats, journal = _upload([_unit(2, "bad"), _unit(1, "good")], script, concurrency=1)
    assert stats.requests == 2 and stats.retries == 0
    assert stats.failure_count == 1 and stats.failed_resources == 2 and stats.units_failed == 1
    failure = stats.failures[0]
    assert (failure.unit, failure.status) == ("bad", "400")
    assert failure.message == "Invalid birthDate (Patient.birthDate)"
    assert "Invalid birthDate" in stats.text()
    assert journal.done == {"good"}


def test_gives_up_after_max_retries() -> None:
    script = Script([(503, {}, b"")] * 10)
    stats, _ = _upload([_unit(1)], script, max_retries=2)
    assert stats.requests == 3 and stats.retries == 2 and stats.failure_count == 1


def test_retry_after_is_honoured() -> None:
    script = Script([(429, {"Retry-After": "1"}, b"")])
    began = time.monotonic()
    stats, _ = _upload([_unit(1)], script)
    assert time.monotonic() - began >= 0.95
    assert stats.retries == 1 and stats.resources == 1


def test_retry_after_parsing() -> None:
    now = 1_700_000_000.0
    assert retry_after("7", now) == 7.0
    assert retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def test_batch_resends_only_the_entries_that_may_succeed() -> None:
    def response(*statuses: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, orjson.dumps({"resourceType": "Bundle", "type": "batch-response", "entry": [
            {"response": {"status": s, **({"outcome": {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "diagnostics": "no good"}]}} if s.startswith("4") else {})}}
            for s in statuses]})

    script = Script([response("201 Created", "503", "400 Bad Request", "429"),
                     response("200 OK", "200 OK")])
    stats, _ = _upload([_unit(4)], script, bundle_type="batch")
    assert stats.requests == 2 and stats.retries == 1
    assert stats.resources == 3 and stats.failure_count == 1
    assert stats.failures[0].request == "PUT Patient/p2 (batch entry)"
    assert stats.failures[0].message == "no good"
    second = orjson.loads(script.requests[1].content)
    assert [e["request"]["url"] for e in second["entry"]] == ["Patient/p1", "Patient/p3"]


def test_redirects_are_not_followed() -> None:
    script = Script([(307, {"Location": "http://elsewhere.test/R4"}, b"")])
    stats, _ = _upload([_unit(1)], script)
    assert [str(r.url) for r in script.requests] == [BASE]
    assert stats.failure_count == 1 and stats.failures[0].status == "307"


def test_bundles_are_cut_to_size_and_shared_resources_sent_until_confirmed() -> None:
    shared = {"resourceType": "Organization", "id": "o1"}

    def unit(key: str) -> Unit:
        entries = [{"resource": shared}] + [{"resource": _patient(f"{key}{i}")} for i in range(4)]
        return Unit(key, bundle_items({"resourceType": "Bundle", "entry": entries}, BASE, key))

    script = Script()
    stats, _ = _upload([unit("a"), unit("b")], script, bundle_size=2, concurrency=1)
    sizes = [len(orjson.loads(r.content)["entry"]) for r in script.requests]
    assert sizes == [2, 2, 1, 2, 2]  # b's copy of the organization is not sent again
    assert stats.shared_skipped == 1 and stats.resources == 9


# ------------------------------------------------------------------ stopping and resuming


def test_max_requests_stops_and_the_journal_resumes(tmp_path: Path) -> None:
    units = [_unit(1, f"u{i}") for i in range(6)]
    stats, journal = _upload(units, Script(), tmp_path, max_requests=2, concurrency=1)
    assert stats.requests == 2 and stats.stopped == "--max-requests 2 reached"
    assert journal.done == {"u0", "u1"}
    script = Script()
    stats2, journal2 = _upload(units, script, tmp_path)
    assert stats2.units_skipped == 2 and stats2.units_done == 4 and len(script.requests) == 4
    assert journal2.done == {f"u{i}" for i in range(6)}


def test_journal_of_another_server_or_source_is_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    j = Journal(path, BASE, "one")
    j.finished("a")
    j.close()
    assert Journal(path, BASE, "one").done == {"a"}
    assert Journal(path, "http://other.test", "one").done == set()
    j = Journal(path, BASE, "two")
    assert j.done == set() and not j.resumed


def test_a_journal_line_cut_short_keeps_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    j = Journal(path, BASE, "one")
    j.finished("a")
    j.finished("b")
    j.close()
    path.write_bytes(path.read_bytes()[:-4])
    assert Journal(path, BASE, "one").done == {"a"}


def test_dry_run_sends_nothing() -> None:
    script = Script()
    stats, _ = _upload([_unit(3)], script, dry_run=True)
    assert script.requests == [] and stats.requests == 1 and stats.resources == 3
    assert stats.text().startswith("dry run:")


# ------------------------------------------------------------------ report


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1))
def test_percentiles_are_sample_values_in_order(values: list[float]) -> None:
    ordered = sorted(values)
    p = [percentile(ordered, q) for q in (50, 95, 99, 100)]
    assert p == sorted(p) and all(v in values for v in p) and p[-1] == max(values)


def test_outcome_message_falls_back_to_the_body() -> None:
    assert outcome_message(b"<html>Bad gateway</html>") == "<html>Bad gateway</html>"
    assert outcome_message(b"") == "(empty body)"


# ------------------------------------------------------------------ command line


def _run_folder(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    fhir = out / "fhir"
    fhir.mkdir(parents=True)
    (fhir / "hospitalInformation.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Organization", "id": "o1"}}]}))
    for i in range(3):
        (fhir / f"p{i}.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "entry": [
            {"resource": _patient(f"p{i}", ("Organization/o1",))}]}))
    return out


def test_folder_plan_puts_side_bundles_first_then_a_barrier(tmp_path: Path) -> None:
    plan = plan_folder(_run_folder(tmp_path))
    assert plan.kind == "bundles" and plan.total_units == 4
    assert plan.files[0].name == "hospitalInformation.json"

    async def collect() -> list[str]:
        return [getattr(u, "key", "BARRIER") async for u in file_units(plan, BASE)]

    assert asyncio.run(collect()) == ["bundle:hospitalInformation.json", "BARRIER",
                                      "bundle:p0.json", "bundle:p1.json", "bundle:p2.json"]


@pytest.mark.parametrize(("args", "message"), [
    (["--url", "ftp://x"], "expected the FHIR base"),
    (["--url", BASE, "--concurrency", "0"], "option --concurrency: must be more than 0"),
    (["--url", BASE, "--token-env", "SIMULATOR_NO_SUCH_VAR"],
     "the environment variable SIMULATOR_NO_SUCH_VAR is not set"),
    (["--url", BASE, "--insecure", "--ca-bundle", "x.pem"], "--insecure and --ca-bundle"),
])
def test_bad_upload_options_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["upload", str(_run_folder(tmp_path)), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_empty_folder_and_bad_bundle_are_clear_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["upload", str(tmp_path), "--url", BASE])
    assert result.exit_code == 2 and "no FHIR bundles (*.json) or NDJSON" in result.output
    (tmp_path / "x.json").write_text("{nope")
    result = CliRunner().invoke(main, ["upload", str(tmp_path), "--url", BASE, "--dry-run"])
    assert result.exit_code == 2 and "x.json: not JSON" in result.output
    assert "Traceback" not in result.output


def test_upload_options_without_upload_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["-p", "1", "--concurrency", "3", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "need --upload URL" in result.output
    result = CliRunner().invoke(main, ["-p", "1", "--format", "csv", "--upload", BASE])
    assert result.exit_code == 2 and "--format fhir" in result.output


def test_dry_run_command_contacts_nothing_and_reports(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["upload", str(_run_folder(tmp_path)), "--url",
                                       "http://127.0.0.1:9/fhir", "--dry-run", "--report", str(report)])
    assert result.exit_code == 0, result.output
    data = orjson.loads(report.read_bytes())
    assert data["dry_run"] and data["resources"] == 4 and data["requests"] == 4
    assert not (tmp_path / "run" / "upload-state.jsonl").exists()


def test_the_token_is_sent_but_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.upload.command import build_options

    secret = "s3cr3t-token-value"
    monkeypatch.setenv("FHIR_TOKEN", secret)
    options = build_options(BASE, {"token_env": "FHIR_TOKEN"})
    assert secret not in repr(options)
    script = Script([(401, {}, b"")])
    upload = Upload(options, Journal(None, BASE, "t"), transport=script.transport())
    stats = asyncio.run(upload.run(_source([_unit(1)])))
    assert script.requests[0].headers["Authorization"] == f"Bearer {secret}"
    assert secret not in stats.text() and secret not in orjson.dumps(stats.to_json()).decode()


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=6, unique=True),
       st.lists(st.text(max_size=20), max_size=4))
def test_every_reference_to_an_entry_and_nothing_else_is_rewritten(urls: list[str],
                                                                    others: list[str]) -> None:
    entries = []
    for i, url in enumerate(urls):
        refs = [*urls, *others]
        entries.append({"fullUrl": url, "resource": {
            "resourceType": "Observation", "id": f"o{i}", "note": [{"text": url}],
            "hasMember": [{"reference": r} for r in refs]}})
    items = bundle_items({"resourceType": "Bundle", "entry": entries}, BASE, "b")
    mapped = {url: f"Observation/o{i}" for i, url in enumerate(urls) if url != f"Observation/o{i}"}
    for i, item in enumerate(items):
        resource = orjson.loads(item.body)["resource"]
        assert resource["note"] == [{"text": urls[i]}]  # only references change
        assert [m["reference"] for m in resource["hasMember"]] == [
            mapped.get(r, r) for r in [*urls, *others]]
