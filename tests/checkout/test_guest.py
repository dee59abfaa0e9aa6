"""Guest checkout: a name and an address, the order link, and claiming guest orders by signing up.

The purchase runs through the same JSON API and services as for an account (the guest is an
account that cannot sign in), so only what differs is tested here."""

from __future__ import annotations

import re
import uuid

import pytest

from checkout import payments
from checkout.models import Order
from checkout.tasks import order_confirmation_send
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event
from ticketing.models import User

pytestmark = pytest.mark.django_db


def _guest_buys(client, event, *, email="Gast@Example.com", name="Zoë Gast", seats=1) -> Order:
    r = client.post("/accounts/guest/", {"name": name, "email": email, "next": f"/events/{event.id}/"})
    assert r.status_code == 302 and r["Location"] == f"/events/{event.id}/"
    page = client.get(f"/events/{event.id}/")
    assert page.status_code == 200
    token = client.cookies["csrftoken"].value
    r = client.post(
        f"/api/events/{event.id}/holds",
        {"seat_ids": seat_ids(event)[:seats]},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 201, r.content
    hold_id = r.json()["id"]
    hold_page = client.get(f"/holds/{hold_id}/").content.decode()
    assert f'value="{email.lower()}"' in hold_page and f'value="{name}"' in hold_page
    r = client.post(
        f"/api/holds/{hold_id}/purchase",
        {"buyer_name": name, "buyer_email": email.lower(), "card_number": payments.CARD_APPROVE},
        content_type="application/json",
        headers={"X-CSRFToken": token, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.content
    return Order.objects.get(pk=r.json()["id"])


def test_a_guest_buys_with_a_name_and_an_address_and_opens_the_order_by_the_mailed_link(client, mailoutbox):
    event = make_event()
    order = _guest_buys(client, event)
    guest = order.user
    assert guest.is_guest and not guest.has_usable_password() and guest.email.endswith("@guest.invalid")
    assert order.buyer_email == "gast@example.com"
    page = client.get(f"/orders/{order.id}/").content.decode()  # the guest's own session
    assert "data-guest-note" in page and order.tickets.get().code in page
    assert order_confirmation_send(order.pk) is True
    (link,) = re.findall(r"http://[^\s]+/orders/\d+/[\w-]+/", mailoutbox[0].body)
    client.logout()
    path = link.split("localhost:8000", 1)[1]
    html = client.get(path).content.decode()
    assert order.tickets.get().code in html and "data-claim" in html
    assert client.get(f"/orders/{order.id}/").status_code == 302  # the plain page needs a sign-in
    assert client.get(path.rstrip("/")[:-2] + "xx/").status_code == 404


def test_the_guest_form_needs_a_name_and_a_valid_address_and_makes_nothing_otherwise(client):
    before = User.objects.count()
    r = client.post("/accounts/guest/", {"name": "Zoë", "email": "not-an-address"})
    assert r.status_code == 422 and "valid e-mail" in r.content.decode()
    r = client.post("/accounts/guest/", {"name": "", "email": "a@example.com"})
    assert r.status_code == 422
    assert User.objects.count() == before
    r = client.post(
        "/accounts/guest/", {"name": "Zoë", "email": "a@example.com", "next": "https://evil.example/"}
    )
    assert r.status_code == 302 and r["Location"] == "/"


def test_signing_up_with_the_address_and_opening_the_link_claims_every_guest_order(client):
    first = _guest_buys(client, make_event())
    client.logout()
    second = _guest_buys(client, make_event(), email="gast@example.com")
    client.logout()
    stranger = _guest_buys(client, make_event(), email="other@example.com")
    client.logout()
    link = f"/orders/{first.id}/{first.access_token}/"
    r = client.post(
        "/accounts/signup/",
        {"email": "GAST@example.com", "password": "a-long-pass-phrase-1", "name": "Zoë", "next": link},
    )
    assert r.status_code == 302 and r["Location"] == link
    r = client.get(link)
    assert r.status_code == 302 and r["Location"] == f"/orders/{first.id}/"
    account = User.objects.get(email="gast@example.com")
    assert set(Order.objects.filter(user=account).values_list("pk", flat=True)) == {first.pk, second.pk}
    assert Order.objects.get(pk=stranger.pk).user.is_guest
    mine = client.get("/orders/").content.decode()
    assert first.tickets.get().code in mine and second.tickets.get().code in mine


def test_an_account_with_another_address_claims_nothing_by_the_link(client):
    order = _guest_buys(client, make_event())
    client.logout()
    other = UserFactory(email="someone@example.com")
    client.force_login(other)
    r = client.get(f"/orders/{order.id}/{order.access_token}/")
    assert r.status_code == 200  # the link still opens the order...
    assert Order.objects.get(pk=order.pk).user.is_guest  # ...but it stays the guest's
