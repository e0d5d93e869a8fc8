"""Open a report page in a real headless Chromium and check it: no script error, no console
error, no failed load, no network request, every image decoded; take a screenshot.

Talks the DevTools protocol over ``--remote-debugging-pipe`` (file descriptors 3 and 4: JSON
messages ending in NUL), so it needs nothing beyond the browser. Chromium is looked up as
``$BENCH_CHROMIUM``, ``chromium``, ``chromium-browser`` or ``google-chrome`` (Debian: ``apt-get
install chromium``). The browser runs in its own process group, which is ended when done.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio",
         "--remote-debugging-pipe")
PAGE_PROBE = """JSON.stringify({
  title: document.title,
  height: document.documentElement.scrollHeight,
  images: Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
  figures: document.querySelectorAll('figure').length,
  tables: document.querySelectorAll('table').length,
  headings: Array.from(document.querySelectorAll('h2, h3')).map(h => h.textContent)
})"""


def find_chromium() -> str | None:
    env = os.environ.get("BENCH_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    errors: list[str] = field(default_factory=list)
    title: str = ""
    height: int = 0
    images: list[list[Any]] = field(default_factory=list)  # [complete, width, height] each
    figures: int = 0
    tables: int = 0
    headings: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and all(c and w > 0 for c, w, _ in self.images)


class _Pipe:
    """A DevTools connection over two pipes; collects the events it reads."""

    def __init__(self, write_fd: int, read_fd: int, timeout: float):
        self.w, self.r, self.timeout = write_fd, read_fd, timeout
        self.buf, self.next_id, self.events = b"", 0, []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        reply = self._until(lambda m: m.get("id") == self.next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str) -> dict:
        return self._until(lambda m: m.get("method") == method)

    def _until(self, done) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "method" in msg:
                    self.events.append(msg)
                if done(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed the connection")
            self.buf += chunk


def _errors(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append(f"script error: {p.get('exceptionDetails', {}).get('text')}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console error: " + " ".join(str(a.get("value", a.get("description")))
                                                    for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"log error: {e.get('text')} {e.get('url', '')}".strip())
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"failed load: {p.get('errorText')}")
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:")):
                out.append(f"network request: {url}")
        elif m == "Page.javascriptDialogOpening":
            out.append(f"dialog: {p.get('message')}")
    return out


class BrowserError(RuntimeError):
    """The browser could not be started or stopped answering."""


def check_page(page: Path, screenshot: Path | None = None, width: int = 1280,
               max_height: int = 20000, timeout: float = 60.0,
               chromium: str | None = None) -> PageCheck:
    """Load ``page`` (a local HTML file) in headless Chromium and report what it found; with
    ``screenshot``, write a PNG of the whole page (up to ``max_height`` pixels)."""
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium, or set "
                                "BENCH_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profile:
        log = Path(profile) / "stderr.log"
        proc, cdp = _launch(exe, Path(profile), log, width, timeout)
        try:
            return _inspect(cdp, Path(page).resolve().as_uri(), screenshot, width, max_height)
        except (OSError, RuntimeError, TimeoutError) as exc:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise BrowserError(f"{exe} failed on {page}: {exc}; its last messages: "
                               f"{' | '.join(tail) or '(none)'}") from None
        finally:
            os.close(cdp.w)
            os.close(cdp.r)
            _stop(proc)


def _launch(exe: str, profile: Path, log: Path, width: int,
            timeout: float) -> tuple[subprocess.Popen, _Pipe]:
    """Start the browser with a DevTools pipe: it reads fd 3 and writes fd 4. The child's pipe
    ends are moved above 9 here and onto 3 and 4 by the bash that execs the browser (so no
    Python runs between fork and exec; bash, unlike a POSIX sh, redirects fds above 9)."""
    cmd_r, cmd_w = os.pipe()
    out_r, out_w = os.pipe()
    child_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
    child_w = fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 10)
    for fd in (cmd_r, out_w):
        os.close(fd)
    remap = f'exec "$0" "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-'
    try:
        with open(log, "wb") as err:
            proc = subprocess.Popen(
                [shutil.which("bash") or "/bin/bash", "-c", remap, exe, *FLAGS,
                 f"--user-data-dir={profile}", f"--window-size={width},900"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                pass_fds=(child_r, child_w), start_new_session=True)
    except OSError:
        for fd in (cmd_w, out_r):
            os.close(fd)
        raise
    finally:
        os.close(child_r)
        os.close(child_w)
    return proc, _Pipe(cmd_w, out_r, timeout)


def _inspect(cdp: _Pipe, url: str, screenshot: Path | None, width: int,
             max_height: int) -> PageCheck:
    target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})
    sid = session["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        cdp.send(f"{domain}.enable", session=sid)
    cdp.send("Emulation.setDeviceMetricsOverride",
             {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
             session=sid)
    cdp.send("Page.navigate", {"url": url}, session=sid)
    cdp.wait_event("Page.loadEventFired")
    probe = cdp.send("Runtime.evaluate", {"expression": PAGE_PROBE, "returnByValue": True},
                     session=sid)
    info = json.loads(probe["result"]["value"])
    check = PageCheck(title=info["title"], height=int(info["height"]), images=info["images"],
                      figures=info["figures"], tables=info["tables"],
                      headings=info["headings"])
    if screenshot is not None:
        clip = {"x": 0, "y": 0, "width": width, "height": min(check.height, max_height),
                "scale": 1}
        shot = cdp.send("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                   "captureBeyondViewport": True}, session=sid)
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        check.screenshot = Path(screenshot)
    check.errors = _errors(cdp.events)
    check.errors += [f"image {i} did not decode"
                     for i, (done, w, _) in enumerate(check.images) if not (done and w > 0)]
    try:
        cdp.send("Browser.close")
    except (RuntimeError, TimeoutError, OSError):
        pass  # it is stopped by process group anyway
    return check


def _stop(proc: subprocess.Popen) -> None:
    """End the browser's process group (it was started in a session of its own)."""
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
