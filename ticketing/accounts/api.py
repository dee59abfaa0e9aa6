"""Sign-up and token endpoints (the project package owns accounts)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from ticketing.accounts import services
from ticketing.core.validation import Email, InputSchema, column_length
from ticketing.models import ApiToken, User
from ticketing.server.throttles import signup_throttles, token_throttles

router = Router()


# Long enough for any passphrase; short enough that hashing it costs nothing unusual.
PASSWORD_MAX = 1024


class SignupIn(InputSchema):
    email: Email = Field(max_length=column_length(User, "email"))
    password: str = Field(max_length=PASSWORD_MAX)
    name: str = Field("", max_length=column_length(User, "name"))


class UserOut(Schema):
    id: int
    email: str
    name: str
    is_staff: bool


class TokenIn(InputSchema):
    email: str = Field(max_length=column_length(User, "email"))
    password: str = Field(max_length=PASSWORD_MAX)
    name: str = Field("", max_length=column_length(ApiToken, "name"))


class TokenOut(Schema):
    token: str
    user: UserOut


@router.post(
    "/signup",
    response={201: UserOut},
    auth=None,
    throttle=signup_throttles(),
    description="VALIDATION_ERROR 422, EMAIL_TAKEN 409, RATE_LIMITED 429.",
)
def signup(request: HttpRequest, payload: SignupIn):
    user = services.user_signup(email=payload.email, password=payload.password, name=payload.name)
    return Status(201, user)


@router.post(
    "/token",
    response={201: TokenOut},
    auth=None,
    throttle=token_throttles(),
    description="INVALID_CREDENTIALS 401, RATE_LIMITED 429.",
)
def token(request: HttpRequest, payload: TokenIn):
    row, key = services.token_create(email=payload.email, password=payload.password, name=payload.name)
    return Status(201, {"token": key, "user": row.user})


@router.get("/me", response=UserOut)
def me(request: HttpRequest):
    return request.auth
