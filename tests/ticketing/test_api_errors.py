"""Every API error, from every layer, answers ``{"code", "message", "extra"}`` (ticketing/config/api.py,
ticketing/core/http.py), and the OpenAPI schema documents each operation's errors."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.factories import make_event
from ticketing.config.api import api

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"code", "message", "extra"} and data["message"]
    assert data["code"] == code, data
    return data


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/events/1/holds"),
        ("post", "/api/venues"),
        ("delete", "/api/holds/1"),
        ("delete", "/api/waitlist/1"),
    ],
)
def test_anonymous_writes_are_401_not_a_csrf_page(method, path, unchanged):
    client = Client(enforce_csrf_checks=True)
    with unchanged():
        response = getattr(client, method)(path, "{}", content_type="application/json")
    assert_error_shape(response, 401, "UNAUTHENTICATED")


def test_a_bad_token_is_401_even_with_csrf_enforced(unchanged):
    client = Client(enforce_csrf_checks=True)
    with unchanged():
        response = client.post(
            "/api/events/1/holds", "{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer nope"
        )
    assert_error_shape(response, 401, "UNAUTHENTICATED")


def test_a_signed_in_cookie_session_still_needs_csrf(user, unchanged):
    event = make_event()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    with unchanged():
        response = client.post(
            f"/api/events/{event.pk}/holds", '{"quantity": 1}', content_type="application/json"
        )
    assert_error_shape(response, 403, "CSRF_FAILED")


def test_a_token_needs_no_csrf(api_client, user):
    event = make_event()
    api_client.as_user(user)
    response = Client(enforce_csrf_checks=True).post(
        f"/api/events/{event.pk}/holds",
        {"section_id": event.venue.sections.get().pk, "quantity": 1},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_client.token}",
    )
    assert response.status_code == 201


def test_unknown_route_under_api_is_a_json_404():
    assert_error_shape(Client().get("/api/no/such/thing"), 404, "NOT_FOUND")


def test_wrong_method_is_a_json_405_with_allow():
    response = Client().put("/api/venues", "{}", content_type="application/json")
    assert_error_shape(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response["Allow"]


def test_a_body_that_is_not_json_is_a_json_400(unchanged):
    with unchanged():
        response = Client().post("/api/auth/signup", "{not json", content_type="application/json")
    assert_error_shape(response, 400, "BAD_REQUEST")


def test_a_body_over_the_limit_is_a_json_413(settings, unchanged):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"email": "a@example.com", "password": "' + "x" * 2000 + '"}'
    with unchanged():
        response = Client().post("/api/auth/signup", body, content_type="application/json")
    assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_foreign_host_is_a_400_without_an_error_log():
    reached_console: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.ERROR)
    handler.emit = reached_console.append
    logging.getLogger().addHandler(handler)  # where the configured console handler sits
    try:
        response = Client().get("/api/events", HTTP_HOST="evil.example")
    finally:
        logging.getLogger().removeHandler(handler)
    assert_error_shape(response, 400, "BAD_REQUEST")
    assert reached_console == []


def test_throttled_is_a_json_429(api_client, settings):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES, "token": "1/min"}
    api_client.post("/api/auth/token", {"email": "a@example.com", "password": "x"})
    response = api_client.post("/api/auth/token", {"email": "a@example.com", "password": "x"})
    assert_error_shape(response, 429, "RATE_LIMITED")


def test_openapi_lists_every_operations_errors():
    schema = api.get_openapi_schema()
    assert "Error" in schema["components"]["schemas"]
    purchase = schema["paths"]["/api/holds/{hold_id}/purchase"]["post"]["responses"]
    assert {"400", "401", "402", "403", "404", "409", "410", "413", "422", "503"} <= set(purchase)
    for item in schema["paths"].values():
        for op in item.values():
            assert ("503" in op["responses"] and "422" in op["responses"]) or not op.get("parameters")
