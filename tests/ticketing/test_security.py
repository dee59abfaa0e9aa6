"""Rate limits, the production profile, and endpoints that must not reveal other buyers' data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from tests.factories import UserFactory, make_event
from tests.ops_factories import inventory, sell
from ticketing.server.throttles import hold_throttles

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fast_hasher(db, settings):
    # The limits need dozens of password checks; PBKDF2 would make that seconds each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_signup_is_rate_limited_per_address(api_client, settings, unchanged):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES}
    from ticketing.server.throttles import signup_throttles

    limit = signup_throttles()[0].num_requests
    for i in range(limit):
        response = api_client.post("/api/auth/signup", {"email": f"a{i}@example.com", "password": "x"})
        assert response.status_code == 422  # weak password: still counts toward the limit
    with unchanged():
        refused = api_client.post(
            "/api/auth/signup", {"email": "new@example.com", "password": "Str0ng-pass-99"}
        )
    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED" and int(refused["Retry-After"]) >= 1
    # Another address is not affected.
    other = api_client.post(
        "/api/auth/signup", {"email": "new@example.com", "password": "Str0ng-pass-99"}, REMOTE_ADDR="10.0.0.2"
    )
    assert other.status_code == 201


def test_token_endpoint_is_rate_limited(api_client, user):
    from ticketing.server.throttles import token_throttles

    for _ in range(token_throttles()[0].num_requests):
        assert (
            api_client.post("/api/auth/token", {"email": user.email, "password": "wrong"}).status_code == 401
        )
    # Even the right password is refused now: guessing stops here.
    response = api_client.post("/api/auth/token", {"email": user.email, "password": "pass-word-123"})
    assert response.status_code == 429


def test_forwarded_for_cannot_dodge_the_limit(api_client, user):
    from ticketing.server.throttles import token_throttles

    for i in range(token_throttles()[0].num_requests):
        api_client.post(
            "/api/auth/token", {"email": user.email, "password": "x"}, HTTP_X_FORWARDED_FOR=f"1.2.3.{i}"
        )
    response = api_client.post(
        "/api/auth/token", {"email": user.email, "password": "x"}, HTTP_X_FORWARDED_FOR="9.9.9.9"
    )
    assert response.status_code == 429


def test_hold_throttles_count_per_user_and_per_address(settings):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES, "hold_user": "2/min"}
    per_user, per_ip = hold_throttles()
    alice, bob = UserFactory(), UserFactory()

    def request(user, addr="10.0.0.1"):
        r = RequestFactory().post("/api/holds", REMOTE_ADDR=addr)
        r.auth = user
        return r

    assert per_user.allow_request(request(alice)) and per_user.allow_request(request(alice, "10.0.0.9"))
    assert not per_user.allow_request(request(alice, "10.0.0.7"))  # a new address does not reset a user
    assert per_user.allow_request(request(bob))
    assert per_ip.allow_request(request(alice))


def test_me_shows_only_the_caller(api_client):
    alice, bob = UserFactory(), UserFactory()
    sell(inventory(make_event(), 1), user=bob)
    body = api_client.as_user(alice).get("/api/auth/me").json()
    assert body["email"] == alice.email
    assert bob.email not in str(body)


def test_production_profile_is_secure():
    """DJANGO_DEBUG=0 gives secure cookies, HSTS, SSL redirect and passes check --deploy."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "k" * 20 + "-Zx9!" + "q" * 40,
        "DJANGO_ALLOWED_HOSTS": "tickets.example.org",
        # Never connected to: check --deploy and settings import do not open a connection.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "from django.core.management import call_command; "
        "call_command('check', deploy=True, fail_level='WARNING'); "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.DEBUG, s.ALLOWED_HOSTS, s.NINJA_NUM_PROXIES, s.SESSION_COOKIE_HTTPONLY]))"
    )
    env["DJANGO_SETTINGS_MODULE"] = "ticketing.config.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last == '[true, true, true, 31536000, false, ["tickets.example.org"], 0, true]'


