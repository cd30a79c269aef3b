"""Drives the `hearth ui` dashboard in a real browser (headless Chromium through Selenium and the
system's chromedriver) the way a person would, and says what it saw.

Usage: drive_ui.py URL OUT_DIR EXPECT_JSON

URL is the first line `hearth ui --no-browser` printed (it holds the session token). OUT_DIR
gets a PNG screenshot of every page visited (`<step>.png`), the downloads (`downloads/`) and
chromedriver's log. EXPECT_JSON is written by tests/e2e/ui.rs:

  devices        every device's UDID (each must have a card on the overview)
  overdue        optional: the UDIDs whose cards stand out (not backed up for over 7 days)
  device         the UDID whose timeline is opened (by clicking its card)
  snapshots      that device's snapshot ids (hex), each a row of its timeline
  pin            a snapshot id of that device to pin from its timeline
  snapshot       the snapshot id browsed (tree, file, photos, messages)
  file           {path, sha256, sqlite_rows: {table: rows}}: a SQLite file reached through the
                 tree by clicking its folders, then downloaded
  photo          a snapshot path of a photo the browser can show
  conversation   {ids: [...], messages: N, sent: N}: a conversation by any of its ids (the
                 page's data-chat is one of them) and how many messages its thread shows
  restore        {snapshot, target, rules: [...]}: a plan for another device, each rule named
                 among the skipped rows
  secrets        strings no page may contain (the repository password)
  steps          optional: only these steps (default: all)

Every step runs even when another failed. Prints one JSON object on stdout:

  steps          {step: {ok, url, screenshot, error?, ...what it saw}}, in order
  failed         the names of the steps that failed
  seconds        how long it all took

Exit status: 0 when every step passed, 1 when some failed (the summary says which and on which
URL), 2 when the browser could not be started. Selenium Manager is never asked for a driver or
a browser (SE_OFFLINE, and both paths given): it would download them.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse

# Before selenium is imported: its manager must not fetch anything, whatever happens.
os.environ["SE_OFFLINE"] = "true"
os.environ.pop("SE_MANAGER_PATH", None)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# How long a page may take to show what a step waits for (debug build, two busy cores).
WAIT = 20
# How long the Check job may run.
JOB_WAIT = 90

STEPS = [
    "overview",
    "timeline",
    "pin",
    "check",
    "tree",
    "file",
    "download",
    "photos",
    "photo",
    "messages",
    "restore",
]


class Failed(Exception):
    pass


def css_string(s):
    """`s` as a CSS string literal, for attribute selectors."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def path_url(path):
    """A snapshot path in a URL: each segment percent-encoded."""
    return "/".join(urllib.parse.quote(seg, safe="") for seg in path.split("/"))


def find_program(env, names):
    given = os.environ.get(env)
    if given:
        return given
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


def start_browser(downloads, log):
    chromium = find_program("HEARTH_CHROMIUM", ["chromium", "chromium-browser", "google-chrome"])
    driver_bin = find_program("HEARTH_CHROMEDRIVER", ["chromedriver"])
    if not chromium or not driver_bin:
        raise RuntimeError(
            f"no Chromium ({chromium}) or chromedriver ({driver_bin}): install Debian's "
            "chromium and chromium-driver (.ci/run does), or set HEARTH_CHROMIUM and "
            "HEARTH_CHROMEDRIVER"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="hearth-ui-chromium-")
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        f"--user-data-dir={profile}",
    ]:
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": downloads,
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
        },
    )
    service = Service(executable_path=driver_bin, log_output=log)
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads}
    )
    return driver, profile


