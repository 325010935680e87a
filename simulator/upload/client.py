"""Sending requests to a FHIR server with httpx: bounded concurrency (the caller's), a
request-rate ceiling, retries with exponential backoff and full jitter on 408/429/5xx,
timeouts and dropped connections, honouring ``Retry-After``.

Only the base URL the user gave is contacted: every request goes to it or below it, and
redirects are not followed. The authorization header is sent, never printed or logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from simulator.upload.payload import Item, bundle_body
from simulator.upload.report import Failure, UploadStats

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class UploadOptions:
    url: str  # the FHIR base, e.g. https://fhir.example.org/R4 (no trailing slash)
    concurrency: int = 8  # requests in flight at once
    rate: float | None = None  # requests per second, at most
    duration: float | None = None  # seconds: start no request after this
    max_requests: int | None = None  # start no request after this many (retries count)
    bundle_type: str = "transaction"
    bundle_size: int = 50  # resources per bundle
    timeout: float = 60.0  # seconds per request
    verify: bool | str = True  # TLS certificate check, or a CA bundle file
    auth: str | None = field(default=None, repr=False)  # Authorization header value
    max_retries: int = 8
    backoff: float = 0.5  # seconds: first retry waits up to this, doubling each time
    backoff_cap: float = 30.0
    retry_after_cap: float = 300.0  # longest Retry-After honoured
    dry_run: bool = False


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(when.timestamp() - now, 0.0)


def outcome_message(raw: bytes, limit: int = 300) -> str:
    """The diagnostics of an OperationOutcome body, else the start of the body."""
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
        texts = []
        for issue in data.get("issue") or []:
            if isinstance(issue, dict):
                text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
                where = ", ".join(issue.get("expression") or issue.get("location") or [])
                if text:
                    texts.append(f"{text} ({where})" if where else str(text))
        if texts:
            return "; ".join(texts)[:limit]
    return raw[:limit].decode("utf-8", "replace").strip() or "(empty body)"


class RateLimiter:
    """Spaces request starts at least 1/rate seconds apart (no burst)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class _Reply:
    status: str
    body: bytes
    ok: bool


