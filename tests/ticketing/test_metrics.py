"""/metrics: counters move after recorded events; database gauges; access control."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from checkout.errors import TicketAlreadyUsed
from checkout.services.checkin import ticket_check_in
from tests.factories import UserFactory, make_event
from tests.ops_factories import hold, inventory, sell
from ticketing.core.errors import Busy
from ticketing.core.locks import busy_on_lock_timeout
from ticketing.ops import metrics
from ticketing.ops.tasks import heartbeat_write

pytestmark = pytest.mark.django_db


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_checkin_moves_the_counter(client, django_capture_on_commit_callbacks):
    ticket = sell(inventory(make_event(), 1)).tickets.get()
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_check_in(code=ticket.code, gate="A")
    with pytest.raises(TicketAlreadyUsed):
        ticket_check_in(code=ticket.code, gate="A")
    after = scrape(client)
    for result in ("admitted", "already_used"):
        assert value(after, "ticketing_checkins_total", result=result) == (
            value(before, "ticketing_checkins_total", result=result) + 1
        )


def test_helpers_move_their_metrics(client):
    before = scrape(client)
    metrics.hold_created(kind="regular", count=2)
    metrics.hold_extended()
    metrics.hold_ended(how="expired", count=3)
    metrics.purchase_finished(outcome="success", seconds=0.3)
    metrics.waitlist_offer(outcome="sent")
    metrics.websocket_opened()
    after = scrape(client)
    assert (
        value(after, "ticketing_holds_created_total", kind="regular")
        - value(before, "ticketing_holds_created_total", kind="regular")
        == 2
    )
    assert (
        value(after, "ticketing_holds_extended_total") - value(before, "ticketing_holds_extended_total") == 1
    )
    assert (
        value(after, "ticketing_holds_ended_total", how="expired")
        - value(before, "ticketing_holds_ended_total", how="expired")
        == 3
    )
    assert (
        value(after, "ticketing_purchases_total", outcome="success")
        - value(before, "ticketing_purchases_total", outcome="success")
        == 1
    )
    assert (
        value(after, "ticketing_purchase_seconds_bucket", outcome="success", le="0.5")
        - value(before, "ticketing_purchase_seconds_bucket", outcome="success", le="0.5")
        == 1
    )
    assert (
        value(after, "ticketing_waitlist_offers_total", outcome="sent")
        - value(before, "ticketing_waitlist_offers_total", outcome="sent")
        == 1
    )
    assert (
        value(after, "ticketing_websocket_connections") - value(before, "ticketing_websocket_connections")
        == 1
    )
    metrics.websocket_closed()
    with pytest.raises(ValueError):
        metrics.purchase_finished(outcome="maybe", seconds=1)


def test_lock_timeout_is_counted(client):
    from django.db import DatabaseError

    class Timeout(Exception):
        sqlstate = "55P03"

    before = value(scrape(client), "ticketing_lock_timeouts_total")
    with pytest.raises(Busy), busy_on_lock_timeout():
        raise DatabaseError("lock timeout") from Timeout()
    assert value(scrape(client), "ticketing_lock_timeouts_total") == before + 1


def test_database_gauges(client):
    now = timezone.now()
    event = make_event()
    rows = inventory(event)
    sell(rows[:3])
    hold(rows[3:5])
    hold(
        rows[5:6], now=now - dt.timedelta(minutes=30), expires_in=dt.timedelta(minutes=5)
    )  # sweeper missed it
    heartbeat_write(name="reconcile", data={"violations": {"ghost_hold": 0, "order_total_mismatch": 2}})
    samples = scrape(client)
    assert value(samples, "ticketing_seats", status="sold") == 3
    assert value(samples, "ticketing_seats", status="held") == 2
    assert value(samples, "ticketing_seats", status="available") == len(rows) - 5
    assert 24 * 60 < value(samples, "ticketing_sweeper_lag_seconds") < 26 * 60
    assert value(samples, "ticketing_reconcile_violations", check="order_total_mismatch") == 2
    assert value(samples, "ticketing_heartbeat_age_seconds", job="reconcile") < 60


def test_metrics_refused_off_loopback_without_token(client, settings):
    settings.TICKETING_METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_metrics_token_when_configured(client, settings):
    settings.TICKETING_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403  # loopback alone is no longer enough
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200


def test_multiprocess_mode_sums_the_processes(client, tmp_path, monkeypatch):
    """Two other processes (as daphne and a worker would) count; the scrape here sums their files."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(root)}
    code = "from ticketing.ops import metrics; metrics.checkin_scanned(result='admitted')"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape(client)
    assert value(samples, "ticketing_checkins_total", result="admitted") == 2
    assert value(samples, "ticketing_seats", status="sold") == 0  # database gauges are still there


