"""Browser tests: Debian's Chromium driven by Playwright against the real ASGI app.

The app runs in a daphne subprocess (HTTP and websockets, exactly what ``make run`` serves)
attached to pytest-django's test database. Tests use ``transactional_db`` so what they create
is committed and visible to that process; the flush after each test empties it again.

Without ``/usr/bin/chromium`` the tests skip, except under ``CI=true`` where they fail: a CI
run that silently skipped the browser would prove nothing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# The README's pictures are refreshed on request (TICKETING_SCREENSHOTS=docs/screenshots);
# an ordinary run writes them under var/, so running the tests leaves the checkout clean.
SCREENSHOTS = ROOT / os.environ.get("TICKETING_SCREENSHOTS", "var/screenshots")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Generous: the machine is shared by several busy processes. Nothing here measures speed.
SERVER_START_SECONDS = 90
EXPECT_TIMEOUT_MS = 20_000
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's password

# The hold lasts this long on the short-hold server used by the expiry journey.
SHORT_HOLD_SECONDS = 8


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; browser tests cannot be skipped under CI.", pytrace=False)
    pytest.skip(message)


def database_url(settings_dict: dict) -> str:
    """A libpq URL for the database Django is connected to (the test database here).

    The embedded server listens on a unix socket: its directory travels as ``?host=``.
    """
    options = settings_dict.get("OPTIONS") or {}
    host = settings_dict.get("HOST") or options.get("host") or ""
    port = settings_dict.get("PORT") or options.get("port") or ""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if user else ""
    name = quote(settings_dict["NAME"], safe="")
    if host.startswith("/"):
        query = {"host": host}
        if port:
            query["port"] = str(port)
        return f"postgresql://{auth}/{name}?{urlencode(query)}"
    netloc = host + (f":{port}" if port else "")
    return f"postgresql://{auth}{netloc}/{name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    """One daphne process serving ``ticketing.config.asgi`` on a free loopback port."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "ticketing.config.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {SERVER_START_SECONDS}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _server_env(db_url: str, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="ticketing.config.settings",
        # The test database, never a database of its own: the subprocess only serves.
        DATABASE_URL=db_url,
        DJANGO_DEBUG="1",
        # Few connections: pytest's flush between tests must not wait on an idle pool.
        DB_POOL_MIN="1",
        DB_POOL_MAX="8",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        # Every journey logs in from 127.0.0.1: the session's logins would pass the login
        # page's per-IP budget (20 in 10 minutes). The limit itself is tested in tests/ticketing.
        TICKETING_THROTTLE_TOKEN="100000/10m",
    )
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def _test_db_url(django_db_setup, django_db_blocker) -> str:
    from django.db import connection

    with django_db_blocker.unblock():
        return database_url(connection.settings_dict)


