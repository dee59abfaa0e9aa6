from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from checkout.models import AuditLog, SeatInventory
from checkout.services import sales
from events.errors import DuplicateEvent, EventNotReady, VenueSlugTaken
from events.models import Event, EventStatus, Price, Seat, Section, Venue
from events.services import catalog as catalog_services
from events.services import venues
from tests.factories import make_event, make_venue
from ticketing.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def spec(name="A", **kw):
    kw.setdefault("rows", [("A", 3), ("B", 4)])
    return venues.SectionSpec(name=name, **kw)


def test_row_labels():
    assert venues.parse_row_labels("A-E") == ["A", "B", "C", "D", "E"]
    assert venues.parse_row_labels("1-3,7") == ["1", "2", "3", "7"]
    assert venues.parse_row_labels("AY-BB") == ["AY", "AZ", "BA", "BB"]
    with pytest.raises(ValidationFailed):
        venues.parse_row_labels("E-A")
    with pytest.raises(ValidationFailed):
        venues.parse_row_labels("A-C,B")


def test_venue_create_builds_sections_and_laid_out_seats():
    venue = make_venue(
        sections=[
            spec("Stalls", geometry={"x": 100, "y": 50, "width": 300, "height": 100}),
            venues.SectionSpec(name="Floor", kind="general", capacity=12),
        ]
    )
    stalls = venue.sections.get(name="Stalls")
    seats = list(stalls.seats.order_by("row_rank", "position"))
    assert [(s.row_label, s.label) for s in seats[:3]] == [("A", "1"), ("A", "2"), ("A", "3")]
    assert all(100 <= s.x <= 400 and 50 <= s.y <= 150 for s in seats)
    assert seats[3].row_rank == 1
    floor = venue.sections.get(name="Floor")
    assert floor.seats.count() == 12
    assert set(floor.seats.values_list("row_label", flat=True)) == {""}


@pytest.mark.parametrize(
    "bad",
    [
        dict(timezone="Mars/Olympus"),
        dict(sections=[spec("A"), spec("A")]),
        dict(sections=[spec("A"), venues.SectionSpec(name="GA", kind="general")]),
        dict(sections=[spec("A"), venues.SectionSpec(name="R", rows=[("A", 0)])]),
        dict(sections=[spec("A"), spec("B", geometry={"width": -5})]),
        dict(sections=[]),
    ],
)
def test_invalid_venue_leaves_nothing_behind(bad, unchanged):
    args = dict(name="X", slug="x", city="Berlin", country="DE", timezone="Europe/Berlin", sections=[spec()])
    args.update(bad)
    with unchanged(), pytest.raises(ValidationFailed):
        venues.venue_create(**args)


def test_duplicate_venue_slug_is_a_conflict(unchanged):
    make_venue(name="Same")
    slug = Venue.objects.get().slug
    with unchanged(), pytest.raises(VenueSlugTaken):
        venues.venue_create(
            name="Y", slug=slug, city="B", country="DE", timezone="Europe/Berlin", sections=[spec()]
        )


def test_event_create_with_prices_and_duplicate_refused(unchanged):
    venue = make_venue()
    event = make_event(venue=venue, publish=False, title="Gig")
    assert event.timezone == "Europe/Berlin"
    assert Price.objects.filter(event=event).count() == venue.sections.count()
    with unchanged(), pytest.raises(DuplicateEvent):
        catalog_services.event_create(
            venue_id=venue.id,
            title="Gig",
            category="music",
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            prices={s.id: "10" for s in venue.sections.all()},
        )


@pytest.mark.parametrize(
    "bad",
    [
        dict(category="opera-ish"),
        dict(ends_at="before"),
        dict(prices="negative"),
        dict(prices="other-venue"),
        dict(currency="EURO"),
    ],
)
def test_invalid_event_leaves_nothing_behind(bad, unchanged):
    venue, other = make_venue(), make_venue()
    starts = timezone.now() + dt.timedelta(days=3)
    args = dict(
        venue_id=venue.id,
        title="T",
        category="music",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        prices={s.id: "10.00" for s in venue.sections.all()},
    )
    if bad.get("ends_at") == "before":
        args["ends_at"] = starts - dt.timedelta(hours=1)
    elif bad.get("prices") == "negative":
        args["prices"] = {s.id: "-1" for s in venue.sections.all()}
    elif bad.get("prices") == "other-venue":
        args["prices"] = {s.id: "1" for s in other.sections.all()}
    else:
        args.update(bad)
    with unchanged(), pytest.raises(ValidationFailed):
        catalog_services.event_create(**args)


def test_publish_creates_one_inventory_row_per_seat_and_is_idempotent():
    venue = make_venue(rows=3, seats_per_row=7)
    event = make_event(venue=venue, publish=False)
    sales.event_publish(event_id=event.id)
    sales.event_publish(event_id=event.id)
    rows = SeatInventory.objects.filter(event=event)
    assert rows.count() == Seat.objects.filter(section__venue=venue).count() == 21
    assert set(rows.values_list("status", flat=True)) == {"available"}
    assert rows.values("seat").distinct().count() == 21
    event.refresh_from_db()
    assert event.status == EventStatus.ON_SALE
    assert AuditLog.objects.filter(event=event, action="event_published").count() == 1


def test_publish_refuses_unpriced_sections(unchanged):
    venue = make_venue(sections=[spec("A"), spec("B")])
    event = catalog_services.event_create(
        venue_id=venue.id,
        title="Half priced",
        category="music",
        starts_at=timezone.now() + dt.timedelta(days=3),
        ends_at=timezone.now() + dt.timedelta(days=3, hours=2),
        prices={venue.sections.get(name="A").id: "10"},
    )
    with unchanged(), pytest.raises(EventNotReady) as info:
        sales.event_publish(event_id=event.id)
    assert "B" in info.value.message
    assert Event.objects.get(pk=event.pk).status == EventStatus.DRAFT


def test_arena_sized_event_publishes_in_a_few_queries(django_assert_max_num_queries):
    sections = [venues.SectionSpec(name=f"S{i}", rows=[(f"R{r}", 25) for r in range(20)]) for i in range(40)]
    venue = make_venue(sections=sections)
    assert Seat.objects.filter(section__venue=venue).count() == 20_000
    event = make_event(venue=venue, publish=False)
    # One INSERT ... SELECT, not a query per seat (its speed is measured in bench/).
    with django_assert_max_num_queries(12):
        sales.event_publish(event_id=event.id)
    assert SeatInventory.objects.filter(event=event).count() == 20_000
    assert Section.objects.filter(venue=venue).count() == 40
