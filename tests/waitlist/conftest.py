"""Waitlist fixtures, and the waiting room's shared test helpers."""

from __future__ import annotations

import threading

import pytest

from checkout.services import admission
from tests.checkout.conftest import big_pool  # noqa: F401 (the race tests' fixture)
from tests.factories import make_event
from waitlist.models import QueueEntry


def room_event(limit: int = 1, *, paused: bool = False, venue=None):
    """An event on sale with its waiting room on (``limit`` buyers checking out at once)."""
    event = make_event(venue=venue)
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=limit, paused=paused)
    return event


def wait_until_admitted(entry: QueueEntry, *, seconds: float = 15.0) -> QueueEntry:
    """Re-read ``entry`` until it is admitted (an admission that runs on another thread after
    the call being tested), for at most ``seconds``: a deadline against hanging, not a timing."""
    for _ in range(int(seconds / 0.05)):
        if entry.state == "admitted":
            break
        threading.Event().wait(0.05)
        entry.refresh_from_db()
    return entry


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # A sold-out event here is one buyer per seat: skip the deliberately slow password hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
