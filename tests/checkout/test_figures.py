"""Per-event figures for staff and the on-sale readiness check (selectors/figures.py, the admin page)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from checkout.models import Hold, SeatInventory
from checkout.selectors.figures import event_figures, event_readiness_problems
from events.models import Price
from tests.factories import make_event
from tests.ops_factories import hold, inventory, raw, sell

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


def end_hold(h: Hold, *, status: str, after: dt.timedelta) -> None:
    Hold.objects.filter(pk=h.pk).update(status=status, ended_at=h.created_at + after)
    if status != "converted":
        SeatInventory.objects.filter(hold=h).update(status="available", hold=None, hold_expires_at=None)


def ready_event(**kwargs):
    return make_event(
        sales_open_at=NOW - dt.timedelta(days=1), sales_close_at=NOW + dt.timedelta(days=5), **kwargs
    )


def test_figures_count_seats_and_hold_outcomes():
    event = ready_event()  # 10 seats
    rows = inventory(event)
    converted = hold(rows[0:2], now=NOW - dt.timedelta(minutes=30))
    end_hold(converted, status="converted", after=dt.timedelta(seconds=120))
    SeatInventory.objects.filter(hold=converted).update(status="available", hold=None, hold_expires_at=None)
    sell(rows[0:2])
    expired = hold(rows[2:3], now=NOW - dt.timedelta(minutes=20))
    end_hold(expired, status="expired", after=dt.timedelta(seconds=300))
    released = hold(rows[3:4], now=NOW - dt.timedelta(minutes=10))
    end_hold(released, status="released", after=dt.timedelta(seconds=60))
    hold(rows[4:6], now=NOW)  # live
    hold(rows[6:7], now=NOW - dt.timedelta(minutes=30), expires_in=dt.timedelta(minutes=5))  # lapsed, unswept

    f = event_figures(event=event, now=NOW)
    assert (f.seats, f.sold, f.held, f.free) == (10, 2, 2, 6)
    assert (f.holds_total, f.holds_live, f.holds_converted, f.holds_expired, f.holds_released) == (
        5,
        1,
        1,
        2,
        1,
    )
    assert f.conversion_rate == 0.25 and f.expiry_rate == 0.5
    assert f.average_hold_seconds == 160.0  # (120 + 300 + 60) / 3 ended holds
    assert f.readiness_problems == []


def test_figures_for_an_event_without_holds():
    f = event_figures(event=ready_event(), now=NOW)
    assert f.conversion_rate is None and f.average_hold_seconds is None and f.free == 10


def test_readiness_lists_what_to_fix():
    event = make_event(publish=False)
    Price.objects.filter(event=event).delete()
    problems = event_readiness_problems(event=event, now=NOW)
    assert "Sections without a price: Main." in problems
    assert "No sales opening time is set." in problems
    assert "No inventory yet: publishing creates it." in problems


def test_readiness_notices_inventory_that_does_not_match_the_venue():
    event = ready_event()
    rows = inventory(event)
    raw("DELETE FROM checkout_seatinventory WHERE id = %s", [rows[-1].id])
    problems = event_readiness_problems(event=event, now=NOW)
    assert problems == ["1 venue seats have no inventory row (publish again to add them)."]


def test_admin_figures_page(client, staff):
    staff.is_superuser = True
    staff.save()
    event = ready_event()
    sell(inventory(event, 3))
    client.force_login(staff)
    change = client.get(f"/admin/events/event/{event.id}/change/")
    assert change.status_code == 200 and f"/admin/events/event/{event.id}/figures/".encode() in change.content
    page = client.get(f"/admin/events/event/{event.id}/figures/")
    assert page.status_code == 200
    assert b"Ready: every section priced" in page.content
    assert b"<th>Sold</th><td>3</td>" in page.content
    assert b"event published" in page.content.lower()  # the recent audit rows
    audit = client.get(f"/admin/checkout/auditlog/?event__id__exact={event.id}")
    assert audit.status_code == 200 and b"event published" in audit.content.lower()


def test_admin_figures_page_is_staff_only(client, user):
    event = ready_event()
    client.force_login(user)
    assert client.get(f"/admin/events/event/{event.id}/figures/").status_code == 302
