"""Factories for test data. Venues are built through the service, so seats exist."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.utils import timezone

from checkout.services import sales
from events.models import Event, Venue
from events.services import catalog as catalog_services
from events.services import venues
from ticketing.models import ApiToken, User

_seq = itertools.count(1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def staff_user(**kwargs) -> User:
    return UserFactory(is_staff=True, **kwargs)


def api_token(user: User) -> str:
    key = ApiToken.new_key()
    ApiToken.objects.create(user=user, key_hash=ApiToken.hash_key(key))
    return key


def make_venue(
    *,
    sections: list[venues.SectionSpec] | None = None,
    rows: int = 2,
    seats_per_row: int = 5,
    timezone_name: str = "Europe/Berlin",
    city: str = "Berlin",
    name: str | None = None,
) -> Venue:
    """A venue with one reserved section ``rows`` x ``seats_per_row`` unless ``sections`` is given."""
    n = next(_seq)
    if sections is None:
        labels = [chr(65 + i) for i in range(rows)]
        sections = [
            venues.SectionSpec(
                name="Main",
                geometry={"x": 0, "y": 0, "width": 500, "height": 300},
                rows=[(label, seats_per_row) for label in labels],
            )
        ]
    return venues.venue_create(
        name=name or f"Venue {n}",
        slug=f"venue-{n}-{timezone.now().timestamp():.0f}",
        city=city,
        country="DE",
        timezone=timezone_name,
        sections=sections,
    )


def make_event(
    *,
    venue: Venue | None = None,
    publish: bool = True,
    starts_in: dt.timedelta = dt.timedelta(days=10),
    price: str = "50.00",
    title: str | None = None,
    category: str = "music",
    **kwargs,
) -> Event:
    """An event with every section priced; published (inventory created) by default."""
    venue = venue or make_venue()
    starts = kwargs.pop("starts_at", None) or (timezone.now() + starts_in).replace(microsecond=0)
    event = catalog_services.event_create(
        venue_id=venue.id,
        title=title or f"Event {next(_seq)}",
        category=category,
        starts_at=starts,
        ends_at=kwargs.pop("ends_at", None) or starts + dt.timedelta(hours=3),
        prices={s.id: price for s in venue.sections.all()},
        **kwargs,
    )
    if publish:
        event = sales.event_publish(event_id=event.id)
    return event


def make_ticket_type(event: Event, name: str, price: str = "30.00", *, prices=None, **kwargs):
    """A ticket type of ``event`` priced ``price`` in every section (or ``prices`` per section)."""
    from events.services import ticket_types

    prices = prices if prices is not None else {s.id: price for s in event.venue.sections.all()}
    return ticket_types.ticket_type_create(event_id=event.id, name=name, prices=prices, **kwargs)


def make_code(event: Event, code: str, kind: str = "promo", **kwargs):
    """A presale or promo code of ``event`` (through the staff service, so stored normalised)."""
    from checkout.services import codes

    return codes.code_create(event_id=event.id, kind=kind, code=code, **kwargs)
