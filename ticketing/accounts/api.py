"""Sign-up and token endpoints (the project package owns accounts)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status

from ticketing.accounts import services
from ticketing.server.throttles import signup_throttles, token_throttles

router = Router()


class SignupIn(Schema):
    email: str
    password: str
    name: str = ""


class UserOut(Schema):
    id: int
    email: str
    name: str
    is_staff: bool


class TokenIn(Schema):
    email: str
    password: str
    name: str = ""


class TokenOut(Schema):
    token: str
    user: UserOut


@router.post("/signup", response={201: UserOut}, auth=None, throttle=signup_throttles())
def signup(request: HttpRequest, payload: SignupIn):
    user = services.user_signup(email=payload.email, password=payload.password, name=payload.name)
    return Status(201, user)


@router.post("/token", response={201: TokenOut}, auth=None, throttle=token_throttles())
def token(request: HttpRequest, payload: TokenIn):
    row, key = services.token_create(email=payload.email, password=payload.password, name=payload.name)
    return Status(201, {"token": key, "user": row.user})


@router.get("/me", response=UserOut)
def me(request: HttpRequest):
    return request.auth
