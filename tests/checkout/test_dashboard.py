"""The organizer dashboard (selectors/dashboard.py, staff_views.py) and its CSV exports."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client

from checkout.selectors import dashboard
from tests import inventory
from tests.factories import UserFactory, make_event, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_event():
    event = make_event(price="25.00")
    buyer = UserFactory()
    order = inventory.purchase(inventory.hold(event, inventory.seat_ids(event, 2), user=buyer))
    cancelled = inventory.purchase(inventory.hold(event, inventory.seat_ids(event, 1), user=UserFactory()))
    inventory.cancel(cancelled)
    inventory.hold(event, inventory.seat_ids(event, 3), user=UserFactory())
    return event, order, cancelled


def test_dashboard_figures(sold_event):
    event, _, _ = sold_event
    board = dashboard.event_dashboard(event=event)
    (main,) = board.sections
    assert (main.total, main.sold, main.held, main.free) == (10, 2, 3, 5)
    (money,) = board.money
    assert (money.gross, money.refunds, money.net) == (Decimal("75.00"), Decimal("25.00"), Decimal("50.00"))
    assert board.tickets_sold == 2 and board.orders_paid == 1 and board.orders_cancelled == 1
    assert sum(n for _, n in board.per_day) == 3  # three tickets were issued (one later voided)
    assert sum(n for _, n in board.per_minute) == 3
    assert ("waiting on the waitlist", 0) in board.extra  # the waitlist's panel


def test_dashboard_page_shows_the_sale_and_its_chart(sold_event):
    event, _, _ = sold_event
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    page = client.get(f"/admin/events/event/{event.pk}/dashboard/").content.decode()
    assert "75.00 EUR" in page and "50.00 EUR" in page
    assert page.count('class="bar"') >= 2  # a bar in each chart
    assert "<svg" in page and "Europe/Berlin" in page


def test_dashboard_is_staff_only(sold_event):
    event, _, _ = sold_event
    client = Client()
    client.force_login(UserFactory())
    r = client.get(f"/admin/events/event/{event.pk}/dashboard/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    assert client.get(f"/admin/events/event/{event.pk}/orders.csv").status_code == 302


def test_orders_and_attendees_csv_stream_every_row(sold_event, monkeypatch):
    monkeypatch.setattr(dashboard, "EXPORT_PAGE", 1)  # every row its own page
    event, order, cancelled = sold_event
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    r = client.get(f"/admin/events/event/{event.pk}/orders.csv")
    assert r.status_code == 200 and r.streaming
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == dashboard.ORDER_COLUMNS
    assert [row[0] for row in rows[1:]] == [str(order.pk), str(cancelled.pk)]
    assert rows[1][2:6] == ["paid", "Buyer", "buyer@example.com", "2"]
    r = client.get(f"/admin/events/event/{event.pk}/attendees.csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + 3 and rows[1][4] == "Main"


def test_csv_cells_are_not_formulas(sold_event):
    event, order, _ = sold_event
    order.buyer_name = "=HYPERLINK(evil)"
    order.save(update_fields=["buyer_name"])
    rows, _ = dashboard.orders_export_page(event=event, after=0)
    assert rows[0][3] == "'=HYPERLINK(evil)"
