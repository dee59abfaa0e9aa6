"""Cache versions read on the event loop (ticketing/server/version_prefetch.py), on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from asgiref.sync import async_to_sync

from checkout.selectors import availability
from checkout.selectors.availability import EVENT_VERSIONS_BATCH_SQL
from events.selectors import cache as cache_selectors
from tests import inventory
from tests.asgi import request
from tests.factories import UserFactory, make_event
from tests.ticketing.test_metrics import delta, scrape
from ticketing.config.asgi import application
from ticketing.server.version_prefetch import (
    SCOPE_KEY,
    VersionPrefetch,
    VersionReader,
    VersionReadFailed,
    Versions,
)

# The reader has its own connection: the data must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)


def run(coro_fn):
    return async_to_sync(coro_fn)()


def held(event, n: int = 1) -> None:
    inventory.hold(event, inventory.seat_ids(event, n), user=UserFactory())


def bump_outside_django(event_id: int) -> None:
    """A committed inventory version bump on a connection of its own (blocks the loop)."""
    params = VersionReader(sql=EVENT_VERSIONS_BATCH_SQL).connection_params()
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(
            "UPDATE checkout_inventoryversion SET version = version + 1 WHERE event_id = %s AND shard = "
            "(SELECT MIN(shard) FROM checkout_inventoryversion WHERE event_id = %s)",
            [event_id, event_id],
        )


def test_it_reads_what_the_view_would_read():
    a, b = make_event(), make_event()
    held(a, 2)
    held(b)
    reader = VersionReader(sql=EVENT_VERSIONS_BATCH_SQL)

    async def scenario():
        try:
            return await asyncio.gather(reader.read(a.id), reader.read(b.id), reader.read(None))
        finally:
            reader.close()

    va, vb, vcat = run(scenario)
    assert (va.catalog, va.inventory) == availability.event_versions_read(event_id=a.id)
    assert (vb.catalog, vb.inventory) == availability.event_versions_read(event_id=b.id)
    assert vcat == Versions(cache_selectors.catalog_version_read())
    assert va.inventory > 0


def test_an_event_without_versions_reads_zero():
    reader = VersionReader(sql=EVENT_VERSIONS_BATCH_SQL)

    async def scenario():
        try:
            return await reader.read(987654321)
        finally:
            reader.close()

    assert run(scenario).inventory == 0


def test_requests_waiting_together_share_one_query(client):
    events = [make_event() for _ in range(3)]
    before = scrape(client)
    held(events[1])
    reader = VersionReader(sql=EVENT_VERSIONS_BATCH_SQL)

    async def scenario():
        try:
            return await asyncio.gather(*(reader.read(e.id) for e in events * 5))
        finally:
            reader.close()

    results = run(scenario)
    assert reader.queries == 1
    after = scrape(client)
    assert delta(before, after, "ticketing_version_reads_total", outcome="ok") == 1
    assert delta(before, after, "ticketing_version_read_requests_total", outcome="ok") == 15
    for event, versions in zip(events * 5, results, strict=True):
        assert versions.event_id == event.id
        assert versions.inventory == availability.event_versions_read(event_id=event.id)[1]


def test_a_request_that_goes_away_does_not_fail_its_batch():
    event = make_event()
    reader = VersionReader(sql=EVENT_VERSIONS_BATCH_SQL)

    async def scenario():
        try:
            leaving = asyncio.ensure_future(reader.read(event.id))
            staying = asyncio.ensure_future(reader.read(event.id))
            await asyncio.sleep(0)  # both have joined the batch
            leaving.cancel()  # daphne cancels a request whose client disconnected
            return await staying, leaving.cancelled()
        finally:
            reader.close()

    versions, cancelled = run(scenario)
    assert cancelled
    assert versions.inventory == availability.event_versions_read(event_id=event.id)[1]
    assert reader.queries == 1


def test_a_request_never_joins_a_query_already_sent():
    """The never-stale rule: a read asked for after a commit sees it, even with a query out."""
    event = make_event()
    held(event)
    before = availability.event_versions_read(event_id=event.id)[1]
    reader = VersionReader(sql=EVENT_VERSIONS_BATCH_SQL)

    async def scenario():
        try:
            first = asyncio.ensure_future(reader.read(event.id))
            while reader.queries == 0:  # until the first batch's query is on the wire
                await asyncio.sleep(0)
            # Committed while that query is out; the loop is blocked, so its answer waits.
            bump_outside_django(event.id)
            second = await reader.read(event.id)
            return await first, second
        finally:
            reader.close()

    first, second = run(scenario)
    assert reader.queries == 2
    assert first.inventory in (before, before + 1)  # concurrent with the commit: either
    assert second.inventory == before + 1


def test_a_failed_read_leaves_the_request_to_the_view():
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    broken = VersionReader(sql="SELECT no_such_column FROM events_catalogversion")
    middleware = VersionPrefetch(app, routes=[r"/api/events/(?P<event>[0-9]+)"], reader=broken)

    async def scenario():
        try:
            await middleware({"type": "http", "method": "GET", "path": "/api/events/1"}, None, None)
        finally:
            broken.close()

    run(scenario)
    assert seen["path"] == "/api/events/1"
    assert SCOPE_KEY not in seen


def test_only_reads_of_the_routes_are_prefetched():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope.get(SCOPE_KEY))

    reader = VersionReader(sql=EVENT_VERSIONS_BATCH_SQL)
    middleware = VersionPrefetch(app, routes=[r"/api/events/(?P<event>[0-9]+)"], reader=reader)

    async def scenario():
        try:
            for method, path in [
                ("POST", "/api/events/1"),
                ("GET", "/api/events/1/holds"),
                ("GET", "/api/events/" + "9" * 30),  # beyond a bigint: left to the view's 404
                ("GET", "/api/events/1"),
            ]:
                await middleware({"type": "http", "method": method, "path": path}, None, None)
        finally:
            reader.close()

    run(scenario)
    assert seen[:3] == [None, None, None]
    assert seen[3] is not None and seen[3].event_id == 1
    assert reader.queries == 1


def test_the_deployed_app_shows_a_hold_on_the_very_next_read():
    event = make_event()
    reader = application.application_mapping["http"].reader
    sent = reader.queries

    status, _, body = request("GET", f"/api/events/{event.id}")
    assert status == 200
    free = json.loads(body)["available"]
    held(event, 2)

    status, _, body = request("GET", f"/api/events/{event.id}")
    assert status == 200
    assert json.loads(body)["available"] == free - 2
    status, _, body = request("GET", f"/api/events/{event.id}/seats")
    assert json.loads(body)["seats"]["free"].count("0") == 2
    assert reader.queries == sent + 3  # each read's versions came from the event loop


def test_pages_and_lists_use_the_prefetched_catalog_version():
    event = make_event(title="Prefetched Quartet")
    reader = application.application_mapping["http"].reader
    sent = reader.queries
    status, _, body = request("GET", "/api/events")
    assert status == 200
    assert event.id in [item["id"] for item in json.loads(body)["items"]]
    status, _, body = request("GET", f"/events/{event.id}/")
    assert status == 200 and b"Prefetched Quartet" in body
    status, _, body = request("GET", "/")
    assert status == 200 and b"Prefetched Quartet" in body
    assert reader.queries == sent + 3


class _Unreachable(VersionReader):
    attempts = 0

    def connection_params(self) -> dict:
        type(self).attempts += 1
        return {**super().connection_params(), "host": "127.0.0.1", "port": 1}


def test_an_unreachable_database_fails_fast_and_is_retried_later(client):
    reader = _Unreachable(sql=EVENT_VERSIONS_BATCH_SQL)
    before = scrape(client)

    async def scenario():
        outcomes = []
        try:
            for _ in range(3):
                try:
                    await reader.read(1)
                    outcomes.append("read")
                except VersionReadFailed:
                    outcomes.append("failed")
            return outcomes
        finally:
            reader.close()

    assert run(scenario) == ["failed"] * 3
    # One connection attempt; the next reads within RETRY_SECONDS did not try again.
    assert _Unreachable.attempts == 1
    after = scrape(client)
    assert delta(before, after, "ticketing_version_read_requests_total", outcome="failed") == 1
    assert delta(before, after, "ticketing_version_read_requests_total", outcome="skipped") == 2
