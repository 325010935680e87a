"""A page opened in a real headless Chromium, driven over the DevTools protocol.

Chromium's ``--remote-debugging-pipe`` reads protocol commands from file descriptor 3 and
writes replies and events to 4, each a JSON message ended by a NUL byte: no port, no
websocket library. :func:`open_page` loads a file, records every network request the page
makes (``Network.requestWillBeSent``), runs a JavaScript expression in it and takes a
screenshot of the whole page.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 90.0


def _above(fd: int, lowest: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved


def find_chromium() -> str | None:
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class OpenedPage:
    requests: list[str]  # every URL the page asked for, itself included
    value: Any  # what the expression evaluated to
    screenshot: bytes  # PNG of the whole page, at one CSS pixel per pixel
    size: tuple[int, int]  # the page's CSS width and height
    console: list[str] = field(default_factory=list)


class _Pipe:
    def __init__(self, binary: str, profile: str, width: int, height: int) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # the child's ends, moved above 3 and 4 first, so putting one in place cannot
        # overwrite the other (os.pipe may have given 3 or 4 itself)
        reads, writes = _above(to_chrome_r, 100), _above(from_chrome_w, 100)

        def in_place() -> None:  # in the child, before exec; fds other than 0-4 then close
            os.dup2(reads, 3)
            os.dup2(writes, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             "--mute-audio", "--disable-background-networking", "--disable-sync",
             "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=in_place,  # a test helper: no threads
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(reads)
        os.close(writes)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):  # already gone
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event


def open_page(binary: str, page: Path, expression: str, width: int = 1100,
              height: int = 900) -> OpenedPage:
    """Loads ``page`` (a file), waits for its load event, evaluates ``expression`` and takes a
    screenshot of the whole page."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        pipe = _Pipe(binary, profile, width, height)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget",
                                {"targetId": target, "flatten": True})["sessionId"]
            pipe.send("Network.enable", session=session)
            pipe.send("Page.enable", session=session)
            pipe.send("Runtime.enable", session=session)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1,
                       "mobile": False}, session=session)
            pipe.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired")
            value = pipe.send("Runtime.evaluate", {"expression": expression,
                                                   "returnByValue": True,
                                                   "awaitPromise": True},
                              session=session)["result"].get("value")
            metrics = pipe.send("Page.getLayoutMetrics", session=session)
            content = metrics["cssContentSize"]
            size = (int(content["width"]), int(content["height"]))
            shot = pipe.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}},
                session=session)
            requests = [e["params"]["request"]["url"] for e in pipe.events
                        if e.get("method") == "Network.requestWillBeSent"]
            console = [json.dumps(e["params"]) for e in pipe.events
                       if e.get("method") in ("Runtime.consoleAPICalled",
                                              "Runtime.exceptionThrown", "Log.entryAdded")]
            return OpenedPage(requests, value, base64.b64decode(shot["data"]), size, console)
        finally:
            pipe.close()
