"""The one error type of the project.

Services raise subclasses (or instances) of ``ApplicationError``; the API's single
exception handler renders ``{"code", "message", "extra"}`` with ``status``, and pages
show ``message``. Nothing else maps errors to HTTP.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    code = "ERROR"
    status = 400
    message = "The request could not be completed."

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
        return {"code": self.code, "message": self.message, "extra": self.extra}


class NotFound(ApplicationError):
    code = "NOT_FOUND"
    status = 404
    message = "Not found."


class ValidationFailed(ApplicationError):
    code = "VALIDATION_ERROR"
    status = 422
    message = "The request is not valid."


class Unauthenticated(ApplicationError):
    code = "UNAUTHENTICATED"
    status = 401
    message = "Sign in first."


class Forbidden(ApplicationError):
    code = "FORBIDDEN"
    status = 403
    message = "You are not allowed to do that."


class Conflict(ApplicationError):
    code = "CONFLICT"
    status = 409


class Busy(ApplicationError):
    """Raised when a row lock could not be had within the lock timeout; safe to retry."""

    code = "BUSY"
    status = 503
    message = "The system is busy; please retry in a moment."

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {})["Retry-After"] = str(retry_after)
        kwargs.setdefault("extra", {})["retry_after"] = retry_after
        super().__init__(message, **kwargs)


class RateLimited(ApplicationError):
    code = "RATE_LIMITED"
    status = 429
    message = "Too many requests; slow down."


def validation_error_from_django(exc: Any) -> ValidationFailed:
    """Turn a django ``ValidationError`` into ours, keeping field messages in ``extra``."""
    if hasattr(exc, "message_dict"):
        fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    else:
        fields = {"__all__": [str(m) for m in exc.messages]}
    first = next(iter(fields.values()))[0] if fields else "The request is not valid."
    return ValidationFailed(first, extra={"fields": fields})
