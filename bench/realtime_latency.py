"""Seat-opens -> offer latency, on a real daphne process and a real django-q2 cluster.

Starts daphne and ``manage.py qcluster`` against the configured database, opens a signed-in
websocket for a waiting user of a sold-out event (every seat held through checkout's
``hold_create``) and measures, through the PostgreSQL channel layer, two paths:

1. cancellation (goal < 1 s): a buyer's paid order of the seat is cancelled with
   ``order_cancel``; timed from the call until ``waitlist.offer`` arrives on the socket. The
   offer runs in the cancelling process's after-commit hook.
2. hold expiry (goal < 5 s): a regular hold of the seat expires; timed from its
   ``expires_at`` until ``waitlist.offer`` arrives. Nothing but the cluster's sweeper
   (``checkout.tasks.holds_sweep``: a minute schedule that sweeps about every second)
   notices the expiry; a warm-up round waits for its first run.

After each offer the user leaves the waitlist (declining it) and the seat is taken again.

Usage: .venv/bin/python bench/realtime_latency.py [--rounds 30] [--expiry-rounds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from checkout import payments  # noqa: E402
from checkout.models import Hold, SeatInventory  # noqa: E402
from checkout.services.holds import hold_create  # noqa: E402
from checkout.services.orders import order_cancel, order_purchase  # noqa: E402
from tests.factories import UserFactory, make_event  # noqa: E402
from waitlist import services  # noqa: E402

STAMP = f"{time.time():.0f}"
_users = iter(range(10**6))


def bench_user():
    # Unique per run: the factory's sequence restarts in every process, the database does not.
    return UserFactory(email=f"bench-{STAMP}-{next(_users)}@example.com")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_cookie(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def buy_seat(user, seat_id: int, event_id: int, n: int) -> int:
    """Hold and pay for one seat through checkout; returns the order id."""
    hold = hold_create(user=user, event_id=event_id, seat_ids=[seat_id])
    order = order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Bench Buyer",
        buyer_email="bench@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key=f"bench-{hold.pk}-{n}",
    )
    return order.pk


def summary(name: str, latencies: list[float], goal_ms: int) -> str:
    latencies = sorted(latencies)
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    return (
        f"{name}, {len(latencies)} rounds: p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms (goal: < {goal_ms} ms)"
    )


def wait_for(ws, type_: str, deadline: float = 30) -> dict:
    end = time.monotonic() + deadline
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, end - time.monotonic())))
        if message["type"] == type_:
            return message


def wait_port(port: int) -> None:
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("daphne did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--expiry-rounds", type=int, default=10)
    parser.add_argument("--hold-seconds", type=float, default=3.0)
    args = parser.parse_args()

    event = make_event(title=f"Latency bench {time.time():.0f}")
    rows = list(SeatInventory.objects.filter(event=event).order_by("pk"))
    target, rest = rows[0], rows[1:]
    for row in rest:
        hold_create(
            user=bench_user(), event_id=event.pk, seat_ids=[row.seat_id], duration=dt.timedelta(hours=2)
        )
    buyer, other, user = bench_user(), bench_user(), bench_user()
    cookie = session_cookie(user)

    port = free_port()
    env = dict(os.environ, DATABASE_URL=settings.DATABASE_URL)
    daphne = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "ticketing.config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
    )
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        url = f"ws://127.0.0.1:{port}/ws/events/{event.pk}/"
        headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
        cancel_ms: list[float] = []
        expiry_ms: list[float] = []
        with connect(url, additional_headers=headers) as ws:
            wait_for(ws, "stream.hello")

            def offer_round(make_unavailable, opened, deadline: float = 30) -> float:
                entry = services.waitlist_join(user=user, event_id=event.pk, quantity=1)
                wait_for(ws, "waitlist.joined")
                started = opened()
                wait_for(ws, "waitlist.offer", deadline)
                elapsed = (time.time() - started) * 1000
                services.waitlist_leave(user=user, entry_id=entry.pk)  # declines; the seat is free
                wait_for(ws, "waitlist.left")
                make_unavailable()
                return elapsed

            order_id = buy_seat(buyer, target.seat_id, event.pk, 0)
            for n in range(args.rounds):

                def cancel(order_id=order_id) -> float:
                    started = time.time()
                    order_cancel(order_id=order_id, actor=buyer)
                    return started

                def rebuy(n=n) -> None:
                    nonlocal order_id
                    order_id = buy_seat(buyer, target.seat_id, event.pk, n + 1)

                cancel_ms.append(offer_round(rebuy, cancel))

            # The seat is sold again; give it back so a short regular hold can take it.
            order_cancel(order_id=order_id, actor=buyer)
            hold_seconds = dt.timedelta(seconds=args.hold_seconds)

            def short_hold() -> None:
                hold_create(user=other, event_id=event.pk, seat_ids=[target.seat_id], duration=hold_seconds)

            def expires() -> float:
                hold = Hold.objects.filter(user=other, event=event).latest("pk")
                return hold.expires_at.timestamp()

            short_hold()
            # Warm-up: the cluster's scheduler starts the first sweep within about a minute.
            warmup = offer_round(short_hold, expires, deadline=180)
            print(f"warm-up (first sweep of the new cluster): {warmup:.0f} ms")
            for _ in range(args.expiry_rounds):
                expiry_ms.append(offer_round(short_hold, expires))
        print(summary("cancellation -> waitlist.offer", cancel_ms, 1000))
        print(summary("hold expiry -> waitlist.offer", expiry_ms, 5000))
    finally:
        for process in (daphne, cluster):
            process.terminate()
        for process in (daphne, cluster):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
