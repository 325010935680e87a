"""What an upload did: requests, resources, bytes, latency percentiles, statuses, retries and
failures, printed as text and written as JSON."""

from __future__ import annotations

import math
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_FAILURES = 100  # failures kept with their messages (the count is always complete)


@dataclass
class Failure:
    unit: str
    request: str  # "POST transaction of 50" or "PUT Patient/…"
    status: str  # HTTP status, "timeout" or "connection error"
    message: str  # the server's OperationOutcome diagnostics, or the transport error
    resources: int

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "request": self.request, "status": self.status,
                "message": self.message, "resources": self.resources}


def percentile(sorted_values: Any, q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 when empty)."""
    if not len(sorted_values):
        return 0.0
    rank = max(math.ceil(q / 100 * len(sorted_values)), 1)
    return float(sorted_values[rank - 1])


@dataclass
class UploadStats:
    url: str
    dry_run: bool = False
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    requests: int = 0  # attempts sent, retries included
    retries: int = 0
    bytes_sent: int = 0
    resources: int = 0  # resources the server confirmed
    resources_by_type: Counter[str] = field(default_factory=Counter)
    shared_skipped: int = 0  # shared resources not re-sent: already confirmed
    units_done: int = 0
    units_skipped: int = 0  # done by an earlier, interrupted upload (journal)
    units_failed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: array = field(default_factory=lambda: array("d"))  # seconds, per attempt
    failures: list[Failure] = field(default_factory=list)
    failure_count: int = 0
    failed_resources: int = 0
    stopped: str | None = None  # why the upload stopped early (duration, max requests, Ctrl-C)

    def attempt(self, status: str, seconds: float, size: int) -> None:
        self.requests += 1
        self.bytes_sent += size
        self.statuses[status] += 1
        self.latencies.append(seconds)

    def stored(self, keys: list[str]) -> None:
        self.resources += len(keys)
        for key in keys:
            self.resources_by_type[key.partition("/")[0]] += 1

    def fail(self, failure: Failure) -> None:
        self.failure_count += 1
        self.failed_resources += failure.resources
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(failure)

    @property
    def seconds(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    def to_json(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        secs = self.seconds
        return {
            "url": self.url,
            "dry_run": self.dry_run,
            "stopped_early": self.stopped,
            "seconds": round(secs, 3),
            "requests": self.requests,
            "retries": self.retries,
            "resources": self.resources,
            "resources_by_type": dict(sorted(self.resources_by_type.items())),
            "shared_resources_not_resent": self.shared_skipped,
            "bytes_sent": self.bytes_sent,
            "units": {"done": self.units_done, "failed": self.units_failed,
                      "already_uploaded": self.units_skipped},
            "throughput": {
                "requests_per_second": round(self.requests / secs, 2),
                "resources_per_second": round(self.resources / secs, 2),
                "megabytes_per_second": round(self.bytes_sent / secs / 1e6, 3),
            },
            "latency_ms": {name: round(1000 * value, 2) for name, value in (
                ("p50", percentile(lat, 50)), ("p95", percentile(lat, 95)),
                ("p99", percentile(lat, 99)), ("max", lat[-1] if lat else 0.0))},
            "statuses": dict(sorted(self.statuses.items())),
            "failures": {"count": self.failure_count, "resources": self.failed_resources,
                         "first": [f.to_json() for f in self.failures]},
        }

    def text(self) -> str:
        data = self.to_json()
        t, lat = data["throughput"], data["latency_ms"]
        verb = "would send" if self.dry_run else "sent"
        lines = [
            f"{'dry run: ' if self.dry_run else ''}{self.units_done} units uploaded to {self.url}"
            + (f" ({self.units_skipped} already uploaded before)" if self.units_skipped else "")
            + (f", {self.units_failed} with failures" if self.units_failed else ""),
            f"{self.requests} requests {verb} ({self.retries} retries), {self.resources} resources"
            f" {'built' if self.dry_run else 'stored'}, {self.bytes_sent / 1e6:.1f} MB in "
            f"{data['seconds']:.1f} s",
            f"throughput: {t['requests_per_second']} requests/s, {t['resources_per_second']} "
            f"resources/s, {t['megabytes_per_second']} MB/s",
        ]
        if not self.dry_run:
            lines.append(f"latency: p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms,"
                         f" max {lat['max']} ms")
            lines.append("statuses: " + ", ".join(f"{k} × {v}" for k, v in data["statuses"].items()))
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        if self.failure_count:
            lines.append(f"{self.failure_count} failed requests ({self.failed_resources} "
                         "resources not stored):")
            for f in self.failures[:10]:
                lines.append(f"  {f.unit}: {f.request}: {f.status}: {f.message}")
            if self.failure_count > 10:
                lines.append(f"  … {self.failure_count - 10} more in the JSON report")
        return "\n".join(lines)
