import pytest
from django.core.management import call_command

from checkout.models import SeatInventory
from events.models import Event, Seat, Section, Venue
from tests.conftest import table_counts

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_big_enough():
    call_command("seed_demo")
    first = table_counts()
    call_command("seed_demo")
    assert table_counts() == first

    arena = Venue.objects.get(slug="grand-arena")
    assert Seat.objects.filter(section__venue=arena).count() >= 20_000
    assert Section.objects.filter(venue=arena).count() >= 40
    theatre = Venue.objects.get(slug="royal-theatre")
    assert Seat.objects.filter(section__venue=theatre).count() == 2500
    club = Venue.objects.get(slug="blue-note-club")
    assert Seat.objects.filter(section__venue=club).count() == 300
    assert club.sections.filter(kind="general").exists()
    assert Event.objects.count() >= 30
    assert set(Event.objects.values_list("category", flat=True)) >= {"music", "sports", "comedy", "theatre"}
    on_sale = Event.objects.filter(status="on_sale").first()
    assert (
        SeatInventory.objects.filter(event=on_sale).count()
        == Seat.objects.filter(section__venue=on_sale.venue).count()
    )
