"""Journeys through the account pages and the browse page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.factories import UserFactory, make_event, make_venue, staff_user
from ticketing.models import User

pytestmark = pytest.mark.browser


def test_sign_up_log_out_and_log_in_again(site):
    page = site.new_page()
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/"))
    page.get_by_label("Name").fill("Ada Buyer")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Password").fill("a-long-passphrase")
    screenshot(page, "signup")
    page.get_by_role("button", name="Create account").click()

    header = page.locator(".site-header")
    expect(header).to_contain_text("ada@example.com")
    expect(header.get_by_role("link", name="Admin")).to_have_count(0)
    assert User.objects.filter(email="ada@example.com", name="Ada Buyer").exists()

    header.get_by_role("button", name="Log out").click()
    expect(header.get_by_role("link", name="Log in")).to_be_visible()
    expect(header).not_to_contain_text("ada@example.com")

    header.get_by_role("link", name="Log in").click()
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    # The e-mail typed survives the failed attempt.
    expect(page.get_by_label("E-mail")).to_have_value("ada@example.com")
    page.get_by_label("Password").fill("a-long-passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(header).to_contain_text("ada@example.com")


def test_sign_up_refuses_a_taken_email_in_words(site):
    UserFactory(email="taken@example.com")
    page = site.new_page()
    page.goto("/accounts/signup/")
    page.get_by_label("Name").fill("Someone")
    page.get_by_label("E-mail").fill("taken@example.com")
    page.get_by_label("Password").fill("a-long-passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("already exists")
    expect(page.get_by_label("Name")).to_have_value("Someone")
    assert User.objects.filter(email="taken@example.com").count() == 1


def test_staff_see_the_admin_link(site):
    page = site.new_page()
    site.log_in(page, staff_user())
    expect(page.locator(".site-header").get_by_role("link", name="Admin")).to_be_visible()


def test_browse_page_lists_events_on_phone_and_desktop(site):
    venue = make_venue(rows=3, seats_per_row=8, name="Riverside Hall")
    make_event(venue=venue, title="Aurora Lights Tour")
    make_event(venue=venue, title="Jazz Night Live", price="35.00")
    make_event(venue=venue, title="Unpublished Draft", publish=False)

    page = site.new_page()
    page.goto("/")
    events = page.locator("main")
    expect(events.get_by_role("link", name="Aurora Lights Tour")).to_be_visible()
    expect(events.get_by_role("link", name="Jazz Night Live")).to_be_visible()
    expect(events).not_to_contain_text("Unpublished Draft")
    screenshot(page, "browse")

    phone = site.new_page(phone=True)
    phone.goto("/")
    expect(phone.get_by_role("link", name="Aurora Lights Tour")).to_be_visible()
    # Nothing wider than the phone's screen: no sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(phone, "browse-phone")
