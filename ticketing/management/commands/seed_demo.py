"""Demo data: an arena, a theatre, a club and 30+ events. Safe to run again."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from checkout.services import codes, sales
from events.models import Category, Event, Venue
from events.services import catalog, ticket_types, venues
from ticketing.models import User

ARENA_SLUG = "grand-arena"


def arena_sections() -> list[venues.SectionSpec]:
    """40 sections around a central floor: 500 seats each, 20,000 in all."""
    specs = []
    # Map: 1000 x 1000 units; ring of 36 blocks (rows A-T x 25) and 4 end stands.
    rows = [(label, 25) for label in venues.parse_row_labels("A-T")]
    for i in range(36):
        side, k = divmod(i, 9)
        if side == 0:
            geo = {"x": 100 + k * 89, "y": 20, "width": 85, "height": 110}
        elif side == 1:
            geo = {"x": 870, "y": 150 + k * 78, "width": 110, "height": 74}
        elif side == 2:
            geo = {"x": 100 + k * 89, "y": 870, "width": 85, "height": 110}
        else:
            geo = {"x": 20, "y": 150 + k * 78, "width": 110, "height": 74}
        specs.append(venues.SectionSpec(name=f"Block {101 + i}", display_order=i, geometry=geo, rows=rows))
    end_rows = [(label, 50) for label in venues.parse_row_labels("A-J")]
    for j, geo in enumerate(
        [
            {"x": 160, "y": 150, "width": 300, "height": 120},
            {"x": 540, "y": 150, "width": 300, "height": 120},
            {"x": 160, "y": 730, "width": 300, "height": 120},
            {"x": 540, "y": 730, "width": 300, "height": 120},
        ]
    ):
        specs.append(
            venues.SectionSpec(name=f"Stand {chr(65 + j)}", display_order=40 + j, geometry=geo, rows=end_rows)
        )
    return specs


def theatre_sections() -> list[venues.SectionSpec]:
    """Stalls, dress circle and upper circle: 2,500 seats."""
    return [
        venues.SectionSpec(
            name="Stalls",
            display_order=0,
            geometry={"x": 100, "y": 150, "width": 800, "height": 400},
            rows=[(label, 50) for label in venues.parse_row_labels("A-Z")],
        ),
        venues.SectionSpec(
            name="Dress Circle",
            display_order=1,
            geometry={"x": 100, "y": 580, "width": 800, "height": 180},
            rows=[(label, 40) for label in venues.parse_row_labels("AA-AP")],
        ),
        venues.SectionSpec(
            name="Upper Circle",
            display_order=2,
            geometry={"x": 100, "y": 790, "width": 800, "height": 160},
            rows=[(label, 40) for label in venues.parse_row_labels("BA-BN")],
        ),
    ]


def club_sections() -> list[venues.SectionSpec]:
    """A 260-spot standing floor and a 40-seat balcony: 300 in all."""
    return [
        venues.SectionSpec(
            name="Floor",
            kind="general",
            display_order=0,
            geometry={"x": 150, "y": 200, "width": 700, "height": 450},
            capacity=260,
        ),
        venues.SectionSpec(
            name="Balcony",
            display_order=1,
            geometry={"x": 150, "y": 720, "width": 700, "height": 150},
            rows=[("A", 20), ("B", 20)],
        ),
    ]


VENUES = [
    dict(
        slug=ARENA_SLUG,
        name="Grand Arena",
        city="Berlin",
        country="DE",
        timezone="Europe/Berlin",
        address="Arenaplatz 1",
        sections=arena_sections,
        base_price=49,
    ),
    dict(
        slug="royal-theatre",
        name="Royal Theatre",
        city="London",
        country="GB",
        timezone="Europe/London",
        address="1 Drury Lane",
        sections=theatre_sections,
        base_price=35,
    ),
    dict(
        slug="blue-note-club",
        name="Blue Note Club",
        city="New York",
        country="US",
        timezone="America/New_York",
        address="131 W 3rd St",
        sections=club_sections,
        base_price=25,
    ),
]

TITLES = {
    Category.MUSIC: ["Aurora Lights Tour", "The Midnight Echo", "Symphony Under Stars", "Jazz Night Live"],
    Category.SPORTS: ["Championship Final", "Derby Night", "Basketball Classic", "Ice Hockey Showdown"],
    Category.COMEDY: ["Stand-up Spectacular", "Laugh Factory Live", "Improv Madness"],
    Category.THEATRE: ["Hamlet", "The Phantom Returns", "A Midsummer Night's Dream"],
    Category.FAMILY: ["Circus of Wonders", "Magic Show for Kids", "Ice Princess on Stage"],
    Category.OTHER: ["Tech Keynote 2027", "Poetry Slam Championship"],
}


class Command(BaseCommand):
    help = "Create demo venues, events and a demo admin. Running it again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=32)

    def handle(self, *args, **options):
        rng = random.Random(42)  # the same demo every time
        with transaction.atomic():
            self._users()
            venues = [self._venue(spec) for spec in VENUES]
        today = timezone.now().astimezone(zoneinfo.ZoneInfo("UTC")).date()
        created = 0
        categories = list(TITLES)
        for i in range(options["events"]):
            spec, venue = VENUES[i % len(VENUES)], venues[i % len(VENUES)]
            category = categories[i % len(categories)]
            title = f"{TITLES[category][i % len(TITLES[category])]} #{i + 1}"
            day = today + dt.timedelta(days=1 + (i * 89) // max(1, options["events"] - 1))
            local = dt.datetime.combine(day, dt.time(19 + i % 3, 30), tzinfo=venue.tzinfo)
            starts = local.astimezone(dt.UTC)
            if Event.objects.filter(venue=venue, title=title).exists():
                continue
            prices = {
                s.id: spec["base_price"] + 10 * ((s.display_order + rng.randint(0, 2)) % 4)
                for s in venue.sections.all()
            }
            event = catalog.event_create(
                venue_id=venue.id,
                title=title,
                category=category,
                description=f"{title} live at {venue.name}, {venue.city}. A {category} event for everyone.",
                starts_at=starts,
                ends_at=starts + dt.timedelta(hours=3),
                # Every tenth event is announced but not on sale yet.
                sales_open_at=(starts - dt.timedelta(days=5)) if i % 10 == 5 else None,
                prices=prices,
                currency="EUR" if venue.country != "US" else "USD",
            )
            if i % 4 == 1:
                self._types_and_codes(event, prices, starts)
            if i % 11 != 10:  # a few stay drafts
                sales.event_publish(event_id=event.id)
            created += 1
        self.stdout.write(f"seed_demo: {len(venues)} venues, {created} new events.")

    def _types_and_codes(self, event: Event, prices: dict, starts: dt.datetime) -> None:
        """Every fourth event shows issue 20: an early bird (capped, until two days before), a VIP
        type behind the presale code VIPDEMO, the promo code DEMO10 and fees."""
        catalog.event_fees_set(event_id=event.id, service_fee="1.50", order_fee="2.00")
        ticket_types.ticket_type_create(
            event_id=event.id,
            name="Early bird",
            prices={sid: amount - 10 for sid, amount in prices.items()},
            quota=100,
            sales_end=starts - dt.timedelta(days=2),
        )
        vip = ticket_types.ticket_type_create(
            event_id=event.id,
            name="VIP",
            description="Best seats, a drink and the programme",
            prices={sid: amount + 60 for sid, amount in prices.items()},
            visibility="presale",
            per_order_max=4,
            sort_order=1,
        )
        codes.code_create(event_id=event.id, kind="presale", code="VIPDEMO", ticket_type_ids=[vip.id])
        codes.code_create(event_id=event.id, kind="promo", code="DEMO10", discount_value=10, use_limit=50)

    def _users(self) -> None:
        if not User.objects.filter(email="admin@example.com").exists():
            User.objects.create_superuser("admin@example.com", "admin")
        for n in range(1, 4):
            email = f"buyer{n}@example.com"
            if not User.objects.filter(email=email).exists():
                User.objects.create_user(email, "buyer-pass-123", name=f"Demo Buyer {n}")

    def _venue(self, spec: dict) -> Venue:
        existing = Venue.objects.filter(slug=spec["slug"]).first()
        if existing:
            return existing
        return venues.venue_create(
            name=spec["name"],
            slug=spec["slug"],
            city=spec["city"],
            country=spec["country"],
            timezone=spec["timezone"],
            address=spec["address"],
            sections=spec["sections"](),
        )
