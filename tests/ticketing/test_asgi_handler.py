"""The one-hop ASGI handler (ticketing/server/handler.py), through the deployed ASGI application."""

from __future__ import annotations

import json

import pytest
from django.core import signals

from tests.asgi import request

# Requests run on the handler's own threads: data must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished():
    """Counts request_finished: it returns the database connection to the pool."""
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    signals.request_finished.connect(receiver)
    yield calls
    signals.request_finished.disconnect(receiver)


def test_an_api_read_answers_json_and_finishes_the_request(finished):
    status, headers, body = request("GET", "/api/events")
    assert status == 200
    assert headers["content-type"][0].startswith("application/json")
    assert "items" in json.loads(body)
    assert len(finished) == 1


def test_a_post_body_reaches_the_view(finished, user):
    creds = json.dumps({"email": user.email, "password": "wrong password"}).encode()
    status, _, body = request("POST", "/api/auth/token", creds, [(b"content-type", b"application/json")])
    # The view parsed the credentials (a missing body would be a 422 validation error).
    assert status == 401
    assert json.loads(body)["code"] == "INVALID_CREDENTIALS"
    assert len(finished) == 1


def test_a_page_sets_its_cookies():
    status, headers, body = request("GET", "/accounts/login/")
    assert status == 200
    assert any(c.startswith("csrftoken=") for c in headers["set-cookie"])
    assert b"<form" in body


def test_a_streamed_static_file_is_sent_whole():
    status, headers, body = request("GET", "/static/js/live.js")
    assert status == 200
    assert int(headers["content-length"][0]) == len(body) > 0