class Sender:
    """Sends bundles and single PUTs, retrying what may succeed when sent again."""

    def __init__(self, options: UploadOptions, stats: UploadStats,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.options = options
        self.stats = stats
        self.limiter = RateLimiter(options.rate)
        self.jitter = random.Random()
        self.client: httpx.AsyncClient | None = None
        if not options.dry_run:
            headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
            if options.auth:
                headers["Authorization"] = options.auth
            n = max(options.concurrency, 1)
            self.client = httpx.AsyncClient(
                headers=headers, timeout=httpx.Timeout(options.timeout), verify=options.verify,
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                follow_redirects=False, trust_env=False, transport=transport,
            )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def _delay(self, attempt: int, after: float | None) -> float:
        if after is not None:
            return min(after, self.options.retry_after_cap)
        ceiling = min(self.options.backoff_cap, self.options.backoff * 2 ** attempt)
        return self.jitter.uniform(0, ceiling)

    async def _request(self, method: str, url: str, body: bytes) -> tuple[_Reply, float | None]:
        """One attempt: the reply, and the Retry-After it asked for."""
        stats = self.stats
        if self.client is None:  # dry run
            stats.attempt("dry run", 0.0, len(body))
            return _Reply("dry run", b"", True), None
        await self.limiter.wait()
        began = time.perf_counter()
        try:
            response = await self.client.request(method, url, content=body)
        except httpx.TimeoutException:
            stats.attempt("timeout", time.perf_counter() - began, len(body))
            return _Reply("timeout", f"no reply within {self.options.timeout:g} s".encode(),
                          False), None
        except httpx.TransportError as exc:
            stats.attempt("connection error", time.perf_counter() - began, len(body))
            return _Reply("connection error", (str(exc) or type(exc).__name__).encode(),
                          False), None
        stats.attempt(str(response.status_code), time.perf_counter() - began, len(body))
        ok = 200 <= response.status_code < 300
        after = None
        if not ok and response.status_code in RETRY_STATUSES:
            after = retry_after(response.headers.get("Retry-After"))
        return _Reply(str(response.status_code), response.content, ok), after

    async def _send(self, method: str, url: str, body: bytes) -> _Reply:
        """Attempts until success, a status not worth repeating, or the retries run out."""
        attempt = 0
        while True:
            reply, after = await self._request(method, url, body)
            if reply.ok or not _retryable(reply.status) or attempt >= self.options.max_retries:
                return reply
            self.stats.retries += 1
            await asyncio.sleep(self._delay(attempt, after))
            attempt += 1

    async def put(self, unit: str, item: Item) -> bool:
        """One resource, ``PUT <base>/<Type>/<id>``."""
        reply = await self._send("PUT", f"{self.options.url}/{item.key}", item.body)
        if reply.ok:
            self.stats.stored([item.key])
            return True
        self.stats.fail(Failure(unit, f"PUT {item.key}", reply.status,
                                outcome_message(reply.body), 1))
        return False

    async def bundle(self, unit: str, items: list[Item]) -> list[str]:
        """Items in one transaction or batch bundle; returns the keys the server stored."""
        kind = self.options.bundle_type
        stored: list[str] = []
        attempt = 0
        while items:
            body = bundle_body([item.body for item in items], kind)
            label = f"POST {kind} of {len(items)}"
            reply = await self._send("POST", self.options.url, body)
            if not reply.ok:
                self.stats.fail(Failure(unit, label, reply.status, outcome_message(reply.body),
                                        len(items)))
                break
            if kind == "transaction" or self.client is None:
                stored.extend(item.key for item in items)
                break
            # batch: every entry succeeds or fails on its own; re-send only what may succeed
            again = self._batch_entries(unit, items, reply.body, stored)
            if not again or attempt >= self.options.max_retries:
                for item, status, message in again:
                    self.stats.fail(Failure(unit, f"PUT {item.key} (batch entry)", status,
                                            message, 1))
                break
            self.stats.retries += 1
            await asyncio.sleep(self._delay(attempt, None))
            attempt += 1
            items = [item for item, _, _ in again]
        self.stats.stored(stored)
        return stored

    def _batch_entries(self, unit: str, items: list[Item], raw: bytes,
                       stored: list[str]) -> list[tuple[Item, str, str]]:
        """Sorts a batch-response's entries: stored, failed for good, or worth re-sending."""
        try:
            entries = orjson.loads(raw).get("entry") or []
        except (orjson.JSONDecodeError, AttributeError):
            entries = []
        again: list[tuple[Item, str, str]] = []
        for i, item in enumerate(items):
            response = entries[i].get("response") if i < len(entries) and isinstance(
                entries[i], dict) else None
            if not isinstance(response, dict):
                again.append((item, "missing", "the batch-response has no entry for it"))
                continue
            status = str(response.get("status", "")).split(" ", 1)[0]
            if status.startswith("2"):
                stored.append(item.key)
                continue
            outcome = response.get("outcome")
            message = outcome_message(orjson.dumps(outcome)) if outcome else status
            if _retryable(status):
                again.append((item, status, message))
            else:
                self.stats.fail(Failure(unit, f"PUT {item.key} (batch entry)", status, message, 1))
        return again


def _retryable(status: str) -> bool:
    if status in ("timeout", "connection error", "missing"):
        return True
    return status.isdigit() and int(status) in RETRY_STATUSES


def describe_options(options: UploadOptions) -> dict[str, Any]:
    """The options for the JSON report, without the authorization value."""
    return {"url": options.url, "concurrency": options.concurrency, "rate": options.rate,
            "duration": options.duration, "max_requests": options.max_requests,
            "bundle_type": options.bundle_type, "bundle_size": options.bundle_size,
            "timeout": options.timeout, "tls_verify": options.verify is not False,
            "authorization": "set" if options.auth else "none",
            "max_retries": options.max_retries, "dry_run": options.dry_run,
            "at": datetime.now(UTC).isoformat(timespec="seconds")}
