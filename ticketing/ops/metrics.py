"""Prometheus metrics: the metric objects, helpers the services call, and the scrape view.

Two kinds of figures, chosen by what they measure:

* Events (holds created, purchases, lock timeouts, check-ins, offers) are counters and
  histograms incremented in the process where they happen. daphne and each django-q2
  worker are separate processes, so with ``PROMETHEUS_MULTIPROC_DIR`` set (``bin/run``
  sets it to ``var/prometheus`` and empties it at start) prometheus-client writes them to
  per-process files and the scrape sums them. Without it (tests, a single process) the
  default in-process registry is used.
* States (sweeper lag, seats per status, heartbeat ages, reconcile findings) are read
  from PostgreSQL at scrape time by ``DatabaseCollector``: the database is the one place
  every process agrees on, and a dead worker cannot leave a stale gauge behind.

Services call the helpers below (never the metric objects directly), after commit
where a rollback would otherwise count something that did not happen.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

HOLDS_CREATED = Counter("ticketing_holds_created", "Holds created.", ["kind"])
HOLDS_EXTENDED = Counter("ticketing_holds_extended", "Hold extensions granted.")
HOLDS_ENDED = Counter(
    "ticketing_holds_ended", "Holds that ended, by how (expired, released, converted).", ["how"]
)
PURCHASES = Counter(
    "ticketing_purchases",
    "Purchase attempts by outcome (success, declined, failed, refused, busy).",
    ["outcome"],
)
PURCHASE_SECONDS = Histogram(
    "ticketing_purchase_seconds",
    "Wall time of a purchase attempt, payment call included.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
LOCK_TIMEOUTS = Counter("ticketing_lock_timeouts", "Row-lock waits that hit lock_timeout (answered BUSY).")
WEBSOCKET_CONNECTIONS = Gauge(
    "ticketing_websocket_connections",
    "Open websocket connections (summed over live processes).",
    multiprocess_mode="livesum",
)
WAITLIST_OFFERS = Counter(
    "ticketing_waitlist_offers", "Waitlist offers by outcome (sent, taken, lapsed).", ["outcome"]
)
CHECKINS = Counter(
    "ticketing_checkins",
    "Ticket scans by result (admitted, already_used, void, unknown, wrong_event).",
    ["result"],
)
RECONCILE_REPAIRS = Counter("ticketing_reconcile_repairs", "Inventory rows repaired by reconcile.", ["check"])
VERSION_READS = Counter(
    "ticketing_version_reads",
    "Batches of cache-version reads on the event loop, by outcome (an ok batch is one query).",
    ["outcome"],
)
VERSION_READ_REQUESTS = Counter(
    "ticketing_version_read_requests",
    "Requests whose cache versions the event loop read (ok) or left to the view (failed, skipped).",
    ["outcome"],
)
VERSION_READ_OUTCOMES = ("ok", "failed", "skipped")
QUEUE_JOINS = Counter(
    "ticketing_queue_joins",
    "Waiting-room joins by where they were answered: on the event loop in a batch (loop), or left"
    " to the request path (passed: a rejoin, an error, a failed batch).",
    ["answered"],
)
QUEUE_JOIN_BATCHES = Counter(
    "ticketing_queue_join_batches", "Batches of waiting-room joins run on the event loop."
)
QUEUE_JOIN_ANSWERS = ("loop", "passed")

PURCHASE_OUTCOMES = ("success", "declined", "failed", "refused", "busy")
OFFER_OUTCOMES = ("sent", "taken", "lapsed")
HOLD_ENDINGS = ("expired", "released", "converted")
CHECKIN_RESULTS = ("admitted", "already_used", "void", "unknown", "wrong_event", "busy", "error")

# Every known label set exists from the start at 0, so rate() and absence alerts work
# before the first event of a kind.
for _kind in ("regular", "offer"):
    HOLDS_CREATED.labels(kind=_kind)
for _how in HOLD_ENDINGS:
    HOLDS_ENDED.labels(how=_how)
for _outcome in PURCHASE_OUTCOMES:
    PURCHASES.labels(outcome=_outcome)
    PURCHASE_SECONDS.labels(outcome=_outcome)
for _outcome in OFFER_OUTCOMES:
    WAITLIST_OFFERS.labels(outcome=_outcome)
for _result in CHECKIN_RESULTS:
    CHECKINS.labels(result=_result)
for _answer in QUEUE_JOIN_ANSWERS:
    QUEUE_JOINS.labels(answered=_answer)


def hold_created(*, kind: str = "regular", count: int = 1) -> None:
    HOLDS_CREATED.labels(kind=kind).inc(count)


def hold_extended() -> None:
    HOLDS_EXTENDED.inc()


def hold_ended(*, how: str, count: int = 1) -> None:
    """``how`` is one of ``HOLD_ENDINGS``."""
    if how not in HOLD_ENDINGS:
        raise ValueError(f"unknown hold ending {how!r}")
    HOLDS_ENDED.labels(how=how).inc(count)


def purchase_finished(*, outcome: str, seconds: float) -> None:
    """``outcome`` is one of ``PURCHASE_OUTCOMES``; ``seconds`` the attempt's wall time."""
    if outcome not in PURCHASE_OUTCOMES:
        raise ValueError(f"unknown purchase outcome {outcome!r}")
    PURCHASES.labels(outcome=outcome).inc()
    PURCHASE_SECONDS.labels(outcome=outcome).observe(seconds)


