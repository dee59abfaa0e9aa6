"""checkout.services.sales.event_cancel: stop sales, release holds, close the waitlist, refund everyone."""

from __future__ import annotations

import pytest
from django.core import mail
from django_q.models import OrmQ

from checkout import payments
from checkout.errors import SalesClosed
from checkout.models import AuditLog, Hold, HoldStatus, Order, Payment, SeatInventory, Ticket
from checkout.services.holds import hold_create
from checkout.services.orders import order_purchase
from checkout.services.sales import event_cancel, event_orders_refund
from checkout.tasks import order_event_cancelled_send
from events.models import CatalogVersion, Event
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event, staff_user
from ticketing.core.errors import Forbidden
from waitlist.errors import WaitlistClosed
from waitlist.models import WaitlistEntry
from waitlist.services import waitlist_join
from waitlist.tasks import closed_email_send

pytestmark = pytest.mark.django_db


def buy(event, ids, *, user=None):
    user = user or UserFactory()
    hold = hold_create(user=user, event_id=event.id, seat_ids=ids)
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada",
        buyer_email=user.email,
        card_number=payments.CARD_APPROVE,
        idempotency_key=f"k-{hold.pk}",
    )


@pytest.fixture
def sold_out_event():
    """10 seats: three paid orders (2 seats each), one live hold of 4, one person waiting."""
    event = make_event()
    ids = seat_ids(event)
    orders = [buy(event, ids[i : i + 2]) for i in (0, 2, 4)]
    holder = UserFactory()
    live = hold_create(user=holder, event_id=event.id, seat_ids=ids[6:])
    waiting = waitlist_join(user=UserFactory(), event_id=event.id, quantity=2)
    return event, orders, live, waiting


def catalog_version() -> int:
    return CatalogVersion.objects.values_list("version", flat=True).first() or 0


def test_cancel_stops_sales_releases_holds_refunds_orders_and_closes_the_waitlist(
    sold_out_event, django_capture_on_commit_callbacks
):
    event, orders, live, waiting = sold_out_event
    staff = staff_user()
    version = catalog_version()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = event_cancel(event_id=event.id, actor=staff, refund_inline=True)
    assert outcome.newly_cancelled and outcome.holds_released == 1 and outcome.waitlist_closed == 1
    assert sorted(outcome.orders_cancelled) == sorted(o.pk for o in orders)
    assert outcome.refunds_failed == [] and outcome.orders_pending == 0

    event.refresh_from_db()
    assert event.status == "cancelled" and catalog_version() > version
    live.refresh_from_db()
    assert live.status == HoldStatus.RELEASED
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}
    assert set(Ticket.objects.values_list("status", flat=True)) == {"void"}
    assert Payment.objects.filter(kind="refund", status="approved").count() == 3
    assert set(SeatInventory.objects.filter(event=event).values_list("status", flat=True)) == {"available"}
    waiting.refresh_from_db()
    assert waiting.status == "lapsed" and waiting.ended_at is not None
    assert AuditLog.objects.filter(action="event_cancelled", event=event, actor=staff).count() == 1
    assert set(AuditLog.objects.filter(action="order_cancelled").values_list("reason", flat=True)) == {
        "event_cancelled"
    }
    # Buyers and the waiting person are e-mailed by the worker.
    queued = OrmQ.objects.count()
    assert queued >= len(orders) + 1
    assert order_event_cancelled_send(orders[0].pk) and closed_email_send(waiting.pk)
    assert [m.subject.split(":")[0] for m in mail.outbox][-2:] == ["Cancelled", f"{event.title} is cancelled"]

    # From now on nothing sells and nobody can queue.
    with pytest.raises(SalesClosed):
        hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:1])
    with pytest.raises(WaitlistClosed):
        waitlist_join(user=UserFactory(), event_id=event.id, quantity=1)


class RefusesOneRefund(payments.TestProvider):
    """The provider refuses the refund of one order (as if its card account were closed)."""

    refuse: set[str] = set()

    def refund(self, **kwargs):
        if kwargs["idempotency_key"] in self.refuse:
            return payments.PaymentResult("failed", message="Refund refused by the test provider.")
        return super().refund(**kwargs)


def test_a_refused_refund_leaves_that_order_paid_and_a_rerun_finishes(sold_out_event, settings):
    event, orders, _, _ = sold_out_event
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.RefusesOneRefund"
    middle = orders[1]
    RefusesOneRefund.refuse = {f"refund-order-{middle.pk}"}
    staff = staff_user()

    first = event_cancel(event_id=event.id, actor=staff, refund_inline=True)
    assert first.refunds_failed == [middle.pk] and first.orders_pending == 1
    assert sorted(first.orders_cancelled) == sorted([orders[0].pk, orders[2].pk])  # the rest went on
    middle.refresh_from_db()
    assert middle.status == "paid"
    assert set(middle.tickets.values_list("status", flat=True)) == {"valid"}
    assert SeatInventory.objects.filter(event=event, status="sold").count() == 2

    RefusesOneRefund.refuse = set()
    second = event_cancel(event_id=event.id, actor=staff, refund_inline=True)
    assert not second.newly_cancelled and second.holds_released == 0 and second.waitlist_closed == 0
    assert second.orders_cancelled == [middle.pk] and second.orders_pending == 0
    # Every order refunded exactly once over both runs; one audit row for the cancellation.
    for order in orders:
        assert Payment.objects.filter(order=order, kind="refund", status="approved").count() == 1
    assert AuditLog.objects.filter(action="event_cancelled").count() == 1

    third = event_cancel(event_id=event.id, actor=staff, refund_inline=True)
    assert (
        third.orders_cancelled == [] and Payment.objects.filter(kind="refund", status="approved").count() == 3
    )