@pytest.fixture(scope="session")
def app_server(_test_db_url, tmp_path_factory) -> Iterator[AppServer]:
    """The app with default settings, shared by the session (torn down before the test DB)."""
    _require_chromium()
    server = AppServer(env=_server_env(_test_db_url), log_path=tmp_path_factory.mktemp("daphne") / "app.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def short_hold_server(_test_db_url, tmp_path_factory) -> Iterator[AppServer]:
    """The app with holds of ``SHORT_HOLD_SECONDS``, for the expiry journey."""
    _require_chromium()
    env = _server_env(
        _test_db_url,
        TICKETING_HOLD_SECONDS=str(SHORT_HOLD_SECONDS),
        # A payment may start only with this much left; keep it below the hold length.
        TICKETING_PAYMENT_WINDOW_SECONDS="2",
    )
    server = AppServer(env=env, log_path=tmp_path_factory.mktemp("daphne-short") / "app.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stripe_server(_test_db_url, localstripe_base, tmp_path_factory) -> Iterator[AppServer]:
    """The app paying through Stripe, pointed at the session's localstripe (tests/stripe/)."""
    from tests.stripe import fixtures

    _require_chromium()
    env = _server_env(
        _test_db_url,
        STRIPE_SECRET_KEY=fixtures.SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY=fixtures.PUBLISHABLE_KEY,
        STRIPE_WEBHOOK_SECRET=fixtures.WEBHOOK_SECRET,
        STRIPE_API_BASE=localstripe_base,
    )
    server = AppServer(env=env, log_path=tmp_path_factory.mktemp("daphne-stripe") / "app.log")
    server.start()
    yield server
    server.stop()


@contextmanager
def _chromium() -> Iterator:
    """Playwright and Chromium for one test.

    Per test, not per session: Playwright's sync API keeps an asyncio loop marked as running
    on this thread for as long as it is started, and then every ``async_to_sync`` (channel
    layer clean-up, services pushing to websockets) in later tests would refuse to run.
    """
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def _browser_test_setup(request, monkeypatch):
    if not {"site", "short_hold_site", "stripe_site"} & set(request.fixturenames):
        return
    from playwright.sync_api import expect

    # Playwright's sync API keeps an asyncio loop on this thread; Django's ORM refuses to
    # run "inside" it unless told. Only these tests, only while they run.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)


class Site:
    """What a test needs to drive the app: its URL and fresh browser contexts."""

    def __init__(self, server: AppServer, browser) -> None:
        self.server = server
        self.url = server.url
        self._browser = browser
        self._contexts: list = []
        self.page_errors: list[str] = []

    def new_page(self, *, phone: bool = False, locale: str = "en-GB"):
        """A page in a fresh context (its own cookies: one buyer); ``locale`` is the browser's language."""
        options = {"base_url": self.url, "locale": locale, "timezone_id": "UTC"}
        if phone:
            options.update(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        else:
            options.update(viewport={"width": 1280, "height": 900})
        context = self._browser.new_context(**options)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        self._contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        return page

    def log_in(self, page, user, password: str = PASSWORD) -> None:
        # By field names, not labels: the page may be in any language.
        page.goto("/accounts/login/")
        form = page.locator("main form")
        form.locator('input[name="username"]').fill(user.email)
        form.locator('input[name="password"]').fill(password)
        form.locator('button[type="submit"]').click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    def close(self) -> None:
        for context in self._contexts:
            context.close()


def screenshot(page, name: str) -> Path:
    """Save ``<SCREENSHOTS>/<name>.png``; the run still checks the page renders and can be captured."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def _make_site(server: AppServer, request) -> Iterator[Site]:
    from django.db import connections

    with _chromium() as browser:
        site = Site(server, browser)
        yield site
        site.close()
        # While Playwright's loop runs, asgiref gives the test body its own (context-local)
        # connections; hand them back to the pool now, or they outlive the test database.
        connections.close_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        sys.stderr.write(f"\n--- daphne log ---\n{server.log_tail()}\n")
    elif report is not None and report.passed:
        assert not site.page_errors, f"JavaScript errors on the page: {site.page_errors}"


@pytest.fixture
def site(transactional_db, app_server, request) -> Iterator[Site]:
    yield from _make_site(app_server, request)


@pytest.fixture
def short_hold_site(transactional_db, short_hold_server, request) -> Iterator[Site]:
    yield from _make_site(short_hold_server, request)


@pytest.fixture
def stripe_site(transactional_db, stripe_server, localstripe_base, request) -> Iterator[Site]:
    from tests.stripe.fixtures import localstripe_reset

    localstripe_reset(localstripe_base)
    yield from _make_site(stripe_server, request)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def needs(*paths: str, websocket: bool = False) -> None:
    """Skip while a route this journey drives is not in the tree yet (parts built on other branches).

    Once the routes exist the journey runs: this is never a permanent skip.
    """
    from django.urls import Resolver404, resolve

    missing = []
    for path in paths:
        try:
            resolve(path)
        except Resolver404:
            missing.append(path)
    if websocket:
        from ticketing.config.routing import websocket_urlpatterns

        if not any(p.pattern.match("ws/events/1/") for p in websocket_urlpatterns):
            missing.append("/ws/events/<id>/")
    if missing:
        pytest.skip(f"routes not merged yet: {', '.join(missing)}")
