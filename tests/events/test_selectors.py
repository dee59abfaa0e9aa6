"""Browse reads: filters, local-date boundaries, search, pagination, status, availability."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
from django.db import connection
from django.utils import timezone

from checkout.selectors import availability, event_page
from events.models import Event, EventStatus, Venue
from events.selectors import catalog
from events.services import catalog as catalog_services
from events.services import venues
from tests import inventory
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.django_db


def local(tz: str, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(tz))


def listed(now=None, page=1, size=50, **filters) -> list[int]:
    data, _ = catalog.event_list(filters=catalog.EventFilters.build(**filters), page=page, size=size, now=now)
    return [item["id"] for item in data["items"]]


def item_of(event, now=None, **filters) -> dict:
    data, _ = catalog.event_list(filters=catalog.EventFilters.build(**filters), size=100, now=now)
    return next(i for i in data["items"] if i["id"] == event.id)


def test_categories_several_venue_and_city():
    berlin, vienna = make_venue(city="Berlin"), make_venue(city="Vienna", timezone_name="Europe/Vienna")
    music = make_event(venue=berlin, category="music")
    sports = make_event(venue=vienna, category="sports")
    comedy = make_event(venue=vienna, category="comedy")
    assert listed() == [music.id, sports.id, comedy.id]
    assert set(listed(categories=["music", "sports"])) == {music.id, sports.id}
    assert listed(venue_ids=[berlin.id]) == [music.id]
    assert set(listed(venue_ids=[berlin.id, vienna.id])) == {music.id, sports.id, comedy.id}
    assert set(listed(city="vienna")) == {sports.id, comedy.id}  # case-insensitive
    assert listed(city="Vienna", categories=["comedy"]) == [comedy.id]
    assert listed(city="Paris") == []


def test_sorted_by_start_upcoming_only_by_default():
    venue = make_venue()
    later = make_event(venue=venue, starts_in=dt.timedelta(days=20))
    sooner = make_event(venue=venue, starts_in=dt.timedelta(days=2))
    gone = make_event(venue=venue, starts_in=dt.timedelta(days=-2))
    assert listed() == [sooner.id, later.id]
    assert listed(include_past=True) == [gone.id, sooner.id, later.id]
    assert item_of(gone, include_past=True)["status"] == "past"


def test_drafts_are_never_public_and_cancelled_stay_visible():
    venue = make_venue()
    draft = make_event(venue=venue, publish=False)
    cancelled = make_event(venue=venue)
    Event.objects.filter(pk=cancelled.pk).update(status=EventStatus.CANCELLED)
    ids = listed()
    assert draft.id not in ids
    assert item_of(cancelled)["status"] == "cancelled"
    assert cancelled.id not in listed(available_only=True)


def test_local_date_boundaries_across_midnight():
    ny = make_venue(timezone_name="America/New_York", city="New York")
    # 23:30 on 10 Jan in New York is already 11 Jan in UTC.
    late = make_event(venue=ny, starts_at=local("America/New_York", 2027, 1, 10, 23, 30))
    early = make_event(venue=ny, starts_at=local("America/New_York", 2027, 1, 11, 0, 15))
    on = dict(include_past=True)
    assert listed(date_from=dt.date(2027, 1, 10), date_to=dt.date(2027, 1, 10), **on) == [late.id]
    assert listed(date_from=dt.date(2027, 1, 11), date_to=dt.date(2027, 1, 11), **on) == [early.id]
    assert listed(date_from=dt.date(2027, 1, 11), **on) == [early.id]
    assert listed(date_to=dt.date(2027, 1, 10), **on) == [late.id]
    assert listed(date_from=dt.date(2027, 1, 12), **on) == []


def test_same_instant_is_a_different_local_date_per_venue():
    berlin = make_venue(timezone_name="Europe/Berlin")
    auckland = make_venue(timezone_name="Pacific/Auckland", city="Auckland")
    instant = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)  # 13:00 in Berlin, 01:00 next day in Auckland
    b = make_event(venue=berlin, starts_at=instant)
    a = make_event(venue=auckland, starts_at=instant)
    assert listed(date_from=dt.date(2027, 3, 1), date_to=dt.date(2027, 3, 1), include_past=True) == [b.id]
    assert listed(date_from=dt.date(2027, 3, 2), date_to=dt.date(2027, 3, 2), include_past=True) == [a.id]
    assert item_of(a, include_past=True)["starts_at"] == "2027-03-02T01:00:00+13:00"


@pytest.mark.parametrize(
    ("tz", "day", "inside", "outside"),
    [
        # Berlin leaves summer time on 31 Oct 2027 (25-hour day): 00:30 is CEST, 23:30 is CET.
        ("Europe/Berlin", dt.date(2027, 10, 31), [(0, 30), (23, 30)], [(-1, 23, 59), (1, 0, 0)]),
        # New York enters summer time on 14 Mar 2027 (23-hour day).
        ("America/New_York", dt.date(2027, 3, 14), [(0, 0), (23, 59)], [(-1, 23, 59), (1, 0, 1)]),
    ],
)
def test_local_date_boundaries_across_dst(tz, day, inside, outside):
    venue = make_venue(timezone_name=tz)
    base = dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(tz))
    ins = [make_event(venue=venue, starts_at=base.replace(hour=h, minute=m)) for h, m in inside]
    outs = []
    for offset_days, h, m in outside:
        wall = dt.datetime.combine(day + dt.timedelta(days=offset_days), dt.time(h, m), zoneinfo.ZoneInfo(tz))
        outs.append(make_event(venue=venue, starts_at=wall))
    got = listed(date_from=day, date_to=day, include_past=True)
    assert got == [e.id for e in ins]
    assert (
        item_of(ins[0], include_past=True)["starts_at"][-6:]
        != item_of(ins[1], include_past=True)["starts_at"][-6:]
    ), "the two events straddle the DST change"


def test_full_text_search_title_description_venue_and_stemming():
    hall = make_venue(name="Philharmonie Hall")
    a = make_event(venue=hall, title="Moonlight Sonata", description="Piano recital")
    b = make_event(title="Derby Night", description="Two rival clubs meet for concerts of chants")
    assert listed(q="sonata") == [a.id]
    assert listed(q="PIANO") == [a.id]
    assert listed(q="philharmonie") == [a.id]
    assert listed(q="concert") == [b.id]  # stemmed: matches "concerts"
    assert listed(q="derby -sonata") == [b.id]  # web-search syntax
    assert listed(q="nothing-like-this") == []
    assert listed(q="moonlight", categories=["sports"]) == []


def test_search_follows_a_venue_rename():
    venue = make_venue(name="Old Barn")
    event = make_event(venue=venue)
    assert listed(q="barn") == [event.id]
    Venue.objects.filter(pk=venue.pk).update(name="Riverside Arena")
    catalog_services.event_catalog_changed(venue_id=venue.pk)
    assert listed(q="barn") == []
    assert listed(q="riverside") == [event.id]


def test_search_is_backed_by_the_gin_index():
    make_event(title="Indexed")
    qs = catalog._filtered(catalog.EventFilters.build(q="indexed", include_past=True), timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Unordered, so a full scan of the starts_at index (for its order) is no alternative.
        plan = qs.order_by().explain()
    assert "event_search_gin" in plan, plan


def test_pagination_with_total():
    venue = make_venue()
    events = [make_event(venue=venue, starts_in=dt.timedelta(days=i + 1)) for i in range(5)]
    f = catalog.EventFilters.build()
    pages = [catalog.event_list(filters=f, page=p, size=2)[0] for p in (1, 2, 3, 4)]
    assert [[i["id"] for i in p["items"]] for p in pages] == [
        [events[0].id, events[1].id],
        [events[2].id, events[3].id],
        [events[4].id],
        [],
    ]
    assert {(p["total"], p["pages"]) for p in pages} == {(5, 3)}


def test_list_item_shape():
    venue = make_venue(timezone_name="Europe/London", city="London", name="Round House")
    event = make_event(venue=venue, starts_at=local("Europe/London", 2027, 7, 1, 19, 30), price="12.50")
    item = item_of(event, include_past=True)
    assert item["venue"] == {"id": venue.id, "name": "Round House", "city": "London"}
    assert item["starts_at"] == "2027-07-01T19:30:00+01:00"
    assert item["timezone"] == "Europe/London"
    assert (item["lowest_price"], item["currency"]) == ("12.50", "EUR")


@pytest.mark.parametrize(
    ("now_offset", "expected"),
    [
        (dt.timedelta(days=-5), "not_open"),
        (dt.timedelta(days=-1), "on_sale"),
        (dt.timedelta(hours=-1), "sales_closed"),  # sales closed two hours before the start
        (dt.timedelta(hours=1), "sales_closed"),  # running
        (dt.timedelta(hours=4), "past"),
    ],
)
def test_status_follows_the_clock(now_offset, expected):
    starts = (timezone.now() + dt.timedelta(days=10)).replace(microsecond=0)
    event = make_event(
        starts_at=starts,
        sales_open_at=starts - dt.timedelta(days=3),
        sales_close_at=starts - dt.timedelta(hours=2),
    )
    now = starts + now_offset
    assert item_of(event, now=now, include_past=True)["status"] == expected
    assert event_page.event_detail(event_id=event.pk, now=now)[0]["status"] == expected


def test_not_open_carries_sales_open_at_in_local_time():
    starts = local("Europe/Berlin", 2030, 6, 1, 20, 0)
    event = make_event(starts_at=starts, sales_open_at=local("Europe/Berlin", 2030, 3, 1, 10, 0))
    item = item_of(event)
    assert item["status"] == "not_open"
    assert item["sales_open_at"] == "2030-03-01T10:00:00+01:00"


def test_sold_out_when_every_seat_held_until_first_hold_expires():
    NOW = timezone.now()  # per test: holds expire relative to it, and real time moves on
    event = make_event()
    user, other = UserFactory(), UserFactory()
    seats = inventory.seat_ids(event)
    t1, t2 = NOW + dt.timedelta(minutes=5), NOW + dt.timedelta(minutes=9)
    inventory.hold(event, seats[:4], user=user, expires_at=t1)
    assert item_of(event)["status"] == "on_sale"
    inventory.hold(event, seats[4:], user=other, expires_at=t2)
    assert item_of(event, now=NOW)["status"] == "sold_out"
    assert event.id not in listed(now=NOW, available_only=True)
    # No sweeper ran: the first expiry alone makes seats free again.
    after = t1 + dt.timedelta(seconds=1)
    assert item_of(event, now=after)["status"] == "on_sale"
    assert event.id in listed(now=after, available_only=True)


def test_available_only():
    venue = make_venue(rows=1, seats_per_row=2)
    open_ = make_event(venue=venue)
    soon = make_event(venue=venue, sales_open_at=timezone.now() + dt.timedelta(days=1))
    closed = make_event(
        venue=venue,
        starts_in=dt.timedelta(days=3),
        sales_close_at=timezone.now() + dt.timedelta(hours=1),
    )
    sold = make_event(venue=venue)
    order_hold = inventory.hold(sold, inventory.seat_ids(sold), user=UserFactory())
    inventory.purchase(order_hold)
    now = timezone.now() + dt.timedelta(hours=2)
    assert listed(now=now, available_only=True) == [open_.id, soon.id]
    assert set(listed(now=now)) == {open_.id, soon.id, closed.id, sold.id}


# --- availability ---------------------------------------------------------------------


def counts(event, now=None) -> tuple[int, list[int]]:
    data, _ = event_page.event_detail(event_id=event.pk, now=now)
    return data["available"], [s["available"] for s in data["sections"]]


def test_exact_counts_after_every_kind_of_change():
    NOW = timezone.now()  # per test: holds expire relative to it, and real time moves on
    venue = make_venue(
        sections=[
            venues.SectionSpec(name="Front", rows=[("A", 4)]),
            venues.SectionSpec(name="Floor", kind="general", capacity=6),
        ]
    )
    event = make_event(venue=venue)
    front, floor = venue.sections.order_by("display_order", "id")
    user, other = UserFactory(), UserFactory()
    assert counts(event) == (10, [4, 6])

    h1 = inventory.hold(event, inventory.seat_ids(event, 2, section_id=front.id), user=user)
    assert counts(event) == (8, [2, 6])

    expiry = NOW + dt.timedelta(minutes=2)
    h2 = inventory.hold(
        event, inventory.seat_ids(event, 3, section_id=floor.id), user=other, expires_at=expiry
    )
    assert counts(event, now=NOW) == (5, [2, 3])
    # Expired but not swept: free already.
    assert counts(event, now=expiry) == (8, [2, 6])
    by_section = availability.section_availability(event_id=event.pk, now=NOW)
    _, first_expiry = availability.taken_by_section(event_id=event.pk, now=NOW)
    assert by_section == {
        front.id: {"total": 4, "free": 2, "sold": 0},
        floor.id: {"total": 6, "free": 3, "sold": 0},
    }
    assert first_expiry == expiry
    inventory.sweep(h2, now=expiry)
    assert counts(event, now=expiry) == (8, [2, 6])

    order = inventory.purchase(h1)
    assert counts(event) == (8, [2, 6])  # sold stays taken

    h3 = inventory.hold(event, inventory.seat_ids(event, 1, section_id=front.id), user=other)
    assert counts(event) == (7, [1, 6])
    inventory.release(h3)
    assert counts(event) == (8, [2, 6])

    inventory.cancel(order)
    assert counts(event) == (10, [4, 6])
    assert [s["total"] for s in event_page.event_detail(event_id=event.pk)[0]["sections"]] == [4, 6]


def test_detail_valid_until_is_the_next_hold_expiry():
    NOW = timezone.now()  # per test: holds expire relative to it, and real time moves on
    event = make_event()
    expiry = NOW + dt.timedelta(minutes=3)
    inventory.hold(event, inventory.seat_ids(event, 1), user=UserFactory(), expires_at=expiry)
    _, valid_until = event_page.event_detail(event_id=event.pk, now=NOW)
    assert valid_until == expiry
    _, valid_until = event_page.event_seat_map(event_id=event.pk, now=NOW)
    assert valid_until == expiry


def test_seat_map_marks_each_seat():
    NOW = timezone.now()  # per test: holds expire relative to it, and real time moves on
    event = make_event()
    seats = inventory.seat_ids(event)
    expiry = NOW + dt.timedelta(minutes=1)
    inventory.hold(event, seats[:2], user=UserFactory(), expires_at=expiry)
    body, _ = event_page.event_seat_map(event_id=event.pk, now=NOW, version=3)
    data = json.loads(body)
    assert data["version"] == 3
    col = data["seats"]
    free = dict(zip(col["id"], col["free"], strict=True))
    assert [free[s] for s in seats] == ["0", "0"] + ["1"] * (len(seats) - 2)
    assert len(col["x"]) == len(col["y"]) == len(col["row"]) == len(col["label"]) == len(seats)
    assert col["row"][:2] == ["A", "A"] and col["label"][:2] == ["1", "2"]
    assert col["accessible"] == [0, 4]  # aisle seats of the first row
    assert data["sections"][0]["geometry"]["width"] == 500
    body, _ = event_page.event_seat_map(event_id=event.pk, now=expiry)
    assert set(json.loads(body)["seats"]["free"]) == {"1"}
