"""A "seats taken" refusal names every taken seat and offers the nearest free block
(checkout/selectors/alternatives.py via ``hold_create``), in the one error shape."""

from __future__ import annotations

import pytest

from checkout.errors import SeatsUnavailable
from checkout.models import Hold, SeatInventory
from checkout.services.holds import hold_create
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.django_db


def _seat(event, row: str, label: str) -> int:
    return SeatInventory.objects.get(event=event, seat__row_label=row, seat__label=label).seat_id


@pytest.fixture
def hall():
    return make_event(venue=make_venue(rows=4, seats_per_row=10))


def test_every_taken_seat_is_named_with_the_nearest_free_block(hall, user):
    other = UserFactory()
    hold_create(user=other, event_id=hall.id, seat_ids=[_seat(hall, "B", "5"), _seat(hall, "B", "6")])
    wanted = [_seat(hall, "B", "5"), _seat(hall, "B", "6"), _seat(hall, "B", "7")]
    holds_before = Hold.objects.count()

    with pytest.raises(SeatsUnavailable) as caught:
        hold_create(user=user, event_id=hall.id, seat_ids=wanted)

    exc = caught.value
    assert "Main, Row B seat 5" in exc.message and "Main, Row B seat 6" in exc.message
    assert [s["name"] for s in exc.extra["seats"]] == ["Main, Row B seat 5", "Main, Row B seat 6"]
    assert sorted(exc.extra["seat_ids"]) == sorted(wanted[:2])
    alternatives = exc.extra["alternatives"]
    # Three together, as asked, free, and as near the wanted seats as the hall allows:
    # the row in front or behind, in the same columns.
    assert len(alternatives) == 3
    assert len({a["row"] for a in alternatives}) == 1 and alternatives[0]["row"] in ("A", "C")
    assert [a["label"] for a in alternatives] == ["5", "6", "7"]
    assert not SeatInventory.objects.filter(
        seat_id__in=[a["seat_id"] for a in alternatives], hold__isnull=False
    ).exists()
    # Nothing was written for the refused buyer.
    assert Hold.objects.count() == holds_before

    # The alternatives can be held as they are.
    assert hold_create(user=user, event_id=hall.id, seat_ids=[a["seat_id"] for a in alternatives])


def test_over_http_the_error_keeps_its_shape(api_client, hall, user):
    hold_create(user=UserFactory(), event_id=hall.id, seat_ids=[_seat(hall, "A", "1")])
    response = api_client.as_user(user).post(
        f"/api/events/{hall.id}/holds", {"seat_ids": [_seat(hall, "A", "1"), _seat(hall, "A", "2")]}
    )
    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"code", "message", "extra"} and body["code"] == "SEATS_UNAVAILABLE"
    assert body["message"] == "This seat was just taken: Main, Row A seat 1."
    assert [a["label"] for a in body["extra"]["alternatives"]] in (["2", "3"], ["3", "4"])
    assert body["extra"]["alternatives"][0]["row"] == "A"