def delta(before, after, name, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_move_after_a_purchase(client, api_client, user, django_capture_on_commit_callbacks):
    from checkout import payments

    event = make_event()
    seat_ids = [r.seat_id for r in inventory(event, 2)]
    buyer = api_client.as_user(user)
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        held = buyer.post(f"/api/events/{event.id}/holds", {"seat_ids": seat_ids})
        assert held.status_code == 201, held.content
        extended = buyer.post(f"/api/holds/{held.json()['id']}/extend")
        assert extended.status_code == 200
        body = {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": payments.CARD_APPROVE}
        bought = buyer.post(f"/api/holds/{held.json()['id']}/purchase", body, HTTP_IDEMPOTENCY_KEY="k1")
        assert bought.status_code == 201, bought.content
        declined = buyer.post(
            f"/api/holds/{held.json()['id']}/purchase",
            {**body, "card_number": payments.CARD_DECLINE},
            HTTP_IDEMPOTENCY_KEY="k2",
        )
        assert declined.status_code == 409  # the hold is bought: refused by the rules
    after = scrape(client)
    assert delta(before, after, "ticketing_holds_created_total", kind="regular") == 1
    assert delta(before, after, "ticketing_holds_extended_total") == 1
    assert delta(before, after, "ticketing_holds_ended_total", how="converted") == 1
    assert delta(before, after, "ticketing_purchases_total", outcome="success") == 1
    assert delta(before, after, "ticketing_purchases_total", outcome="refused") == 1
    assert delta(before, after, "ticketing_purchase_seconds_count", outcome="success") == 1
    assert delta(before, after, "ticketing_purchase_seconds_bucket", outcome="success", le="+Inf") == 1


def test_a_declined_card_counts_as_declined_and_the_hold_lives_on(
    client, api_client, user, django_capture_on_commit_callbacks
):
    from checkout import payments

    event = make_event()
    buyer = api_client.as_user(user)
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        held = buyer.post(f"/api/events/{event.id}/holds", {"seat_ids": [inventory(event, 1)[0].seat_id]})
        body = {"buyer_name": "Ada", "buyer_email": "ada@example.com", "card_number": payments.CARD_DECLINE}
        response = buyer.post(f"/api/holds/{held.json()['id']}/purchase", body, HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 402
    after = scrape(client)
    assert delta(before, after, "ticketing_purchases_total", outcome="declined") == 1
    assert delta(before, after, "ticketing_purchase_seconds_count", outcome="declined") == 1
    assert delta(before, after, "ticketing_holds_ended_total", how="converted") == 0


def test_metrics_move_after_an_expiry_sweep_and_a_release(client, user, django_capture_on_commit_callbacks):
    from checkout.services.holds import hold_create, hold_release, holds_expire_due

    now = timezone.now()
    event = make_event()
    rows = inventory(event, 4)
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        for row in rows[:3]:
            hold_create(user=UserFactory(), event_id=event.id, seat_ids=[row.seat_id], now=now)
        released = hold_create(user=user, event_id=event.id, seat_ids=[rows[3].seat_id], now=now)
        hold_release(user=user, hold_id=released.pk, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert holds_expire_due(now=now + dt.timedelta(hours=1)) == 3
    after = scrape(client)
    assert delta(before, after, "ticketing_holds_created_total", kind="regular") == 4
    assert delta(before, after, "ticketing_holds_ended_total", how="expired") == 3
    assert delta(before, after, "ticketing_holds_ended_total", how="released") == 1


def test_a_rolled_back_hold_counts_nothing(client, user):
    """Counted on commit: a hold whose transaction rolls back never shows up."""
    from django.db import transaction

    from checkout.services.holds import hold_create

    event = make_event()
    before = scrape(client)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        hold_create(user=user, event_id=event.id, seat_ids=[inventory(event, 1)[0].seat_id])
        raise Abort
    assert delta(before, scrape(client), "ticketing_holds_created_total", kind="regular") == 0
