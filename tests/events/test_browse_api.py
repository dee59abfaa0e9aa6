"""Public catalog API: the cache is used, never stale, revalidates with ETags, stays small."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading

import pytest
from django.core.cache import cache as django_cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkout.models import Hold, SeatInventory, SeatStatus
from checkout.selectors import event_page
from checkout.services.versions import inventory_version_bump
from events.selectors import catalog
from events.services import venues
from tests import inventory
from tests.factories import UserFactory, make_event, make_venue
from ticketing.management.commands.seed_demo import arena_sections

pytestmark = pytest.mark.django_db


def get_json(client, path, **params):
    r = client.get(path, params)
    assert r.status_code == 200, r.content
    return r.json()


def test_ping(api_client):
    assert get_json(api_client, "/api/ping") == {"ok": True}


def test_list_filters_through_the_api(api_client):
    berlin = make_venue(city="Berlin")
    a = make_event(venue=berlin, category="music", title="Alpha Beat")
    b = make_event(venue=make_venue(city="Vienna"), category="sports")
    c = make_event(venue=berlin, category="comedy")
    ids = lambda **p: [i["id"] for i in get_json(api_client, "/api/events", **p)["items"]]  # noqa: E731
    assert ids() == [a.id, b.id, c.id]
    assert ids(category=["music", "comedy"]) == [a.id, c.id]
    assert ids(venue=berlin.id) == [a.id, c.id]
    assert ids(city="VIENNA") == [b.id]
    assert ids(q="alpha") == [a.id]
    body = get_json(api_client, "/api/events", size=2, page=2)
    assert ([i["id"] for i in body["items"]], body["total"], body["pages"]) == ([c.id], 3, 2)


def test_list_rejects_bad_input_without_writing(api_client, unchanged):
    with unchanged():
        bad = [{"category": "opera"}, {"size": 1000}, {"date_from": "31-12-2027"}, {"page": 0}]
        for params in bad * 2:  # twice: a rejected query must not leave a cache entry behind
            r = api_client.get("/api/events", params)
            assert r.status_code == 422, params
            assert r.json()["code"] == "VALIDATION_ERROR"


def test_venues_and_categories(api_client):
    venue = make_venue(city="Graz", name="Orpheum")
    venues = get_json(api_client, "/api/venues")["items"]
    assert {"id": venue.id, "name": "Orpheum", "city": "Graz"}.items() <= venues[0].items()
    cats = get_json(api_client, "/api/categories")["items"]
    assert {"value": "music", "label": "Music"} in cats


def test_detail_carries_the_stage_staff_drew(api_client):
    event = make_event(price="30.00")
    assert get_json(api_client, f"/api/events/{event.pk}")["venue"]["stage"] is None
    stage = {"x": 100.0, "y": 10.0, "width": 300.0, "height": 40.0, "label": "Orchestra pit"}
    event.venue.stage = stage
    event.venue.save(update_fields=["stage"])
    from events.services.catalog import event_catalog_changed

    event_catalog_changed(venue_id=event.venue_id)
    assert get_json(api_client, f"/api/events/{event.pk}")["venue"]["stage"] == stage


def test_detail_and_draft_404(api_client):
    event = make_event(price="30.00")
    body = get_json(api_client, f"/api/events/{event.pk}")
    assert body["status"] == "on_sale"
    assert body["venue"]["id"] == event.venue_id
    section = event.venue.sections.get()
    assert body["sections"] == [
        {
            "id": section.id,
            "name": "Main",
            "kind": "reserved",
            "price": "30.00",
            "currency": "EUR",
            "total": 10,
            "available": 10,
        }
    ]
    draft = make_event(publish=False)
    for path in (f"/api/events/{draft.pk}", f"/api/events/{draft.pk}/seats", "/api/events/999999"):
        r = api_client.get(path)
        assert r.status_code == 404
        assert r.json()["code"] == "NOT_FOUND"


def test_repeated_detail_read_does_not_touch_the_inventory(api_client):
    event = make_event()
    for path in (f"/api/events/{event.pk}", f"/api/events/{event.pk}/seats"):
        api_client.get(path)
        with CaptureQueriesContext(connection) as ctx:
            r = api_client.get(path)
        assert r.status_code == 200
        assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]
        assert not any("checkout_seatinventory" in q["sql"] for q in ctx.captured_queries)
    api_client.get("/api/events")
    with CaptureQueriesContext(connection) as ctx:
        api_client.get("/api/events")
    assert len(ctx.captured_queries) == 1
    assert "events_catalogversion" in ctx.captured_queries[0]["sql"]


def test_cache_is_really_used_control(api_client):
    """Control: a change that skips the version bump is not seen, so reads come from the cache."""
    event = make_event()
    assert get_json(api_client, f"/api/events/{event.pk}")["available"] == 10
    expires = timezone.now() + dt.timedelta(minutes=5)
    hold = Hold.objects.create(event=event, user=UserFactory(), expires_at=expires)
    SeatInventory.objects.filter(event=event, seat_id=inventory.seat_ids(event, 1)[0]).update(
        status=SeatStatus.HELD, hold=hold, hold_expires_at=expires
    )
    assert get_json(api_client, f"/api/events/{event.pk}")["available"] == 10
    with transaction.atomic():
        inventory_version_bump(event_id=event.pk)
    assert get_json(api_client, f"/api/events/{event.pk}")["available"] == 9


@pytest.mark.parametrize("change", ["hold", "purchase", "release", "sweep", "cancel"])
def test_every_change_is_seen_by_the_next_read_from_a_fresh_client(change):
    event = make_event()
    user = UserFactory()
    reader = Client()
    seats = inventory.seat_ids(event, 2)
    path = f"/api/events/{event.pk}"
    expected = {"hold": 8, "purchase": 8, "release": 10, "sweep": 10, "cancel": 10}[change]
    if change == "hold":
        get_json(reader, path), get_json(reader, path + "/seats")
        inventory.hold(event, seats, user=user)
    else:
        h = inventory.hold(event, seats, user=user, expires_at=timezone.now() + dt.timedelta(seconds=60))
        order = inventory.purchase(h) if change in ("purchase", "cancel") else None
        get_json(reader, path), get_json(reader, path + "/seats")
        if change == "release":
            inventory.release(h)
        elif change == "sweep":
            inventory.sweep(h, now=h.expires_at)
        elif change == "cancel":
            inventory.cancel(order)
    fresh = Client()
    assert get_json(fresh, path)["available"] == expected
    seat_map = get_json(fresh, path + "/seats")["seats"]
    assert seat_map["free"].count("1") == expected


def test_expired_unswept_hold_is_free_without_any_write():
    event = make_event()
    now = timezone.now()
    inventory.hold(
        event, inventory.seat_ids(event, 3), user=UserFactory(), expires_at=now + dt.timedelta(minutes=1)
    )
    assert event_page.event_detail_snapshot(event_id=event.pk, now=now).data["available"] == 7
    later = now + dt.timedelta(minutes=1, seconds=1)
    with CaptureQueriesContext(connection) as ctx:
        assert event_page.event_detail_snapshot(event_id=event.pk, now=later).data["available"] == 10
    assert len(ctx.captured_queries) > 1, "the cached entry must not outlive the hold"


def test_list_learns_about_sales_opening_without_a_catalog_change():
    opens = timezone.now() + dt.timedelta(hours=1)
    event = make_event(sales_open_at=opens)
    f = catalog.EventFilters.build()
    status = lambda now: catalog.event_list_snapshot(filters=f, now=now).data["items"][0]["status"]  # noqa: E731
    assert status(timezone.now()) == "not_open"
    assert status(opens) == "on_sale"
    assert event.pk


def test_list_invalidated_by_catalog_changes(api_client):
    venue = make_venue(rows=1, seats_per_row=1)
    event = make_event(venue=venue)
    assert get_json(api_client, "/api/events")["items"][0]["status"] == "on_sale"
    h = inventory.hold(event, inventory.seat_ids(event), user=UserFactory())
    assert get_json(Client(), "/api/events")["items"][0]["status"] == "sold_out"
    inventory.release(h)
    assert get_json(Client(), "/api/events")["items"][0]["status"] == "on_sale"
    other = make_event(venue=venue)
    assert [i["id"] for i in get_json(Client(), "/api/events")["items"]] == [event.pk, other.pk]


@pytest.mark.parametrize("path", ["/api/events", "/api/events/{id}", "/api/events/{id}/seats", "/api/venues"])
def test_etag_and_304(api_client, path):
    event = make_event()
    url = path.format(id=event.pk)
    r = api_client.get(url)
    etag = r["ETag"]
    assert etag.startswith('"') and r["Cache-Control"] == "public, no-cache"
    r = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 304 and r.content == b"" and r["ETag"] == etag
    assert api_client.get(url, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert api_client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    if "{id}" in path:
        inventory.hold(event, inventory.seat_ids(event, 1), user=UserFactory())
    else:
        make_event(venue=make_venue())
    r = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r["ETag"] != etag


def test_gzip_when_accepted(api_client):
    event = make_event()
    plain = api_client.get(f"/api/events/{event.pk}/seats")
    assert "Content-Encoding" not in plain
    zipped = api_client.get(f"/api/events/{event.pk}/seats", HTTP_ACCEPT_ENCODING="gzip, br")
    # Accept-Language too: the API's messages are in the buyer's language.
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()


def test_list_query_count_does_not_grow_with_events(api_client):
    def queries_for(n: int) -> int:
        venue = make_venue(rows=1, seats_per_row=1)
        for _ in range(n):
            make_event(venue=venue)
        django_cache.clear()
        with CaptureQueriesContext(connection) as ctx:
            body = get_json(api_client, "/api/events", size=100, venue=venue.id)
        assert len(body["items"]) == n
        return len(ctx.captured_queries)

    assert queries_for(5) == queries_for(50) == 2  # the version, then one query for the page


def test_detail_miss_query_budget(api_client, django_assert_max_num_queries):
    event = make_event(
        venue=make_venue(sections=[venues.SectionSpec(name=f"S{i}", rows=[("A", 2)]) for i in range(8)])
    )
    with django_assert_max_num_queries(6):
        get_json(api_client, f"/api/events/{event.pk}")
    with django_assert_max_num_queries(6):
        get_json(api_client, f"/api/events/{event.pk}/seats")


def test_arena_seat_map_is_well_under_200_kb_gzipped(api_client):
    venue = venues.venue_create(
        name="Arena", city="Berlin", country="DE", timezone="Europe/Berlin", sections=arena_sections()
    )
    event = make_event(venue=venue)
    # A realistic on-sale state: scattered seats taken, so the free column is not all ones.
    # (Not the first row: the event's on-sale anchor, which the database keeps.)
    taken = list(
        SeatInventory.objects.filter(event=event).order_by("seat_id").values_list("pk", flat=True)[1::7]
    )
    SeatInventory.objects.filter(pk__in=taken).delete()
    with transaction.atomic():
        inventory_version_bump(event_id=event.pk)
    r = api_client.get(f"/api/events/{event.pk}/seats", HTTP_ACCEPT_ENCODING="gzip")
    size = len(r.content)
    body = json.loads(gzip.decompress(r.content))
    assert len(body["seats"]["id"]) == 20_000 - len(taken)
    assert size < 100_000, f"arena seat map is {size} bytes gzipped"
    print(f"arena seat map: {size} bytes gzipped, {len(gzip.decompress(r.content))} raw")


def test_sold_seat_is_not_free_in_the_seat_map(api_client):
    event = make_event()
    seat = inventory.seat_ids(event, 1)[0]
    inventory.purchase(inventory.hold(event, [seat], user=UserFactory()))
    seats = get_json(api_client, f"/api/events/{event.pk}/seats")["seats"]
    assert seats["free"][seats["id"].index(seat)] == "0"
    assert SeatInventory.objects.get(event=event, seat_id=seat).status == SeatStatus.SOLD


def test_rebuild_after_a_hold_reads_only_the_taken_seats(api_client):
    """During an on-sale the inventory version moves constantly: a rebuild skips the static part."""
    event = make_event()
    paths = (f"/api/events/{event.pk}", f"/api/events/{event.pk}/seats")
    for path in paths:
        api_client.get(path)
    inventory.hold(event, inventory.seat_ids(event, 2), user=UserFactory())
    for path in paths:
        with CaptureQueriesContext(connection) as ctx:
            body = get_json(api_client, path)
        sql = [q["sql"] for q in ctx.captured_queries]
        assert len(sql) == 2, sql  # the versions, then the taken seats
        assert not any("events_seat" in s or "events_event" in s or "events_price" in s for s in sql)
        free = body["available"] if "available" in body else body["seats"]["free"].count("1")
        assert free == 8


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_hold_committed_on_another_connection_is_seen_by_the_next_read():
    event = make_event(venue=make_venue(rows=1, seats_per_row=2))
    user = UserFactory()
    reader = Client()
    assert get_json(reader, f"/api/events/{event.pk}")["available"] == 2
    assert get_json(reader, "/api/events")["items"][0]["status"] == "on_sale"

    def buyer():
        try:
            inventory.hold(event, inventory.seat_ids(event), user=user)
        finally:
            connection.close()

    t = threading.Thread(target=buyer)
    t.start()
    t.join()
    assert get_json(reader, f"/api/events/{event.pk}")["available"] == 0
    assert get_json(reader, f"/api/events/{event.pk}")["status"] == "sold_out"
    assert get_json(reader, "/api/events")["items"][0]["status"] == "sold_out"
