"""The one error type of the project.

Services raise subclasses (or instances) of ``ApplicationError``; the API's single
exception handler renders ``{"code", "message", "extra"}`` with ``status``, and pages
show ``message``. Nothing else maps errors to HTTP.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    code = "ERROR"
    status = 400
    message = _("The request could not be completed.")

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        # ``message`` may be a lazy translation: rendered in the request's language here.
        return {"code": self.code, "message": str(self.message), "extra": self.extra}


class NotFound(ApplicationError):
    code = "NOT_FOUND"
    status = 404
    message = _("Not found.")


class ValidationFailed(ApplicationError):
    code = "VALIDATION_ERROR"
    status = 422
    message = _("The request is not valid.")


class Unauthenticated(ApplicationError):
    code = "UNAUTHENTICATED"
    status = 401
    message = _("Sign in first.")


class Forbidden(ApplicationError):
    code = "FORBIDDEN"
    status = 403
    message = _("You are not allowed to do that.")


class Conflict(ApplicationError):
    code = "CONFLICT"
    status = 409


class Busy(ApplicationError):
    """Raised when a row lock could not be had within the lock timeout; safe to retry."""

    code = "BUSY"
    status = 503
    message = _("The system is busy; please retry in a moment.")

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {})["Retry-After"] = str(retry_after)
        kwargs.setdefault("extra", {})["retry_after"] = retry_after
        super().__init__(message, **kwargs)


class RateLimited(ApplicationError):
    code = "RATE_LIMITED"
    status = 429
    message = _("Too many requests; slow down.")


class PayloadTooLarge(ApplicationError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    message = _("The request body is too large.")


# The code an error of each HTTP status carries when no more specific one is known (a
# framework's own 404/405, a 400 from the request layer).
STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "SERVER_ERROR",
    503: "BUSY",
}


def error_for_status(status: int, message: str | None = None) -> ApplicationError:
    """The error of a bare HTTP status (a response some framework layer produced)."""
    if message is None:
        try:
            message = f"{HTTPStatus(status).phrase}."
        except ValueError:
            message = ApplicationError.message
    return ApplicationError(message, code=STATUS_CODES.get(status, "HTTP_ERROR"), status=status)


def validation_error_from_django(exc: Any) -> ValidationFailed:
    """Turn a django ``ValidationError`` into ours, keeping field messages in ``extra``."""
    if hasattr(exc, "message_dict"):
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    else:
        fields = {"__all__": [str(m) for m in exc.messages]}
    first = next(iter(fields.values()))[0] if fields else "The request is not valid."
    return ValidationFailed(first, extra={"fields": fields})


class Problems:
    """Every problem of one form or request, collected so they are reported together.

    ``add`` as many as are found, then ``raise_if_any``: one ``ValidationFailed`` whose
    message lists them all and whose ``extra.fields`` maps each field to its messages
    (``__all__`` for the request as a whole), the shape ninja's validation errors have.
    """

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field or "__all__", []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def messages(self) -> list[str]:
        return [m for ms in self.fields.values() for m in ms]

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationFailed(
                " ".join(self.messages()), extra={"fields": self.fields, "problems": self.messages()}
            )
