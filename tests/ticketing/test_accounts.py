from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from ticketing.models import User

pytestmark = pytest.mark.django_db


def test_signup_then_token_then_me(api_client):
    r = api_client.post("/api/auth/signup", {"email": "New@Example.com", "password": "a-long-passphrase"})
    assert r.status_code == 201, r.content
    assert r.json()["email"] == "new@example.com"
    r = api_client.post("/api/auth/token", {"email": "new@example.com", "password": "a-long-passphrase"})
    assert r.status_code == 201
    api_client.token = r.json()["token"]
    assert api_client.get("/api/auth/me").json()["email"] == "new@example.com"


def test_signup_refuses_duplicates_and_weak_passwords(api_client):
    User.objects.create_user("taken@example.com", "whatever-123")
    r = api_client.post("/api/auth/signup", {"email": "TAKEN@example.com", "password": "a-long-passphrase"})
    assert r.status_code == 409 and r.json()["code"] == "EMAIL_TAKEN"
    r = api_client.post("/api/auth/signup", {"email": "x@example.com", "password": "123"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"
    r = api_client.post("/api/auth/signup", {"email": "not-an-email", "password": "a-long-passphrase"})
    assert r.status_code == 422
    assert User.objects.count() == 1


def test_wrong_password_gets_no_token(api_client):
    User.objects.create_user("a@example.com", "right-password-1")
    r = api_client.post("/api/auth/token", {"email": "a@example.com", "password": "wrong"})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_CREDENTIALS"


def test_bad_token_is_401(api_client):
    api_client.token = "nope"
    r = api_client.get("/api/auth/me")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"


def test_a_token_signs_in_its_own_active_user_in_one_query(api_client, django_assert_num_queries):
    from tests.factories import UserFactory

    owner, other = UserFactory(), UserFactory()
    api_client.as_user(other)
    api_client.as_user(owner)
    with django_assert_num_queries(1):
        assert api_client.get("/api/auth/me").json()["email"] == owner.email
    User.objects.filter(pk=owner.pk).update(is_active=False)
    r = api_client.get("/api/auth/me")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"


def test_createsuperuser_with_email(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "s3cret-pass-word")
    call_command("createsuperuser", "--no-input", "--email", "boss@example.com")
    boss = User.objects.get(email="boss@example.com")
    assert boss.is_superuser and boss.check_password("s3cret-pass-word")


def test_signup_page_logs_in(client):
    r = client.post("/accounts/signup/", {"email": "p@example.com", "password": "a-long-passphrase"})
    assert r.status_code == 302
    assert client.get("/").context["user"].email == "p@example.com"
    r = client.post("/accounts/signup/", {"email": "p@example.com", "password": "a-long-passphrase"})
    assert r.status_code == 422 and b"already exists" in r.content


def test_production_profile_passes_check_deploy():
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "k" * 64 + "-production-like-secret-value",
        "DJANGO_ALLOWED_HOSTS": "tickets.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
