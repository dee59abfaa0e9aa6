"""The request layer's share of "every API error has one shape".

``ApiErrorShape`` is the outermost middleware. Errors raised inside the API are rendered by
its exception handlers (ticketing/config/api.py); this catches the ones produced before or around
it - Django's 404 for an unknown route, ninja's 405, a 400 for a foreign ``Host``, a body
over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, a 500 page - and answers them under ``/api/`` as
``{"code", "message", "extra"}`` too. Query parameters no column could store (a NUL in
``?q=``) are refused here for every page, the admin's search included, as 422 (API) or 400.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from ticketing.core.errors import ApplicationError, PayloadTooLarge, ValidationFailed, error_for_status
from ticketing.core.validation import text_problem

API_PREFIX = "/api/"


def json_error(exc: ApplicationError) -> HttpResponse:
    response = HttpResponse(json.dumps(exc.as_dict()), status=exc.status, content_type="application/json")
    for name, value in exc.headers.items():
        response[name] = value
    return response


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _query_problems(request: HttpRequest) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for name, values in request.GET.lists():
        for value in [name, *values]:
            problem = text_problem(value)
            if problem:
                problems.setdefault(name, []).append(f"This value {problem}.")
                break
    return problems


def _body_too_large(request: HttpRequest) -> bool:
    """A declared body over the limit (file uploads are exempt, as in Django)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
        return False
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return False


class ApiErrorShape:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = request.path.startswith(API_PREFIX)
        if _body_too_large(request):
            exc = PayloadTooLarge()
            return json_error(exc) if is_api else HttpResponse(exc.message, status=exc.status)
        problems = _query_problems(request)
        if problems:
            first = next(iter(problems))
            exc = ValidationFailed(f"{first}: {problems[first][0]}", extra={"fields": problems})
            return json_error(exc) if is_api else HttpResponseBadRequest(exc.message)
        response = self.get_response(request)
        if is_api and response.status_code >= 400 and not _is_json(response):
            shaped = json_error(error_for_status(response.status_code))
            for header in ("Allow", "Retry-After"):
                if header in response:
                    shaped[header] = response[header]
            return shaped
        return response