def test_login_page_is_rate_limited_without_checking_the_password(client, user, monkeypatch):
    from ticketing.server.throttles import token_throttles

    for _ in range(token_throttles()[0].num_requests):
        assert (
            client.post("/accounts/login/", {"username": user.email, "password": "wrong"}).status_code == 200
        )
    checked = []
    monkeypatch.setattr("django.contrib.auth.authenticate", lambda *a, **k: checked.append(1))
    response = client.post("/accounts/login/", {"username": user.email, "password": "pass-word-123"})
    assert response.status_code == 429 and b"Too many requests" in response.content
    assert checked == []
    assert "_auth_user_id" not in client.session


def test_signup_page_is_rate_limited(client):
    from ticketing.server.throttles import signup_throttles

    for i in range(signup_throttles()[0].num_requests):
        client.post("/accounts/signup/", {"email": f"p{i}@example.com", "password": "x"})
    response = client.post("/accounts/signup/", {"email": "late@example.com", "password": "Str0ng-pass-99"})
    assert response.status_code == 429 and b"Too many requests" in response.content


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _hold_request(user, addr: str):
    r = RequestFactory().post("/api/events/1/holds", REMOTE_ADDR=addr)
    r.auth = user
    return r


def test_default_hold_limits_let_an_on_sale_crowd_through_but_not_a_script(monkeypatch):
    """200 buyers, each its own account, picking seats every 5 s for 5 minutes, all from one
    address (the benchmark on loopback; a NAT on 203.0.113.7 at a gentler pace) are never
    refused; one account scripting two holds a second is, within its first minute."""
    from ninja.throttling import SimpleRateThrottle

    clock = _Clock()
    monkeypatch.setattr(SimpleRateThrottle, "timer", clock)
    crowd = [UserFactory.build(pk=10_000 + i) for i in range(200)]
    per_user, per_ip = hold_throttles()

    def allowed(user, addr) -> bool:
        request = _hold_request(user, addr)
        return all([per_user.allow_request(request), per_ip.allow_request(request)])

    for addr, every in (("127.0.0.1", 5.0), ("203.0.113.7", 15.0)):
        start = clock.now
        while clock.now < start + 300:
            assert all(allowed(user, addr) for user in crowd), (addr, clock.now - start)
            clock.now += every
        clock.now += 3600  # the windows are empty again

    script = UserFactory.build(pk=99_999)
    refused_at = None
    for i in range(240):
        if not allowed(script, "198.51.100.3"):
            refused_at = i
            break
        clock.now += 0.5
    assert refused_at is not None and refused_at <= per_user.num_requests


