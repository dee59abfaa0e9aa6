"""/healthz and /readyz: ready only when every part a request needs is up."""

from __future__ import annotations

import datetime as dt
import types

import pytest
from django.db import OperationalError
from django.utils import timezone

from ticketing.models import Heartbeat
from ticketing.ops import health
from ticketing.ops.tasks import heartbeat_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster_alive():
    heartbeat_record()


def test_healthz_needs_no_database(client, monkeypatch, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_everything_is_up(client, cluster_alive):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert response.json()["status"] == "ready"
    assert checks["database"] == {"ok": True} and checks["migrations"] == {"ok": True}
    assert checks["queue"]["ok"] and checks["queue"]["age_seconds"] < 120
    # This process serves no websocket yet, so its listener has not started: that is ready.
    assert checks["channel_layer"]["ok"]
    assert checks["channel_layer"]["backend"] == "ticketing.server.channel_layer.PostgresChannelLayer"


def test_database_down_is_not_ready(client, cluster_alive, monkeypatch):
    def down():
        raise OperationalError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": False, "error": "OperationalError: connection refused"}
    assert checks["queue"]["skipped"] and checks["migrations"]["skipped"]


def test_database_check_fails_on_a_closed_server(monkeypatch):
    from django.db import connections

    broken = connections["default"].settings_dict | {"PORT": "1", "HOST": "127.0.0.1", "OPTIONS": {}}
    conn = connections["default"].__class__(broken, alias="broken")
    monkeypatch.setattr(health, "connections", {health.DEFAULT_DB_ALIAS: conn})
    with pytest.raises(OperationalError):
        health.check_database()


def test_unapplied_migrations_are_not_ready(client, cluster_alive, monkeypatch):
    class Executor:
        def __init__(self, connection):
            self.loader = types.SimpleNamespace(graph=types.SimpleNamespace(leaf_nodes=lambda: []))

        def migration_plan(self, targets):
            return [(types.SimpleNamespace(app_label="checkout", name="0009_new"), False)]

    monkeypatch.setattr(health, "_migrations_done", False)
    monkeypatch.setattr(health, "MigrationExecutor", Executor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {
        "ok": False,
        "pending": ["checkout.0009_new"],
        "pending_count": 1,
    }


def test_stale_cluster_heartbeat_is_not_ready(client, settings):
    settings.TICKETING_QUEUE_STALE_SECONDS = 180
    Heartbeat.objects.create(name=health.QUEUE_HEARTBEAT, seen_at=timezone.now() - dt.timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "No heartbeat" in response.json()["checks"]["queue"]["error"]


def test_cluster_never_seen_is_not_ready(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"]["ok"] is False


def test_channel_listener_disconnected_is_not_ready(client, cluster_alive, monkeypatch):
    monkeypatch.setattr(
        health,
        "_listener_status",
        lambda: lambda: {"ok": False, "started": True, "connected": False, "error": "LISTEN lost"},
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"] == {
        "started": True,
        "connected": False,
        "error": "LISTEN lost",
        "ok": False,
    }
    monkeypatch.setattr(health, "_listener_status", lambda: lambda: {"connected": True})
    assert client.get("/readyz").status_code == 200


def test_schedules_exist_after_migrate():
    from django_q.models import Schedule

    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {
        "ticketing.ops.tasks.heartbeat_record",
        "checkout.tasks.reconcile_run",
        "checkout.tasks.retention_run",
    } <= funcs
    assert Schedule.objects.get(func="ticketing.ops.tasks.heartbeat_record").minutes == 1


def test_details_only_for_trusted_callers(client, monkeypatch, settings):
    settings.TICKETING_METRICS_TOKEN = ""

    def down():
        raise OperationalError("connection to server on socket /secret/path failed")

    monkeypatch.setitem(health.CHECKS, "database", down)
    outside = client.get("/readyz", REMOTE_ADDR="203.0.113.5")
    assert outside.status_code == 503
    assert outside.json()["checks"]["database"] == {"ok": False}
    assert b"/secret/path" not in outside.content
    assert b"/secret/path" in client.get("/readyz").content  # loopback: full details


def test_schedule_migration_is_idempotent_and_keeps_staff_edits():
    import importlib

    from django.apps import apps as global_apps
    from django_q.models import Schedule

    migration = importlib.import_module("ticketing.migrations.0003_ops_schedules")
    Schedule.objects.filter(name="ops: reconcile").update(next_run=timezone.now() + dt.timedelta(hours=7))
    edited = Schedule.objects.get(name="ops: reconcile").next_run
    migration.create(global_apps, None)
    assert Schedule.objects.filter(name__startswith="ops: ").count() == 3
    assert Schedule.objects.get(name="ops: reconcile").next_run == edited
