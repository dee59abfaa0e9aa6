"""Admission control (ticketing/server/admission.py): overload is a wait, then 503 BUSY; never a 500."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import connection
from psycopg_pool import PoolTimeout

from ticketing.server.admission import AdmissionLimiter

WAIT = 30  # seconds: a deadline against hanging, not a timing assertion


class BlockingApp:
    """An inner app whose requests stay in flight until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        self.started.append(scope["path"])
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def http_scope(path: str = "/api/events", method: str = "GET") -> dict:
    return {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}


async def start(app, path: str = "/api/events", method: str = "GET") -> ApplicationCommunicator:
    request = ApplicationCommunicator(app, http_scope(path, method))
    await request.send_input({"type": "http.request", "body": b""})
    return request


async def response(request: ApplicationCommunicator) -> tuple[int, dict, bytes]:
    head = await request.receive_output(WAIT)
    body = await request.receive_output(WAIT)
    return head["status"], {k.decode(): v.decode() for k, v in head["headers"]}, body["body"]


async def until(condition) -> None:
    for _ in range(WAIT * 100):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_a_request_past_the_limit_with_no_wait_budget_gets_busy_json():
    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(inner, limit=1, wait_seconds=0, retry_after=3)
        first = await start(limiter)
        await until(lambda: inner.started)

        status, headers, body = await response(await start(limiter, "/api/holds/1/purchase"))
        assert status == 503
        assert headers["retry-after"] == "3"
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == {
            "code": "BUSY",
            "message": "The system is busy; please retry in a moment.",
            "extra": {"retry_after": 3},
        }
        # The refused request never reached Django.
        assert inner.started == ["/api/events"]

        inner.release.set()
        assert (await response(first))[0] == 200
        assert limiter.active == 0

    async_to_sync(scenario)()


def test_a_page_past_the_limit_gets_a_short_busy_page():
    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(inner, limit=1, wait_seconds=0)
        first = await start(limiter, "/events/")
        await until(lambda: inner.started)

        status, headers, body = await response(await start(limiter, "/events/7/"))
        assert status == 503
        assert headers["content-type"].startswith("text/html")
        assert "retry-after" in headers
        assert b"try again" in body
        inner.release.set()
        await response(first)

    async_to_sync(scenario)()


def test_waiting_room_requests_wait_instead_of_being_shed():
    """A buyer joining or reading the waiting-room queue is queued, never answered 503."""

    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(inner, limit=1, wait_seconds=0, never_shed=[r"/api/events/[0-9]+/queue"])
        first = await start(limiter)
        await until(lambda: inner.started)
        queued = await start(limiter, "/api/events/7/queue", "POST")
        # The control: any other request past the limit is shed at once.
        assert (await response(await start(limiter, "/api/events/7/queue/x")))[0] == 503
        await until(lambda: limiter.waiting == 1)
        inner.release.set()
        assert (await response(first))[0] == 200
        assert (await response(queued))[0] == 200
        assert inner.started == ["/api/events", "/api/events/7/queue"]
        assert limiter.rejected == 1 and limiter.active == 0

    async_to_sync(scenario)()


def test_a_buyer_checking_out_goes_before_queue_joins_that_arrived_first():
    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(
            inner, limit=1, wait_seconds=WAIT, never_shed=[r"/api/events/[0-9]+/queue"]
        )
        first = await start(limiter)
        await until(lambda: inner.started)
        join = await start(limiter, "/api/events/7/queue", "POST")
        await until(lambda: limiter.waiting == 1)
        hold = await start(limiter, "/api/events/7/holds", "POST")
        await until(lambda: limiter.waiting == 2)
        inner.release.set()
        for request in (first, hold, join):
            assert (await response(request))[0] == 200
        assert inner.started == ["/api/events", "/api/events/7/holds", "/api/events/7/queue"]

    async_to_sync(scenario)()


def test_waiting_requests_start_in_arrival_order_when_a_slot_frees():
    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(inner, limit=1, wait_seconds=WAIT)
        first = await start(limiter, "/first")
        await until(lambda: inner.started)
        second = await start(limiter, "/second")
        third = await start(limiter, "/third")
        await until(lambda: limiter.waiting == 2)
        assert inner.started == ["/first"]

        inner.release.set()
        for request in (first, second, third):
            assert (await response(request))[0] == 200
        assert inner.started == ["/first", "/second", "/third"]
        assert limiter.active == 0
        assert limiter.rejected == 0

    async_to_sync(scenario)()


