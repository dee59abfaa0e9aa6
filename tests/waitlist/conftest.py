"""Waitlist fixtures."""

from __future__ import annotations

import pytest

from tests.checkout.conftest import big_pool  # noqa: F401 (the race tests' fixture)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # A sold-out event here is one buyer per seat: skip the deliberately slow password hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
