"""Fuzzing the API (ticketing/config/api.py) from its live OpenAPI schema.

Two parts, each as anonymous, as a buyer and as staff:
- schemathesis generates requests for every operation (valid and invalid data), bounded and
  derandomized, so every run sends the same requests;
- a hand-written list of hostile values is put into every field of every request body.
Every response must be below 500 (or a documented 503 BUSY) and match the schema: status
documented, content type and body as documented. Figures go to var/fuzz-report.json (see README).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.transport import Response
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import UserFactory, api_token, make_event, staff_user
from tests.openapi_walk import example, leaf_fields, with_value
from tests.ops_factories import hold, inventory

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
# Per operation, persona and generation mode; 25 operations x 3 personas x 2 modes x this.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
PERSONAS = ("anonymous", "buyer", "staff")
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
HOSTILE = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 100_000,
    "\u202eevil\u202c",  # RTL override
    "zero\u200bwidth\ufeff",
    "𝕿𝖍𝖊 🎫 Zoë",
    "\x1b[31m\x85\x9f",
    "' OR 1=1; --",
    "<script>alert(1)</script>",
    "",
    2**64,
    -(2**63) - 1,
    -1,
    1e308,
    True,
    None,
    [],
    {"$gt": ""},
]
# A valid request per operation, so a hostile value is the only thing wrong with it (an
# operation added later starts from a body generated from its schema).
VALID_BODIES = {
    "/api/auth/signup": {"email": "fuzz@example.com", "password": "Str0ng-pass-99", "name": "Fuzz"},
    "/api/auth/token": {"email": "fuzz@example.com", "password": "Str0ng-pass-99", "name": "fuzz"},
    "/api/venues": {
        "name": "Fuzz Hall",
        "city": "Berlin",
        "country": "DE",
        "timezone": "Europe/Berlin",
        "sections": [{"name": "Floor", "kind": "general", "capacity": 5, "geometry": {"x": 0}}],
    },
    "/api/events": {
        "venue_id": 1,
        "title": "Fuzz Night",
        "description": "Loud.\nLate.",
        "category": "music",
        "starts_at": "2031-05-01T19:00:00Z",
        "ends_at": "2031-05-01T22:00:00Z",
        "currency": "EUR",
        "prices": [{"section_id": 1, "amount": "10.00"}],
    },
    "/api/events/{event_id}/holds": {"section_id": 1, "quantity": 1},
    "/api/holds/{hold_id}/purchase": {
        "buyer_name": "Fuzz Buyer",
        "buyer_email": "buyer@example.com",
        "card_number": "4242424242424242",
    },
    "/api/checkin": {"code": "no-such-code", "gate": "A", "event_id": 1},
    "/api/events/{event_id}/waitlist": {"quantity": 1},
}
STATS: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    report = ROOT / "var" / "fuzz-report.json"
    report.parent.mkdir(exist_ok=True)
    by_status = Counter()
    for (part, _persona, status), n in STATS.items():
        by_status[f"{part} {status}"] += n
    report.write_text(
        json.dumps(
            {
                "examples_per_operation": EXAMPLES,
                "requests": sum(STATS.values()),
                "by_part_and_status": dict(sorted(by_status.items())),
                "by_part_persona_status": {" ".join(map(str, k)): v for k, v in sorted(STATS.items())},
            },
            indent=1,
        )
    )


@pytest.fixture
def personas(db, settings):
    # Rate limits would answer most of the fuzz 429 and hide what the requests carry.
    settings.TICKETING_THROTTLE_RATES = dict.fromkeys(settings.TICKETING_THROTTLE_RATES, "100000/min")
    staff = staff_user()
    buyer = UserFactory()
    event = make_event()
    rows = inventory(event)
    buyer_hold = hold(rows[:2], user=buyer)
    return {
        "tokens": {"anonymous": None, "buyer": api_token(buyer), "staff": api_token(staff)},
        # Real ids, so the requests get past "not found" to what they carry.
        "ids": {
            "event_id": event.pk,
            "hold_id": buyer_hold.pk,
            "order_id": 1,
            "entry_id": 1,
            "ticket_id": 1,
            "venue_id": event.venue_id,
            "section_id": rows[0].section_id,
        },
    }


def _live_schema() -> tuple[dict, schemathesis.schemas.BaseSchema]:
    raw = Client().get("/api/openapi.json").json()
    return raw, schemathesis.openapi.from_dict(raw)


def _send(client: Client, kwargs: dict) -> Response:
    """Send schemathesis' request through Django's test client (one process, one transaction)."""
    url = urlsplit(kwargs["url"])
    headers = {
        k: v
        for k, v in kwargs.get("headers", {}).items()
        if k.lower() not in ("content-type", "content-length", "host", "accept-encoding", "connection")
    }
    content_type = kwargs.get("headers", {}).get("Content-Type", "application/json")
    if "json" in kwargs:
        data = json.dumps(kwargs["json"]).encode()
    else:
        data = kwargs.get("data") or b""
        data = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    query = urlencode(kwargs.get("params") or {}, doseq=True)
    if url.query:
        query = f"{url.query}&{query}" if query else url.query
    response = client.generic(
        kwargs["method"], url.path, data=data, content_type=content_type, QUERY_STRING=query, headers=headers
    )
    import requests

    return Response(
        status_code=response.status_code,
        headers={k: [v] for k, v in response.items() if k.lower() != "content-encoding"},
        content=response.content,
        request=requests.Request(kwargs["method"], kwargs["url"]).prepare(),
        elapsed=0.0,
        message=response.reason_phrase,
        encoding="utf-8",
        http_version="1.1",
        verify=False,
    )


def _problems(case, response: Response, body: bytes) -> list[str]:
    problems = []
    if response.status_code >= 500:
        code = json.loads(body).get("code") if body.startswith(b"{") else None
        if not (response.status_code == 503 and code == "BUSY"):
            problems.append(f"{response.status_code} {body[:200]!r}")
    try:
        case.validate_response(response, checks=CHECKS)
    except (Exception, BaseExceptionGroup) as exc:  # one error (group) listing every failed check
        subs = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
        problems += [f"{type(e).__name__}: {' '.join(str(e).split())[:160]}" for e in subs]
    return problems


def _real_ids(body, ids: dict):
    """``body`` with every ``*_id`` field that names a row of the fixture set to that row."""
    if isinstance(body, dict):
        return {k: ids[k] if k in ids else _real_ids(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_real_ids(v, ids) for v in body]
    return body


def _persona_headers(personas: dict, persona: str) -> dict:
    token = personas["tokens"][persona]
    return {"Authorization": f"Bearer {token}"} if token else {}


def _fuzz(strategy, *, client: Client, headers: dict, tally: tuple, label: str, failures: list[str]) -> None:
    """Run ``EXAMPLES`` derandomized cases of ``strategy``; record every problem, do not stop."""

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        kwargs.setdefault("headers", {}).pop("Authorization", None)
        kwargs["headers"].update(headers)
        response = _send(client, kwargs)
        STATS[(*tally, response.status_code)] += 1
        failures.extend(f"{label}: {problem}" for problem in _problems(case, response, response.content))

    with contextlib.suppress(Unsatisfiable):  # no invalid request exists (no parameters)
        run()


@pytest.mark.parametrize("persona", PERSONAS)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(personas, persona):
    raw, schema = _live_schema()
    client = Client()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        params = {p["name"] for p in raw["paths"][operation.path][operation.method].get("parameters", [])}
        real = {k: v for k, v in personas["ids"].items() if k in params}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies = [operation.as_strategy(mode)]
            if real and mode == GenerationMode.POSITIVE:
                strategies.append(operation.as_strategy(mode, path_parameters=real))
            for strategy in strategies:
                _fuzz(
                    strategy,
                    client=client,
                    headers=_persona_headers(personas, persona),
                    tally=("schemathesis", persona),
                    label=f"{operation.method.upper()} {operation.path} [{mode}]",
                    failures=failures,
                )
    assert not failures, "\n".join(sorted(set(failures))[:40])


@pytest.mark.parametrize("persona", PERSONAS)
def test_hostile_values_in_every_field_find_no_server_error(personas, persona):
    raw, schema = _live_schema()
    client = Client()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        op = raw["paths"][operation.path][operation.method]
        body_spec = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if not body_spec:
            continue
        base = _real_ids(VALID_BODIES.get(operation.path) or example(raw, body_spec), personas["ids"])
        header_names = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        path_parameters = {p["name"]: personas["ids"].get(p["name"], 1) for p in op.get("parameters", [])}
        path_parameters = {k: v for k, v in path_parameters.items() if "{" + k + "}" in operation.path}
        for field in leaf_fields(raw, body_spec):
            for value in HOSTILE:
                sent = sum(STATS.values())
                case = operation.Case(
                    path_parameters=path_parameters,
                    headers={name: f"fuzz-{persona}-{sent}" for name in header_names},
                    body=with_value(base, field, value, raw, body_spec),
                    media_type="application/json",
                )
                kwargs = case.as_transport_kwargs(base_url="http://testserver")
                kwargs["headers"].pop("Authorization", None)
                kwargs["headers"].update(_persona_headers(personas, persona))
                response = _send(client, kwargs)
                STATS[("hostile", persona, response.status_code)] += 1
                for problem in _problems(case, response, response.content):
                    where = ".".join(map(str, field))
                    failures.append(
                        f"{operation.method.upper()} {operation.path} {where}={value!r:.40}: {problem}"
                    )
    assert not failures, "\n".join(sorted(set(failures))[:40])
