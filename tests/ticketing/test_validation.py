"""ticketing/core/validation.py: hostile input is refused before it reaches a service.

The walkers discover what to attack (the OpenAPI schema's request bodies and query
parameters; every registered writable ModelAdmin and inline form), so a field added later
is covered without touching these tests.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import resolve

from checkout.models import Order, Payment
from tests.conftest import table_counts
from tests.factories import make_code, make_event, make_ticket_type, make_venue, staff_user
from tests.openapi_walk import example, string_fields, with_value
from tests.ops_factories import hold, inventory
from ticketing.config.api import api
from ticketing.core.validation import SafeFormMixin, text_problem, value_problem

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
OUR_APPS = {"ticketing", "events", "checkout", "waitlist"}


def test_text_problem_refuses_controls_and_lone_surrogates_only():
    assert text_problem("Zoë's ‮RTL‬ zero​width 🎫") is None
    assert "U+0000" in text_problem(NUL)
    assert "U+0085" in text_problem("a\x85")  # C1
    assert "U+D800" in text_problem("\ud800")
    assert text_problem("line\nbreak") and text_problem("line\nbreak", multiline=True) is None
    assert value_problem({"k": ["ok", "\x00"]}) and value_problem(2**63) and value_problem(dt.date(1, 1, 1))


# --- The API walker ----------------------------------------------------------------------


@pytest.fixture
def world(db):
    """Real ids for every path parameter, so a bad body is not hidden behind a 404."""
    staff = staff_user(is_superuser=True)
    event = make_event()
    h = hold(inventory(event, 2), user=staff)
    ticket_type = make_ticket_type(event, "Child")
    code = make_code(event, "PROMO")
    return {
        "staff": staff,
        "ids": {
            "event_id": event.pk,
            "hold_id": h.pk,
            "order_id": 1,
            "entry_id": 1,
            "ticket_id": 1,
            "ticket_type_id": ticket_type.pk,
            "code_id": code.pk,
        },
    }


def _operations():
    schema = api.get_openapi_schema()
    for url, item in schema["paths"].items():
        for method, op in item.items():
            yield schema, url, method, op


def _hostile_bodies():
    """(operation, field, value, why) for every string field of every request body."""
    cases = []
    for schema, url, method, op in _operations():
        body_spec = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if not body_spec:
            continue
        for path, spec in string_fields(schema, body_spec):
            dotted = ".".join(str(p) for p in path)
            hostile = [("nul", NUL), ("surrogate", "\ud800"), ("type", {"not": "a string"})]
            if spec.get("format") in ("date-time", "date"):
                hostile.append(
                    ("year-1", "0001-01-01T00:00:00Z" if spec["format"] == "date-time" else "0001-01-01")
                )
            elif "format" not in spec and "pattern" not in spec:
                assert "maxLength" in spec, f"{method.upper()} {url} {dotted} has no length limit"
                hostile.append(("long", "x" * (spec["maxLength"] + 1)))
            for why, value in hostile:
                cases.append(pytest.param(url, method, path, value, id=f"{method}-{url}-{dotted}-{why}"))
    assert cases
    return cases


@pytest.mark.parametrize(("url", "method", "path", "value"), _hostile_bodies())
def test_every_text_field_of_every_body_refuses_hostile_values(world, api_client, url, method, path, value):
    schema = api.get_openapi_schema()
    op = schema["paths"][url][method]
    body_spec = op["requestBody"]["content"]["application/json"]["schema"]
    body = with_value(example(schema, body_spec), path, value, schema, body_spec)
    headers = {
        f"HTTP_{p['name'].upper().replace('-', '_')}": "key-1"
        for p in op.get("parameters", [])
        if p["in"] == "header"
    }
    api_client.as_user(world["staff"])
    before = table_counts()
    response = getattr(api_client, method)(url.format(**world["ids"]), body, **headers)
    assert response.status_code == 422, response.content
    data = response.json()
    assert data["code"] == "VALIDATION_ERROR" and data["message"]
    field = ".".join(str(p) for p in path)
    assert any(k == field or k.startswith(field + ".") for k in data["extra"]["fields"]), data
    assert table_counts() == before


def _query_strings():
    cases = []
    for _schema, url, method, op in _operations():
        for p in op.get("parameters", []):
            spec = p.get("schema", {})
            if p["in"] == "query" and spec.get("type") == "string":
                cases.append(pytest.param(url, p["name"], id=f"{method}-{url}-{p['name']}"))
    assert cases
    return cases


@pytest.mark.parametrize(("url", "name"), _query_strings())
def test_every_text_query_parameter_refuses_nul(world, api_client, url, name, unchanged):
    with unchanged():
        response = api_client.get(url.format(**world["ids"]), {name: NUL})
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR" and name in response.json()["extra"]["fields"]


def test_errors_name_every_bad_field_at_once(world, api_client, unchanged):
    api_client.as_user(world["staff"])
    with unchanged():
        response = api_client.post(
            "/api/venues", {"name": NUL, "city": "x" * 101, "country": 7, "timezone": "UTC", "sections": []}
        )
    assert response.status_code == 422
    assert {"name", "city", "country", "sections"} <= set(response.json()["extra"]["fields"])


# --- The bugs of issue 15, one by one ----------------------------------------------------


def test_nul_in_buyer_name_is_refused_before_the_card_is_charged(api_client, user):
    event = make_event()
    h = hold(inventory(event, 1), user=user)
    api_client.as_user(user)
    before = table_counts()
    response = api_client.post(
        f"/api/holds/{h.pk}/purchase",
        {"buyer_name": NUL, "buyer_email": "b@example.com", "card_number": "4242424242424242"},
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"
    assert Payment.objects.count() == 0 and Order.objects.count() == 0
    assert table_counts() == before


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com", "password": "Str0ng-pass-99", "name": "x" * 201},
        {"email": "a" * 290 + "@example.com", "password": "Str0ng-pass-99"},
        {"email": "\ud800@example.com", "password": "Str0ng-pass-99"},
        {"email": "a@example.com", "password": "Str0ng-pass-99", "name": NUL},
    ],
    ids=["long-name", "long-email", "surrogate-email", "nul-name"],
)
def test_signup_refuses_what_the_user_row_cannot_store(api_client, body, unchanged):
    with unchanged():
        response = api_client.post("/api/auth/signup", body)
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("email", [NUL, "\ud800"])
def test_token_login_refuses_unstorable_emails(api_client, email, unchanged):
    with unchanged():
        response = api_client.post("/api/auth/token", {"email": email, "password": "x"})
    assert response.status_code == 422


def test_token_name_longer_than_its_column_is_refused(api_client, user, unchanged):
    with unchanged():
        response = api_client.post(
            "/api/auth/token", {"email": user.email, "password": "x", "name": "n" * 101}
        )
    assert response.status_code == 422


@pytest.mark.parametrize("query", ["q=%00", "city=%00", "date_from=0001-01-01"])
def test_event_list_refuses_unstorable_filters(api_client, query):
    response = api_client.get(f"/api/events?{query}")
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"


def test_checkin_refuses_nul_code(api_client, staff, unchanged):
    api_client.as_user(staff)
    with unchanged():
        response = api_client.post("/api/checkin", {"code": "\x00"})
    assert response.status_code == 422


def test_event_in_year_one_is_refused_at_creation(api_client, staff, unchanged):
    venue = make_venue()
    api_client.as_user(staff)
    with unchanged():
        response = api_client.post(
            "/api/events",
            {
                "venue_id": venue.pk,
                "title": "Antiquity",
                "category": "music",
                "starts_at": "0001-01-01T00:00:00Z",
                "ends_at": "0001-01-01T03:00:00Z",
            },
        )
    assert response.status_code == 422 and "starts_at" in response.json()["extra"]["fields"]


def test_signup_page_refuses_nul_with_a_form_error(unchanged):
    with unchanged():
        response = Client().post(
            "/accounts/signup/", {"email": "a@example.com", "password": "x", "name": NUL}
        )
    assert response.status_code == 422 and b"Name: " in response.content


def test_checkin_page_refuses_nul_with_a_form_error(staff, unchanged):
    client = Client()
    client.force_login(staff)
    with unchanged():
        response = client.post("/staff/checkin/", {"code": NUL, "gate": "A"})
    assert response.status_code == 422


def test_admin_search_with_nul_is_a_400_not_a_500():
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    assert client.get("/admin/events/event/?q=%00").status_code == 400


# --- The admin walker --------------------------------------------------------------------


def _writable_admin_forms():
    request = RequestFactory().get("/admin/events/event/add/")
    request.resolver_match = resolve("/admin/events/event/add/")
    request.user = staff_user(is_superuser=True)
    found = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
            continue  # read-only in the admin, inlines included
        found.append((f"{model._meta.label}", model_admin.get_form(request)))
        for inline in model_admin.get_inline_instances(request):
            if inline.has_add_permission(request, None) or inline.has_change_permission(request):
                found.append(
                    (f"{model._meta.label}/{inline.model._meta.label}", inline.get_formset(request).form)
                )
    return found


def _hostile_form_data(field_name: str, field: forms.Field) -> list[tuple[str, dict]]:
    if isinstance(field, forms.SplitDateTimeField):
        return [("year-1", {f"{field_name}_0": "0001-01-01", f"{field_name}_1": "10:00:00"})]
    if isinstance(field, forms.DateTimeField | forms.DateField):
        return [("year-1", {field_name: "0001-01-01"})]
    if isinstance(field, forms.JSONField):
        return [("nul-json", {field_name: '{"a": "\\u0000"}'}), ("type", {field_name: "{not json"})]
    if isinstance(field, forms.IntegerField):
        return [("huge", {field_name: str(2**70)}), ("type", {field_name: "seven"})]
    if isinstance(field, forms.CharField) and not isinstance(field.widget, forms.PasswordInput):
        cases = [("nul", {field_name: NUL})]
        if field.max_length:
            cases.append(("long", {field_name: "x" * (field.max_length + 1)}))
        return cases
    return []


@pytest.mark.django_db
def test_every_writable_admin_form_shows_hostile_values_as_form_errors():
    forms_found = _writable_admin_forms()
    assert {"events.Event", "events.Venue", "events.Section"} <= {label for label, _ in forms_found}
    checked = 0
    for label, form_class in forms_found:
        assert issubclass(form_class, SafeFormMixin), f"{label}'s admin form does not use SafeModelForm"
        for name, field in form_class.base_fields.items():
            if field.disabled:
                continue
            for why, data in _hostile_form_data(name, field):
                form = form_class(data=data)
                assert not form.is_valid()
                assert name in form.errors, f"{label}.{name} took a {why} value"
                checked += 1
    assert checked > 20


def test_admin_event_in_year_one_is_a_form_error_and_writes_nothing(unchanged):
    venue = make_venue()
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    with unchanged():
        response = client.post(
            "/admin/events/event/add/",
            {
                "venue": venue.pk,
                "title": "Antiquity",
                "slug": "antiquity",
                "category": "music",
                "starts_at_0": "0001-01-01",
                "starts_at_1": "10:00:00",
                "ends_at_0": "0001-01-01",
                "ends_at_1": "12:00:00",
                "status": "draft",
                "prices-TOTAL_FORMS": "0",
                "prices-INITIAL_FORMS": "0",
            },
        )
    assert response.status_code == 200
    assert "starts_at" in response.context["adminform"].form.errors


def test_admin_section_geometry_with_nul_is_a_form_error(unchanged):
    venue = make_venue()
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    with unchanged():
        response = client.post(
            "/admin/events/section/add/",
            {
                "venue": venue.pk,
                "name": "Side",
                "kind": "reserved",
                "display_order": "1",
                "geometry": '{"a": "\\u0000"}',
            },
        )
    assert response.status_code == 200
    assert "geometry" in response.context["adminform"].form.errors