def test_only_staff_cancel(sold_out_event, unchanged):
    event, orders, _, _ = sold_out_event
    with unchanged(), pytest.raises(Forbidden):
        event_cancel(event_id=event.id, actor=orders[0].user)
    assert Event.objects.get(pk=event.id).status == "on_sale"


def test_bulk_refund_refuses_an_event_still_on_sale(sold_out_event, unchanged):
    from events.errors import EventNotCancelled

    event, _, _, _ = sold_out_event
    staff = staff_user()
    with unchanged(), pytest.raises(EventNotCancelled):
        event_orders_refund(event_id=event.id, actor=staff)


class CancelDuringCharge(payments.TestProvider):
    """Staff cancel the event while this buyer's card is being charged."""

    def charge(self, **kwargs):
        result = super().charge(**kwargs)
        event_id = Hold.objects.get(pk=int(kwargs["description"].rsplit(" ", 1)[1])).event_id
        event_cancel(event_id=event_id, actor=staff_user(), refund_inline=True)
        return result


def test_a_purchase_paying_while_the_event_is_cancelled_is_refunded(settings):
    event = make_event()
    user = UserFactory()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.CancelDuringCharge"
    with pytest.raises(SalesClosed) as exc:
        order_purchase(
            user=user,
            hold_id=hold.pk,
            buyer_name="Ada",
            buyer_email=user.email,
            card_number=payments.CARD_APPROVE,
            idempotency_key="k",
        )
    assert exc.value.extra["refunded"] is True
    assert Order.objects.count() == 0
    assert sorted(Payment.objects.values_list("kind", "status")) == [
        ("charge", "approved"),
        ("refund", "approved"),
    ]
    assert set(SeatInventory.objects.filter(event=event).values_list("status", flat=True)) == {"available"}


def test_staff_api_cancels_and_queues_the_refunds(api_client, sold_out_event, unchanged):
    event, orders, _, _ = sold_out_event
    buyer = api_client.as_user(orders[0].user)
    with unchanged():
        assert buyer.post(f"/api/events/{event.id}/cancel").status_code == 403
    staff_member = staff_user()
    staff = api_client.as_user(staff_member)
    assert staff.post("/api/events/999999/cancel").json()["code"] == "NOT_FOUND"
    response = staff.post(f"/api/events/{event.id}/cancel")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "event_id": event.id,
        "status": "cancelled",
        "newly_cancelled": True,
        "holds_released": 1,
        "waitlist_closed": 1,
        "orders_pending": 3,
    }
    # The refunds are the worker's: run the queued task as the cluster would.
    from checkout.tasks import event_refunds_run

    assert event_refunds_run(event.id, staff_member.pk) == {"cancelled": 3, "failed": []}
    again = staff.post(f"/api/events/{event.id}/cancel").json()
    assert again["newly_cancelled"] is False and again["orders_pending"] == 0


def test_admin_action_asks_first_then_cancels(client, sold_out_event):
    event, _, _, _ = sold_out_event
    client.force_login(staff_user(is_superuser=True))
    url = "/admin/events/event/"
    ask = client.post(url, {"action": "cancel_events", "_selected_action": [event.pk]})
    assert ask.status_code == 200 and b"refunded" in ask.content and b"3 paid orders" in ask.content
    assert Event.objects.get(pk=event.pk).status == "on_sale"
    done = client.post(url, {"action": "cancel_events", "_selected_action": [event.pk], "confirm": "yes"})
    assert done.status_code == 302
    assert Event.objects.get(pk=event.pk).status == "cancelled"
    assert not Hold.objects.filter(event=event, status__in=["active", "paying"]).exists()
    assert WaitlistEntry.objects.get(event=event).status == "lapsed"


def test_a_hold_that_slipped_in_cannot_be_bought_and_a_rerun_ends_it(sold_out_event):
    """A hold whose request read the event just before the cancellation committed."""
    from tests.ops_factories import hold as straggler_hold

    event, *_ = sold_out_event
    staff = staff_user()
    event_cancel(event_id=event.id, actor=staff, refund_inline=True)
    buyer = UserFactory()
    late = straggler_hold(list(SeatInventory.objects.filter(event=event).order_by("pk")[:1]), user=buyer)
    with pytest.raises(SalesClosed):
        order_purchase(
            user=buyer,
            hold_id=late.pk,
            buyer_name="Late",
            buyer_email=buyer.email,
            card_number=payments.CARD_APPROVE,
            idempotency_key="late",
        )
    assert not Payment.objects.filter(hold=late).exists()  # refused before any charge
    assert event_cancel(event_id=event.id, actor=staff, refund_inline=True).holds_released == 1
    late.refresh_from_db()
    assert late.status == HoldStatus.RELEASED
