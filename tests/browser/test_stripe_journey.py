"""Paying with Stripe in a real Chromium: localstripe's stand-in for Stripe.js draws the card
element and the 3-D Secure dialog (tests/stripe/), the app runs with the Stripe provider."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from checkout.models import Order, OrderStatus, Payment
from tests.browser.test_journeys import _event, _open_map, _seat
from tests.factories import UserFactory
from tests.stripe.fixtures import CARD_3DS, CARD_DECLINED, stripe_client

pytestmark = pytest.mark.browser


def _card(page, number: str) -> None:
    element = page.locator("[data-card-element]")
    element.get_by_placeholder("number").fill(number)
    element.get_by_placeholder("exp_month").fill("12")
    element.get_by_placeholder("exp_year").fill("34")
    element.get_by_placeholder("cvc").fill("123")
    element.get_by_placeholder("postal_code").fill("75001")


def test_pay_with_the_stripe_card_element_through_3d_secure(stripe_site, localstripe_base):
    event = _event()
    buyer = UserFactory(name="Ada Buyer")
    page = stripe_site.new_page()
    stripe_site.log_in(page, buyer)
    _open_map(page, event)
    _seat(page, "A", "4").click()
    page.get_by_role("button", name="Hold 1 seat").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    form = page.locator("[data-checkout]")
    expect(form.get_by_label("Card number")).to_have_count(0)  # no card field of ours

    # A declined card first: words, and the hold stays.
    _card(page, CARD_DECLINED)
    form.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(form.locator("[data-error]")).to_contain_text("declined")

    # Then a card whose bank asks for 3-D Secure: Stripe.js's dialog, confirmed.
    _card(page, CARD_3DS)
    form.get_by_role("button", name=re.compile(r"^Pay")).click()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    expect(page.locator("[data-ticket]")).to_have_count(1)

    order = Order.objects.get(user=buyer)
    assert order.status == OrderStatus.PAID
    charge = Payment.objects.get(order=order, kind="charge")
    assert stripe_client(localstripe_base).v1.payment_intents.retrieve(charge.intent_id).status == "succeeded"
    assert Payment.objects.filter(kind="charge", status="declined").count() == 1
