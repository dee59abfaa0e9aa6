"""Account writes: sign-up and API tokens."""

from __future__ import annotations

import secrets

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext

from ticketing.core.errors import ApplicationError, Conflict, ValidationFailed, validation_error_from_django
from ticketing.models import ApiToken, User


def user_signup(*, email: str, password: str, name: str = "") -> User:
    """Create a buyer account. Raises ``ValidationFailed`` or ``Conflict`` (EMAIL_TAKEN)."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(
            "Enter a valid e-mail address.", extra={"fields": {"email": exc.messages}}
        ) from exc
    candidate = User(email=email, name=name)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages[0], extra={"fields": {"password": exc.messages}}) from exc
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise Conflict(gettext("An account with this e-mail already exists."), code="EMAIL_TAKEN")
        try:
            return User.objects.create_user(email=email, password=password, name=name)
        except ValidationError as exc:  # pragma: no cover - defensive
            raise validation_error_from_django(exc) from exc


def guest_create(*, name: str, email: str) -> User:
    """A guest buyer: an account without a password (it cannot sign in) for one browser session,
    so checkout needs only a name and an address. The login e-mail is a random placeholder in
    the reserved ``.invalid`` domain, so a later sign-up with the real address is free.
    Raises ``ValidationFailed``."""
    email = (email or "").strip().lower()
    name = (name or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(
            "Enter a valid e-mail address.", extra={"fields": {"email": exc.messages}}
        ) from exc
    if not name:
        raise ValidationFailed(
            gettext("Enter your name."), extra={"fields": {"name": [gettext("This field is required.")]}}
        )
    return User.objects.create_user(
        email=f"guest-{secrets.token_hex(16)}@guest.invalid",
        password=None,  # an unusable password: the session is the guest's only way in
        name=name,
        is_guest=True,
        guest_email=email,
    )


def token_create(*, email: str, password: str, name: str = "") -> tuple[ApiToken, str]:
    """Exchange credentials for a bearer token; returns the row and the plain key (shown once)."""
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None or not user.is_active or not user.check_password(password):
        raise ApplicationError(
            gettext("E-mail or password is wrong."), code="INVALID_CREDENTIALS", status=401
        )
    key = ApiToken.new_key()
    token = ApiToken.objects.create(user=user, key_hash=ApiToken.hash_key(key), name=name)
    return token, key