def lock_timed_out() -> None:
    LOCK_TIMEOUTS.inc()


def websocket_opened() -> None:
    WEBSOCKET_CONNECTIONS.inc()


def websocket_closed() -> None:
    WEBSOCKET_CONNECTIONS.dec()


def waitlist_offer(*, outcome: str, count: int = 1) -> None:
    """``outcome`` is one of ``OFFER_OUTCOMES``."""
    if outcome not in OFFER_OUTCOMES:
        raise ValueError(f"unknown offer outcome {outcome!r}")
    WAITLIST_OFFERS.labels(outcome=outcome).inc(count)


def checkin_scanned(*, result: str) -> None:
    """``result`` is one of ``CHECKIN_RESULTS``."""
    CHECKINS.labels(result=result).inc()


def reconcile_repaired(*, check: str, count: int) -> None:
    RECONCILE_REPAIRS.labels(check=check).inc(count)


class DatabaseCollector(Collector):
    """Gauges read from PostgreSQL at scrape time (a handful of indexed queries).

    The apps' own gauges (checkout's sweeper lag and seats by status) come from the
    collectors they register with ``collector_register`` in their ``AppConfig.ready()``:
    this module sits below the apps and does not read their tables.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from ticketing.models import Heartbeat

        now = timezone.now()
        ages = GaugeMetricFamily(
            "ticketing_heartbeat_age_seconds",
            "Seconds since a background job last ran (heartbeat, reconcile, retention).",
            labels=["job"],
        )
        violations = GaugeMetricFamily(
            "ticketing_reconcile_violations",
            "Violations found by the last reconcile run, by check.",
            labels=["check"],
        )
        for beat in Heartbeat.objects.all():
            ages.add_metric([beat.name], (now - beat.seen_at).total_seconds())
            if beat.name == "reconcile":
                for check, n in (beat.data.get("violations") or {}).items():
                    violations.add_metric([check], n)
        yield ages
        yield violations


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessRegistry())
    registry.register(DatabaseCollector())
    for collector in _app_collectors:
        registry.register(collector)
    return registry


_app_collectors: list[Collector] = []


def collector_register(collector: Collector) -> None:
    """Add an app's scrape-time collector to every scrape (idempotent per class)."""
    if not any(type(c) is type(collector) for c in _app_collectors):
        _app_collectors.append(collector)


class _ProcessRegistry(Collector):
    """The default in-process registry, wrapped so a scrape registry can include it."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape_allowed(request: HttpRequest) -> bool:
    """``TICKETING_METRICS_TOKEN`` set: a matching bearer token is required. Unset: loopback only."""
    token = getattr(settings, "TICKETING_METRICS_TOKEN", "")
    if token:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and secrets.compare_digest(header[7:], token)
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def version_read(*, outcome: str, requests: int, batches: int = 1) -> None:
    """Counted per batch, not per request: this sits on the cached reads' hot path."""
    if outcome not in VERSION_READ_OUTCOMES:
        raise ValueError(f"unknown version read outcome {outcome!r}")
    if batches:
        VERSION_READS.labels(outcome=outcome).inc(batches)
    VERSION_READ_REQUESTS.labels(outcome=outcome).inc(requests)


def queue_joins(*, answered: str, count: int = 1, batches: int = 0) -> None:
    if answered not in QUEUE_JOIN_ANSWERS:
        raise ValueError(f"unknown queue join answer {answered!r}")
    QUEUE_JOINS.labels(answered=answered).inc(count)
    if batches:
        QUEUE_JOIN_BATCHES.inc(batches)
