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
from ticketing.throttles import hold_throttles

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fast_hasher(db, settings):
    # The limits need dozens of password checks; PBKDF2 would make that seconds each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_signup_is_rate_limited_per_address(api_client, settings, unchanged):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES}
    from ticketing.throttles import signup_throttles

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
    from ticketing.throttles import token_throttles

    for _ in range(token_throttles()[0].num_requests):
        assert (
            api_client.post("/api/auth/token", {"email": user.email, "password": "wrong"}).status_code == 401
        )
    # Even the right password is refused now: guessing stops here.
    response = api_client.post("/api/auth/token", {"email": user.email, "password": "pass-word-123"})
    assert response.status_code == 429


def test_forwarded_for_cannot_dodge_the_limit(api_client, user):
    from ticketing.throttles import token_throttles

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
    env["DJANGO_SETTINGS_MODULE"] = "ticketing.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last == '[true, true, true, 31536000, false, ["tickets.example.org"], 0, true]'


def test_login_page_is_rate_limited_without_checking_the_password(client, user, monkeypatch):
    from ticketing.throttles import token_throttles

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
    from ticketing.throttles import signup_throttles

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
