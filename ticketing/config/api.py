"""The one NinjaAPI: mounts each app's router and maps every error in one place."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from checkout.api import router as checkout_router
from checkout.api_codes import router as checkout_codes_router
from checkout.api_events import router as checkout_events_router
from checkout.api_ops import router as checkout_ops_router
from events.api import router as events_router
from events.api_ticket_types import router as ticket_types_router
from ticketing.accounts.api import router as accounts_router
from ticketing.accounts.auth import api_auth
from ticketing.core.errors import (
    ApplicationError,
    Busy,
    PayloadTooLarge,
    Unauthenticated,
    ValidationFailed,
    error_for_status,
    validation_error_from_django,
)
from ticketing.core.openapi import openapi_errors
from ticketing.server.admission import is_pool_timeout
from waitlist.api import router as waitlist_router
from waitlist.queue_api import router as queue_router

logger = logging.getLogger(__name__)


class DocumentedErrorsAPI(NinjaAPI):
    """Lists every operation's error responses in the OpenAPI schema (``openapi_errors``)."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return openapi_errors(schema)


api = DocumentedErrorsAPI(
    title="Ticketing API",
    version="1.0",
    auth=api_auth,
    docs_url="/docs",
    description="Reserved-seat ticketing. Errors are always `{code, message, extra}`.",
)
api.add_router("/auth", accounts_router, tags=["accounts"])
api.add_router("", events_router, tags=["events"])
api.add_router("", checkout_events_router, tags=["events"])
api.add_router("", ticket_types_router, tags=["ticket types"])
api.add_router("", checkout_codes_router, tags=["ticket types"])
api.add_router("", checkout_router, tags=["checkout"])
api.add_router("", checkout_ops_router, tags=["operations"])
api.add_router("", waitlist_router, tags=["waitlist"])
api.add_router("", queue_router, tags=["waiting room"])


@api.get("/ping", auth=None, tags=["system"], summary="Liveness; the benchmarks' ceiling reference")
def ping(request: HttpRequest) -> dict:
    return {"ok": True}


def error_response(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return error_response(request, exc)


_LOCATIONS = ("body", "payload", "query", "path", "header", "headers")


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    """Every problem at once: ``extra.errors`` (pydantic's list) and ``extra.fields`` (by field)."""
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", [])],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors
    ]
    fields: dict[str, list[str]] = {}
    for e in errors:
        where = ".".join(p for p in e["loc"] if p not in _LOCATIONS) or "__all__"
        fields.setdefault(where, []).append(e["msg"])
    message = "; ".join(f"{k}: {v[0]}" if k != "__all__" else v[0] for k, v in fields.items())
    return error_response(
        request,
        ValidationFailed(message or "Invalid request.", extra={"errors": errors, "fields": fields}),
    )


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, PayloadTooLarge())


@api.exception_handler(DjangoValidationError)
def _django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    return error_response(request, validation_error_from_django(exc))


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = int(getattr(exc, "wait", None) or 1)
    err = ApplicationError(
        gettext("Too many requests; slow down."),
        code="RATE_LIMITED",
        status=429,
        extra={"retry_after": wait},
        headers={"Retry-After": str(wait)},
    )
    return error_response(request, err)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, Unauthenticated())


@api.exception_handler(AuthorizationError)
def _forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return error_response(request, ApplicationError(str(exc), code="FORBIDDEN", status=403))


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, ApplicationError("Forbidden.", code="FORBIDDEN", status=403))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, error_for_status(exc.status_code, str(exc)))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, ApplicationError("Not found.", code="NOT_FOUND", status=404))


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request: HttpRequest, exc: OperationalError | InterfaceError) -> HttpResponse:
    """No pooled connection came free in time (overload), or PostgreSQL is unreachable or
    restarting (a lost connection): either way a retryable 503, not a 500. Whatever the
    request wrote before is safe: payments are written down before the provider is called
    (docs/payments.md), and a same-key retry finds them."""
    if not is_pool_timeout(exc):
        logger.warning("database unavailable: %s", str(exc).strip()[:200])
    return error_response(request, Busy("The database is unavailable; please retry in a moment."))
