"""Liveness (``/healthz``) and readiness (``/readyz``) for load balancers and orchestrators.

``/healthz`` only says the process answers; it never touches the database, so a
database outage does not get every web process restarted. ``/readyz`` checks what a
request needs: PostgreSQL reachable, no unapplied migrations, the django-q2 cluster
alive (its heartbeat row is fresh: the sweeper, offers and e-mails run there) and the
channel layer's listener connected. Any failing check answers 503 with the details.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)

QUEUE_HEARTBEAT = "qcluster"

# Once every migration is applied it stays so for the life of the process; loading the
# migration graph on every probe would cost ~100 ms.
_migrations_done = False


def check_database() -> dict[str, Any]:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_migrations() -> dict[str, Any]:
    global _migrations_done
    if not _migrations_done:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            pending = [f"{m.app_label}.{m.name}" for m, _ in plan]
            return {"ok": False, "pending": pending[:20], "pending_count": len(pending)}
        _migrations_done = True
    return {"ok": True}


def check_queue(now: dt.datetime | None = None) -> dict[str, Any]:
    """The cluster writes its heartbeat every minute from a schedule; stale means no worker runs."""
    from ticketing.models import Heartbeat

    now = now or timezone.now()
    limit = settings.TICKETING_QUEUE_STALE_SECONDS
    beat = Heartbeat.objects.filter(name=QUEUE_HEARTBEAT).first()
    if beat is None:
        return {"ok": False, "error": "The task cluster has never reported (is qcluster running?)."}
    age = (now - beat.seen_at).total_seconds()
    result = {"ok": age <= limit, "last_seen": beat.seen_at.isoformat(), "age_seconds": round(age, 1)}
    if not result["ok"]:
        result["error"] = f"No heartbeat from the task cluster for more than {limit} s."
    return result


def _listener_status() -> Callable[[], Any] | None:
    try:
        module = importlib.import_module("ticketing.server.channel_layer")
    except ImportError:
        return None
    return getattr(module, "listener_status", None)


def check_channel_layer() -> dict[str, Any]:
    status_fn = _listener_status()
    if status_fn is None:
        return {"ok": True, "skipped": True, "note": "No channel-layer listener is configured."}
    status = status_fn()
    if isinstance(status, dict):
        ok = bool(status.get("ok", status.get("connected", False)))
        return {**status, "ok": ok}
    return {"ok": bool(status)}


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": check_database,
    "migrations": check_migrations,
    "queue": check_queue,
    "channel_layer": check_channel_layer,
}


def readiness() -> tuple[bool, dict[str, Any]]:
    """Run every check; a check that raises counts as failed. The database comes first:
    without it the later checks cannot run and are reported as skipped."""
    results: dict[str, Any] = {}
    for name, check in CHECKS.items():
        if name in ("migrations", "queue") and not results.get("database", {}).get("ok"):
            results[name] = {"ok": False, "skipped": True, "error": "database unreachable"}
            continue
        try:
            results[name] = check()
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return all(r.get("ok") for r in results.values()), results


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Details (errors, pending migrations) only for whoever may scrape /metrics; others see ok flags."""
    from ticketing.ops.metrics import scrape_allowed

    ready, checks = readiness()
    if not scrape_allowed(request):
        checks = {name: {"ok": bool(result.get("ok"))} for name, result in checks.items()}
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503
    )