def test_many_accounts_on_one_public_address_are_bounded_together(monkeypatch):
    from ninja.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", _Clock())
    per_user, per_ip = hold_throttles()
    limit = per_ip.num_requests
    accounts = [UserFactory.build(pk=20_000 + i) for i in range(limit // per_user.num_requests + 1)]
    requests = [_hold_request(u, "198.51.100.9") for u in accounts for _ in range(per_user.num_requests)]
    results = [per_ip.allow_request(r) for r in requests]
    assert results[:limit] == [True] * limit and not any(results[limit:])
    # Behind a local proxy (loopback) the address is not counted: only each buyer is.
    assert per_ip.allow_request(_hold_request(accounts[0], "::1"))


def test_no_buyer_endpoint_reveals_or_touches_another_buyers_data(api_client, unchanged):
    """Mallory tries every buyer endpoint with Alice's ids: each answers 404 NOT_FOUND, exactly
    as for an id that does not exist, and nothing in the database moves."""
    from checkout import payments
    from checkout.models import Hold, Order, SeatInventory, Ticket
    from checkout.services.holds import hold_create
    from checkout.services.orders import order_purchase
    from tests.checkout.conftest import inventory_state
    from tests.waitlist.inventory import free_seats, hold_seats, rows
    from waitlist import services as waitlist_services
    from waitlist.models import WaitlistEntry

    alice, mallory = UserFactory(), UserFactory()
    holding, bought, waiting = make_event(), make_event(), make_event()
    live = hold_create(user=alice, event_id=holding.id, seat_ids=[inventory(holding, 1)[0].seat_id])
    paid_hold = hold_create(user=alice, event_id=bought.id, seat_ids=[inventory(bought, 1)[0].seat_id])
    order = order_purchase(
        user=alice,
        hold_id=paid_hold.pk,
        buyer_name="Alice",
        buyer_email=alice.email,
        card_number=payments.CARD_APPROVE,
        idempotency_key="alice-1",
    )
    hold_seats(waiting)
    entry = waitlist_services.waitlist_join(user=alice, event_id=waiting.id, quantity=1)
    free_seats(rows(waiting, "A1"))
    (offer,) = waitlist_services.waitlist_seats_released(event_id=waiting.id, seat_ids=[], reason="released")

    def state():
        return (
            inventory_state(),
            list(Hold.objects.order_by("pk").values_list("pk", "status", "expires_at", "extensions_used")),
            list(WaitlistEntry.objects.order_by("pk").values_list("pk", "status", "offer_hold_id")),
            list(SeatInventory.objects.order_by("pk").values_list("pk", "status", "hold_id", "order_id")),
            list(Ticket.objects.order_by("pk").values_list("pk", "status", "used_at")),
            list(Order.objects.order_by("pk").values_list("pk", "status", "buyer_email")),
        )

    purchase = {"buyer_name": "M", "buyer_email": "m@example.com", "card_number": payments.CARD_APPROVE}
    attempts = [
        ("get", f"/api/holds/{live.pk}", None),
        ("delete", f"/api/holds/{live.pk}", None),
        ("post", f"/api/holds/{live.pk}/extend", None),
        ("post", f"/api/holds/{live.pk}/purchase", purchase),
        ("get", f"/api/holds/{offer.hold_id}", None),
        ("post", f"/api/holds/{offer.hold_id}/purchase", purchase),
        ("delete", f"/api/holds/{offer.hold_id}", None),
        ("get", f"/api/holds/{paid_hold.pk}", None),
        ("get", f"/api/orders/{order.pk}", None),
        ("post", f"/api/orders/{order.pk}/cancel", None),
        ("delete", f"/api/waitlist/{entry.pk}", None),
    ]
    client = api_client.as_user(mallory)
    before = state()
    with unchanged():
        for method, path, body in attempts:
            response = getattr(client, method)(path, body, HTTP_IDEMPOTENCY_KEY="m-1")
            assert response.status_code == 404, (path, response.content)
            answer = response.json()
            assert answer["code"] == "NOT_FOUND", path
            # The same answer as for an id nobody has: nothing tells Mallory the id exists.
            assert alice.email not in response.content.decode()
        assert client.get("/api/orders").json() == []
        assert client.get("/api/waitlist").json() == []
    assert state() == before
    # Alice still sees all of it.
    alice_client = api_client.as_user(alice)
    assert alice_client.get(f"/api/holds/{live.pk}").status_code == 200
    assert alice_client.get(f"/api/orders/{order.pk}").status_code == 200
    assert [e["id"] for e in alice_client.get("/api/waitlist").json()] == [entry.pk]


def test_an_unknown_id_and_another_buyers_id_answer_alike(api_client):
    from checkout.services.holds import hold_create

    alice, mallory = UserFactory(), UserFactory()
    event = make_event()
    theirs = hold_create(user=alice, event_id=event.id, seat_ids=[inventory(event, 1)[0].seat_id])
    client = api_client.as_user(mallory)
    foreign = client.get(f"/api/holds/{theirs.pk}").json()
    missing = client.get(f"/api/holds/{theirs.pk + 10_000}").json()
    assert foreign["code"] == missing["code"] == "NOT_FOUND"
    assert foreign["message"] == missing["message"]
    assert set(foreign["extra"]) == set(missing["extra"])
