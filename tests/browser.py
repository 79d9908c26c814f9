"""Real-browser helpers: a streamlit server on a free port and Debian's chromium driven by playwright."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SHOTS = ROOT / "artifacts" / "screenshots"
PLOT = ".js-plotly-plot"
EXCEPTION = '[data-testid="stException"]'


def exceptions(page) -> list[str]:
    """The text of every exception Streamlit shows on the page (empty when none): a failing assert shows it."""
    return [e.inner_text()[:2000] for e in page.locator(EXCEPTION).all()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(app_dir: Path = ROOT, **env: str):
    """`streamlit run app.py` (in `app_dir`) on 127.0.0.1:<free port>; yields the base URL once
    /_stcore/health answers. The server's pid is `SERVERS[url].pid`."""
    port = free_port()
    (ROOT / "artifacts").mkdir(exist_ok=True)  # git-ignored: absent in a fresh clone
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"]
    log = open(ROOT / "artifacts" / f"streamlit-{port}.log", "w")  # noqa: SIM115 (closed below)
    env = os.environ | {"PYTHONPATH": str(app_dir)} | env  # the app's own rnnviz, not an installed one
    proc = subprocess.Popen(cmd, cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    SERVERS[url] = proc
    try:
        deadline = time.time() + 180
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        SERVERS.pop(url, None)


SERVERS: dict[str, subprocess.Popen] = {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch(playwright):
    """Debian's chromium (or $CHROMIUM_PATH); elsewhere playwright's own build (`playwright install chromium`)."""
    path = os.environ.get("CHROMIUM_PATH") or next((p for p in CHROMIUMS if Path(p).exists()), None)
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


def progress_step(page, timeout: float = 30) -> int:
    """The step shown by the training control's progress text ('step 12 / 300 · ...')."""
    text = page.locator('[data-testid="stProgress"]').first.inner_text(timeout=timeout * 1000)
    return int(re.search(r"step ([\d,]+) /", text).group(1).replace(",", ""))


def wait_for_step(page, at_least: int, timeout: float = 60) -> int:
    deadline = time.time() + timeout
    while True:
        try:
            step = progress_step(page, timeout=5)  # polled: a missing element is asked for again
        except Exception:  # the element is being redrawn
            step = -1
        if step >= at_least:
            return step
        if time.time() > deadline:
            raise AssertionError(f"training did not reach step {at_least} in {timeout} s (at {step})")
        time.sleep(0.3)


def plot_points(page) -> list[int]:
    """Number of x values of every trace of every plotly graph on the page."""
    return page.evaluate(
        f"""Array.from(document.querySelectorAll('{PLOT}')).flatMap(
            g => (g._fullData || []).map(t => (t.x || []).length))"""  # _fullData: typed arrays decoded
    )


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def train_sessions(browser, url: str, queries: list[str], timeout: float = 240) -> dict:
    """Open a page per query on the Train page (each a session of its own), press Play in all, wait until every
    run ends. The pages load at once and share one context, so the app's scripts are fetched and compiled once.

    Returns {"seconds": wall time from the first Play to the last finish, "waited": True if any page
    showed the waiting-for-a-slot notice, "pages": the pages, "contexts": [their context]}.
    """
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    contexts, pages = [context], [context.new_page() for _ in queries]
    for page, query in zip(pages, queries, strict=True):
        page.goto(f"{url}/Train?{query}", timeout=120_000, wait_until="commit")
    for page in pages:
        page.get_by_role("button", name="Play", exact=True).click(timeout=60_000)
    start, waited = time.time(), False
    pending = list(pages)
    while pending:
        if time.time() - start > timeout:
            raise AssertionError(f"{len(pending)} of {len(pages)} sessions did not finish in {timeout} s")
        for page in list(pending):
            text = page.locator('[data-testid="stProgress"]').first.inner_text()
            waited = waited or page.get_by_text("Waiting for a free training slot").count() > 0
            if "finished in" in text or "from the run cache" in text:
                pending.remove(page)
        time.sleep(0.5)
    return {"seconds": time.time() - start, "waited": waited, "pages": pages, "contexts": contexts}


def server_rss_mb(url: str) -> float | None:
    """Peak resident memory (VmHWM) of the streamlit process serving `url`, from /proc."""
    port = url.rsplit(":", 1)[1]
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = status.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and port.encode() in cmd:
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    return None
