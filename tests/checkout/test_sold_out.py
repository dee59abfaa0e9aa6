"""``event_availability_refresh``, the catalog version and the after-commit hook."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from checkout.services import hooks, sales, sold_out
from events.models import Event
from events.selectors import cache as cache_selectors
from tests import inventory
from tests.factories import UserFactory, make_event, make_venue


def flag(event) -> tuple[bool, dt.datetime | None]:
    return tuple(Event.objects.filter(pk=event.pk).values_list("sold_out", "sold_out_until").get())


@pytest.mark.django_db
def test_catalog_version_moves_on_create_and_publish():
    v0 = cache_selectors.catalog_version_read()
    event = make_event(publish=False)
    v1 = cache_selectors.catalog_version_read()
    sales.event_publish(event_id=event.pk)
    v2 = cache_selectors.catalog_version_read()
    sales.event_publish(event_id=event.pk)  # idempotent: nothing changed
    assert v0 < v1 < v2 == cache_selectors.catalog_version_read()


@pytest.mark.django_db
def test_flag_follows_holds_sales_and_releases():
    NOW = timezone.now()  # per test: holds expire relative to it, and real time moves on
    event = make_event(venue=make_venue(rows=1, seats_per_row=2))
    a, b = inventory.seat_ids(event)
    t1, t2 = NOW + dt.timedelta(minutes=5), NOW + dt.timedelta(minutes=8)
    v = cache_selectors.catalog_version_read()
    h1 = inventory.hold(event, [a], user=UserFactory(), expires_at=t1)
    assert flag(event) == (False, None)
    assert cache_selectors.catalog_version_read() == v, "no change, no bump"

    h2 = inventory.hold(event, [b], user=UserFactory(), expires_at=t2)
    assert flag(event) == (True, t1)  # sold out until the first hold lapses
    assert cache_selectors.catalog_version_read() == v + 1

    h1 = inventory.extend(h1)  # now lapses after h2
    assert h1.expires_at > t2
    assert flag(event) == (True, t2)
    inventory.purchase(h1)
    inventory.purchase(h2)
    assert flag(event) == (True, None)  # really sold out
    v = cache_selectors.catalog_version_read()
    assert sold_out.event_availability_refresh(event_id=event.pk) is False
    assert cache_selectors.catalog_version_read() == v


@pytest.mark.django_db
def test_release_brings_the_event_back():
    event = make_event(venue=make_venue(rows=1, seats_per_row=1))
    h = inventory.hold(event, inventory.seat_ids(event), user=UserFactory())
    assert flag(event)[0] is True
    inventory.release(h)
    assert flag(event) == (False, None)


@pytest.mark.django_db
def test_hook_survives_a_refresh_failure(monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(hooks, "event_availability_refresh", lambda **kw: 1 / 0)
    monkeypatch.setattr("checkout.services.announce.seats_changed", lambda **kw: calls.append(kw))
    hooks.seats_changed(event_id=1, seat_ids=[2])
    assert calls == [{"event_id": 1, "seat_ids": [2]}]
    assert "sold-out refresh failed" in caplog.text


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("locked", [True, False], ids=["with-lock", "control-without-lock"])
def test_concurrent_refreshes_bump_once(monkeypatch, locked):
    event = make_event(venue=make_venue(rows=1, seats_per_row=1))
    inventory.purchase(inventory.hold(event, inventory.seat_ids(event), user=UserFactory()))
    # Forget the refresh the purchase ran, so both threads find the flag stale.
    Event.objects.filter(pk=event.pk).update(sold_out=False)
    before = cache_selectors.catalog_version_read()

    barrier = threading.Barrier(2)
    real_state = sold_out.sold_out_state
    seen = threading.local()

    def state_then_meet(*, event_id, now):
        result = real_state(event_id=event_id, now=now)
        seen.calls = getattr(seen, "calls", 0) + 1
        if seen.calls == 2:  # the re-check: let both threads get here before either writes
            # With the lock the other thread cannot arrive until we commit: the wait times out.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=1)
        return result

    monkeypatch.setattr(sold_out, "sold_out_state", state_then_meet)
    if not locked:
        monkeypatch.setattr(sold_out, "lock_one", lambda qs: qs.first())
    changed, errors = [], []

    def run():
        try:
            changed.append(sold_out.event_availability_refresh(event_id=event.pk))
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    connection.close()
    bumps = cache_selectors.catalog_version_read() - before
    assert flag(event) == (True, None)
    if locked:
        assert sorted(changed) == [False, True] and bumps == 1
    else:
        assert changed == [True, True] and bumps == 2  # the race the lock prevents