def test_a_waiting_purchase_goes_before_waiting_page_views():
    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(inner, limit=1, wait_seconds=WAIT)
        first = await start(limiter, "/api/events")
        await until(lambda: inner.started)
        read = await start(limiter, "/api/events/1")
        await until(lambda: limiter.waiting == 1)
        write = await start(limiter, "/api/holds/1/purchase", method="POST")
        await until(lambda: limiter.waiting == 2)

        inner.release.set()
        for request in (first, read, write):
            assert (await response(request))[0] == 200
        assert inner.started == ["/api/events", "/api/holds/1/purchase", "/api/events/1"]

    async_to_sync(scenario)()


def test_a_queued_request_whose_client_left_does_not_keep_a_slot():
    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(inner, limit=1, wait_seconds=WAIT)
        first = await start(limiter, "/first")
        await until(lambda: inner.started)
        gone = await start(limiter, "/gone")
        await until(lambda: limiter.waiting == 1)
        gone.future.cancel()
        await until(lambda: limiter.waiting == 0)

        inner.release.set()
        await response(first)
        assert limiter.active == 0
        # The freed slot went to the next caller, not to the one that left.
        later = await start(limiter, "/later")
        assert (await response(later))[0] == 200
        assert inner.started == ["/first", "/later"]

    async_to_sync(scenario)()


def test_liveness_and_websockets_bypass_the_queue():
    async def scenario():
        inner = BlockingApp()
        limiter = AdmissionLimiter(inner, limit=1, wait_seconds=0, exempt={"/healthz"})
        first = await start(limiter, "/api/events")
        await until(lambda: inner.started)
        health = await start(limiter, "/healthz")
        await until(lambda: len(inner.started) == 2)
        socket = ApplicationCommunicator(limiter, {"type": "websocket", "path": "/ws/events/1/"})
        await socket.send_input({"type": "websocket.connect"})
        await until(lambda: len(inner.started) == 3)
        inner.release.set()
        assert (await response(first))[0] == 200
        assert (await response(health))[0] == 200
        await socket.receive_output(WAIT)

    async_to_sync(scenario)()


def test_the_deployed_http_app_is_behind_the_limiter(settings):
    from ticketing.config.asgi import application

    # Behind the version prefetch (ticketing/server/version_prefetch.py) and the waiting room's
    # batched joins (waitlist/queue_loop.py), which take no slot.
    limiter = application.application_mapping["http"].app.app
    assert isinstance(limiter, AdmissionLimiter)
    assert limiter.limit == settings.TICKETING_MAX_CONCURRENT_REQUESTS
    # Below the pool: websocket handlers draw on the same connections.
    assert limiter.limit < settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]


def raise_pool_timeout(*args, **kwargs):
    # Wrapped exactly as Django wraps psycopg_pool's error when it opens a connection.
    with connection.wrap_database_errors:
        raise PoolTimeout("couldn't get a connection after 5.00 sec")


@pytest.mark.django_db
def test_api_pool_timeout_is_busy_not_a_server_error(api_client, monkeypatch):
    from checkout.selectors import event_page

    monkeypatch.setattr(event_page, "event_detail_snapshot", raise_pool_timeout)
    response = api_client.get("/api/events/1")
    assert response.status_code == 503
    assert response.json()["code"] == "BUSY"
    assert response["Retry-After"] == "1"


@pytest.mark.django_db
@pytest.mark.parametrize("error", ["OperationalError", "InterfaceError"])
def test_a_lost_database_is_busy_not_a_server_error(api_client, client, monkeypatch, error):
    """Issue 16: while PostgreSQL is unreachable or restarting every request answers 503 BUSY."""
    from django import db

    from checkout.selectors import event_page
    from events.selectors import catalog

    def broken(**kwargs):
        raise getattr(db, error)("server closed the connection unexpectedly")

    monkeypatch.setattr(event_page, "event_detail_snapshot", broken)
    monkeypatch.setattr(catalog, "venue_list_snapshot", broken)
    response = api_client.get("/api/events/1")
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert response.json()["code"] == "BUSY"
    page = client.get("/")
    assert page.status_code == 503 and page["Retry-After"] == "1"


@pytest.mark.django_db
def test_other_database_errors_stay_server_errors(client, monkeypatch):
    from django.db import ProgrammingError

    from checkout.selectors import event_page

    def broken(**kwargs):
        raise ProgrammingError("column does not exist")

    monkeypatch.setattr(event_page, "event_detail_snapshot", broken)
    client.raise_request_exception = False
    assert client.get("/api/events/1").status_code == 500


@pytest.mark.django_db
def test_page_pool_timeout_is_the_busy_page(client, monkeypatch):
    from events.selectors import catalog

    monkeypatch.setattr(catalog, "venue_list_snapshot", raise_pool_timeout)
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert b"try again" in response.content
