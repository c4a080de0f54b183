"""Just enough of the Chrome DevTools Protocol to read and click the Prefect UI.

Debian's ``chromium`` (installed by scripts/setup) runs headless with the flags STACK-NOTES
lists; we talk to its page over a websocket (the ``websockets`` package Prefect already
depends on), so the test needs no npm and no browser download.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from ops_server import stop_group
from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"


class FlowRunPage:
    def __init__(self, url: str, profile: Path) -> None:
        self.url = url
        self.profile = profile
        self._ids = itertools.count(1)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None

    def __enter__(self) -> FlowRunPage:
        self.profile.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1400,1000",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                self.url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._proc is not None:
            stop_group(self._proc, grace=6)

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._ws is not None
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self._call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def wait_for_text(self, needle: str, timeout: float) -> str:
        """Bounded polling of the rendered page until ``needle`` shows up."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared; the page says:\n{text[:2000]}")
            time.sleep(0.5)

    def click_tab(self, label: str, timeout: float = 20) -> None:
        """Click the tab (or any button-like element) whose text is ``label``."""
        script = f"""
        (() => {{
          const want = {json.dumps(label.lower())};
          const all = [...document.querySelectorAll('button, [role=tab], a, li')];
          const hit = all.find(el => (el.innerText || '').trim().toLowerCase() === want);
          if (!hit) return false;
          hit.click();
          return true;
        }})()
        """
        deadline = time.monotonic() + timeout
        while not self.evaluate(script):
            if time.monotonic() > deadline:
                raise AssertionError(f"no tab {label!r}; the page says:\n{self.text()[:2000]}")
            time.sleep(0.5)

    def screenshot(self, path: Path) -> None:
        data = self._call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
