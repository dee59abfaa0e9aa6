"""Every operation's error responses in the OpenAPI schema.

ninja documents only the success a view declares; the errors come from the one exception
mapping (ticketing/config/api.py) and the request layer (ticketing/core/http.py). Which of them an
operation can answer follows from what it takes - a body (400 unparseable, 413 too large,
422), path parameters (404), authentication (401, 403) - plus the codes its description
names (``SEATS_UNAVAILABLE 409``) and 503 BUSY, which any operation can answer under load.
"""

from __future__ import annotations

import re
from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "description": "Every error: a stable machine code, a message for people, details in extra.",
    "required": ["code", "message", "extra"],
    "properties": {
        "code": {"type": "string", "examples": ["VALIDATION_ERROR"]},
        "message": {"type": "string"},
        "extra": {"type": "object", "additionalProperties": True},
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
_STATUS_IN_TEXT = re.compile(r"\b([45]\d\d)\b")
_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
_DESCRIPTIONS = {
    400: "Bad request: the body is not JSON (BAD_REQUEST)",
    401: "Not signed in or the token is not valid (UNAUTHENTICATED)",
    403: "Not allowed (FORBIDDEN, CSRF_FAILED)",
    404: "Not found (NOT_FOUND)",
    413: "The body is over the size limit (PAYLOAD_TOO_LARGE)",
    422: "A parameter or field is not valid; extra.fields names each (VALIDATION_ERROR)",
    429: "Rate limited; see Retry-After (RATE_LIMITED)",
    503: "Busy; retry after Retry-After (BUSY)",
}


def operation_errors(operation: dict[str, Any]) -> set[int]:
    """The error statuses ``operation`` (an OpenAPI operation object) can answer."""
    statuses = {503}
    params = operation.get("parameters", [])
    if params or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 413}
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if operation.get("security"):
        statuses |= {401, 403}
    text = f"{operation.get('summary', '')} {operation.get('description', '')}"
    statuses |= {int(s) for s in _STATUS_IN_TEXT.findall(text)}
    if "RATE_LIMITED" in text:
        statuses.add(429)
    return statuses


def openapi_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the ``Error`` component and each operation's error responses to ``schema``."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for item in schema.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(operation_errors(operation)):
                responses.setdefault(
                    str(status),
                    {
                        "description": _DESCRIPTIONS.get(status, "Error; see the code"),
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return schema