class Drive:
    def __init__(self, driver, base, out, expect):
        self.d = driver
        self.base = base
        self.out = out
        self.expect = expect
        self.downloads = os.path.join(out, "downloads")
        self.results = {}
        self.secrets = [s for s in expect.get("secrets", []) if s]

    # ----------------------------------------------------------------------------------------
    # Helpers

    def go(self, path):
        self.d.get(self.base + path)

    def page_state(self):
        """What the page says, for a failure's message."""
        d = self.d
        bits = [f"title {d.title!r}"]
        for sel in ["h1", "p.error"]:
            els = d.find_elements(By.CSS_SELECTOR, sel)
            if els:
                bits.append(f"{sel} {els[0].text[:200]!r}")
        if len(bits) == 1:
            body = d.find_elements(By.TAG_NAME, "body")
            if body:
                bits.append(f"body {body[0].text[:200]!r}")
        return "; ".join(bits)

    def error_page(self):
        """The status of an error page of the dashboard (title `404 · Hearth`), else None."""
        m = re.fullmatch(r"(\d{3}) · Hearth", self.d.title or "")
        if m:
            return m.group(1)
        # The gate's refusals are plain text.
        if self.d.execute_script("return document.contentType") == "text/plain":
            return "refusal (text/plain)"
        return None

    def wait(self, what, condition, timeout=WAIT):
        def check(d):
            # A missing page (a 404 of a page not built yet) fails at once, with its URL.
            status = self.error_page()
            if status:
                raise Failed(f"{d.current_url}: HTTP {status} while waiting for {what} ({self.page_state()})")
            return condition(d)

        try:
            return WebDriverWait(
                self.d, timeout, ignored_exceptions=[StaleElementReferenceException]
            ).until(check)
        except TimeoutException:
            raise Failed(
                f"{self.d.current_url}: {what} did not happen within {timeout} s "
                f"({self.page_state()})"
            ) from None

    def wait_css(self, selector, timeout=WAIT):
        """The elements `selector` matches, once there is at least one."""
        return self.wait(
            f"`{selector}`",
            lambda d: d.find_elements(By.CSS_SELECTOR, selector) or False,
            timeout,
        )

    def one(self, selector, within=None):
        try:
            return (within or self.d).find_element(By.CSS_SELECTOR, selector)
        except NoSuchElementException:
            raise Failed(
                f"{self.d.current_url}: no `{selector}` ({self.page_state()})"
            ) from None

    def url_path(self):
        u = urllib.parse.urlsplit(self.d.current_url)
        return urllib.parse.unquote(u.path) + (f"?{u.query}" if u.query else "")

    def click_and_wait_new_page(self, element):
        """Clicks (a link or a submit button) and waits until the old page is gone."""
        old = self.d.find_element(By.TAG_NAME, "html")
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()
        self.wait("a new page", lambda d: _stale(old))
        self.wait("the page to load", lambda d: d.execute_script("return document.readyState") == "complete")

    def image_shown(self, img):
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
        shown = self.wait(
            f"the image {img.get_attribute('src')} to load",
            lambda d: d.execute_script(
                "const i = arguments[0]; return i.complete ? [i.naturalWidth, i.naturalHeight] : false",
                img,
            ),
        )
        if shown[0] <= 0:
            raise Failed(
                f"{self.d.current_url}: the image {img.get_attribute('src')} loaded but the "
                "browser could not show it (naturalWidth 0)"
            )
        return shown

    def screenshot(self, name):
        """The whole page (up to 6,000 px tall) as `<name>.png`."""
        path = os.path.join(self.out, f"{name}.png")
        try:
            size = self.d.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            w, h = max(size[0], 1280), min(max(size[1], 900), 6000)
            shot = self.d.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1},
                },
            )
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        except WebDriverException:
            self.d.save_screenshot(path)
        return path

    def check_secrets(self):
        html = self.d.page_source
        for s in self.secrets:
            if s in html:
                raise Failed(f"{self.d.current_url}: the page holds a secret ({s[:3]}…)")

    def run(self, name, fn):
        started = time.monotonic()
        try:
            seen = fn() or {}
            self.check_secrets()
            result = {"ok": True, **seen}
        except Failed as e:
            result = {"ok": False, "error": str(e)}
        except (WebDriverException, AssertionError, KeyError, ValueError) as e:
            result = {
                "ok": False,
                "error": f"{self.d.current_url}: {type(e).__name__}: {str(e).strip()[:500]}",
            }
        result["url"] = self.d.current_url
        result["screenshot"] = self.screenshot(name)
        result["seconds"] = round(time.monotonic() - started, 2)
        self.results[name] = result

    # ----------------------------------------------------------------------------------------
    # Steps

    def overview(self, url):
        self.d.get(url)
        cards = self.wait_css(".card[data-device]")
        here = urllib.parse.urlsplit(self.d.current_url)
        if "token=" in (here.query or ""):
            raise Failed(f"{self.d.current_url}: the token is still in the URL")
        token = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)).get("token", "")
        if token and token in self.d.execute_script("return document.cookie"):
            raise Failed("the session cookie is readable by scripts (not HttpOnly)")
        if token and token in self.d.page_source:
            raise Failed(f"{self.d.current_url}: the page holds the session token")
        shown = {c.get_attribute("data-device") for c in cards}
        missing = sorted(set(self.expect["devices"]) - shown)
        if missing:
            raise Failed(f"{self.d.current_url}: no card for {missing} (cards: {sorted(shown)})")
        for c in cards:
            link = self.one("h3 a", c).get_attribute("href")
            if not urllib.parse.urlsplit(link).path == "/device/" + c.get_attribute("data-device"):
                raise Failed(f"{self.d.current_url}: a card links to {link}")
        self.one("#storage svg")
        overdue = sorted(
            c.get_attribute("data-device") for c in cards if "overdue" in c.get_attribute("class").split()
        )
        if "overdue" in self.expect and overdue != sorted(self.expect["overdue"]):
            raise Failed(f"{self.d.current_url}: overdue cards {overdue}, expected {sorted(self.expect['overdue'])}")
        # The storage figures the page fetches until they are computed (app.js replaces the
        # section): the screenshot shows them.
        self.wait("the storage figures", lambda d: not d.find_elements(By.CSS_SELECTOR, "#storage[data-pending]"))
        self.one("#storage table")
        buttons = [b.text for b in self.d.find_elements(By.CSS_SELECTOR, "form button")]
        for want in ["Check", "Prune"]:
            if want not in buttons:
                raise Failed(f"{self.d.current_url}: no {want!r} button (buttons: {buttons})")
        return {"cards": sorted(shown), "overdue": overdue, "buttons": buttons}

    def timeline(self):
        udid = self.expect["device"]
        if urllib.parse.urlsplit(self.d.current_url).path != "/":
            self.go("/")
        card = self.wait_css(f".card[data-device={css_string(udid)}]")[0]
        self.click_and_wait_new_page(self.one("h3 a", card))
        if self.url_path() != f"/device/{udid}":
            raise Failed(f"{self.d.current_url}: the card led here, not to /device/{udid}")
        rows = self.wait_css("table.timeline tr[data-snapshot]")
        shown = [r.get_attribute("data-snapshot") for r in rows]
        want = self.expect.get("snapshots")
        if want is not None and sorted(shown) != sorted(want):
            raise Failed(f"{self.d.current_url}: rows {shown}, expected {want}")
        for hexid in shown:
            self.one(
                f'tr[data-snapshot={css_string(hexid)}] a[href^="/snapshot/{hexid}/tree/"]'
            )
        return {"rows": shown}

    def pin(self):
        udid, hexid = self.expect["device"], self.expect["pin"]
        self.go(f"/device/{udid}")
        row_sel = f"table.timeline tr[data-snapshot={css_string(hexid)}]"
        row = self.wait_css(row_sel)[0]
        if row.find_elements(By.CSS_SELECTOR, "td.pin .badge"):
            raise Failed(f"{self.d.current_url}: {hexid} shows as pinned before Pin was clicked")
        button = self.one(f'form[action="/snapshot/{hexid}/pin"] button', row)
        if button.text.strip() != "Pin":
            raise Failed(f"{self.d.current_url}: the pin button reads {button.text!r}")
        self.click_and_wait_new_page(button)
        badge = self.wait_css(f"{row_sel} td.pin .badge")[0]
        if badge.text.strip() != "pinned":
            raise Failed(f"{self.d.current_url}: the badge reads {badge.text!r}")
        row = self.one(row_sel)
        self.one(f'form[action="/snapshot/{hexid}/unpin"] button', row)
        return {"pinned": hexid}

    def check(self):
        self.go("/")
        forms = self.wait_css('form[action="/jobs/start/check"]')
        button = None
        for f in forms:
            b = f.find_elements(By.TAG_NAME, "button")
            if b and b[0].text.strip() == "Check":
                button = b[0]
        if button is None:
            raise Failed(f"{self.d.current_url}: no button \"Check\" posting to /jobs/start/check")
        self.click_and_wait_new_page(button)
        m = re.fullmatch(r"/jobs/(\d+)", self.url_path())
        if not m:
            raise Failed(f"{self.d.current_url}: starting Check did not lead to /jobs/ID")
        section = self.wait_css("section.job[data-state]")[0]
        first_state = section.get_attribute("data-state")
        # Reloaded while it runs (or after it ended, if it was quicker than that): the page
        # must find the job where it is.
        self.d.refresh()
        self.wait_css("section.job[data-state]")
        reloaded_state = self.one("section.job").get_attribute("data-state")
        state = self.wait(
            "the job to end (section.job[data-state] finished or failed)",
            lambda d: (
                d.find_element(By.CSS_SELECTOR, "section.job").get_attribute("data-state")
                in ("finished", "failed")
            )
            and d.find_element(By.CSS_SELECTOR, "section.job").get_attribute("data-state"),
            JOB_WAIT,
        )
        outcome = self.one("section.job .outcome").text
        if state != "finished":
            raise Failed(f"{self.d.current_url}: the check ended {state}: {outcome}")
        return {
            "job": int(m.group(1)),
            "state_at_start": first_state,
            "state_after_reload": reloaded_state,
            "reloaded_while_running": reloaded_state == "running",
            "outcome": outcome,
        }

    def tree(self):
        hexid, path = self.expect["snapshot"], self.expect["file"]["path"]
        self.go(f"/snapshot/{hexid}/tree/")
        self.wait_css("table.tree tr[data-path][data-kind]")
        self.one(".crumbs")
        parts = path.split("/")
        visited = []
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            sel = f"table.tree tr[data-kind=dir][data-path={css_string(folder)}]"
            rows = self.d.find_elements(By.CSS_SELECTOR, sel)
            if not rows:
                shown = [
                    r.get_attribute("data-path")
                    for r in self.d.find_elements(By.CSS_SELECTOR, "table.tree tr[data-path]")
                ][:10]
                raise Failed(f"{self.d.current_url}: no folder row `{sel}` (rows: {shown})")
            self.click_and_wait_new_page(self.one("a", rows[0]))
            want = f"/snapshot/{hexid}/tree/{folder}"
            if self.url_path().rstrip("/") != want:
                raise Failed(f"{self.d.current_url}: clicking {folder} led here, not {want}")
            self.wait_css("table.tree tr[data-path]")
            crumbs = self.one(".crumbs").text
            if parts[i - 1] not in crumbs:
                raise Failed(f"{self.d.current_url}: the crumbs {crumbs!r} do not name {parts[i - 1]}")
            visited.append(folder)
        row = self.one(f"table.tree tr[data-kind=file][data-path={css_string(path)}]")
        size = self.one("td.size", row).text
        zip_link = self.d.find_elements(By.CSS_SELECTOR, "a.download-zip")
        if not zip_link:
            raise Failed(f"{self.d.current_url}: no a.download-zip")
        return {"folders": visited, "size": size, "zip": zip_link[0].get_attribute("href")}

    def file(self):
        hexid, f = self.expect["snapshot"], self.expect["file"]
        folder = f["path"].rsplit("/", 1)[0]
        self.go(f"/snapshot/{hexid}/tree/{path_url(folder)}")
        row = self.wait_css(f"table.tree tr[data-kind=file][data-path={css_string(f['path'])}]")[0]
        self.click_and_wait_new_page(self.one("a", row))
        want = f"/snapshot/{hexid}/file/{f['path']}"
        if self.url_path() != want:
            raise Failed(f"{self.d.current_url}: the file's link led here, not to {want}")
        self.wait_css("#preview")
        counts = {}
        for table, rows in f.get("sqlite_rows", {}).items():
            cell = self.one(f"#preview table.sqlite tr[data-table={css_string(table)}] td.rows")
            counts[table] = int(re.sub(r"[^0-9]", "", cell.text) or "-1")
            if counts[table] != rows:
                raise Failed(f"{self.d.current_url}: table {table} shows {cell.text!r} rows, expected {rows}")
        return {"rows": counts}

    def download(self):
        hexid, f = self.expect["snapshot"], self.expect["file"]
        self.go(f"/snapshot/{hexid}/file/{path_url(f['path'])}")
        link = self.wait_css("a.download")[0]
        href = link.get_attribute("href")
        want = f"/snapshot/{hexid}/raw/{f['path']}"
        got = urllib.parse.urlsplit(href)
        if urllib.parse.unquote(got.path) != want or "download=1" not in got.query:
            raise Failed(f"{self.d.current_url}: a.download goes to {href}, not {want}?download=1")
        before = set(os.listdir(self.downloads))
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        link.click()

        def finished(_):
            names = set(os.listdir(self.downloads)) - before
            if not names or any(n.endswith(".crdownload") for n in names):
                return False
            return sorted(names)

        names = self.wait(f"the download of {href}", finished)
        saved = os.path.join(self.downloads, names[0])
        with open(saved, "rb") as fh:
            data = fh.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest != f["sha256"]:
            raise Failed(
                f"{href}: the downloaded {names[0]} ({len(data)} bytes) has SHA-256 {digest}, "
                f"expected {f['sha256']}"
            )
        return {"saved": saved, "bytes": len(data), "sha256": digest}

    def photos(self):
        hexid, photo = self.expect["snapshot"], self.expect["photo"]
        self.go(f"/photos?snapshot={hexid}")
        figures = self.wait_css(".grid figure[data-path]")
        paths = [fig.get_attribute("data-path") for fig in figures]
        match = [fig for fig in figures if fig.get_attribute("data-path") == photo]
        if not match:
            raise Failed(f"{self.d.current_url}: no figure[data-path={photo!r}] (first: {paths[:5]})")
        fig = match[0]
        img = self.one("img", fig)
        shown = self.image_shown(img)
        self.one("figcaption time[datetime]", fig)
        buttons = [b.text for b in self.d.find_elements(By.CSS_SELECTOR, "form button")]
        if "Export photos" not in buttons:
            raise Failed(f"{self.d.current_url}: no \"Export photos\" button (buttons: {buttons})")
        return {"figures": len(figures), "photo": photo, "natural_size": shown}

    def photo(self):
        hexid, photo = self.expect["snapshot"], self.expect["photo"]
        self.go(f"/snapshot/{hexid}/file/{path_url(photo)}")
        img = self.wait_css("#preview img")[0]
        shown = self.image_shown(img)
        return {"natural_size": shown, "src": img.get_attribute("src")}

    def messages(self):
        hexid, conv = self.expect["snapshot"], self.expect["conversation"]
        self.go(f"/messages?snapshot={hexid}")
        links = self.wait_css("a.conversation[data-chat]")
        chats = [a.get_attribute("data-chat") for a in links]
        ids = [str(i) for i in conv["ids"]]
        match = [a for a in links if a.get_attribute("data-chat") in ids]
        if not match:
            raise Failed(f"{self.d.current_url}: no a.conversation with data-chat in {ids} (shown: {chats[:8]})")
        chat = match[0].get_attribute("data-chat")
        self.click_and_wait_new_page(match[0])
        want = f"/messages/{hexid}/{chat}"
        if self.url_path() != want:
            raise Failed(f"{self.d.current_url}: the conversation led here, not to {want}")
        msgs = self.wait_css(".thread .msg")
        sent = self.d.find_elements(By.CSS_SELECTOR, ".thread .msg.me")
        self.one(".thread .msg .bubble")
        self.one(".thread .msg .meta")
        if len(msgs) != conv["messages"]:
            raise Failed(f"{self.d.current_url}: {len(msgs)} .msg shown, expected {conv['messages']}")
        if "sent" in conv and len(sent) != conv["sent"]:
            raise Failed(f"{self.d.current_url}: {len(sent)} .msg.me shown, expected {conv['sent']}")
        return {"chat": chat, "messages": len(msgs), "sent": len(sent), "conversations": len(chats)}

    def restore(self):
        r = self.expect["restore"]
        self.go(f"/restore?snapshot={r['snapshot']}&target={urllib.parse.quote(r['target'])}")
        self.wait_css("#plan")
        kept = self.one("#plan #plan-kept").text
        self.one("#plan #plan-capacity")
        rows = self.wait_css("#plan table.skipped tr[data-rule]")
        rules = sorted({row.get_attribute("data-rule") for row in rows})
        missing = [x for x in r.get("rules", []) if x not in rules]
        if missing:
            raise Failed(f"{self.d.current_url}: no skipped rows for {missing} (rules: {rules})")
        buttons = [b.text for b in self.d.find_elements(By.CSS_SELECTOR, 'form[action="/jobs/start/restore"] button')]
        if "Write the image" not in buttons:
            raise Failed(f"{self.d.current_url}: no \"Write the image\" button posting to /jobs/start/restore")
        return {"rules": rules, "skipped_rows": len(rows), "kept": kept}


def _stale(element):
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, out, expect_path = sys.argv[1:]
    with open(expect_path) as f:
        expect = json.load(f)
    os.makedirs(out, exist_ok=True)
    downloads = os.path.join(out, "downloads")
    shutil.rmtree(downloads, ignore_errors=True)
    os.makedirs(downloads)
    split = urllib.parse.urlsplit(url)
    base = f"{split.scheme}://{split.netloc}"
    started = time.monotonic()
    try:
        driver, profile = start_browser(downloads, os.path.join(out, "chromedriver.log"))
    except (RuntimeError, WebDriverException) as e:
        print(json.dumps({"error": f"the browser did not start: {e}"}))
        return 2
    try:
        drive = Drive(driver, base, out, expect)
        wanted = expect.get("steps") or STEPS
        # The overview comes first whatever is asked: it is where the token becomes a cookie.
        drive.run("overview", lambda: drive.overview(url))
        for name in STEPS[1:]:
            if name in wanted:
                drive.run(name, getattr(drive, name))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    failed = [n for n, r in drive.results.items() if not r["ok"]]
    print(
        json.dumps(
            {
                "steps": drive.results,
                "failed": failed,
                "seconds": round(time.monotonic() - started, 1),
            },
            indent=1,
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
