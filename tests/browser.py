"""Headless Chromium for tests: render a local HTML file to DOM, PNG and PDF, and log requests.

Chromium is Debian's ``chromium`` package, installed with apt-get when missing (tests run as
root in CI). How "no external request" is observed: every run writes a Chromium NetLog
(``--log-net-log``), the browser's own record of each URL request it starts. Requests the
*page* causes carry the page's site (``file://``) in their network isolation key; the
browser's own background chatter (component updates, account checks) carries another or none
and is reported apart. ``--host-resolver-rules`` maps every host to NOTFOUND, so even a
request that is attempted never leaves the machine, yet it is still logged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic", "--disable-extensions", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND")
LOCAL_SCHEMES = ("file:", "data:", "about:", "chrome:", "blob:")
TIMEOUT = 120


class BrowserUnavailable(Exception):
    """Chromium is missing and could not be installed (no network, not root)."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def ensure_chromium() -> str:
    """The Chromium binary, installed with apt-get when missing."""
    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0:
        raise BrowserUnavailable("chromium is not installed and tests are not run as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900,
                              check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
            raise BrowserUnavailable(f"installing chromium failed: {' '.join(command)}: "
                                     f"{tail[0]}")
    found = find_chromium()
    if not found:
        raise BrowserUnavailable("apt-get installed chromium but no binary was found")
    return found


@dataclass
class Requests:
    """URL requests Chromium started, split by who caused them."""

    page: list[str] = field(default_factory=list)
    background: list[str] = field(default_factory=list)


def requests_in_netlog(path: Path) -> Requests:
    """Requests in a NetLog file; the page's are those keyed to a ``file://`` site."""
    text = path.read_text(encoding="utf-8", errors="replace").rstrip()
    if not text.endswith("}"):  # a NetLog cut short at exit lacks its closing brackets
        text = text.rstrip(",") + "]}"
    log: dict[str, Any] = json.loads(text)
    types = {value: name for name, value in log["constants"]["logEventTypes"].items()}
    found = Requests()
    for event in log.get("events", []):
        if types.get(event.get("type")) != "URL_REQUEST_START_JOB":
            continue
        params = event.get("params", {})
        url = str(params.get("url", ""))
        if url.startswith(LOCAL_SCHEMES):
            continue
        key = str(params.get("network_isolation_key", ""))
        initiator = str(params.get("initiator", ""))
        by_page = "file://" in key or initiator in ("null", "file://")
        (found.page if by_page else found.background).append(url)
    return found


@dataclass
class Rendered:
    dom: str
    screenshot: Path
    pdf: Path
    requests: Requests


def _run(binary: str, profile: Path, netlog: Path, url: str, *extra: str) -> str:
    command = [binary, *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}",
               *extra, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(binary: str, html: Path, workdir: Path) -> tuple[str, Requests]:
    """One load of ``html``: the DOM after it loaded and the requests it caused."""
    workdir.mkdir(parents=True, exist_ok=True)
    netlog = workdir / "dom.netlog.json"
    dom = _run(binary, workdir / "profile", netlog, html.resolve().as_uri(), "--dump-dom")
    return dom, requests_in_netlog(netlog)


def render(binary: str, html: Path, workdir: Path, *, width: int = 1280,
           height: int = 2400) -> Rendered:
    """Load ``html`` three times (DOM dump, screenshot, PDF), with a NetLog for each."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = html.resolve().as_uri()
    requests = Requests()
    outputs: dict[str, str] = {}
    screenshot, pdf = workdir / "screenshot.png", workdir / "page.pdf"
    for name, extra in (("dom", ("--dump-dom",)),
                        ("png", (f"--screenshot={screenshot}", f"--window-size={width},{height}")),
                        ("pdf", (f"--print-to-pdf={pdf}", "--no-pdf-header-footer"))):
        netlog = workdir / f"{name}.netlog.json"
        outputs[name] = _run(binary, workdir / f"profile-{name}", netlog, url, *extra)
        found = requests_in_netlog(netlog)
        requests.page.extend(found.page)
        requests.background.extend(found.background)
    return Rendered(dom=outputs["dom"], screenshot=screenshot, pdf=pdf, requests=requests)
