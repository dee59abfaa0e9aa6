"""Query budgets of the checkout endpoints, whole requests: authentication, the service, the
answer and the after-commit work the request thread does (the seat-map push is coalesced on
its own thread and not counted). Round trips are what a checkout request costs the database
and much of what it costs Python (issue 17, docs/performance.md)."""

from __future__ import annotations

import pytest

from checkout import payments
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(db, monkeypatch):
    """A section big enough that a best-available hold cannot sell the event out (no sold-out
    refresh after it); the seat-map push is left to its coalescing thread, as in production."""
    monkeypatch.setattr("checkout.services.announce.seats_changed", lambda **kwargs: None)
    return make_event(venue=make_venue(rows=3, seats_per_row=100))


# Counted as the test sees them: the service's transaction is a savepoint here, so SAVEPOINT and
# RELEASE stand for BEGIN and COMMIT. Before issue 17 a hold was about 21 round trips and a
# purchase about 38.
# token, BEGIN + lock timeout + event + buyer's live hold + the hold's id, taken seats of the
# section, the block locked (in a savepoint: 3; one seat needs none), one statement (hold,
# seats held, version + audit, the answer's lines), COMMIT. The buyer's own live holds are
# locked (to retire an expired one) only when the first statement saw one.
HOLD_BEST_AVAILABLE = 9
# The same with the seats locked by id (no savepoint) and the sold-out refresh after commit (2).
HOLD_NAMED_SEATS = 9
# token; begin: BEGIN + record + lock timeout, hold + event, seats + prices, one statement
# (hold paying + seats + record + attempt + version + audit), COMMIT; the provider; complete:
# BEGIN, record + lock timeout, hold + event + the order's id, attempt, seats + prices +
# labels, one statement (order, tickets, seats sold, hold converted, record, turn, attempt
# settled, outbox row, version + audit), COMMIT; the e-mail task queued. The answer is built
# from what the purchase wrote.
PURCHASE = 15
# Ticket types and codes (issue 20): the types, their prices and counters, the codes entered and
# the fees come with the event in the hold's first statement, and each seat's line is written by
# the same statement that holds it, so a standard-price hold costs what it did. A capped type or
# a code adds exactly the one statement that counts them race-proof (``pricing.quota_take``'s
# conditional upsert + update); the purchase copies the lines it already reads: no more.
HOLD_WITH_TYPE_AND_CODE = HOLD_NAMED_SEATS + 1
PURCHASE_WITH_TYPE_AND_CODE = PURCHASE


def _hold(client, event, body):
    response = client.post(f"/api/events/{event.id}/holds", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_hold_best_available_query_budget(
    api_client, event, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    section_id = event.venue.sections.get().id
    # The first best-available hold of a section in a process also reads its layout.
    _hold(api_client.as_user(UserFactory()), event, {"section_id": section_id, "quantity": 1})
    client = api_client.as_user(UserFactory())
    with django_assert_max_num_queries(HOLD_BEST_AVAILABLE), django_capture_on_commit_callbacks(execute=True):
        _hold(client, event, {"section_id": section_id, "quantity": 2})


def test_hold_named_seats_query_budget(
    api_client, event, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    from tests.checkout.conftest import seat_ids

    client = api_client.as_user(UserFactory())
    with django_assert_max_num_queries(HOLD_NAMED_SEATS), django_capture_on_commit_callbacks(execute=True):
        _hold(client, event, {"seat_ids": seat_ids(event)[:2]})


def test_purchase_query_budget(
    api_client, event, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    section_id = event.venue.sections.get().id
    client = api_client.as_user(UserFactory())
    hold = _hold(client, event, {"section_id": section_id, "quantity": 2})
    body = {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": payments.CARD_APPROVE}
    with django_assert_max_num_queries(PURCHASE), django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/holds/{hold['id']}/purchase", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.content
    assert [t["label"] for t in response.json()["tickets"]] == [s["label"] for s in hold["seats"]]


def test_hold_and_purchase_with_a_capped_type_and_a_promo_code_query_budget(
    api_client, event, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    from tests.checkout.conftest import seat_ids
    from tests.factories import make_code, make_ticket_type

    early = make_ticket_type(event, "Early bird", "30.00", quota=100)
    make_ticket_type(event, "VIP", "90.00")
    make_code(event, "SAVE", discount_value=10)
    client = api_client.as_user(UserFactory())
    ids = seat_ids(event)[:2]
    body = {"seat_ids": ids, "ticket_type_id": early.id, "codes": ["save"]}
    with (
        django_assert_max_num_queries(HOLD_WITH_TYPE_AND_CODE),
        django_capture_on_commit_callbacks(execute=True),
    ):
        hold = _hold(client, event, body)
    assert [(s["ticket_type"], s["price"], s["discount"]) for s in hold["seats"]] == [
        ("Early bird", "30.00", "3.00")
    ] * 2
    body = {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": payments.CARD_APPROVE}
    with (
        django_assert_max_num_queries(PURCHASE_WITH_TYPE_AND_CODE),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(f"/api/holds/{hold['id']}/purchase", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.content
    assert response.json()["total"] == "54.00"
